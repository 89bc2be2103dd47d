"""The `tinyml` command line: a thin layer over the library functions.

Each verb lives in ``toolchain/commands/<verb>.py`` with ``register(subparsers)`` and
``run(args) -> int``. Command modules import heavy libraries (TensorFlow) only inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from . import __version__, commands
from .errors import TinymlError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinyml",
        description="Keyword-spotting audio to int8 firmware for Cortex-M microcontrollers.",
    )
    parser.add_argument("--version", action="version", version=f"tinyml {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except TinymlError as err:
        print(f"tinyml {args.verb}: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"tinyml {args.verb}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
