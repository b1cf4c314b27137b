#!/usr/bin/env bash
# Installs everything Lodestar needs on Debian 12, idempotently: Debian
# packages, the pinned DuckDB C library (npm) and header (PyPI sdist), and the
# project's virtual environment with the pinned Python stack. Re-running is
# fast: each step checks what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }

# --- Debian packages ---------------------------------------------------------
APT_PACKAGES=(g++ cmake ninja-build make pkg-config curl ca-certificates
  libhealpix-cxx-dev libcfitsio-dev libcli11-dev libgtest-dev googletest libgsl-dev clang-format
  chromium)  # chromium: the platform's browser test (driven by playwright-core, never downloaded)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# Node.js may come from Debian or elsewhere (npm bundled); only ask for it if absent.
if ! command -v npm >/dev/null 2>&1; then missing+=(nodejs npm); fi
# The machine's python3 must be able to make a venv (Debian splits that out).
if ! python3 -c "import ensurepip, venv" >/dev/null 2>&1; then missing+=(python3-venv); fi
# Benchmark peers (make bench): PostgreSQL + Q3C, STILTS, and Java for Spark, from Debian.
if [ "${1:-}" = "--bench" ]; then
  for pkg in postgresql-15 postgresql-15-q3c stilts openjdk-17-jre-headless; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- DuckDB: one version everywhere (see docs/architecture.md) -----------------
DUCKDB_VERSION=1.5.5
DUCKDB_SDIST_URL="https://files.pythonhosted.org/packages/7d/19/e57151753576373c6696a12022648546cca6038e8833fda2908ee2342d9b/duckdb-${DUCKDB_VERSION}.tar.gz"
DUCKDB_SDIST_SHA256=72f33ee57ca7595b23957671a2cc7f7fe2be0ecc2d68f63abedcfcaa3a5c1238
LIB=node_modules/@duckdb/node-bindings-linux-x64/libduckdb.so
if [ ! -f "$LIB" ] || ! grep -q '"version": "1.5.5-r.5"' node_modules/@duckdb/node-bindings-linux-x64/package.json 2>/dev/null; then
  say "installing libduckdb.so ${DUCKDB_VERSION} from npm (package scripts disabled)"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
fi
HDR=third_party/duckdb/include/duckdb.h
if [ ! -f "$HDR" ] || [ "$(cat third_party/duckdb/VERSION 2>/dev/null)" != "$DUCKDB_VERSION" ]; then
  say "fetching duckdb.h ${DUCKDB_VERSION} from the PyPI source distribution of duckdb"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  curl -fsSL --retry 3 -o "$tmp/duckdb.tar.gz" "$DUCKDB_SDIST_URL"
  echo "$DUCKDB_SDIST_SHA256  $tmp/duckdb.tar.gz" | sha256sum -c --quiet -
  tar -xzf "$tmp/duckdb.tar.gz" -C "$tmp" "duckdb-${DUCKDB_VERSION}/external/duckdb/src/include/duckdb.h"
  mkdir -p third_party/duckdb/include
  cp "$tmp/duckdb-${DUCKDB_VERSION}/external/duckdb/src/include/duckdb.h" "$HDR"
  echo "$DUCKDB_VERSION" > third_party/duckdb/VERSION
fi

# --- npm packages of the platform (configurable-http-proxy) and its browser test (playwright-core)
for dir in platform tests/platform; do
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    say "installing npm packages of $dir (package scripts disabled)"
    (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  fi
done

# --- Python virtual environment -------------------------------------------------
if [ ! -x .venv/bin/python ]; then
  say "creating .venv from $(command -v python3) ($(python3 --version))"
  python3 -m venv .venv
fi
LOCK_HASH=$(sha256sum requirements.lock | cut -d' ' -f1)
if [ "$(cat .venv/.lodestar-lock 2>/dev/null)" != "$LOCK_HASH" ]; then
  say "installing the pinned Python stack (requirements.lock)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.lock
  echo "$LOCK_HASH" > .venv/.lodestar-lock
fi
say "ready"
