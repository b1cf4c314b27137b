# Lodestar: the two commands of the README are `make demo` and `make test`.
# Every target sets up what it needs first (scripts/setup.sh is idempotent).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYBIND11_DIR = $(shell $(PY) -m pybind11 --cmakedir)
JOBS ?= $(shell nproc)

include platform/Makefile.fragment

.PHONY: all setup build install-python demo demo-sky test test-cpp test-asan test-python bench format clean

all: build

setup:
	@scripts/setup.sh

# The release build: library, CLI, Python module and C++ tests.
build: setup
	@cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DLODESTAR_BUILD_TESTS=ON \
	  -DPython_EXECUTABLE=$(CURDIR)/$(PY) -Dpybind11_DIR=$(PYBIND11_DIR) > build-configure.log 2>&1 \
	  || { cat build-configure.log; exit 1; }
	@cmake --build build/release -j $(JOBS)
	@$(MAKE) --no-print-directory install-python

# Installs the lodestar package (wheel built by scikit-build-core) into .venv.
install-python:
	@$(PY) -m pip install -q --no-build-isolation --no-deps . 2>&1 | grep -v "^\s*$$" || true
	@$(PY) -c "import lodestar" || { echo "lodestar failed to import"; exit 1; }

# The main job: the seed's science workflow on a synthetic ZTF-like survey (python/lodestar/workflow.py).
demo: build
	@$(VENV)/bin/lodestar demo --out out/demo

# A quick SQL tour of the engine over a 1e6-source synthetic sky ingested as HATS.
demo-sky: build
	@scripts/demo.sh

test: build
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory test-cpp
	@$(MAKE) --no-print-directory test-python

test-cpp:
	@cd build/release && ctest --output-on-failure -j $(JOBS)

# The C++ suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan: setup
	@cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DLODESTAR_SANITIZE=ON -DLODESTAR_BUILD_TESTS=ON \
	  -DLODESTAR_BUILD_PYTHON=OFF > build-asan-configure.log 2>&1 || { cat build-asan-configure.log; exit 1; }
	@cmake --build build/asan -j $(JOBS)
	@cd build/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS)

test-python:
	@$(PY) -m pytest tests/python

bench: build
	@scripts/setup.sh --bench
	@$(PY) bench/run_all.py

format:
	@clang-format -i $$(git ls-files 'src/*.cpp' 'src/*.hpp' 'tests/*.cpp' 'tests/*.hpp')

clean:
	rm -rf build dist build-configure.log build-asan-configure.log
