"""`tinyml inspect MODEL.tflite [--json]`: ops, shapes, quantization, MACs, weight bytes."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "inspect", help="show the ops of an int8 .tflite model (shapes, quantization, MACs)"
    )
    p.add_argument("model", help="int8 .tflite model file")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run)


def _fmt_params(params: dict) -> str:
    parts = []
    for k, v in params.items():
        if isinstance(v, list):
            v = "x".join(str(x) for x in v)
        parts.append(f"{k}={v}")
    return " ".join(parts)


def run(args: argparse.Namespace) -> int:
    from ..compiler import inspect_model

    info = inspect_model(args.model)
    if args.json:
        print(info.to_json())
        return 0
    print(f"model {info.path} ({info.size_bytes} bytes, hash {info.model_hash})")
    print(f"input  {info.input.shape} int8 scale={info.input.scale:.6g} "
          f"zero_point={info.input.zero_point}")
    print(f"output {info.output.shape} int8 scale={info.output.scale:.6g} "
          f"zero_point={info.output.zero_point}")
    if info.labels:
        print(f"labels {', '.join(info.labels)}")
    header = f"{'#':>3}  {'op':<18} {'input':<16} {'output':<16} {'weights':<12} " \
             f"{'MACs':>10} {'w bytes':>8}  params"
    print(header)
    print("-" * len(header))
    for op in info.ops:
        ins = ",".join("x".join(map(str, s)) for s in op.inputs)
        out = "x".join(map(str, op.output))
        mark = " " if op.supported else "!"
        print(f"{op.index:>2}{mark}  {op.op:<18} {ins:<16} {out:<16} {op.quantization:<12} "
              f"{op.macs:>10,} {op.weight_bytes:>8,}  {_fmt_params(op.params)}")
    print("-" * len(header))
    print(f"{len(info.ops)} ops, {info.total_macs:,} MACs, {info.weight_bytes:,} weight bytes")
    for problem in info.problems:
        print(f"not compilable: {problem}")
    return 0
