/* Cortex-M55 (MVE) int8 kernels: the same contracts and compile-time preparation as their
 * Armv7E-M twins in ../cortex_m4/tml_kernels_m4.h, which the compiler swaps them for when the
 * target is cortex-m55. */
#ifndef TML_KERNELS_M55_H
#define TML_KERNELS_M55_H

#include "tml_kernels_m4.h"

#ifdef __cplusplus
extern "C" {
#endif

/* As tml_conv2d_1x1_s8_m4 (in place when out_c <= in_c; scratch
 * TML_M4_CONV_SCRATCH_BYTES(in_c), of which it uses in_c bytes). */
int tml_conv2d_1x1_s8_mve(const tml_context *ctx, const tml_conv_params *conv,
                          const tml_m4_requant *rq, const tml_dims *input_dims,
                          const int8_t *input, const tml_dims *filter_dims, const int8_t *filter,
                          const tml_dims *output_dims, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TML_KERNELS_M55_H */
