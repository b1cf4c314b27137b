#!/usr/bin/env bash
# Re-pin the Python stack after adding a dependency to requirements.in.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/pip install -r requirements.in
{ echo "# Pinned Python stack for Lodestar's virtual environment (.venv). Regenerate with scripts/lock-python.sh."
  .venv/bin/pip freeze | grep -v -iE "^lodestar( |=|@)"; } > requirements.lock
