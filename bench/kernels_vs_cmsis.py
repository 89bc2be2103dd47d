"""Issue 6 report: the MLPerf Tiny KWS model on qemu-m4 with --target cortex-m4 against CMSIS-NN.

Runs `toolchain.bench.run_bench` on the features (our audio frontend) of N real Speech Commands
clips spread over every label (default 500), checks every device output against the TFLite Micro
runtime, and writes build/reports/kernels_vs_cmsis.{json,md,png}: per layer MACs, our
instructions, CMSIS-NN's, the ratio; totals; arena; flash split; the generic build.

    .venv/bin/python bench/kernels_vs_cmsis.py [--clips 500] [--target cortex-m4]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGETS = {"instructions": 3_500_000, "arena_bytes": 9_000, "flash_bytes": 40_000}


def markdown(result: Any) -> str:
    """The acceptance-5 table (per layer: MACs, ours, CMSIS-NN, ratio) and the totals."""
    rows = ["| # | layer | MACs | ours | CMSIS-NN | CMSIS-NN / ours |",
            "|---|---|---:|---:|---:|---:|"]
    for x in result.layers:
        if x.op == "RESHAPE":
            continue
        base = f"{x.cmsis_nn_instructions:,}" if x.cmsis_nn_instructions else "-"
        ratio = f"{x.speedup_vs_cmsis_nn:.2f}" if x.speedup_vs_cmsis_nn else "-"
        rows.append(f"| {x.index} | {x.kind} | {x.macs:,} | {x.instructions:,} | {base} | "
                    f"{ratio} |")
    c = result.cmsis_nn or {}
    rows.append(f"| | **total** | {result.total_macs:,} | **{result.instructions:,}** | "
                f"{c.get('instructions', 0):,} | **{c.get('speedup', 0):.2f}** |")
    f = result.flash
    return "\n".join(rows) + (
        f"\n\n{result.inputs} real clips: {result.outputs_identical_to_tflm} device outputs "
        f"identical to the TFLite Micro runtime.\n"
        f"Arena {result.arena_bytes:,} B (CMSIS-NN {c.get('arena_bytes', 0):,}); model flash "
        f"{f.total:,} B = code {f.code:,} + weights {f.weights:,} + quantization parameters "
        f"{f.quant_params:,} (CMSIS-NN {c.get('flash_bytes', 0):,}).\n"
        f"Generic (portable C) build: {result.generic['instructions']:,} instructions.\n"
        if result.generic else "")


def main() -> int:
    import numpy as np

    from toolchain import frontend
    from toolchain.audio import load_wavs
    from toolchain.bench import format_table, plot_bench, run_bench
    from toolchain.paths import mlperf_kws_model, shared_dir

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=500)
    ap.add_argument("--target", default="cortex-m4")
    ap.add_argument("--out", default=str(REPO / "build" / "reports"))
    args = ap.parse_args()
    model = mlperf_kws_model()
    data = shared_dir() / "datasets" / "speech_commands_v0.02"
    files = sorted(p for p in data.glob("*/*.wav") if "_background_" not in str(p))
    chosen = files[:: max(1, len(files) // args.clips)][: args.clips]
    spec = frontend.spec_from_model(model)
    features = np.asarray(frontend.features(load_wavs(chosen, spec), spec), dtype=np.int8)
    result = run_bench(model, "qemu-m4", target=args.target,
                       inputs=features.reshape(len(chosen), -1), compare_generic=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "kernels_vs_cmsis.json").write_text(result.to_json())
    (out / "kernels_vs_cmsis.md").write_text(markdown(result))
    plot_bench(result, out / "kernels_vs_cmsis.png")
    print(format_table(result))
    print()
    print(markdown(result))
    ok = (result.outputs_identical_to_tflm == result.inputs
          and result.instructions <= TARGETS["instructions"]
          and result.arena_bytes <= TARGETS["arena_bytes"]
          and result.flash.total <= TARGETS["flash_bytes"])
    print("targets met" if ok else "TARGETS NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
