"""Per-target optimisation at compile time: kernel choice, weight layout, folded requantization.

For the Armv7E-M targets (``cortex-m4``, ``cortex-m7``, and ``cortex-m55``, which has the DSP
extension) each convolution whose shape and quantization allow it is switched from the portable
kernel to one of ``firmware/kernels/cortex_m4/`` (see ``tml_kernels_m4.h``); on ``cortex-m55``
the three convolution keys map to the MVE kernels of ``firmware/kernels/cortex_m55/`` (same
constants):

- ``conv2d_1x1_m4``: 1x1, stride 1, input channels a multiple of 4; runs in place.
- ``depthwise_conv2d_3x3_m4``: 3x3, stride 1, SAME, multiplier 1; runs in place.
- ``conv2d_m4``: any other convolution (im2col); filter rows padded to a multiple of 4.

For those calls the bias, ``input_offset * sum(weights)``, the output zero point and both rounding
steps of the TFLite requantization are folded into one int64 offset per output channel
(:func:`fold_requant`), exact when the fused activation clamps at or above the output zero
point and the TFLite shift is <= -1; otherwise the portable kernel stays. Average pooling and
fully connected layers take their Armv7E-M twins on these targets for every call (same contract
as the portable kernels, see ``targets.py``). Softmax becomes ``softmax_lut``: exp() of every
possible difference max - x is tabulated at compile time (:func:`quant.softmax_exp_table`, at
most 256 int32, 500 B for the MLPerf KWS model), which replaces the per-value fixed-point
exp() and its code. Max pooling, ADD and QUANTIZE keep the portable kernels.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from . import quant
from .lower import KernelCall
from .parse import ModelGraph

# Targets whose cores have the DSP extension (SMLAD, SXTB16, SSAT).
DSP_TARGETS = ("cortex-m4", "cortex-m7", "cortex-m55")

# Optimised kernel name -> C parameter struct.
PARAM_STRUCTS = {
    "conv2d_m4": "tml_conv_params",
    "conv2d_1x1_m4": "tml_conv_params",
    "depthwise_conv2d_3x3_m4": "tml_dw_conv_params",
    "softmax_lut": "tml_softmax_lut_params",
}


def _round4(n: int) -> int:
    return (n + 3) // 4 * 4


def conv_k_padded(call: KernelCall) -> int:
    """Values per output channel of an im2col convolution, padded to a multiple of 4."""
    _, fh, fw, fc = call.dims["filter"]
    return _round4(fh * fw * fc)


def conv_scratch_bytes(call: KernelCall) -> int:
    """Scratch of ``conv2d_m4``: 4 pixels x k_padded int16 values (bytes)."""
    return 4 * conv_k_padded(call) * 2


def conv1x1_scratch_bytes(call: KernelCall) -> int:
    """Scratch of ``conv2d_1x1_m4``: 4 pixels x input channels int16 values (bytes)."""
    return 4 * call.dims["input"][3] * 2


def fc_scratch_bytes(call: KernelCall) -> int:
    """Scratch of the Armv7E-M fully connected kernel: the widened input row (bytes), as
    TML_M4_FC_SCRATCH_BYTES in tml_kernels_m4.h."""
    return max(4, call.sizes["depth"] // 4 * 8)


def dw3x3_scratch_bytes(call: KernelCall) -> int:
    """Scratch of ``depthwise_conv2d_3x3_m4``: one zero-point-padded int16 channel plane."""
    _, h, w, _ = call.dims["input"]
    return (h + 2) * (2 * ((w + 1) // 2) + 2) * 2


def dw3x3_mve_scratch_bytes(call: KernelCall) -> int:
    """Scratch of the MVE twin of ``depthwise_conv2d_3x3_m4``: a column-major int16 plane of
    w + 2 columns, each h + 2 values rounded up to 32, 64 or 124 (tml_dw3x3_mve_scratch_bytes)."""
    _, h, w, _ = call.dims["input"]
    col = next((c for c in (32, 64, 124) if h + 2 <= c), h + 2)
    return (w + 2) * col * 2


def fold_requant(call: KernelCall, weights: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """Folded requantization table of a convolution: int32 [channels, 3] rows of
    (bias2, multiplier, round_add) as ``tml_m4_requant`` (see tml_kernels_m4.h; the kernel
    recovers the shift e as 1 + the trailing zero bits of round_add).

    ``weights``: int8 [channels, taps] (all weights of one output channel). The kernels compute
    ``SMMLAR(acc2, M, round_add) >> e`` with ``acc2 = bias2 + 2 * sum(x * w)`` over raw int8
    inputs; SMMLAR of the doubled accumulator is TFLite's rounding doubling high multiply
    exactly, and ``round_add = 2^(e-1) + zp * 2^e`` turns the shift into TFLite's rounding right
    shift plus the zero point for non-negative values (negative ones clamp to act_min in both).
    Raises ValueError when a value would overflow int32 (the caller keeps the portable kernel).
    """
    assert call.multipliers is not None and call.shifts is not None
    channels = weights.shape[0]
    mults = call.multipliers if len(call.multipliers) == channels else call.multipliers * channels
    shifts = call.shifts if len(call.shifts) == channels else call.shifts * channels
    input_offset = int(call.params["input_offset"])
    zp = int(call.params["output_offset"])
    w64 = weights.astype(np.int64)
    sums = w64.sum(axis=1)
    worst = np.abs(w64).sum(axis=1) * 128  # largest |sum(x * w)| over int8 inputs
    table = np.zeros((channels, 3), dtype=np.int64)
    for c in range(channels):
        m, e = int(mults[c]), -int(shifts[c])
        bias2 = 2 * ((0 if bias is None else int(bias[c])) + input_offset * int(sums[c]))
        round_add = (1 << (e - 1)) + zp * (1 << e)
        if (abs(bias2) + 2 * int(worst[c]) >= 1 << 31 or abs(round_add) >= 1 << 30
                or not 1 <= e <= 31):
            raise ValueError(f"op {call.index} channel {c}: folded requantization overflows")
        table[c] = [bias2, m, round_add]
    return table.astype(np.int32)


def _foldable(call: KernelCall) -> bool:
    """Exactness conditions of the folded requantization (see :func:`fold_requant`)."""
    p = call.params
    return (call.multipliers is not None and call.shifts is not None
            and all(s <= -1 for s in call.shifts) and all(m > 0 for m in call.multipliers)
            and p["act_min"] >= p["output_offset"])


def choose_kernel(call: KernelCall) -> str:
    """The optimised kernel for a call on a DSP target, or its portable kernel name."""
    p = call.params
    if call.kernel == "conv2d" and _foldable(call):
        _, fh, fw, fc = call.dims["filter"]
        if (fh, fw) == (1, 1) and p["stride_h"] == p["stride_w"] == 1 and fc % 4 == 0 \
                and p["pad_h"] == p["pad_w"] == 0:
            return "conv2d_1x1_m4"
        return "conv2d_m4"
    if call.kernel == "depthwise_conv2d" and _foldable(call):
        _, fh, fw, _ = call.dims["filter"]
        if ((fh, fw) == (3, 3) and p["stride_h"] == p["stride_w"] == 1
                and p["dilation_h"] == p["dilation_w"] == 1 and p["pad_h"] == p["pad_w"] == 1
                and p["depth_multiplier"] == 1):
            return "depthwise_conv2d_3x3_m4"
    return call.kernel


def optimize_calls(graph: ModelGraph, calls: list[KernelCall], target: str) -> list[KernelCall]:
    """Copies of ``calls`` with the target's kernel choice and the constant data the optimised
    kernels need in ``prepared`` ("filter": int8 array as the kernel reads it, "requant": int32
    [channels, 3] folded table). Non-DSP targets get the calls unchanged."""
    if target not in DSP_TARGETS:
        return list(calls)
    out = []
    for call in calls:
        if call.kernel == "softmax":
            out.append(_softmax_lut(call))
            continue
        kernel = choose_kernel(call)
        if kernel == call.kernel:
            out.append(call)
            continue
        assert call.filter is not None
        w = graph.tensors[call.filter].data
        assert w is not None
        bias = None if call.bias is None else graph.tensors[call.bias].data
        prepared: dict[str, Any] = {}
        if kernel == "depthwise_conv2d_3x3_m4":
            # 1HWC filter: channel c's taps are w[0, :, :, c].
            per_channel = np.asarray(w).reshape(-1, w.shape[-1]).T
            prepared["filter"] = np.asarray(w, dtype=np.int8).reshape(-1)
        else:
            per_channel = np.asarray(w).reshape(w.shape[0], -1)
            k = per_channel.shape[1]
            kp = _round4(k)
            padded = np.zeros((w.shape[0], kp), dtype=np.int8)
            padded[:, :k] = per_channel
            prepared["filter"] = padded.reshape(-1)
        try:
            prepared["requant"] = fold_requant(call, per_channel, bias)
        except ValueError:
            out.append(call)  # the portable kernel handles any range
            continue
        out.append(dataclasses.replace(call, kernel=kernel, multipliers=None, shifts=None,
                                       prepared=prepared))
    return out


def _softmax_lut(call: KernelCall) -> KernelCall:
    """A softmax call switched to the kernel with the compile-time exp table."""
    p = call.params
    table = quant.softmax_exp_table(p["input_multiplier"], p["input_left_shift"], p["diff_min"])
    return dataclasses.replace(
        call, kernel="softmax_lut", prepared={"exps": table},
        params={"exps": f"tinyml_op{call.index}_exps", "count": len(table)})


def emit_constants(call: KernelCall) -> tuple[str, list[str], int, int]:
    """C definitions of an optimised call's constants: (text, extern declarations,
    weight bytes, quantization-parameter bytes)."""
    i = call.index
    if call.kernel == "softmax_lut":
        exps = np.asarray(call.prepared["exps"], dtype=np.int32)
        values = ", ".join(str(int(v)) for v in exps)
        text = (f"/* op {i}: softmax exp(-d * beta * input scale) in Q0.31, d = 0 .. "
                f"{exps.size - 1} */\nconst int32_t tinyml_op{i}_exps[{exps.size}] = {{\n"
                f"    {values}\n}};\n")
        return text, [f"extern const int32_t tinyml_op{i}_exps[];"], 0, int(exps.nbytes)
    f = np.asarray(call.prepared["filter"], dtype=np.int8).reshape(-1)
    rq = np.asarray(call.prepared["requant"], dtype=np.int32).reshape(-1)

    def body(values: np.ndarray, per_line: int) -> str:
        flat = [str(int(v)) for v in values]
        return "\n".join("    " + ", ".join(flat[j : j + per_line]) + ","
                         for j in range(0, len(flat), per_line))

    text = (f"/* op {i}: {call.kernel} filter (as the kernel reads it) */\n"
            f"TINYML_ALIGN(4) const int8_t tinyml_op{i}_filter[{f.size}] = {{\n"
            f"{body(f, 16)}\n}};\n"
            f"/* op {i}: folded requantization, per channel: bias2, multiplier, "
            f"round_add */\n"
            f"TINYML_ALIGN(4) const int32_t tinyml_op{i}_rq[{rq.size}] = {{\n{body(rq, 3)}\n}};\n")
    decls = [f"extern const int8_t tinyml_op{i}_filter[];",
             f"extern const int32_t tinyml_op{i}_rq[];"]
    return text, decls, int(f.size), int(rq.size * 4)


def call_args(call: KernelCall, x: str, y: str) -> str:
    """C argument list of an optimised call (x, y: input and output pointer expressions)."""
    i = call.index
    if call.kernel == "softmax_lut":
        return (f"&op{i}_ctx, &op{i}_params, {call.sizes['rows']}, {call.sizes['depth']}, "
                f"{x}, {y}")
    return (f"&op{i}_ctx, &op{i}_params, (const tml_m4_requant *)(const void *)tinyml_op{i}_rq, "
            f"&op{i}_input_dims, {x}, &op{i}_filter_dims, tinyml_op{i}_filter, "
            f"&op{i}_output_dims, {y}")
