"""`tinyml build`: compile the model, emit the frontend tables, build the firmware."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "build",
        help="build the firmware for a board (model compiled to C, frontend, PlatformIO)",
        description="Compile an int8 .tflite to C, emit the audio frontend tables and build the "
        "firmware with PlatformIO; print flash and RAM use against the board's limits.",
    )
    p.add_argument("--board", required=True, help="board name (a folder in boards/)")
    p.add_argument("--model", required=True, help="int8 .tflite model")
    p.add_argument("--build-dir", default=None, help="build root (default: build/)")
    p.add_argument("--labels", default=None, help="comma-separated labels (model outputs)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(run=run)


def _bar(used: int, limit: int, width: int = 30) -> str:
    frac = used / limit if limit else 0.0
    filled = min(width, round(frac * width))
    return "[" + "#" * filled + "." * (width - filled) + f"] {100 * frac:5.1f}%"


def run(args: argparse.Namespace) -> int:
    from ..firmware import DEFAULT_BUILD_ROOT, build_firmware

    labels = args.labels.split(",") if args.labels else None
    result = build_firmware(args.model, args.board, args.build_dir or DEFAULT_BUILD_ROOT,
                            labels=labels)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    m = result.memory
    print(f"firmware   {result.elf}" + ("  (up to date)" if result.reused else ""))
    print(f"board      {result.board}   model {result.model_hash}   arena {result.arena_bytes:,} B")
    for name, used, limit in (("flash", m.flash_bytes, m.flash_limit),
                              ("RAM", m.ram_bytes, m.ram_limit)):
        print(f"{name:<10} {used:>9,} / {limit:,} B  {_bar(used, limit)}")
    return 0
