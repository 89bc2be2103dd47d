"""Quantization arithmetic done at compile time, as the TFLite Micro kernels prepare it.

A real multiplier ``m`` becomes a Q31 integer ``q`` in [2^30, 2^31) and a power-of-two
``shift`` with ``m ~= q * 2^(shift - 31)``. Rounding is "half away from zero" everywhere
(C's ``round``), and float32 values from the model are widened to float64 exactly where the
TFLite Micro preparation code does so.
"""

from __future__ import annotations

import math

import numpy as np

INT8_MIN = -128
INT8_MAX = 127


def round_half_away(x: float) -> int:
    """Round to the nearest integer, ties away from zero (C ``round``)."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def quantize_multiplier(m: float) -> tuple[int, int]:
    """Split a real multiplier (float64, >= 0) into (Q31 multiplier, shift)."""
    if m == 0.0:
        return 0, 0
    q, shift = math.frexp(m)
    q_fixed = round_half_away(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q_fixed, shift


def activation_range(activation: str, scale: float, zero_point: int) -> tuple[int, int]:
    """int8 clamp bounds for a fused activation on an output with (float32 scale, zero point).

    ``activation`` is one of NONE, RELU, RELU6, RELU_N1_TO_1.
    """
    scale32 = np.float32(scale)

    def quantize(f: float) -> int:
        return zero_point + round_half_away(float(np.float32(f) / scale32))

    lo, hi = INT8_MIN, INT8_MAX
    if activation == "RELU":
        lo = max(lo, quantize(0.0))
    elif activation == "RELU6":
        lo, hi = max(lo, quantize(0.0)), min(hi, quantize(6.0))
    elif activation == "RELU_N1_TO_1":
        lo, hi = max(lo, quantize(-1.0)), min(hi, quantize(1.0))
    elif activation != "NONE":
        raise ValueError(f"unknown fused activation {activation}")
    return lo, hi


def conv_padding(padding: str, in_size: int, filter_size: int, stride: int,
                 dilation: int) -> tuple[int, int]:
    """(output size, top/left padding) along one spatial axis for SAME or VALID padding."""
    effective = (filter_size - 1) * dilation + 1
    if padding == "SAME":
        out = (in_size + stride - 1) // stride
    else:
        out = (in_size + stride - effective) // stride
    total = (out - 1) * stride + effective - in_size
    return out, max(total, 0) // 2


def softmax_params(beta: float, input_scale: float) -> tuple[int, int, int]:
    """(input multiplier, input left shift, diff_min) of the int8 softmax (5 integer bits)."""
    integer_bits = 5
    real = min(float(beta) * float(input_scale) * (1 << (31 - integer_bits)), (1 << 31) - 1.0)
    multiplier, left_shift = quantize_multiplier(real)
    if left_shift < 0:
        raise ValueError("softmax beta * input scale too small")
    radius = math.floor(
        ((1 << integer_bits) - 1) * (1 << (31 - integer_bits)) / (1 << left_shift)
    )
    return multiplier, left_shift, -radius
