"""`tinyml compile MODEL.tflite -o DIR`: int8 .tflite -> self-contained C99 library."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "compile", help="compile an int8 .tflite model into a standalone C99 library"
    )
    p.add_argument("model", help="int8 .tflite model file")
    p.add_argument("-o", "--output", required=True, metavar="DIR",
                   help="output folder (model.h, model.c, weights, kernel sources)")
    p.add_argument("--target", default="generic",
                   help="kernel set to use (default: generic = portable C99)")
    p.add_argument("--labels", default=None,
                   help="comma-separated output labels (if the model does not carry them)")
    p.add_argument("--json", action="store_true", help="print the compile report as JSON")
    p.add_argument("--plot", metavar="PNG", default=None,
                   help="also save a picture of the arena memory plan")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..compiler import compile_model

    labels = [s.strip() for s in args.labels.split(",")] if args.labels else None
    report = compile_model(args.model, args.output, target=args.target, labels=labels)
    if args.plot:
        from ..compiler.plot import plot_memory_plan

        plot_memory_plan(report.plan, [o.op for o in report.ops], args.plot)
    if args.json:
        print(report.to_json())
        return 0
    pct = 100.0 * report.arena_bytes / max(report.tensor_bytes_sum, 1)
    print(f"compiled {report.model_path} -> {report.out_dir} (target {report.target})")
    print(f"  ops:           {len(report.ops)} ({report.total_macs:,} MACs)")
    print(f"  arena (RAM):   {report.arena_bytes:,} bytes "
          f"({pct:.0f}% of the {report.tensor_bytes_sum:,}-byte sum of all activations)")
    print(f"  weights:       {report.weight_bytes:,} bytes")
    print(f"  quant params:  {report.quant_param_bytes:,} bytes")
    if report.labels:
        print(f"  labels:        {', '.join(report.labels)}")
    print(f"  files:         {', '.join(report.files)}")
    if args.plot:
        print(f"  memory plan:   {args.plot}")
    return 0
