"""The generated KWS library on an emulated Cortex-M4F (QEMU mps2-an386): built with
arm-none-eabi-gcc -O2 (hard float, -Wall -Wextra -Werror), its outputs equal the TFLite Micro
runtime's; instructions per inference and per op are recorded (QEMU -icount shift=0: one SysTick
tick per 40 instructions) in build/reports/compiler_kws_device.json (and a .png bar chart).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from models_util import kws_real_inputs

from toolchain.bench import build_semihosting_elf, run_semihosting_elf
from toolchain.compiler import compile_model
from toolchain.compiler.plot import plot_op_costs
from toolchain.reference import TFLMReference

REPO = Path(__file__).resolve().parents[1]
DEVICE_DIR = REPO / "tests" / "compiler_device"
REPORT = REPO / "build" / "reports" / "compiler_kws_device.json"
INSTRUCTIONS_PER_TICK = 40


@pytest.fixture(scope="module")
def device_run(mlperf_model: Path, speech_commands: Path, tmp_path_factory) -> dict:
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        assert shutil.which(tool), f"{tool} not found (apt gcc-arm-none-eabi qemu-system-arm)"
    work = tmp_path_factory.mktemp("compiler_device")
    report = compile_model(mlperf_model, work / "gen", target="generic")
    elf = build_semihosting_elf(
        [DEVICE_DIR / "main.c", *sorted((work / "gen").glob("*.c"))], work / "model.elf",
        "qemu-m4", include_dirs=[work / "gen", DEVICE_DIR],
        defines=['TINYML_HOOKS_HEADER="device_hooks.h"'], std="c99")
    ref = TFLMReference(mlperf_model)
    real, _ = kws_real_inputs(speech_commands, *ref.input_quant, per_label=1)
    rng = np.random.default_rng(5)
    inputs = np.concatenate([real, rng.integers(-128, 128, (12, real.shape[1]), dtype=np.int8)])
    inputs.tofile(work / "inputs.bin")
    run = run_semihosting_elf(elf, work, "qemu-m4", timeout=300)
    assert run.returncode == 0, f"QEMU exit {run.returncode}: {run.stdout} {run.stderr}"
    n = len(inputs)
    return {
        "report": report,
        "inputs": inputs,
        "outputs": np.fromfile(work / "outputs.bin", np.int8).reshape(n, -1),
        "ticks": np.fromfile(work / "ticks.bin", np.uint32),
        "op_ticks": np.fromfile(work / "op_ticks.bin", np.uint32).reshape(n, -1),
        "reference": np.stack([ref.invoke(x).reshape(-1) for x in inputs]),
    }


def test_device_outputs_identical_to_tflm(device_run) -> None:
    assert len(device_run["outputs"]) == 24
    np.testing.assert_array_equal(device_run["outputs"], device_run["reference"])


def test_device_instruction_count(device_run) -> None:
    per_inference = int(device_run["ticks"].max()) * INSTRUCTIONS_PER_TICK
    per_op = (device_run["op_ticks"].max(axis=0).astype(np.int64) * INSTRUCTIONS_PER_TICK)
    report = device_run["report"]
    ops = [{"index": o.index, "op": o.op, "macs": o.macs, "instructions": int(per_op[o.index])}
           for o in report.ops]
    print(f"\nKWS on Cortex-M4 (portable kernels, QEMU -icount): {per_inference:,} instructions "
          "per inference")
    for o in ops:
        print(f"  op {o['index']:>2} {o['op']:<18} {o['instructions']:>11,} instructions "
              f"{o['macs']:>9,} MACs")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps({
        "target": report.target, "instructions_per_inference": per_inference,
        "arena_bytes": report.arena_bytes, "weight_bytes": report.weight_bytes,
        "quant_param_bytes": report.quant_param_bytes, "ops": ops}, indent=2))
    plot_op_costs(ops, REPORT.with_suffix(".png"),
                  f"MLPerf KWS on Cortex-M4 ({report.target} kernels): {per_inference:,} "
                  "instructions per inference")
    assert REPORT.with_suffix(".png").is_file()
    assert np.all(device_run["op_ticks"].sum(axis=1) <= device_run["ticks"])
    assert per_inference < 60_000_000  # a loose regression guard; targets live in bench/
