"""The `lodestar` console command.

Engine commands are implemented by the C++ binary shipped inside this package
(lodestar/bin/lodestar); this entry point hands them over with exec, so the
command behaves exactly like the binary.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def binary_path() -> Path:
    return Path(__file__).resolve().parent / "bin" / "lodestar"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    exe = binary_path()
    if not exe.exists():
        print(f"lodestar: the engine binary is missing at {exe}; reinstall the package", file=sys.stderr)
        return 2
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(exe, [str(exe), *args])
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
