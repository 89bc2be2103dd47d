"""`tinyml bench --board qemu-m4 --model M.tflite`: instructions per layer, RAM and flash."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bench",
        help="instructions per layer (QEMU -icount), arena RAM and model flash of a model",
        description="Compile the model for a target, run it on an emulated board with the bench "
        "firmware (QEMU -icount shift=0, exact instruction counts), check every output against "
        "the TFLite Micro runtime, and report per-layer and total instructions, MACs per "
        "instruction, the arena, the flash split (code / weights / quantization parameters), "
        "CMSIS-NN's figures for the MLPerf Tiny KWS model, and the generic build beside them.",
    )
    p.add_argument("--board", default="qemu-m4", help="emulated board (default: qemu-m4)")
    p.add_argument("--model", required=True, help="int8 .tflite model")
    p.add_argument("--target", default=None,
                   help="kernel set: generic, cortex-m4, cortex-m7, cortex-m55 "
                   "(default: the board's compile_target)")
    p.add_argument("--inputs", type=int, default=8, metavar="N",
                   help="number of random int8 inputs (default 8)")
    p.add_argument("--clips", default=None, metavar="DIR",
                   help="use the features of real clips instead (a folder of <label>/*.wav)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    p.add_argument("--no-generic", action="store_true", help="skip the generic build")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--plot", metavar="PNG", default=None, help="save a per-layer bar chart")
    p.set_defaults(run=run)


def clip_inputs(folder: str, limit: int, model: str):
    """Quantized features (int8 [n, input size]) of up to ``limit`` clips from <label>/*.wav,
    round-robin over the labels (deterministic), computed by our audio frontend."""
    from pathlib import Path

    import numpy as np

    from .. import frontend
    from ..audio import load_wavs
    from ..errors import BadInputError

    root = Path(folder)
    per_label = [sorted(d.glob("*.wav")) for d in sorted(root.iterdir())
                 if d.is_dir() and not d.name.startswith("_background")] if root.is_dir() else []
    files = []
    i = 0
    while len(files) < limit and any(i < len(x) for x in per_label):
        files += [x[i] for x in per_label if i < len(x)]
        i += 1
    files = files[:limit]
    if not files:
        raise BadInputError(f"--clips {folder}: no <label>/*.wav files found")
    spec = frontend.spec_from_model(model)
    pcm = load_wavs(files, spec)
    return np.asarray(frontend.features(pcm, spec), dtype=np.int8).reshape(len(files), -1)


def run(args: argparse.Namespace) -> int:
    from ..bench import format_table, plot_bench, run_bench

    inputs = clip_inputs(args.clips, args.inputs, args.model) if args.clips else None
    result = run_bench(args.model, board=args.board, target=args.target, inputs=inputs,
                       n_random=args.inputs, seed=args.seed,
                       compare_generic=not args.no_generic)
    if args.plot:
        plot_bench(result, args.plot)
    if args.json:
        print(result.to_json())
    else:
        print(format_table(result))
        if args.plot:
            print(f"plot: {args.plot}")
    return 0 if result.outputs_identical_to_tflm == result.inputs else 1
