/* Optimised int8 kernels for Armv7E-M (Cortex-M4/M7): declarations and the folded requantization.
 *
 * These kernels need preparation that the compiler does at compile time
 * (toolchain/compiler/optimize.py): the input zero point times the sum of each output channel's
 * weights is folded into the bias, so inner loops are pure int8 x int8 dot products, and the
 * TFLite requantization (a rounding doubling high multiply, then a rounding right shift by e,
 * then the output zero point) becomes two instructions. The kernels accumulate twice the dot
 * product (their widened inputs are doubled, which is free), starting from bias2 = 2 * bias:
 *
 *     out = clamp(SMMLAR(acc2, multiplier, round_add) >> e, act_min, act_max)
 *
 * SMMLAR(acc2, M, c) = c + floor((2 acc M + 2^31) / 2^32) = c + floor((acc M + 2^30) / 2^31),
 * TFLite's doubling high multiply exactly; round_add = 2^(e-1) + zero_point * 2^e makes the
 * shift TFLite's round-half-away division for non-negative values. A negative value clamps to
 * act_min in both, so the result is identical whenever act_min >= the output zero point and
 * e >= 1 (optimize.py checks both and otherwise keeps the portable kernel). Spatial padding is
 * filled with the input zero point (-input_offset), whose offset value is 0, so the folded bias
 * also holds at the borders.
 */
#ifndef TML_KERNELS_M4_H
#define TML_KERNELS_M4_H

#include <stdint.h>

#include "tml_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One output channel's folded requantization (12 bytes). The shift e is not stored: round_add
 * is 2^(e-1) times the odd number 1 + 2 * zero_point, so e = 1 + its trailing zero bits. */
typedef struct {
    int32_t bias2;      /* 2 * (bias + input_offset * sum(weights)) */
    int32_t multiplier; /* Q31 multiplier M of the TFLite spec */
    int32_t round_add;  /* 2^(e-1) + output zero point * 2^e, e = -TFLite shift >= 1 */
} tml_m4_requant;

/* The shift e of a channel (see above). */
static inline int32_t tml_m4_shift(const tml_m4_requant *rq)
{
#if defined(__GNUC__)
    return 1 + __builtin_ctz((unsigned)rq->round_add);
#else
    int32_t e = 1;
    uint32_t v = (uint32_t)rq->round_add;
    while ((v & 1u) == 0u) {
        v >>= 1;
        ++e;
    }
    return e;
#endif
}

/* Scratch bytes for the kernels below (the compiler plans them in the arena). */
#define TML_M4_CONV_SCRATCH_BYTES(k_padded) (4 * (k_padded) * 2)
#define TML_M4_DW3X3_SCRATCH_BYTES(h, w) (((h) + 2) * (2 * (((w) + 1) / 2) + 2) * 2)
#define TML_M4_FC_SCRATCH_BYTES(depth) (((depth) / 4) * 8 > 0 ? ((depth) / 4) * 8 : 4)

/* Any 2-D convolution via im2col of 4 output pixels at a time. The filter is OHWI with each
 * output channel's fh*fw*in_c weights padded with zeros to a multiple of 4 (k_padded).
 * Not in place. Scratch: TML_M4_CONV_SCRATCH_BYTES(k_padded). */
static inline int tml_conv_call_ok(const tml_context *ctx, const tml_dims *input_dims,
                                   const int8_t *input, const tml_dims *filter_dims,
                                   const tml_dims *output_dims, const int8_t *output)
{
    const int32_t k_padded = (filter_dims->h * filter_dims->w * input_dims->c + 3) & ~3;
    return ctx != 0 && ctx->buf != 0 && filter_dims->c == input_dims->c &&
           filter_dims->n == output_dims->c && input_dims->n == output_dims->n &&
           ctx->size >= TML_M4_CONV_SCRATCH_BYTES(k_padded) && output != input;
}
int tml_conv2d_s8_m4(const tml_context *ctx, const tml_conv_params *conv,
                     const tml_m4_requant *rq, const tml_dims *input_dims, const int8_t *input,
                     const tml_dims *filter_dims, const int8_t *filter,
                     const tml_dims *output_dims, int8_t *output);

/* 1x1 convolution, stride 1, no padding, in_c a multiple of 4. May run in place
 * (output == input) when out_c <= in_c. Scratch: TML_M4_CONV_SCRATCH_BYTES(in_c). */
static inline int tml_conv1x1_call_ok(const tml_context *ctx, const tml_conv_params *conv,
                                      const tml_dims *input_dims, const int8_t *input,
                                      const tml_dims *filter_dims, const tml_dims *output_dims,
                                      const int8_t *output)
{
    const int32_t in_c = input_dims->c, out_c = output_dims->c;
    return ctx != 0 && ctx->buf != 0 && filter_dims->h == 1 && filter_dims->w == 1 &&
           filter_dims->c == in_c && filter_dims->n == out_c && in_c % 4 == 0 &&
           conv->stride_h == 1 && conv->stride_w == 1 && conv->pad_h == 0 && conv->pad_w == 0 &&
           output_dims->n * output_dims->h * output_dims->w ==
               input_dims->n * input_dims->h * input_dims->w &&
           ctx->size >= TML_M4_CONV_SCRATCH_BYTES(in_c) && !(output == input && out_c > in_c);
}
int tml_conv2d_1x1_s8_m4(const tml_context *ctx, const tml_conv_params *conv,
                         const tml_m4_requant *rq, const tml_dims *input_dims,
                         const int8_t *input, const tml_dims *filter_dims, const int8_t *filter,
                         const tml_dims *output_dims, int8_t *output);

/* 3x3 depthwise convolution, stride 1, dilation 1, padding 1 (SAME), depth multiplier 1.
 * May run in place (output == input). Scratch: TML_M4_DW3X3_SCRATCH_BYTES(h, w) (the MVE twin
 * passes its own size). */
static inline int tml_dw3x3_call_ok(const tml_context *ctx, const tml_dw_conv_params *conv,
                                    const tml_dims *input_dims, const tml_dims *filter_dims,
                                    const tml_dims *output_dims, int32_t scratch_bytes)
{
    const int32_t h = input_dims->h, w = input_dims->w, ch = input_dims->c;
    return ctx != 0 && ctx->buf != 0 && ctx->size >= scratch_bytes && filter_dims->h == 3 &&
           filter_dims->w == 3 && filter_dims->c == ch && output_dims->c == ch &&
           output_dims->h == h && output_dims->w == w && output_dims->n == input_dims->n &&
           conv->stride_h == 1 && conv->stride_w == 1 && conv->dilation_h == 1 &&
           conv->dilation_w == 1 && conv->pad_h == 1 && conv->pad_w == 1 &&
           conv->depth_multiplier == 1;
}
int tml_depthwise_conv2d_3x3_s8_m4(const tml_context *ctx, const tml_dw_conv_params *conv,
                                   const tml_m4_requant *rq, const tml_dims *input_dims,
                                   const int8_t *input, const tml_dims *filter_dims,
                                   const int8_t *filter, const tml_dims *output_dims,
                                   int8_t *output);

/* Same as tml_avgpool_s8 (windows up to 255 values, depth a multiple of 16 take SXTAB16). */
int tml_avgpool_s8_m4(const tml_context *ctx, const tml_pool_params *pool,
                      const tml_dims *input_dims, const int8_t *input,
                      const tml_dims *output_dims, int8_t *output);

/* Same contract as tml_fully_connected_s8 (TFLite requantization, any activation range, any
 * depth). Not in place. Scratch: TML_M4_FC_SCRATCH_BYTES(depth). */
int tml_fully_connected_s8_m4(const tml_context *ctx, const tml_fc_params *fc,
                              const tml_quant_params *quant, int32_t batches, int32_t depth,
                              const int8_t *input, int32_t units, const int8_t *filter,
                              const int32_t *bias, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TML_KERNELS_M4_H */
