"""``deploybench`` command line: a thin layer over the Python API.

Each sub-command lives in ``deploybench/commands/<name>.py`` and exposes
``register(subparsers)`` which adds its parser and sets ``func`` to a callable
``(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

_COMMANDS = ("optimize", "compare", "record", "probe")


class UserError(Exception):
    """A problem with the user's input: printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deploybench",
        description="Honest ML deployment measurements and sampler benchmarks for Optuna.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        try:
            module = importlib.import_module(f"deploybench.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"deploybench.commands.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"deploybench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("deploybench: interrupted (progress so far is saved)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
