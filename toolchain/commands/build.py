"""`tinyml build`: from raw WAVs or an int8 .tflite to firmware (and, with --eval, evaluated).

Without --model, the model comes from the data: features (C frontend), training, compression
and int8 conversion as content-hashed stages (toolchain.pipeline), so only what changed runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "build",
        help="build the firmware for a board (from data or an int8 .tflite)",
        description="Train and compress a keyword spotter from WAVs (unless --model is given), "
        "compile the int8 model to C, emit the audio frontend tables and build the firmware "
        "with PlatformIO; print flash and RAM use against the board's limits. With --eval, "
        "evaluate the firmware on the board (emulated boards: QEMU) on held-out speakers.",
    )
    p.add_argument("--board", required=True, help="board name (a folder in boards/)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--model", default=None, help="int8 .tflite model (skips training)")
    src.add_argument("--data", default=None,
                     help="Speech Commands layout folder to train from (default: $TINYML_DATA, "
                     "then the download cache)")
    p.add_argument("--recipe", default="ds_cnn_s",
                   help="training recipe: a name in models/ or a TOML file (default: ds_cnn_s)")
    p.add_argument("--build-dir", default=None, help="build root (default: build/)")
    p.add_argument("--labels", default=None, help="comma-separated labels (model outputs)")
    p.add_argument("--eval", action="store_true",
                   help="evaluate the built firmware (test speakers when trained from data)")
    p.add_argument("--limit", type=int, default=200, help="clips for --eval (default: 200)")
    p.add_argument("--port", default=None, help="--eval on a real board: its serial port")
    p.add_argument("--bulk", action="store_true",
                   help="--eval on an emulated board through its bulk (semihosting) path")
    p.add_argument("--report", default=None, help="--eval: write report.json and plots into DIR")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(run=run)


def _bar(used: int, limit: int, width: int = 30) -> str:
    frac = used / limit if limit else 0.0
    filled = min(width, round(frac * width))
    return "[" + "#" * filled + "." * (width - filled) + f"] {100 * frac:5.1f}%"


def run(args: argparse.Namespace) -> int:
    from ..boards import load_board
    from ..errors import BadInputError
    from ..firmware import DEFAULT_BUILD_ROOT, build_firmware

    board = load_board(args.board)
    build_root = Path(args.build_dir or DEFAULT_BUILD_ROOT)
    if args.eval and args.limit <= 0:
        raise BadInputError(f"--limit must be positive, got {args.limit}")
    recipe = data_dir = None
    if args.model:
        model = Path(args.model)
    else:
        from ..paths import speech_commands_dir
        from ..pipeline import model_from_data
        from ..recipe import load_recipe

        data_dir = speech_commands_dir(args.data)
        recipe = load_recipe(args.recipe)
        print(f"data: {data_dir}   recipe: {recipe.name}", file=sys.stderr)
        model = model_from_data(data_dir, recipe, build_root)
        print(f"model: {model}", file=sys.stderr)

    labels = args.labels.split(",") if args.labels else None
    result = build_firmware(model, board, build_root, labels=labels)
    if args.json and not args.eval:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    m = result.memory
    out = sys.stderr if args.json else sys.stdout
    print(f"firmware   {result.elf}" + ("  (up to date)" if result.reused else ""), file=out)
    print(f"board      {result.board}   model {result.model_hash}   arena {result.arena_bytes:,} B",
          file=out)
    for name, used, limit in (("flash", m.flash_bytes, m.flash_limit),
                              ("RAM", m.ram_bytes, m.ram_limit)):
        print(f"{name:<10} {used:>9,} / {limit:,} B  {_bar(used, limit)}", file=out)
    if not args.eval:
        return 0
    return _evaluate(args, board, result, model, data_dir, recipe)


def _evaluate(args: argparse.Namespace, board, fw, model: Path, data_dir, recipe) -> int:
    from host.evaluate import select_clips, select_split_clips

    from ..compiler import inspect_model
    from ..errors import BadInputError
    from ..paths import speech_commands_dir
    from .eval import evaluate_firmware, finish_report

    labels = inspect_model(model).labels
    if not labels:
        raise BadInputError(f"model {model} carries no labels; pass --labels")
    if recipe is not None:
        clips = select_split_clips(data_dir, recipe.keywords, recipe.fractions, labels,
                                   "test", args.limit)
        where = f"held-out test speakers of {data_dir}"
    else:
        data_dir = speech_commands_dir(None)
        clips = select_clips(data_dir, labels, args.limit)
        where = str(data_dir)
    print(f"eval: {len(clips)} clips from {where}", file=sys.stderr)
    if args.port:  # a real board: always measure it again
        report = evaluate_firmware(board, fw, model, clips, labels, port=args.port,
                                   progress=not args.json)
        return finish_report(report, len(clips), args.report, args.json)
    return _cached_emulated_eval(args, board, fw, model, clips, labels)


def _cached_emulated_eval(args: argparse.Namespace, board, fw, model: Path, clips: list,
                          labels: list[str]) -> int:
    """Emulated runs are deterministic: the evaluation is a content-hashed stage keyed by the
    ELF, the model and the clips, so an unchanged re-run only prints the stored report."""
    import shutil

    from host.evaluate import write_report

    from ..artifacts import BuildDir
    from .eval import evaluate_firmware, finish_report, print_summary

    build_dir = BuildDir(fw.build_dir)
    rel = "eval-bulk" if args.bulk else "eval-serial"
    inputs = {"elf": fw.elf, "model": model}
    inputs.update({f"clip{i:05d}": c.path for i, c in enumerate(clips)})
    params = {"clips": [str(c.path) for c in clips], "labels": labels, "mode": "audio"}

    def evaluate(tmp: Path) -> None:
        report = evaluate_firmware(board, fw, model, clips, labels, bulk=args.bulk,
                                   progress=not args.json)
        if report.failure:  # shows the partial results, keeps them in --report, exits 4
            finish_report(report, len(clips), args.report, args.json)
        write_report(report, tmp / rel)

    stage = build_dir.run_stage(rel, inputs, params, [rel], evaluate)
    stored = stage.outputs[rel]
    if stage.reused:
        print(f"eval: unchanged since the last run, report from {stored}", file=sys.stderr)
    summary = json.loads((stored / "report.json").read_text())
    if args.report:
        shutil.copytree(stored, args.report, dirs_exist_ok=True)
        print(f"report: {args.report}", file=sys.stderr)
    if args.json:
        summary.pop("per_clip", None)
        print(json.dumps(summary, indent=2))
    else:
        print_summary(summary)
    return 0
