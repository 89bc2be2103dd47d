/* Cortex-M55 (Armv8.1-M MVE, "Helium") int8 1x1 convolution: the contract, filter layout and
 * folded requantization of tml_conv2d_1x1_s8_m4 (tml_kernels_m4.h), so the compiler prepares
 * the same constants for it.
 *
 * Pixel by pixel: the pixel's in_c values are copied to the scratch (the call may run in
 * place), then the output channels are the dot products of tml_mve_dot.h. Tested against the
 * M4 twin on the host (C loops) and in QEMU. */
#include "tml_kernels_m55.h"
#include "tml_mve_dot.h"

#include <string.h>

int tml_conv2d_1x1_s8_mve(const tml_context *ctx, const tml_conv_params *conv,
                          const tml_m4_requant *rq, const tml_dims *input_dims,
                          const int8_t *input, const tml_dims *filter_dims, const int8_t *filter,
                          const tml_dims *output_dims, int8_t *output)
{
    const int32_t in_c = input_dims->c, out_c = output_dims->c;
    const int32_t pixels = input_dims->n * input_dims->h * input_dims->w;
    const int32_t lo = conv->act_min, hi = conv->act_max;
    int8_t *x;
    int32_t p;
    if (!tml_conv1x1_call_ok(ctx, conv, input_dims, input, filter_dims, output_dims, output)) {
        return TML_ERR_ARG;
    }
    x = (int8_t *)ctx->buf;
    for (p = 0; p < pixels; ++p) {
        int8_t *out = output + p * out_c;
        memcpy(x, input + p * in_c, (size_t)in_c);
        tml_mve_pixel(x, filter, in_c, out_c, rq, lo, hi, out);
    }
    return TML_OK;
}
