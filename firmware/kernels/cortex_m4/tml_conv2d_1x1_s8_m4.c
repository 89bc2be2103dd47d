/* Cortex-M4 int8 1x1 convolution: blocks of 4 pixels widened into scratch, then every output
 * channel of the block with SMLAD (see tml_m4_gemm.h). Runs in place: a block's outputs are
 * written only after its inputs were copied to the scratch. */
#include "tml_m4_gemm.h"

int tml_conv2d_1x1_s8_m4(const tml_context *ctx, const tml_conv_params *conv,
                         const tml_m4_requant *rq, const tml_dims *input_dims,
                         const int8_t *input, const tml_dims *filter_dims, const int8_t *filter,
                         const tml_dims *output_dims, int8_t *output)
{
    const int32_t in_c = input_dims->c, out_c = output_dims->c;
    const int32_t pixels = input_dims->n * input_dims->h * input_dims->w;
    const int32_t k4 = in_c / 4;
    int32_t *cols;
    int32_t p0;
    if (!tml_conv1x1_call_ok(ctx, conv, input_dims, input, filter_dims, output_dims, output)) {
        return TML_ERR_ARG;
    }
    cols = (int32_t *)ctx->buf;
    for (p0 = 0; p0 < pixels; p0 += 4) {
        const int32_t n = pixels - p0 < 4 ? pixels - p0 : 4;
        int32_t p, k;
        for (p = 0; p < 4; ++p) {
            /* Past the last pixel the block repeats it; those outputs are not stored. */
            const int8_t *src = input + (p0 + (p < n ? p : n - 1)) * in_c;
            int32_t *dst = cols + 2 * p;
            for (k = 0; k < k4; ++k) {
                tml_m4_widen_word(tml_read_s8x4(src), dst);
                src += 4;
                dst += 8;
            }
        }
        {
            /* Offsets of pixels 1..3 (a short last block repeats its last pixel). */
            const int32_t s1 = (n > 1 ? 1 : n - 1) * out_c, s2 = (n > 2 ? 2 : n - 1) * out_c;
            const int32_t s3 = (n - 1 < 3 ? n - 1 : 3) * out_c;
            int8_t *out = output + p0 * out_c;
            tml_m4_gemm4(cols, k4, filter, out_c, rq, out, s1, s2, s3, conv->act_min,
                         conv->act_max);
        }
    }
    return TML_OK;
}
