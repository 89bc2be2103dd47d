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


# ---- int8 softmax exp(), exactly as firmware/kernels/portable/tml_softmax_common.h computes it
_INT32_MIN, _INT32_MAX = -(1 << 31), (1 << 31) - 1


def _to_int32(x: int) -> int:
    return (x + (1 << 31)) % (1 << 32) - (1 << 31)


def _fx_mul(a: int, b: int) -> int:
    """Saturating rounding doubling high multiply of two int32."""
    if a == b == _INT32_MIN:
        return _INT32_MAX
    return (a * b + (1 << 30)) >> 31


def _rounding_divide_by_pot(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if (x & mask) > threshold else 0)


def _sat_shift_left(x: int, exponent: int) -> int:
    limit = (1 << (31 - exponent)) - 1
    if x > limit:
        return _INT32_MAX
    if x < -limit:
        return _INT32_MIN
    return _to_int32(x << exponent)


def _exp_on_quarter_interval(a: int) -> int:
    exp_minus_one_eighth, one_third = 1895147668, 715827883
    x = a + (1 << 28)
    x2 = _fx_mul(x, x)
    x3 = _fx_mul(x2, x)
    x4 = _fx_mul(x2, x2)
    poly = _rounding_divide_by_pot(
        _fx_mul(_rounding_divide_by_pot(x4, 2) + x3, one_third) + x2, 1)
    return exp_minus_one_eighth + _fx_mul(exp_minus_one_eighth, x + poly)


def _exp_on_negative_values_q5(a: int) -> int:
    exp_pot = (1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242)
    one_quarter = 1 << 24
    a_mod_quarter_minus_quarter = (a & (one_quarter - 1)) - one_quarter
    remainder = a_mod_quarter_minus_quarter - a
    result = _exp_on_quarter_interval(_sat_shift_left(a_mod_quarter_minus_quarter, 5))
    for k, factor in enumerate(exp_pot):
        if remainder & (1 << (24 + k)):
            result = _fx_mul(result, factor)
    return _INT32_MAX if a == 0 else result


def softmax_exp_table(input_multiplier: int, input_left_shift: int, diff_min: int) -> np.ndarray:
    """exp(-d) in Q0.31 for the differences d = max - x of an int8 softmax that do not give 0
    (d = 0 .. min(-diff_min, 255)), as the kernels compute it (``tml_softmax_exp_of_diff``): the
    table of ``tml_softmax_s8_lut``."""
    if diff_min > 0:
        raise ValueError(f"softmax diff_min {diff_min} > 0")
    table = [
        _exp_on_negative_values_q5(
            _fx_mul(_to_int32(-d * (1 << input_left_shift)), input_multiplier))
        for d in range(min(-diff_min, 255) + 1)
    ]
    return np.array(table, dtype=np.int32)
