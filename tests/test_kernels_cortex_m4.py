"""Cortex-M4 kernels (firmware/kernels/cortex_m4) run the same tests as their portable twins:
small int8 models built here, compiled with --target cortex-m4, give outputs (and every
intermediate) identical to the TFLite Micro runtime, on the host (portable ACLE definitions in
tml_acle.h) and in QEMU mps2-an386 (the real DSP instructions). The models exercise every
optimised kernel and each of its paths: im2col word / byte / element paths and padding, the
unrolled dot product entered at any chunk and repeated for rows over 64 values, in-place 1x1
and depthwise layers, the depthwise rows-of-5 assembly and the generic width, full-range and
clamped (RELU6) outputs, SXTAB16 and scalar average pooling.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from models_util import _keras, batched, convert_int8

from toolchain.bench import run_bench
from toolchain.compiler import compile_model
from toolchain.compiler.hostlib import build_host_library
from toolchain.compiler.lower import lower
from toolchain.compiler.optimize import fold_requant, optimize_calls
from toolchain.compiler.parse import load_model
from toolchain.reference import TFLMReference

N_HOST = 200
N_QEMU = 40
M4_KERNELS = {"tml_conv2d_s8_m4", "tml_conv2d_1x1_s8_m4", "tml_depthwise_conv2d_3x3_s8_m4",
              "tml_avgpool_s8_m4", "tml_fully_connected_s8_m4", "tml_softmax_s8_lut"}


def m4_narrow():
    """Rows of 5 (the depthwise assembly), im2col with whole-chunk window rows and padding,
    in-place 1x1 (8 -> 8), RELU6 on depthwise and 1x1, global average pooling, fully connected
    with four units over 15 values (the four-unit loop plus a tail). Input 9x5x8."""
    k = _keras()
    L = k.layers
    x = inp = L.Input((9, 5, 8))
    x = L.Conv2D(8, (3, 2), strides=(2, 1), padding="same", activation="relu")(x)  # K=48
    x = L.DepthwiseConv2D((3, 3), padding="same", activation="relu")(x)
    x = L.Conv2D(8, (1, 1), activation="relu")(x)  # in place
    x = L.DepthwiseConv2D((3, 3), padding="same", activation="relu6")(x)
    x = L.Conv2D(12, (1, 1), activation="relu6")(x)
    x = L.Conv2D(5, (3, 3), padding="valid", activation="relu")(x)  # K=108
    x = L.AveragePooling2D((3, 1))(x)
    x = L.Flatten()(x)
    x = L.Dense(4)(x)
    return k.Model(inp, x)


def m4_wide():
    """Odd window (3x3x3 = 27 values, padded to 28: element path), depthwise on rows of 7
    (generic path), 1x1 rows of 80 values (two passes of the 64-value unrolled body), SXTAB16
    average pooling (depth 32), fully connected with 6 units (four, then a pair), softmax with
    the compile-time exp table. Input 6x7x3."""
    k = _keras()
    L = k.layers
    x = inp = L.Input((6, 7, 3))
    x = L.Conv2D(16, (3, 3), padding="same", activation="relu")(x)
    x = L.DepthwiseConv2D((3, 3), padding="same", activation="relu")(x)
    x = L.Conv2D(80, (1, 1), activation="relu")(x)
    x = L.Conv2D(32, (1, 1), activation="relu")(x)
    x = L.AveragePooling2D((2, 2), strides=2, padding="same")(x)
    x = L.Flatten()(x)
    x = L.Dense(6)(x)
    x = L.Softmax()(x)
    return k.Model(inp, x)


def m4_edge():
    """Window rows of exactly one chunk (2 columns x 2 channels, and 4 columns x 1 channel like
    the MLPerf KWS first layer) with padding on both sides: the shifted-word path; fully
    connected with 7 units (four, a pair, a lone last unit). Input 7x10x2."""
    k = _keras()
    L = k.layers
    x = inp = L.Input((7, 10, 2))
    x = L.Conv2D(8, (3, 2), strides=(2, 2), padding="same", activation="relu")(x)  # 4x5x8
    x = L.Conv2D(1, (1, 1), activation="relu")(x)  # in_c 8 -> 1 (not in place)
    x = L.Conv2D(8, (3, 4), strides=(1, 2), padding="same", activation="relu")(x)
    x = L.Flatten()(x)
    x = L.Dense(7)(x)
    return k.Model(inp, x)


@pytest.fixture(scope="module")
def m4_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("m4_models")
    return {"narrow": convert_int8(m4_narrow(), d / "narrow.tflite"),
            "wide": convert_int8(m4_wide(), d / "wide.tflite", seed=1),
            "edge": convert_int8(m4_edge(), d / "edge.tflite", seed=2),
            "batched": batched(d / "batched.tflite")}  # 3 inputs per invocation


def _inputs(path: Path, n: int, seed: int) -> np.ndarray:
    size = int(np.prod(load_model(path).tensors[load_model(path).inputs[0]].shape))
    return np.random.default_rng(seed).integers(-128, 128, (n, size), dtype=np.int8)


def test_every_optimised_kernel_is_chosen(m4_models, tmp_path: Path) -> None:
    used: set[str] = set()
    for name, path in m4_models.items():
        report = compile_model(path, tmp_path / name, target="cortex-m4")
        code = (tmp_path / name / "model.c").read_text()
        used |= {k for k in M4_KERNELS if f"{k}(" in code}
        generic = compile_model(path, tmp_path / f"{name}-generic", target="generic")
        # In-place depthwise / 1x1 layers: the optimised plan never needs more RAM.
        assert report.arena_bytes <= generic.arena_bytes + 1024
    assert used == M4_KERNELS


@pytest.mark.parametrize("name", ["narrow", "wide", "edge", "batched"])
def test_host_identical_to_tflm(m4_models, tmp_path: Path, name: str) -> None:
    path = m4_models[name]
    compile_model(path, tmp_path / "gen", target="cortex-m4")
    host = build_host_library(tmp_path / "gen", tmp_path / "build")
    ref = TFLMReference(path)
    for i, x in enumerate(_inputs(path, N_HOST, seed=5)):
        got = host.invoke(x)
        np.testing.assert_array_equal(got, ref.invoke(x).reshape(-1), err_msg=f"input {i}")
        if i < 20:
            for t, value in host.intermediates().items():
                np.testing.assert_array_equal(value, ref.tensor(t).reshape(-1),
                                              err_msg=f"tensor {t}, input {i}")


@pytest.mark.parametrize("name", ["narrow", "wide", "edge", "batched"])
def test_qemu_identical_to_tflm(m4_models, tmp_path: Path, name: str) -> None:
    path = m4_models[name]
    result = run_bench(path, "qemu-m4", target="cortex-m4", inputs=_inputs(path, N_QEMU, 7),
                       compare_generic=False, work_dir=tmp_path)
    assert result.inputs == N_QEMU
    assert result.outputs_identical_to_tflm == N_QEMU
    kernels = {layer.kernel for layer in result.layers}
    assert kernels & M4_KERNELS
    assert all(layer.instructions > 0 for layer in result.layers if layer.op != "RESHAPE")


@pytest.mark.parametrize("name", ["narrow", "wide", "edge", "batched"])
def test_qemu_m55_identical_to_tflm(m4_models, tmp_path: Path, name: str) -> None:
    """--target cortex-m55 on qemu-m55: the MVE 1x1 convolution (1x1 layers of 8, 16 and 80
    input channels: predicated tails and whole 16-value chunks; 1, 8, 12, 32 and 80 output
    channels: groups of four and a lone channel, in place), the MVE depthwise convolution
    (5 and 6 rows, 8 and 16 channels, batch of 3), the MVE im2col convolution (strides,
    padding, windows of 27 to 108 values) and the Armv7E-M kernels."""
    path = m4_models[name]
    result = run_bench(path, "qemu-m55", target="cortex-m55", inputs=_inputs(path, N_QEMU, 8),
                       compare_generic=False, work_dir=tmp_path)
    assert result.outputs_identical_to_tflm == N_QEMU
    kernels = {layer.kernel for layer in result.layers}
    assert "tml_conv2d_1x1_s8_mve" in kernels
    assert name == "edge" or "tml_depthwise_conv2d_3x3_s8_mve" in kernels
    assert name == "batched" or "tml_conv2d_s8_mve" in kernels


def m55_tall():
    """Depthwise layers of 124, 122, 61 and 30 rows (MVE kernel: the C loop past 122 rows, then
    the assembly on plane columns of 124, 64 and 32 values, each at its largest height), ReLU
    and ReLU6. Input 124x2x4."""
    k = _keras()
    L = k.layers
    x = inp = L.Input((124, 2, 4))
    x = L.DepthwiseConv2D((3, 3), padding="same", activation="relu")(x)  # 124 rows
    x = L.Conv2D(4, (3, 1), activation="relu")(x)  # 122
    x = L.DepthwiseConv2D((3, 3), padding="same", activation="relu6")(x)
    x = L.Conv2D(6, (2, 1), strides=(2, 1), activation="relu")(x)  # 61
    x = L.DepthwiseConv2D((3, 3), padding="same", activation="relu")(x)
    x = L.Conv2D(4, (2, 1), strides=(2, 1), activation="relu")(x)  # 30
    x = L.DepthwiseConv2D((3, 3), padding="same", activation="relu")(x)
    x = L.Flatten()(x)
    x = L.Dense(5)(x)
    return k.Model(inp, x)


def test_qemu_m55_tall_depthwise_identical_to_tflm(tmp_path: Path) -> None:
    path = convert_int8(m55_tall(), tmp_path / "tall.tflite", seed=3)
    result = run_bench(path, "qemu-m55", target="cortex-m55", inputs=_inputs(path, N_QEMU, 9),
                       compare_generic=False, work_dir=tmp_path)
    assert result.outputs_identical_to_tflm == N_QEMU
    assert [layer.kernel for layer in result.layers].count("tml_depthwise_conv2d_3x3_s8_mve") == 4


def test_folded_requant_matches_tflite_arithmetic(m4_models) -> None:
    """The folded table reproduces TFLite's two-rounding requantization for every accumulator
    a layer can produce whose result is not clamped away (checked in Python, exhaustively over a
    range of accumulators per channel)."""
    graph = load_model(m4_models["narrow"])
    calls = [c for c in optimize_calls(graph, lower(graph), "cortex-m4") if c.prepared]
    plain = {c.index: c for c in lower(graph)}
    assert calls
    for call in calls:
        base = plain[call.index]
        w = graph.tensors[call.filter].data
        per_channel = (np.asarray(w).reshape(-1, w.shape[-1]).T if call.kernel.startswith("depth")
                       else np.asarray(w).reshape(w.shape[0], -1))
        table = fold_requant(base, per_channel, None)
        zp, lo, hi = (base.params[k] for k in ("output_offset", "act_min", "act_max"))
        for c, (_, m, round_add) in enumerate(table[:4]):
            e = -base.shifts[c if len(base.shifts) > 1 else 0]
            x = np.arange(-300_000, 300_000, 7, dtype=np.int64)  # accumulator incl. bias
            # TFLite: rounding doubling high multiply (truncating division of the nudged
            # product), rounding right shift, zero point, clamp.
            ab = x * int(m)
            s = ab + np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
            high = np.where(s >= 0, s // (1 << 31), -((-s) // (1 << 31)))
            mask = (1 << e) - 1
            rem = high & mask
            thr = (mask >> 1) + (high < 0)
            want = np.clip((high >> e) + (rem > thr) + zp, lo, hi)
            # Folded: SMMLAR(2x, M, round_add) >> e, then clamp.
            got = (int(round_add) + ((2 * x * int(m) + (1 << 31)) >> 32)) >> e
            got = np.clip(got, lo, hi)
            np.testing.assert_array_equal(got, want, err_msg=f"op {call.index} channel {c}")


@pytest.mark.parametrize("target,cpu", [("cortex-m4", ["-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16"]),
                                        ("cortex-m7", ["-mcpu=cortex-m7", "-mfpu=fpv5-d16"]),
                                        ("cortex-m55", ["-mcpu=cortex-m55"])])
def test_dsp_targets_build_warning_free(mlperf_model: Path, tmp_path: Path, target: str,
                                        cpu: list[str]) -> None:
    """The same kernels (and their assembly) build for every DSP target's core."""
    assert shutil.which("arm-none-eabi-gcc")
    compile_model(mlperf_model, tmp_path / "gen", target=target)
    for src in sorted((tmp_path / "gen").glob("*.c")):
        r = subprocess.run(["arm-none-eabi-gcc", *cpu, "-mthumb", "-mfloat-abi=hard", "-O2",
                            "-std=c99", "-Wall", "-Wextra", "-Werror", "-c", str(src), "-o",
                            str(tmp_path / (src.stem + ".o"))], capture_output=True, text=True)
        assert r.returncode == 0, f"{target} {src.name}:\n{r.stderr}"
