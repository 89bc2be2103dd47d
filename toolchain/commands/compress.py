"""`tinyml compress`: the recipe's compression steps and int8 conversion, or `--table` for the
compression table (JSON + markdown)."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("compress", help="compress and convert a trained model to int8")
    p.add_argument("--data", help="Speech Commands folder (default $TINYML_DATA)")
    p.add_argument("--recipe", default=None,
                   help="recipe name in models/ or TOML path (default ds_cnn_s; with --table "
                        "cnn_compressed)")
    p.add_argument("--build-dir", default="build", help="build directory (default build)")
    p.add_argument("--table", action="store_true",
                   help="write the compression table (float, factorized, pruned, QAT, distilled)")
    p.add_argument("--out", default=None, help="table output folder (default BUILD/reports)")
    p.add_argument("--no-device", action="store_true",
                   help="table without the qemu-m4 instruction counts")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .. import paths, pipeline

    data_dir = paths.speech_commands_dir(args.data)
    if args.table:
        from ..compress import table as compression_table

        recipe = args.recipe or "cnn_compressed"
        out = Path(args.out) if args.out else Path(args.build_dir) / "reports"
        json_path, md_path = compression_table.write_table(
            data_dir, recipe, args.build_dir, out, device=not args.no_device)
        print(md_path.read_text())
        print(f"written: {json_path} {md_path}")
        return 0
    tflite = pipeline.model_from_data(data_dir, args.recipe or "ds_cnn_s", args.build_dir)
    report = json.loads((tflite.parent / "report.json").read_text())
    print(f"int8 model: {tflite}")
    for key in ("float_accuracy", "int8_accuracy", "float_to_int8_drop_pp", "params", "macs",
                "flash_bytes", "arena_bytes"):
        print(f"  {key}: {report.get(key)}")
    return 0
