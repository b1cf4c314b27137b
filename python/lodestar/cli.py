"""The `lodestar` console command.

Engine commands (sql, ingest, crossmatch, ...) are implemented by the C++
binary shipped inside this package (lodestar/bin/lodestar) and handed over
with exec, so they behave exactly like the binary. Commands that belong to the
Python world (Dask cluster control, the platform, plots) are modules in
lodestar/commands/: `lodestar foo-bar ...` runs lodestar.commands.foo_bar.main(argv).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from pathlib import Path


def binary_path() -> Path:
    # Not resolve(): in a dev build the .py files are symlinks into the source tree.
    return Path(os.path.abspath(__file__)).parent / "bin" / "lodestar"


def python_commands() -> dict[str, str]:
    """Subcommand name -> module name of the Python-level commands."""
    from . import commands

    return {m.name.replace("_", "-"): f"{commands.__name__}.{m.name}" for m in pkgutil.iter_modules(commands.__path__)}


def _help_epilogue() -> str:
    lines = ["", "Python-level commands:"]
    for name, module in sorted(python_commands().items()):
        doc = (importlib.import_module(module).__doc__ or "").strip().splitlines()
        lines.append(f"  {name:<28}{doc[0] if doc else ''}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # The first non-option word names the command (global options come first).
    command = next((a for a in args if not a.startswith("-")), None)
    extra = python_commands()
    if command in extra:
        module = importlib.import_module(extra[command])
        rest = args[args.index(command) + 1 :]
        return int(module.main(rest) or 0)
    if command == "ingest":
        from .ingest_cli import main as remote_ingest, remote_root

        if remote_root(args):  # object-store roots are published by the Python layer (lodestar.storage)
            return remote_ingest(args[args.index(command) + 1 :])
    exe = binary_path()
    if not exe.exists():
        print(f"lodestar: the engine binary is missing at {exe}; reinstall the package", file=sys.stderr)
        return 2
    if extra and (not args or args[0] in ("-h", "--help")):
        # The binary prints its own help; add the Python commands after it.
        import subprocess

        rc = subprocess.call([str(exe), *args])
        sys.stdout.write(_help_epilogue())
        return rc
    sys.stdout.flush()
    sys.stderr.flush()
    import lodestar  # noqa: F401  (sets LODESTAR_HTTPFS_EXTENSION for the binary's s3:// access)

    os.execv(exe, [str(exe), *args])
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
