/* Integer fixed-point helpers shared by the int8 kernels (header-only, static inline).
 *
 * These follow the TFLite int8 quantization spec: a real multiplier M is stored as a Q31 value
 * q in [2^30, 2^31) and a power-of-two exponent, and applied with two roundings (a rounding
 * doubling high multiply, then a rounding right shift), which is what the TFLite Micro reference
 * kernels do. Both roundings are "round half away from zero".
 */
#ifndef TML_FIXEDPOINT_H
#define TML_FIXEDPOINT_H

#include <stdint.h>

/* Keeps a rarely taken path out of the hot loops (code size); a no-op for other compilers. */
#if defined(__GNUC__) || defined(__clang__)
#define TML_NOINLINE __attribute__((noinline))
#else
#define TML_NOINLINE
#endif

/* (a * b * 2) >> 32 with rounding; saturates the one overflowing case (INT32_MIN^2). */
static inline int32_t tml_sat_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    /* The spec's (ab + nudge) / 2^31, truncating toward zero with nudge = 2^30 for ab >= 0 and
     * 1 - 2^30 below, equals floor((ab + 2^30) / 2^31) for every ab (for ab < 0 the truncation
     * of the negative sum adds 2^31 - 1, which cancels the nudge's 1 - 2^31 offset), so one
     * add and one arithmetic shift do it. Right shift of a negative value is implementation-
     * defined in C99; every compiler we target (gcc, clang, armcc) shifts arithmetically. */
    return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 30)) >> 31);
}

/* x / 2^exponent rounded half away from zero; 0 <= exponent <= 31. */
static inline int32_t tml_rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * M where M = multiplier * 2^(shift - 31). */
static inline int32_t tml_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier,
                                                           int32_t shift)
{
    const int32_t left_shift = shift > 0 ? shift : 0;
    const int32_t right_shift = shift > 0 ? 0 : -shift;
    return tml_rounding_divide_by_pot(
        tml_sat_rounding_doubling_high_mul((int32_t)((uint32_t)x << left_shift), multiplier),
        right_shift);
}

static inline int32_t tml_clamp_s32(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

/* sum / count rounded half away from zero (count > 0): TFLite's average pooling. */
static inline int32_t tml_div_round_away(int32_t sum, int32_t count)
{
    return sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
}

/* A requantization (multiplier, shift) prepared once per output channel for the kernels' hot
 * loops. For the usual case (multiplier a normalised Q31 value in [2^30, 2^31), shift in
 * [-31, -1]) the two roundings of tml_multiply_by_quantized_multiplier collapse into one
 * 64-bit multiply-add and shifts, with the same result for every x:
 *   hi  = floor((x * M + 2^30) / 2^31)                       (the doubling high multiply)
 *   out = floor((hi + 2^(s-1) - [hi < 0]) / 2^s)             (round half away from zero)
 *       = floor((x * M + 2^30 + 2^(30+s) - [hi < 0] * 2^31) / 2^(31+s)),
 * and hi < 0 exactly when x * M < -2^30, i.e. x <= -2, or x == -1 and M > 2^30. Other
 * multipliers and shifts take the reference function. */
typedef struct {
    int64_t add[2];         /* the added constant for x >= neg_below ([0]) and below ([1]) */
    int32_t multiplier;
    int32_t shift;          /* as given (for the reference path) */
    int32_t high_shift;     /* s - 1: applied to the high word */
    int32_t neg_below;      /* x < neg_below <=> hi < 0 */
    int32_t fast;
} tml_requant;

static inline tml_requant tml_requant_prepare(int32_t multiplier, int32_t shift)
{
    tml_requant rq;
    const int32_t s = -shift;
    rq.multiplier = multiplier;
    rq.shift = shift;
    rq.fast = multiplier >= ((int32_t)1 << 30) && s >= 1 && s <= 31;
    rq.high_shift = rq.fast ? s - 1 : 0;
    rq.neg_below = multiplier > ((int32_t)1 << 30) ? 0 : -1;
    rq.add[0] = rq.fast ? ((int64_t)1 << 30) + ((int64_t)1 << (30 + s)) : 0;
    rq.add[1] = rq.add[0] - ((int64_t)1 << 31);
    return rq;
}

/* tml_requant_apply when rq->fast is set. */
static inline int32_t tml_requant_apply_fast(int32_t x, const tml_requant *rq)
{
    const int64_t p = (int64_t)x * rq->multiplier + rq->add[x < rq->neg_below];
    return (int32_t)(p >> 32) >> rq->high_shift;
}

/* x * M as tml_multiply_by_quantized_multiplier(x, multiplier, shift) computes it. */
static inline int32_t tml_requant_apply(int32_t x, const tml_requant *rq)
{
    return rq->fast ? tml_requant_apply_fast(x, rq)
                    : tml_multiply_by_quantized_multiplier(x, rq->multiplier, rq->shift);
}

/* The int8 output of an int32 accumulator: requantized by (multiplier, shift), moved to the
 * output zero point and clamped to the activation range. */
static inline int8_t tml_requantize_to_s8(int32_t acc, int32_t multiplier, int32_t shift,
                                          int32_t output_offset, int32_t act_min,
                                          int32_t act_max)
{
    acc = tml_multiply_by_quantized_multiplier(acc, multiplier, shift) + output_offset;
    return (int8_t)tml_clamp_s32(acc, act_min, act_max);
}

/* First filter tap (of size taps, spaced by dilation) whose input index origin + tap * dilation
 * is >= 0, and one past the last one that is < size: the taps that fall inside the input. */
static inline int32_t tml_first_tap(int32_t origin, int32_t dilation)
{
    return origin >= 0 ? 0 : (-origin + dilation - 1) / dilation;
}

static inline int32_t tml_end_tap(int32_t origin, int32_t dilation, int32_t size, int32_t taps)
{
    const int32_t room = size - origin; /* input elements at or after the origin */
    const int32_t end = room <= 0 ? 0 : (room + dilation - 1) / dilation;
    return end < taps ? end : taps;
}

#endif /* TML_FIXEDPOINT_H */
