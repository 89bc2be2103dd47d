/* Cortex-M55 (MVE) int8 kernels: the same contracts and compile-time preparation as their
 * Armv7E-M twins in ../cortex_m4/tml_kernels_m4.h, which the compiler swaps them for when the
 * target is cortex-m55. */
#ifndef TML_KERNELS_M55_H
#define TML_KERNELS_M55_H

#include "tml_kernels_m4.h"

#ifdef __cplusplus
extern "C" {
#endif

/* As tml_conv2d_s8_m4 (not in place; scratch TML_M4_CONV_SCRATCH_BYTES(k_padded), of which it
 * uses k_padded bytes). */
int tml_conv2d_s8_mve(const tml_context *ctx, const tml_conv_params *conv,
                      const tml_m4_requant *rq, const tml_dims *input_dims, const int8_t *input,
                      const tml_dims *filter_dims, const int8_t *filter,
                      const tml_dims *output_dims, int8_t *output);

/* As tml_conv2d_1x1_s8_m4 (in place when out_c <= in_c; scratch
 * TML_M4_CONV_SCRATCH_BYTES(in_c), of which it uses in_c bytes). */
int tml_conv2d_1x1_s8_mve(const tml_context *ctx, const tml_conv_params *conv,
                          const tml_m4_requant *rq, const tml_dims *input_dims,
                          const int8_t *input, const tml_dims *filter_dims, const int8_t *filter,
                          const tml_dims *output_dims, int8_t *output);

/* Scratch bytes of the depthwise kernel below: a column-major int16 plane of w + 2 columns,
 * each at least h + 2 values long (on MVE rounded up to 32, 64 or 124). */
int32_t tml_dw3x3_mve_scratch_bytes(int32_t h, int32_t w);

/* As tml_depthwise_conv2d_3x3_s8_m4 (in place; scratch tml_dw3x3_mve_scratch_bytes(h, w)). */
int tml_depthwise_conv2d_3x3_s8_mve(const tml_context *ctx, const tml_dw_conv_params *conv,
                                    const tml_m4_requant *rq, const tml_dims *input_dims,
                                    const int8_t *input, const tml_dims *filter_dims,
                                    const int8_t *filter, const tml_dims *output_dims,
                                    int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TML_KERNELS_M55_H */
