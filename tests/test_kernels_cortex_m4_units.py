"""Kernel-level tests of the Cortex-M4 kernels against their portable twins (host build, the
portable ACLE definitions of tml_acle.h): the average pooling twin on the portable kernel's golden
cases, and every kernel on many random shapes and quantizations (strides, dilations, padding,
in-place calls, full-range and clamped outputs), with the folded requantization tables that
toolchain/compiler/optimize.py computes. Whole models in QEMU: test_kernels_cortex_m4.py.
"""

from __future__ import annotations

import ctypes as C
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from kernel_ctypes import I32, ConvParams, Ctx, Dims, DwParams, FcParams, PoolParams, Quant

from toolchain.compiler.optimize import fold_requant
from toolchain.compiler.targets import KERNELS_DIR


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> C.CDLL:
    sources = sorted((KERNELS_DIR / "portable").glob("*.c")) + \
        sorted((KERNELS_DIR / "cortex_m4").glob("*.c")) + \
        sorted((KERNELS_DIR / "cortex_m55").glob("*.c"))
    so = tmp_path_factory.mktemp("m4_units") / "libkernels.so"
    subprocess.run(["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic",
                    "-fPIC", "-shared", f"-I{KERNELS_DIR / 'include'}",
                    f"-I{KERNELS_DIR / 'cortex_m4'}", f"-I{KERNELS_DIR / 'cortex_m55'}",
                    *map(str, sources), "-o", str(so)],
                   check=True)
    return C.CDLL(str(so))


def p8(a: np.ndarray):
    return a.ctypes.data_as(C.POINTER(C.c_int8))


def p32(a: np.ndarray):
    return a.ctypes.data_as(C.POINTER(I32))


def test_avgpool_golden_cases(lib: C.CDLL) -> None:
    """The portable kernel's hand-worked cases: rounding half away from zero, clipped windows."""
    p = PoolParams(2, 2, 0, 0, 2, 2, -128, 127)
    y = np.zeros(1, np.int8)
    for x, want in (([1, 2, 3, 5], 3), ([-1, -2, -3, -4], -3)):
        assert lib.tml_avgpool_s8_m4(None, C.byref(p), C.byref(Dims(1, 2, 2, 1)),
                                     p8(np.array(x, np.int8)), C.byref(Dims(1, 1, 1, 1)),
                                     p8(y)) == 0
        assert y[0] == want
    p = PoolParams(1, 1, 0, 1, 1, 3, -128, 127)  # SAME: windows clipped to the input
    x = np.array([10, 20, 31], np.int8)
    y = np.zeros(3, np.int8)
    lib.tml_avgpool_s8_m4(None, C.byref(p), C.byref(Dims(1, 1, 3, 1)), p8(x),
                          C.byref(Dims(1, 1, 3, 1)), p8(y))
    assert list(y) == [15, 20, 26]


@pytest.mark.parametrize("seed", range(6))
def test_avgpool_matches_portable(lib: C.CDLL, seed: int) -> None:
    rng = np.random.default_rng(seed)
    depth = int(rng.choice([16, 32, 5, 64]))
    h, w = int(rng.integers(2, 9)), int(rng.integers(2, 9))
    fh, fw = int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))
    sh, sw = int(rng.integers(1, 3)), int(rng.integers(1, 3))
    oh, ow = (h - fh) // sh + 1, (w - fw) // sw + 1
    lo = int(rng.integers(-128, 0))
    p = PoolParams(sh, sw, 0, 0, fh, fw, lo, 127)
    x = rng.integers(-128, 128, h * w * depth, dtype=np.int8)
    want, got = np.zeros(oh * ow * depth, np.int8), np.ones(oh * ow * depth, np.int8)
    args = (C.byref(p), C.byref(Dims(1, h, w, depth)), p8(x), C.byref(Dims(1, oh, ow, depth)))
    assert lib.tml_avgpool_s8(None, *args, p8(want)) == 0
    assert lib.tml_avgpool_s8_m4(None, *args, p8(got)) == 0
    np.testing.assert_array_equal(got, want)


def _quant(rng: np.random.Generator, channels: int, zp_out: int, clamp: bool):
    mults = rng.integers(1 << 30, 1 << 31, channels).astype(np.int32)
    shifts = rng.integers(-10, 0, channels).astype(np.int32)
    hi = int(rng.integers(zp_out + 1, 128)) if clamp else 127
    lo = zp_out if not clamp else int(rng.integers(zp_out, hi))
    return mults, shifts, lo, hi


def _folded(mults, shifts, in_off: int, zp_out: int, lo: int, hi: int, w2d: np.ndarray,
            bias: np.ndarray) -> np.ndarray:
    call = SimpleNamespace(multipliers=list(map(int, mults)), shifts=list(map(int, shifts)),
                           params={"input_offset": in_off, "output_offset": zp_out,
                                   "act_min": lo, "act_max": hi}, index=0)
    return np.ascontiguousarray(fold_requant(call, w2d, bias), dtype=np.int32)


@pytest.mark.parametrize("seed", range(12))
def test_conv_im2col_matches_portable(lib: C.CDLL, seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(1, 3))
    h, w, c = int(rng.integers(1, 9)), int(rng.integers(1, 9)), int(rng.integers(1, 7))
    fh, fw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    sh, sw = int(rng.integers(1, 3)), int(rng.integers(1, 3))
    dh, dw = int(rng.integers(1, 3)), int(rng.integers(1, 3))
    oc = int(rng.integers(1, 20))
    same = bool(rng.integers(0, 2))
    eh, ew = (fh - 1) * dh + 1, (fw - 1) * dw + 1
    if same:
        oh, ow = -(-h // sh), -(-w // sw)
        ph = max(0, ((oh - 1) * sh + eh - h) // 2)
        pw = max(0, ((ow - 1) * sw + ew - w) // 2)
    else:
        if eh > h or ew > w:
            eh, ew, fh, fw, dh, dw = 1, 1, 1, 1, 1, 1
        oh, ow, ph, pw = (h - eh) // sh + 1, (w - ew) // sw + 1, 0, 0
    in_off, zp_out = int(rng.integers(-127, 128)), int(rng.integers(-128, 100))
    mults, shifts, lo, hi = _quant(rng, oc, zp_out, clamp=bool(rng.integers(0, 2)))
    x = rng.integers(-128, 128, n * h * w * c, dtype=np.int8)
    wts = rng.integers(-127, 128, (oc, fh, fw, c), dtype=np.int8)
    bias = rng.integers(-5000, 5000, oc).astype(np.int32)
    params = ConvParams(sh, sw, ph, pw, dh, dw, in_off, zp_out, lo, hi)
    q = Quant(p32(mults), p32(shifts), 1)
    want = np.zeros(n * oh * ow * oc, np.int8)
    dims = (Dims(n, h, w, c), Dims(oc, fh, fw, c), Dims(n, oh, ow, oc))
    assert lib.tml_conv2d_s8(None, C.byref(params), C.byref(q), C.byref(dims[0]), p8(x),
                             C.byref(dims[1]), p8(wts), p32(bias), C.byref(dims[2]),
                             p8(want)) == 0
    k = fh * fw * c
    kp = (k + 3) // 4 * 4
    padded = np.zeros((oc, kp), np.int8)
    padded[:, :k] = wts.reshape(oc, k)
    rq = _folded(mults, shifts, in_off, zp_out, lo, hi, wts.reshape(oc, k), bias)
    scratch = np.zeros(4 * kp * 2 // 4 + 1, np.int32)
    ctx = Ctx(scratch.ctypes.data, scratch.nbytes)
    for kernel in (lib.tml_conv2d_s8_m4, lib.tml_conv2d_s8_mve):  # the MVE one: its C loops
        got = np.ones_like(want)
        assert kernel(C.byref(ctx), C.byref(params), p32(rq), C.byref(dims[0]), p8(x),
                      C.byref(dims[1]), p8(padded), C.byref(dims[2]), p8(got)) == 0
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seed", range(18))
def test_conv_1x1_matches_portable(lib: C.CDLL, seed: int) -> None:
    """Both 1x1 kernels, the Cortex-M4 one and the Cortex-M55 one (its C fallback here; the MVE
    code runs in QEMU, test_kernels_cortex_m4.py): in place with as many or fewer output
    channels, and into another buffer with more; up to 92 input values (more than one 64-value
    pass of the M4 kernel; 16-value chunks and tails for the M55 one); output channels in
    groups of four and a remainder."""
    rng = np.random.default_rng(200 + seed)
    pixels = int(rng.integers(1, 14))
    in_c = 4 * int(rng.integers(1, 24))
    in_place = seed % 3 != 2
    out_c = (in_c if seed % 3 == 0 else int(rng.integers(1, in_c + 1)) if in_place
             else int(rng.integers(in_c, in_c + 9)))
    in_off, zp_out = int(rng.integers(-127, 128)), int(rng.integers(-128, 100))
    mults, shifts, lo, hi = _quant(rng, out_c, zp_out, clamp=bool(rng.integers(0, 2)))
    x = rng.integers(-128, 128, pixels * in_c, dtype=np.int8)
    wts = rng.integers(-127, 128, (out_c, in_c), dtype=np.int8)
    bias = rng.integers(-5000, 5000, out_c).astype(np.int32)
    params = ConvParams(1, 1, 0, 0, 1, 1, in_off, zp_out, lo, hi)
    dims = (Dims(1, 1, pixels, in_c), Dims(out_c, 1, 1, in_c), Dims(1, 1, pixels, out_c))
    want = np.zeros(pixels * out_c, np.int8)
    q = Quant(p32(mults), p32(shifts), 1)
    lib.tml_conv2d_s8(None, C.byref(params), C.byref(q), C.byref(dims[0]), p8(x),
                      C.byref(dims[1]), p8(wts), p32(bias), C.byref(dims[2]), p8(want))
    rq = _folded(mults, shifts, in_off, zp_out, lo, hi, wts, bias)
    scratch = np.zeros(2 * in_c, np.int32)
    ctx = Ctx(scratch.ctypes.data, scratch.nbytes)
    for kernel in (lib.tml_conv2d_1x1_s8_m4, lib.tml_conv2d_1x1_s8_mve):
        buf = x.copy()
        out = buf if in_place else np.zeros(pixels * out_c, np.int8)
        assert kernel(C.byref(ctx), C.byref(params), p32(rq), C.byref(dims[0]), p8(buf),
                      C.byref(dims[1]), p8(wts), C.byref(dims[2]), p8(out)) == 0
        np.testing.assert_array_equal(out[: pixels * out_c], want)
        if in_place and out_c < in_c:  # more outputs than inputs in place is refused
            bigger = (Dims(out_c + in_c, 1, 1, in_c), Dims(1, 1, pixels, out_c + in_c))
            assert kernel(C.byref(ctx), C.byref(params), p32(rq), C.byref(dims[0]), p8(buf),
                          C.byref(bigger[0]), p8(wts), C.byref(bigger[1]), p8(buf)) != 0


@pytest.mark.parametrize("seed", range(12))
def test_fully_connected_matches_portable(lib: C.CDLL, seed: int) -> None:
    """Depths with and without a tail of < 4 values, odd unit counts (a lone last unit),
    batches, per-tensor and per-channel, full-range and clamped outputs, no bias, and a
    non-zero filter offset (not produced by TFLite int8, but part of the kernel contract)."""
    rng = np.random.default_rng(400 + seed)
    batches, depth, units = int(rng.integers(1, 4)), int(rng.integers(1, 90)), \
        int(rng.integers(1, 14))
    per_channel = bool(seed % 2)
    in_off, zp_out = int(rng.integers(-127, 129)), int(rng.integers(-128, 128))
    f_off = int(rng.integers(-20, 20)) if seed % 4 == 3 else 0
    mults, shifts, lo, hi = _quant(rng, units if per_channel else 1, zp_out,
                                   clamp=seed % 3 == 1)
    if seed % 3 == 0:
        lo = -128  # no activation: values below the zero point survive
    if seed % 4 == 2:
        shifts = rng.integers(-3, 3, len(shifts)).astype(np.int32)  # left shifts too
    x = rng.integers(-128, 128, batches * depth, dtype=np.int8)
    wts = rng.integers(-127, 128, (units, depth), dtype=np.int8)
    bias = None if seed % 5 == 4 else rng.integers(-5000, 5000, units).astype(np.int32)
    params = FcParams(in_off, f_off, zp_out, lo, hi)
    q = Quant(p32(mults), p32(shifts), int(per_channel))
    b_ptr = None if bias is None else p32(bias)
    want = np.zeros(batches * units, np.int8)
    assert lib.tml_fully_connected_s8(None, C.byref(params), C.byref(q), batches, depth, p8(x),
                                      units, p8(wts), b_ptr, p8(want)) == 0
    scratch = np.zeros(max(1, depth // 4 * 2), np.int32)
    ctx = Ctx(scratch.ctypes.data, scratch.nbytes)
    got = np.ones_like(want)
    assert lib.tml_fully_connected_s8_m4(C.byref(ctx), C.byref(params), C.byref(q), batches,
                                         depth, p8(x), units, p8(wts), b_ptr, p8(got)) == 0
    np.testing.assert_array_equal(got, want)
    small = Ctx(scratch.ctypes.data, depth // 4 * 8 - 4)
    if depth >= 4:  # too little scratch is refused, not overrun
        assert lib.tml_fully_connected_s8_m4(C.byref(small), C.byref(params), C.byref(q),
                                             batches, depth, p8(x), units, p8(wts), b_ptr,
                                             p8(got)) != 0


@pytest.mark.parametrize("seed", range(10))
def test_depthwise_3x3_in_place_matches_portable(lib: C.CDLL, seed: int) -> None:
    rng = np.random.default_rng(300 + seed)
    n, h, w, c = int(rng.integers(1, 3)), int(rng.integers(1, 8)), int(rng.integers(1, 8)), \
        int(rng.integers(1, 10))
    if seed < 3:
        w = 5  # the rows-of-5 path
    in_off, zp_out = int(rng.integers(-127, 128)), int(rng.integers(-128, 100))
    mults, shifts, lo, hi = _quant(rng, c, zp_out, clamp=seed % 2 == 1)
    x = rng.integers(-128, 128, n * h * w * c, dtype=np.int8)
    wts = rng.integers(-127, 128, (1, 3, 3, c), dtype=np.int8)
    bias = rng.integers(-5000, 5000, c).astype(np.int32)
    params = DwParams(1, 1, 1, 1, 1, 1, 1, in_off, zp_out, lo, hi)
    dims = (Dims(n, h, w, c), Dims(1, 3, 3, c), Dims(n, h, w, c))
    want = np.zeros_like(x)
    q = Quant(p32(mults), p32(shifts), 1)
    lib.tml_depthwise_conv2d_s8(None, C.byref(params), C.byref(q), C.byref(dims[0]), p8(x),
                                C.byref(dims[1]), p8(wts), p32(bias), C.byref(dims[2]),
                                p8(want))
    rq = _folded(mults, shifts, in_off, zp_out, lo, hi, wts.reshape(9, c).T, bias)
    # The M4 kernel and its MVE twin (here its C loop over the column-major plane).
    for kernel, scratch_bytes in (
            (lib.tml_depthwise_conv2d_3x3_s8_m4, (h + 2) * (2 * ((w + 1) // 2) + 2) * 2),
            (lib.tml_depthwise_conv2d_3x3_s8_mve, lib.tml_dw3x3_mve_scratch_bytes(h, w))):
        scratch = np.zeros((scratch_bytes + 3) // 4, np.int32)
        ctx = Ctx(scratch.ctypes.data, scratch_bytes)
        buf = x.copy()
        assert kernel(C.byref(ctx), C.byref(params), p32(rq), C.byref(dims[0]), p8(buf),
                      C.byref(dims[1]), p8(wts), C.byref(dims[2]), p8(buf)) == 0
        np.testing.assert_array_equal(buf, want)
        small = Ctx(scratch.ctypes.data, scratch_bytes - 2)  # refused, not overrun
        assert kernel(C.byref(small), C.byref(params), p32(rq), C.byref(dims[0]), p8(buf),
                      C.byref(dims[1]), p8(wts), C.byref(dims[2]), p8(buf)) != 0


def test_refuses_bad_arguments(lib: C.CDLL, tmp_path: Path) -> None:
    params = ConvParams(1, 1, 0, 0, 1, 1, 0, 0, -128, 127)
    x = np.zeros(12, np.int8)
    ctx = Ctx(None, 0)  # no scratch
    rq = np.zeros(3 * 3, np.int32)
    assert lib.tml_conv2d_1x1_s8_m4(C.byref(ctx), C.byref(params), p32(rq),
                                    C.byref(Dims(1, 1, 3, 4)), p8(x), C.byref(Dims(3, 1, 1, 4)),
                                    p8(x), C.byref(Dims(1, 1, 3, 3)), p8(x)) == -1
