"""Python-level `lodestar` subcommands: each module here is one command and
exposes main(argv) -> exit code; its docstring's first line is its summary."""
