/* The int8 softmax arithmetic (TFLite's, in 32-bit fixed point) shared by the two softmax
 * kernels: tml_softmax_s8 evaluates exp() per value, tml_softmax_s8_lut looks it up in a table
 * the compiler filled with the same arithmetic (toolchain/compiler/quant.py softmax_exp_table,
 * checked against tml_softmax_exp_of_diff by tests/test_kernels.py).
 *
 * For each row: d = x - max(x) is rescaled to Q5.26 (5 integer bits), exp(d) is evaluated in
 * Q0.31 (a Taylor polynomial on [-1/4, 0) times exp(-2^k) factors for the remaining bits), the
 * sum of exps is kept in Q12.19, and each output is exp(d) / sum scaled to [0, 256) - 128.
 * Output scale is 1/256 and zero point -128.
 */
#ifndef TML_SOFTMAX_COMMON_H
#define TML_SOFTMAX_COMMON_H

#include "tml_fixedpoint.h"
#include "tml_kernels.h"

#define TML_Q0_ONE INT32_MAX

/* Fixed-point multiply of two Q values: integer bits add up. */
static inline int32_t fx_mul(int32_t a, int32_t b)
{
    return tml_sat_rounding_doubling_high_mul(a, b);
}

/* x * 2^exponent for exponent > 0, saturating. */
static inline int32_t fx_sat_shift_left(int32_t x, int32_t exponent)
{
    const int32_t limit = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
    if (x > limit) {
        return INT32_MAX;
    }
    if (x < -limit) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

/* exp(a) for a in [-1/4, 0), a and the result in Q0.31. */
static inline int32_t exp_on_quarter_interval(int32_t a)
{
    const int32_t exp_minus_one_eighth = 1895147668; /* exp(-1/8) in Q0.31 */
    const int32_t one_third = 715827883;             /* 1/3 in Q0.31 */
    const int32_t x = a + (1 << 28);                 /* x = a + 1/8 */
    const int32_t x2 = fx_mul(x, x);
    const int32_t x3 = fx_mul(x2, x);
    const int32_t x4 = fx_mul(x2, x2);
    const int32_t x4_over_4 = tml_rounding_divide_by_pot(x4, 2);
    const int32_t poly =
        tml_rounding_divide_by_pot(fx_mul(x4_over_4 + x3, one_third) + x2, 1);
    return exp_minus_one_eighth + fx_mul(exp_minus_one_eighth, x + poly);
}

/* exp(a) for a <= 0 given in Q5.26; result in Q0.31. */
static inline int32_t exp_on_negative_values_q5(int32_t a)
{
    /* exp(-2^k) in Q0.31 for k = -2 .. 4: applied for each set bit of the remainder. */
    static const int32_t exp_pot[7] = {1672461947, 1302514674, 790015084, 290630308,
                                       39332535,   720401,     242};
    const int32_t frac_bits = 26;
    const int32_t one_quarter = 1 << (frac_bits - 2);
    const int32_t a_mod_quarter_minus_quarter = (a & (one_quarter - 1)) - one_quarter;
    const int32_t remainder = a_mod_quarter_minus_quarter - a;
    int32_t result = exp_on_quarter_interval(fx_sat_shift_left(a_mod_quarter_minus_quarter, 5));
    int32_t k;
    for (k = 0; k < 7; ++k) {
        if (remainder & (1 << (frac_bits - 2 + k))) {
            result = fx_mul(result, exp_pot[k]);
        }
    }
    return a == 0 ? TML_Q0_ONE : result;
}

/* 1 / (1 + x) for x in [0, 1) in Q0.31, by Newton-Raphson division in Q2.29. */
static inline int32_t one_over_one_plus_x(int32_t a)
{
    const int64_t sum = (int64_t)a + TML_Q0_ONE;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    const int32_t q2_one = 1 << 29;
    int32_t x = 1515870810 + fx_mul(half_denominator, -1010580540); /* 48/17 - 32/17 d */
    int i;
    for (i = 0; i < 3; ++i) {
        const int32_t one_minus_dx = q2_one - fx_mul(half_denominator, x);
        x = x + fx_sat_shift_left(fx_mul(x, one_minus_dx), 2);
    }
    /* x / 2 in Q1.30 rescaled to Q0.31. */
    return fx_sat_shift_left(x, 1);
}

static inline int32_t count_leading_zeros_u32(uint32_t x)
{
    int32_t n = 0;
    if (x == 0) {
        return 32;
    }
#if defined(__GNUC__)
    n = __builtin_clz(x);
#else
    while (!(x & 0x80000000u)) {
        x <<= 1;
        ++n;
    }
#endif
    return n;
}

/* exp(in[c] - max) in Q0.31, or 0 below diff_min (such outputs are -128). */
static inline int32_t tml_softmax_exp_of_diff(const tml_softmax_params *softmax, int32_t diff)
{
    if (diff < softmax->diff_min) {
        return 0;
    }
    return exp_on_negative_values_q5(tml_sat_rounding_doubling_high_mul(
        diff * (1 << softmax->input_left_shift), softmax->input_multiplier));
}

/* The largest of a row's values. */
static inline int32_t tml_softmax_row_max(const int8_t *in, int32_t depth)
{
    int32_t max_in = -128, c;
    for (c = 0; c < depth; ++c) {
        max_in = in[c] > max_in ? in[c] : max_in;
    }
    return max_in;
}

/* 1 / (sum of a row's exps) as a Q0.31 reciprocal of the sum normalised to [1, 2) and the
 * right shift that scales exp * reciprocal to the 8-bit output. */
typedef struct {
    int32_t reciprocal;
    int32_t shift;
} tml_softmax_norm;

static inline tml_softmax_norm tml_softmax_normalizer(int32_t sum_of_exps)
{
    tml_softmax_norm n;
    const int32_t headroom = count_leading_zeros_u32((uint32_t)sum_of_exps);
    n.reciprocal = one_over_one_plus_x(
        (int32_t)(((uint32_t)sum_of_exps << headroom) - ((uint32_t)1 << 31)));
    n.shift = 12 - headroom + 31 - 8;
    return n;
}

/* The int8 output of one exp (0 for differences below diff_min gives -128). */
static inline int8_t tml_softmax_output(const tml_softmax_norm *n, int32_t e)
{
    const int32_t scaled = tml_rounding_divide_by_pot(fx_mul(n->reciprocal, e), n->shift);
    return (int8_t)tml_clamp_s32(scaled - 128, -128, 127);
}

#endif /* TML_SOFTMAX_COMMON_H */
