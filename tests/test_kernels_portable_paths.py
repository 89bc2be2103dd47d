"""Every fast path of the portable convolution kernels against an integer reference.

The portable conv2d and depthwise kernels pick a path from the call's shapes (1x1 GEMM, four
output channels per pass with interleaved filters, clipped-tap loop; depthwise 3x3 over lines,
generic depthwise) and requantize through a one-step form of the TFLite double rounding where
the multiplier allows. Here random calls that reach each path (and each edge: odd channel
counts, borders, strides, dilation, per-tensor and per-channel, multiplier exactly 2^30,
accumulators of -1) are compared with a plain Python implementation of the TFLite int8 spec.
The kernels are the host build of firmware/kernels/portable (gcc, ctypes).
"""

from __future__ import annotations

import ctypes as C
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_kernels import ConvParams, Dims, DwParams, Quant  # the kernels' C structs

from toolchain.compiler.targets import KERNELS_DIR

I32 = C.c_int32


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> C.CDLL:
    sources = [KERNELS_DIR / "portable" / f"{k}.c"
               for k in ("tml_conv2d_s8", "tml_depthwise_conv2d_s8")]
    so = tmp_path_factory.mktemp("portable") / "libportable.so"
    subprocess.run(["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic",
                    "-fPIC", "-shared", f"-I{KERNELS_DIR / 'include'}", *map(str, sources),
                    "-o", str(so)], check=True)
    return C.CDLL(str(so))


def _p(a: np.ndarray):
    return a.ctypes.data_as(C.POINTER(C.c_int8 if a.dtype == np.int8 else I32))


def _requantize(acc: int, multiplier: int, shift: int) -> int:
    """TFLite MultiplyByQuantizedMultiplier on Python ints: int32 in, int32 out."""
    x = ((acc << max(shift, 0)) + 2**31) % 2**32 - 2**31  # the int32 left shift wraps
    if x == multiplier == -(2**31):
        high = 2**31 - 1
    else:
        ab = x * multiplier
        nudged = ab + (2**30 if ab >= 0 else 1 - 2**30)
        high = abs(nudged) // 2**31 * (1 if nudged >= 0 else -1)  # truncate toward zero
    e = max(-shift, 0)
    mask = (1 << e) - 1
    threshold = (mask >> 1) + (1 if high < 0 else 0)
    return (high >> e) + (1 if (high & mask) > threshold else 0)


def _out_size(size: int, f: int, stride: int, dil: int, same: bool) -> tuple[int, int]:
    eff = (f - 1) * dil + 1
    out = (size + stride - 1) // stride if same else (size - eff + stride) // stride
    pad = max((out - 1) * stride + eff - size, 0) // 2 if same else 0
    return out, pad


def _reference(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, mults: np.ndarray,
               shifts: np.ndarray, stride: tuple[int, int], pad: tuple[int, int],
               dil: tuple[int, int], in_off: int, out_off: int, lo: int, hi: int,
               out_hw: tuple[int, int], depth_multiplier: int = 0) -> np.ndarray:
    """conv2d (depth_multiplier 0; w OHWI) or depthwise (w 1HW(C*M)) on int8 NHWC, int64 sums."""
    n, in_h, in_w, in_c = x.shape
    f_h, f_w = w.shape[1], w.shape[2]
    out_c = w.shape[0] if depth_multiplier == 0 else w.shape[3]
    out = np.zeros((n, *out_hw, out_c), np.int8)
    xo = x.astype(np.int64) + in_off
    for b in range(n):
        for oy in range(out_hw[0]):
            for ox in range(out_hw[1]):
                acc = np.zeros(out_c, np.int64)
                for fy in range(f_h):
                    y = oy * stride[0] - pad[0] + fy * dil[0]
                    for fx in range(f_w):
                        xx = ox * stride[1] - pad[1] + fx * dil[1]
                        if not (0 <= y < in_h and 0 <= xx < in_w):
                            continue
                        if depth_multiplier == 0:
                            acc += w[:, fy, fx, :].astype(np.int64) @ xo[b, y, xx]
                        else:
                            acc += w[0, fy, fx].astype(np.int64) * np.repeat(xo[b, y, xx],
                                                                             depth_multiplier)
                for c in range(out_c):
                    q = c if len(mults) > 1 else 0
                    v = int(acc[c]) + (0 if bias is None else int(bias[c]))
                    v = _requantize(v, int(mults[q]), int(shifts[q])) + out_off
                    out[b, oy, ox, c] = min(max(v, lo), hi)
    return out


def _case(rng: np.random.Generator, depthwise: bool, kind: str) -> dict:
    """Random call parameters aimed at one kernel path (kind)."""
    c = int(rng.integers(1, 13))
    f = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    dil = (1, 1)
    same = bool(rng.integers(2))
    if kind == "1x1":
        f, same = (1, 1), False
        if rng.integers(2):
            stride = (1, 1)
    elif kind == "3x3":
        f = (3, 3)
    elif kind == "dilated":
        dil = (int(rng.integers(1, 3)), 2)
    elif kind == "deep":  # receptive field over the kernels' 256-value stack buffers
        c, f = int(rng.integers(30, 40)), (3, 3)
    h, w = int(rng.integers(1, 10)), int(rng.integers(1, 10))
    if kind == "lines":  # a tall or a wide output (depthwise 3x3 walks the shorter axis)
        f, stride = (3, 3), (1, 1)
        h, w = int(rng.integers(6, 12)), int(rng.integers(1, 4))
        if rng.integers(2):
            h, w = w, h
    oh, ph = _out_size(h, f[0], stride[0], dil[0], same)
    ow, pw = _out_size(w, f[1], stride[1], dil[1], same)
    mult = int(rng.integers(1, 4)) if depthwise and kind == "multiplier" else 1
    out_c = c * mult if depthwise else int(rng.integers(1, 12))
    per_channel = bool(rng.integers(2))
    nq = out_c if per_channel else 1
    mults = rng.integers(2**30, 2**31, nq, dtype=np.int64)
    mults[rng.random(nq) < 0.3] = 2**30  # exactly 0.5: the one-step form's edge
    shifts = rng.integers(-12, 2, nq)
    lo, hi = (-128, 127) if rng.integers(2) else (int(rng.integers(-128, 0)), 127)
    return dict(n=int(rng.integers(1, 3)), h=h, w=w, c=c, f=f, stride=stride, dil=dil,
                pad=(ph, pw), out_hw=(oh, ow), out_c=out_c, mult=mult,
                mults=mults.astype(np.int32), shifts=shifts.astype(np.int32),
                in_off=int(rng.integers(-127, 129)), out_off=int(rng.integers(-128, 128)),
                lo=lo, hi=hi, bias=bool(rng.integers(4)))


@pytest.mark.parametrize("kind", ["1x1", "3x3", "any", "dilated", "deep"])
def test_conv2d_paths_match_reference(lib: C.CDLL, kind: str) -> None:
    rng = np.random.default_rng(["1x1", "3x3", "any", "dilated", "deep"].index(kind))
    for _ in range(40):
        k = _case(rng, False, kind)
        if min(k["out_hw"]) <= 0:
            continue
        x = rng.integers(-128, 128, (k["n"], k["h"], k["w"], k["c"])).astype(np.int8)
        w = rng.integers(-127, 128, (k["out_c"], *k["f"], k["c"])).astype(np.int8)
        bias = rng.integers(-30000, 30000, k["out_c"]).astype(np.int32) if k["bias"] else None
        if rng.integers(4) == 0 and -k["in_off"] <= 127:
            # every input at the zero point: the accumulators are the biases, -3..0
            x[:] = -k["in_off"]
            bias = rng.integers(-3, 1, k["out_c"]).astype(np.int32)
        y = np.zeros((k["n"], *k["out_hw"], k["out_c"]), np.int8)
        q = Quant(_p(k["mults"]), _p(k["shifts"]), int(len(k["mults"]) > 1))
        p = ConvParams(*k["stride"], *k["pad"], *k["dil"], k["in_off"], k["out_off"], k["lo"],
                       k["hi"])
        assert lib.tml_conv2d_s8(None, C.byref(p), C.byref(q),
                                 C.byref(Dims(k["n"], k["h"], k["w"], k["c"])), _p(x),
                                 C.byref(Dims(k["out_c"], *k["f"], k["c"])), _p(w),
                                 None if bias is None else _p(bias),
                                 C.byref(Dims(k["n"], *k["out_hw"], k["out_c"])), _p(y)) == 0
        ref = _reference(x, w, bias, k["mults"], k["shifts"], k["stride"], k["pad"], k["dil"],
                         k["in_off"], k["out_off"], k["lo"], k["hi"], k["out_hw"])
        np.testing.assert_array_equal(y, ref, err_msg=str(k))


@pytest.mark.parametrize("kind", ["3x3", "lines", "any", "dilated", "multiplier"])
def test_depthwise_paths_match_reference(lib: C.CDLL, kind: str) -> None:
    rng = np.random.default_rng(10 + ["3x3", "lines", "any", "dilated", "multiplier"].index(kind))
    for _ in range(40):
        k = _case(rng, True, kind)
        if min(k["out_hw"]) <= 0:
            continue
        x = rng.integers(-128, 128, (k["n"], k["h"], k["w"], k["c"])).astype(np.int8)
        w = rng.integers(-127, 128, (1, *k["f"], k["out_c"])).astype(np.int8)
        bias = rng.integers(-30000, 30000, k["out_c"]).astype(np.int32) if k["bias"] else None
        y = np.zeros((k["n"], *k["out_hw"], k["out_c"]), np.int8)
        q = Quant(_p(k["mults"]), _p(k["shifts"]), int(len(k["mults"]) > 1))
        p = DwParams(*k["stride"], *k["pad"], *k["dil"], k["mult"], k["in_off"], k["out_off"],
                     k["lo"], k["hi"])
        assert lib.tml_depthwise_conv2d_s8(None, C.byref(p), C.byref(q),
                                           C.byref(Dims(k["n"], k["h"], k["w"], k["c"])), _p(x),
                                           C.byref(Dims(1, *k["f"], k["out_c"])), _p(w),
                                           None if bias is None else _p(bias),
                                           C.byref(Dims(k["n"], *k["out_hw"], k["out_c"])),
                                           _p(y)) == 0
        ref = _reference(x, w, bias, k["mults"], k["shifts"], k["stride"], k["pad"], k["dil"],
                         k["in_off"], k["out_off"], k["lo"], k["hi"], k["out_hw"],
                         depth_multiplier=k["mult"])
        np.testing.assert_array_equal(y, ref, err_msg=str(k))


def test_reference_requantize_matches_known_values() -> None:
    assert _requantize(3, 2**30, 0) == 2  # 3 * 0.5 = 1.5 -> 2
    assert _requantize(-3, 2**30, 0) == -1  # -1.5: the high multiply rounds to -1 first
    assert _requantize(-3, 2**30, -1) == -1  # -1.5 -> -1 (toward +inf at the first rounding)
    assert _requantize(5, 2**30, 1) == 5  # 5 * 2 * 0.5
    assert _requantize(-(2**31), -(2**31), 0) == 2**31 - 1  # the one saturating case


def test_kernels_source_is_portable_c() -> None:
    # Portable means no intrinsics and no assembly: the same source builds for any CPU.
    for name in ("tml_conv2d_s8.c", "tml_depthwise_conv2d_s8.c"):
        text = Path(KERNELS_DIR / "portable" / name).read_text()
        assert "__asm" not in text and "arm_acle" not in text and "tml_acle" not in text
