"""Kernel unit tests: small hand-readable cases with golden outputs worked out by hand, calling
the portable C kernels directly (compiled with the host gcc, loaded with ctypes); plus the
compile-time quantization helpers, and a warning-free Cortex-M4 build of every kernel.

An optimised kernel set (issue 6) must pass the same cases: add its folder to KERNEL_SETS.
"""

from __future__ import annotations

import ctypes as C
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from kernel_ctypes import (
    I32,
    AddParams,
    ConvParams,
    Dims,
    DwParams,
    FcParams,
    PoolParams,
    Quant,
    RqParams,
    SoftmaxParams,
)

from toolchain.compiler import quant
from toolchain.compiler.targets import KERNELS_DIR

KERNEL_SETS = ["portable"]

ONE = (1 << 30, 1)  # real multiplier 1.0 as (Q31 multiplier, shift)


@pytest.fixture(scope="module", params=KERNEL_SETS)
def lib(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> C.CDLL:
    sources = sorted((KERNELS_DIR / request.param).glob("*.c"))
    so = tmp_path_factory.mktemp("kernels") / "libkernels.so"
    subprocess.run(["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic",
                    "-fPIC", "-shared", f"-I{KERNELS_DIR / 'include'}", *map(str, sources),
                    "-o", str(so)], check=True)
    return C.CDLL(str(so))


def i8(values) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.int8)


def ptr(a: np.ndarray):
    return a.ctypes.data_as(C.POINTER(C.c_int8 if a.dtype == np.int8 else I32))


def quant_params(pairs: list[tuple[int, int]]) -> tuple[Quant, list]:
    m = np.array([p[0] for p in pairs], dtype=np.int32)
    s = np.array([p[1] for p in pairs], dtype=np.int32)
    return Quant(ptr(m), ptr(s), int(len(pairs) > 1)), [m, s]


def test_quantize_multiplier_golden() -> None:
    assert quant.quantize_multiplier(0.5) == (1 << 30, 0)
    assert quant.quantize_multiplier(1.0) == ONE
    assert quant.quantize_multiplier(0.75) == (3 << 29, 0)
    assert quant.quantize_multiplier(2.0 ** -19) == (1 << 30, -18)
    assert quant.quantize_multiplier(1 - 2.0 ** -40) == ONE  # rounds up to 2^31: renormalised
    assert quant.quantize_multiplier(0.0) == (0, 0)
    assert quant.quantize_multiplier(2.0 ** -40) == (0, 0)  # too small: zero
    assert quant.activation_range("RELU6", 6 / 255, -128) == (-128, 127)
    assert quant.activation_range("RELU", 0.1, 5) == (5, 127)
    assert quant.activation_range("NONE", 0.1, 5) == (-128, 127)
    # SAME, 7 inputs, even kernel 2, stride 2: 4 outputs, the one padding element at the end.
    assert quant.conv_padding("SAME", 7, 2, 2, 1) == (4, 0)
    assert quant.conv_padding("SAME", 5, 3, 1, 2) == (5, 2)  # dilation 2: effective kernel 5
    assert quant.conv_padding("VALID", 7, 3, 2, 1) == (3, 0)


def test_requantize(lib: C.CDLL) -> None:
    x = i8([-10, 0, 127, -128])
    y = np.zeros(4, np.int8)
    # zero point -10 -> 5, multiplier 0.5: 0 -> 5; 10*0.5 -> 10; 137*0.5=68.5 -> 69 (+5 = 74);
    # -118*0.5 = -59 -> -54.
    p = RqParams(10, 5, 1 << 30, 0)
    assert lib.tml_requantize_s8(None, C.byref(p), 4, ptr(x), ptr(y)) == 0
    assert y.tolist() == [5, 10, 74, -54]
    p = RqParams(10, 5, 1 << 30, 3)  # multiplier 4: saturates at the int8 limits
    lib.tml_requantize_s8(None, C.byref(p), 4, ptr(x), ptr(y))
    assert y.tolist() == [5, 45, 127, -128]


def test_conv2d_same_padding(lib: C.CDLL) -> None:
    x = i8(np.arange(1, 10).reshape(1, 3, 3, 1))
    w = i8(np.ones((1, 3, 3, 1)))
    bias = np.array([1], dtype=np.int32)
    y = np.zeros((1, 3, 3, 1), np.int8)
    q, keep = quant_params([ONE])
    p = ConvParams(1, 1, 1, 1, 1, 1, 0, 0, -128, 127)
    assert lib.tml_conv2d_s8(None, C.byref(p), C.byref(q), C.byref(Dims(1, 3, 3, 1)), ptr(x),
                             C.byref(Dims(1, 3, 3, 1)), ptr(w), ptr(bias),
                             C.byref(Dims(1, 3, 3, 1)), ptr(y)) == 0
    # 3x3 box sums of 1..9 (zero padding) plus the bias.
    assert y[0, :, :, 0].tolist() == [[13, 22, 17], [28, 46, 34], [25, 40, 29]]
    # Input offset +1 (zero point -1): padding stays zero, only real pixels gain 1 each.
    p = ConvParams(2, 2, 1, 1, 1, 1, 1, 0, -128, 127)  # stride 2 -> 2x2 output
    y2 = np.zeros((1, 2, 2, 1), np.int8)
    lib.tml_conv2d_s8(None, C.byref(p), C.byref(q), C.byref(Dims(1, 3, 3, 1)), ptr(x),
                      C.byref(Dims(1, 3, 3, 1)), ptr(w), ptr(bias), C.byref(Dims(1, 2, 2, 1)),
                      ptr(y2))
    assert y2[0, :, :, 0].tolist() == [[12 + 4 + 1, 16 + 4 + 1], [24 + 4 + 1, 28 + 4 + 1]]


def test_conv2d_per_channel_and_clamp(lib: C.CDLL) -> None:
    x = i8([[[[2, 3]]]])  # 1x1x1x2
    w = i8([[[[1, 1]]], [[[1, -1]]], [[[10, 10]]]])  # 3 output channels, 1x1 kernels
    y = np.zeros(3, np.int8)
    q, keep = quant_params([ONE, (1 << 30, 2), ONE])  # channel 1 scaled by 2
    p = ConvParams(1, 1, 0, 0, 1, 1, 0, -1, -128, 40)
    lib.tml_conv2d_s8(None, C.byref(p), C.byref(q), C.byref(Dims(1, 1, 1, 2)), ptr(x),
                      C.byref(Dims(3, 1, 1, 2)), ptr(w), None, C.byref(Dims(1, 1, 1, 3)), ptr(y))
    assert y.tolist() == [5 - 1, -2 - 1, 40]  # 50 - 1 clamped to act_max 40


def test_depthwise_multiplier_2(lib: C.CDLL) -> None:
    x = i8(np.array([1, 10, 2, 20, 3, 30, 4, 40]).reshape(1, 2, 2, 2))
    # Output channel oc = ic * 2 + m: (ic0,m0) sums, (ic0,m1) first minus last, (ic1,m0) sums,
    # (ic1,m1) doubles the top-left.
    w = np.zeros((1, 2, 2, 4), np.int8)
    w[0, :, :, 0] = 1
    w[0, 0, 0, 1], w[0, 1, 1, 1] = 1, -1
    w[0, :, :, 2] = 1
    w[0, 0, 0, 3] = 2
    y = np.zeros(4, np.int8)
    q, keep = quant_params([ONE] * 4)
    p = DwParams(1, 1, 0, 0, 1, 1, 2, 0, 0, -128, 127)
    assert lib.tml_depthwise_conv2d_s8(None, C.byref(p), C.byref(q), C.byref(Dims(1, 2, 2, 2)),
                                       ptr(x), C.byref(Dims(1, 2, 2, 4)), ptr(w), None,
                                       C.byref(Dims(1, 1, 1, 4)), ptr(y)) == 0
    assert y.tolist() == [10, -3, 100, 20]


def test_depthwise_dilation_2(lib: C.CDLL) -> None:
    x = i8(np.arange(25).reshape(1, 5, 5, 1))
    w = i8(np.ones((1, 2, 2, 1)))
    y = np.zeros((1, 3, 3, 1), np.int8)
    q, keep = quant_params([ONE])
    p = DwParams(1, 1, 0, 0, 2, 2, 1, 0, 0, -128, 127)  # VALID, effective kernel 3x3
    lib.tml_depthwise_conv2d_s8(None, C.byref(p), C.byref(q), C.byref(Dims(1, 5, 5, 1)),
                                ptr(x), C.byref(Dims(1, 2, 2, 1)), ptr(w), None,
                                C.byref(Dims(1, 3, 3, 1)), ptr(y))
    # x[i][j] + x[i][j+2] + x[i+2][j] + x[i+2][j+2] = 4 * (5i + j) + 24
    assert y[0, :, :, 0].tolist() == [[24 + 4 * (5 * i + j) for j in range(3)] for i in range(3)]


def test_fully_connected(lib: C.CDLL) -> None:
    x = i8([1, 2, 3])
    w = i8([[1, 1, 1], [1, -1, 0]])
    bias = np.array([0, 10], dtype=np.int32)
    y = np.zeros(2, np.int8)
    q, keep = quant_params([ONE])
    p = FcParams(1, 0, 0, -128, 127)  # input zero point -1: the inputs count as 2, 3, 4
    assert lib.tml_fully_connected_s8(None, C.byref(p), C.byref(q), 1, 3, ptr(x), 2, ptr(w),
                                      ptr(bias), ptr(y)) == 0
    assert y.tolist() == [9, 9]


def test_pools_round_and_clip_windows(lib: C.CDLL) -> None:
    y = np.zeros(1, np.int8)
    p = PoolParams(1, 1, 0, 0, 2, 2, -128, 127)
    lib.tml_avgpool_s8(None, C.byref(p), C.byref(Dims(1, 2, 2, 1)), ptr(i8([1, 2, 3, 5])),
                       C.byref(Dims(1, 1, 1, 1)), ptr(y))
    assert y.tolist() == [3]  # 11 / 4 = 2.75
    lib.tml_avgpool_s8(None, C.byref(p), C.byref(Dims(1, 2, 2, 1)), ptr(i8([-1, -2, -3, -4])),
                       C.byref(Dims(1, 1, 1, 1)), ptr(y))
    assert y.tolist() == [-3]  # -10 / 4 = -2.5, away from zero
    # SAME 2x2 windows, stride 2 on 1x3: the last window is clipped to one element.
    x = i8([4, 7, -9])
    y2 = np.zeros(2, np.int8)
    p = PoolParams(1, 2, 0, 0, 1, 2, -128, 127)
    lib.tml_avgpool_s8(None, C.byref(p), C.byref(Dims(1, 1, 3, 1)), ptr(x),
                       C.byref(Dims(1, 1, 2, 1)), ptr(y2))
    assert y2.tolist() == [6, -9]  # 5.5 -> 6; only -9 in the clipped window
    lib.tml_maxpool_s8(None, C.byref(p), C.byref(Dims(1, 1, 3, 1)), ptr(x),
                       C.byref(Dims(1, 1, 2, 1)), ptr(y2))
    assert y2.tolist() == [7, -9]
    p = PoolParams(1, 2, 0, 0, 1, 2, 0, 5)  # fused RELU-like clamp
    lib.tml_maxpool_s8(None, C.byref(p), C.byref(Dims(1, 1, 3, 1)), ptr(x),
                       C.byref(Dims(1, 1, 2, 1)), ptr(y2))
    assert y2.tolist() == [5, 0]


def test_add_same_scales(lib: C.CDLL) -> None:
    # All scales equal, zero points 0: inputs halved with 20 bits of headroom, output
    # multiplier 2^-19 -> exact sums.
    p = AddParams(0, 0, 20, 1 << 30, 0, 1 << 30, 0, 1 << 30, -18, 0, -128, 127)
    y = np.zeros(4, np.int8)
    assert lib.tml_add_s8(None, C.byref(p), 4, ptr(i8([1, -5, 100, -100])),
                          ptr(i8([2, -3, 100, -100])), ptr(y)) == 0
    assert y.tolist() == [3, -8, 127, -128]


def test_softmax_golden(lib: C.CDLL) -> None:
    m, s, diff_min = quant.softmax_params(1.0, 0.1)
    p = SoftmaxParams(m, s, diff_min)
    y = np.zeros(8, np.int8)
    # Row 1: four equal values -> 1/4 each = 64/256 -> -64. Row 2: one dominant value -> ~1.0
    # (saturates at 127) and exp(-25.5) -> 0 -> -128.
    x = i8([7, 7, 7, 7, 127, -128, -128, -128])
    assert lib.tml_softmax_s8(None, C.byref(p), 2, 4, ptr(x), ptr(y)) == 0
    assert y.tolist() == [-64, -64, -64, -64, 127, -128, -128, -128]
    # Two values 1 apart at scale 0.1: e^0 / (1 + e^-0.1) = 0.52498 -> 134.4 -> 6;
    # e^-0.1 / (...) = 0.47502 -> 121.6 -> -6.
    y2 = np.zeros(2, np.int8)
    lib.tml_softmax_s8(None, C.byref(p), 1, 2, ptr(i8([1, 0])), ptr(y2))
    assert y2.tolist() == [6, -6]


def test_softmax_long_rows_permute(lib: C.CDLL) -> None:
    """Rows longer than the kernel's exp cache (64): each output depends only on its own input
    and the row's sum, so reversing or rolling a row reverses or rolls its outputs, whichever
    values land in the cached part."""
    m, s, diff_min = quant.softmax_params(1.0, 0.05)
    p = SoftmaxParams(m, s, diff_min)
    rng = np.random.default_rng(7)
    for depth in (65, 150):
        x = rng.integers(-128, 128, depth).astype(np.int8)
        outs = []
        for row in (x, x[::-1].copy(), np.roll(x, 40)):
            y = np.zeros(depth, np.int8)
            assert lib.tml_softmax_s8(None, C.byref(p), 1, depth, ptr(row), ptr(y)) == 0
            outs.append(y)
        np.testing.assert_array_equal(outs[1], outs[0][::-1])
        np.testing.assert_array_equal(outs[2], np.roll(outs[0], 40))
        assert outs[0].max() > -128  # not all underflowed


class SoftmaxLutParams(C.Structure):
    _fields_ = [("exps", C.POINTER(I32)), ("count", I32)]


SOFTMAX_SCALES = [0.001, 0.02, 0.05, 0.1, 0.14469251036643982, 0.3, 1.0, 4.0]


def test_softmax_exp_table_is_the_kernels_exp(tmp_path: Path) -> None:
    """The compile-time table (Python) holds exactly what tml_softmax_exp_of_diff computes (C),
    for input scales from 0.001 to 4 and every difference down to diff_min and past it."""
    shim = tmp_path / "exp_shim.c"
    shim.write_text('#include "tml_softmax_common.h"\n'
                    "int32_t exp_of_diff(const tml_softmax_params *p, int32_t d);\n"
                    "int32_t exp_of_diff(const tml_softmax_params *p, int32_t d)\n"
                    "{\n    return tml_softmax_exp_of_diff(p, d);\n}\n")
    so = tmp_path / "libexp.so"
    subprocess.run(["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic",
                    "-fPIC", "-shared", f"-I{KERNELS_DIR / 'include'}",
                    f"-I{KERNELS_DIR / 'portable'}", str(shim), "-o", str(so)], check=True)
    exp_of_diff = C.CDLL(str(so)).exp_of_diff
    exp_of_diff.restype = I32
    for scale in SOFTMAX_SCALES:
        m, s, diff_min = quant.softmax_params(1.0, scale)
        table = quant.softmax_exp_table(m, s, diff_min)
        p = SoftmaxParams(m, s, diff_min)
        assert len(table) == min(1 - diff_min, 256)
        got = [exp_of_diff(C.byref(p), -d) for d in range(256)]
        assert got[:len(table)] == table.tolist(), scale
        assert all(v == 0 for v in got[len(table):])
        assert table[0] == 2**31 - 1 and all(np.diff(table.astype(np.int64)) <= 0)


@pytest.mark.parametrize("scale", SOFTMAX_SCALES)
def test_softmax_lut_matches_portable(lib: C.CDLL, scale: float) -> None:
    """tml_softmax_s8_lut with the compiler's table gives tml_softmax_s8's outputs bit for bit
    (rows of 1 to 300 values, ties, full-range and narrow inputs); a bad table size is refused."""
    m, s, diff_min = quant.softmax_params(1.0, scale)
    table = quant.softmax_exp_table(m, s, diff_min)
    p = SoftmaxParams(m, s, diff_min)
    lut = SoftmaxLutParams(table.ctypes.data_as(C.POINTER(I32)), len(table))
    rng = np.random.default_rng(int(scale * 1000))
    for depth in (1, 2, 12, 64, 65, 300):
        for spread in (256, 16, 1):
            x = rng.integers(-128, -128 + spread, 3 * depth).astype(np.int8)
            want, got = np.zeros_like(x), np.ones_like(x)
            assert lib.tml_softmax_s8(None, C.byref(p), 3, depth, ptr(x), ptr(want)) == 0
            assert lib.tml_softmax_s8_lut(None, C.byref(lut), 3, depth, ptr(x), ptr(got)) == 0
            np.testing.assert_array_equal(got, want)
    for bad in (0, 257):
        assert lib.tml_softmax_s8_lut(None, C.byref(SoftmaxLutParams(lut.exps, bad)), 1, 1,
                                      ptr(i8([0])), ptr(i8([0]))) != 0


@pytest.mark.parametrize("kernel_set", KERNEL_SETS)
def test_every_kernel_builds_for_cortex_m4(kernel_set: str, tmp_path: Path) -> None:
    assert shutil.which("arm-none-eabi-gcc"), "arm-none-eabi-gcc not installed"
    for src in sorted((KERNELS_DIR / kernel_set).glob("*.c")):
        r = subprocess.run(
            ["arm-none-eabi-gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-mcpu=cortex-m4",
             "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-O2",
             f"-I{KERNELS_DIR / 'include'}", "-c", str(src), "-o", str(tmp_path / "k.o")],
            capture_output=True, text=True)
        assert r.returncode == 0, f"{src.name}:\n{r.stderr}"
