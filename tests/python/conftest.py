import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("LODESTAR_SHARED", REPO.parent / "shared"))


def shared_path(*parts: str) -> Path:
    """A file under ../shared, or skip the test with a clear message."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not available: {path} is missing")
    return path


@pytest.fixture(scope="session")
def con():
    import lodestar

    return lodestar.connect(threads=2)


@contextlib.contextmanager
def bench_module(file: str, name: str):
    """A script of bench/ imported as module `name` (removed again afterwards)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(name, None)


def lodestar_command() -> list[str]:
    """How to run the `lodestar` command for the package under test: the console
    script of this venv, or `python -m lodestar.cli` when testing a dev build
    staged on PYTHONPATH (see cmake/StagePython.cmake)."""
    if os.environ.get("PYTHONPATH"):
        return [sys.executable, "-m", "lodestar.cli"]
    return [str(Path(sys.executable).with_name("lodestar"))]


def run_cli(*args: str, check: bool = False, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*lodestar_command(), *args], capture_output=True, text=True, check=check, timeout=timeout, **kwargs)
