"""Instructions per inference and per feature extraction on qemu-m4, against CMSIS-NN.

Builds the MLPerf Tiny KWS firmware, runs it in QEMU under ``-icount shift=0`` (SysTick on the
25 MHz processor clock ticks once per 40 guest instructions) and reads the tick counts the
firmware measures around the frontend and around ``tinyml_invoke``. Every measurement is taken
twice in one QEMU run and again in a fresh QEMU run: all must be identical (exactly repeatable).
Writes build/bench/firmware_instructions.json and .png.

Usage: python bench/firmware_instructions.py [--clips N]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# CMSIS-NN on QEMU mps2-an386 (-O2, DSP), from DEVELOPERS.md.
CMSIS_NN_INSTRUCTIONS_PER_INFERENCE = 7_693_562
CMSIS_NN_PORTABLE_C = 10_489_320


def measure(elf: Path, clips: list, host, ipt: int) -> list[dict]:
    from host.emulators import QemuRunner
    from host.evaluate import load_pcm
    from host.link import Link
    from toolchain.boards import load_board

    rows = []
    with QemuRunner(load_board("qemu-m4"), elf) as qemu:
        qemu.start()
        with Link.open(f"socket://127.0.0.1:{qemu.port}") as link:
            link.hello()
            for clip in clips:
                pcm = load_pcm(clip.path, 16000)
                a = link.run_audio(pcm, return_features=False)
                b = link.run_audio(pcm, return_features=False)
                f = link.run_features(host.features(pcm))
                rows.append({
                    "clip": clip.path.name, "label": clip.label,
                    "feature_instructions": [a.feature_ticks * ipt, b.feature_ticks * ipt],
                    "inference_instructions": [a.invoke_ticks * ipt, b.invoke_ticks * ipt,
                                               f.invoke_ticks * ipt],
                })
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--out", default=str(REPO / "build" / "bench"))
    parser.add_argument("--data", default=None, help="Speech Commands folder (default: shared)")
    args = parser.parse_args()

    from host.evaluate import HostPipeline, select_clips
    from toolchain.boards import load_board
    from toolchain.compiler import inspect_model
    from toolchain.firmware import build_firmware
    from toolchain.paths import mlperf_kws_model, shared_dir, speech_commands_dir

    model = mlperf_kws_model()
    board = load_board("qemu-m4")
    ipt = int(board.instructions_per_tick or 0)
    fw = build_firmware(model, board)
    host = HostPipeline(model)
    data = speech_commands_dir(args.data or shared_dir() / "datasets" / "speech_commands_v0.02")
    clips = select_clips(data, inspect_model(model).labels, args.clips)
    first = measure(fw.elf, clips, host, ipt)
    second = measure(fw.elf, clips, host, ipt)
    repeatable = all(
        len(set(r1["feature_instructions"] + r2["feature_instructions"])) == 1
        and len(set(r1["inference_instructions"] + r2["inference_instructions"])) == 1
        for r1, r2 in zip(first, second, strict=True)
    )
    inf = [r["inference_instructions"][0] for r in first]
    feat = [r["feature_instructions"][0] for r in first]
    result = {
        "board": board.name,
        "model": str(model),
        "model_hash": fw.model_hash,
        "compile_target": board.compile_target,
        "unit": "instructions (QEMU -icount shift=0, 40 per SysTick tick)",
        "exactly_repeatable": repeatable,
        "inference_instructions": {"min": min(inf), "max": max(inf), "per_clip": inf},
        "feature_instructions": {"min": min(feat), "max": max(feat), "per_clip": feat},
        "cmsis_nn_inference_instructions": CMSIS_NN_INSTRUCTIONS_PER_INFERENCE,
        "ratio_to_cmsis_nn": max(inf) / CMSIS_NN_INSTRUCTIONS_PER_INFERENCE,
        "flash_bytes": fw.memory.flash_bytes,
        "ram_bytes": fw.memory.ram_bytes,
        "arena_bytes": fw.arena_bytes,
        "clips": first,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "firmware_instructions.json").write_text(json.dumps(result, indent=2))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    names = ["CMSIS-NN\n(DSP)", "CMSIS-NN\n(portable C)", "tinyml\ninference", "tinyml\nfeatures"]
    values = [CMSIS_NN_INSTRUCTIONS_PER_INFERENCE, CMSIS_NN_PORTABLE_C, max(inf), max(feat)]
    ax.bar(names, [v / 1e6 for v in values],
           color=["tab:gray", "tab:gray", "tab:blue", "tab:green"])
    for i, v in enumerate(values):
        ax.text(i, v / 1e6, f"{v / 1e6:.2f}M", ha="center", va="bottom")
    ax.set_ylabel("million instructions per clip")
    ax.set_title("MLPerf KWS on qemu-m4 (QEMU -icount)")
    fig.tight_layout()
    fig.savefig(out / "firmware_instructions.png", dpi=120)

    print(f"inference   {max(inf):>12,} instructions  ({result['ratio_to_cmsis_nn']:.3f}x "
          f"CMSIS-NN's {CMSIS_NN_INSTRUCTIONS_PER_INFERENCE:,})")
    print(f"features    {max(feat):>12,} instructions")
    print(f"repeatable  {repeatable} (same clip twice per run, two QEMU runs)")
    print(f"flash {fw.memory.flash_bytes:,} B  RAM {fw.memory.ram_bytes:,} B  "
          f"arena {fw.arena_bytes:,} B")
    print(f"written: {out / 'firmware_instructions.json'}, {out / 'firmware_instructions.png'}")
    return 0 if repeatable else 1


if __name__ == "__main__":
    sys.exit(main())
