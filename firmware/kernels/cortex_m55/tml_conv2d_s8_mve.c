/* Cortex-M55 (Armv8.1-M MVE, "Helium") int8 2-D convolution (any filter size, stride, dilation,
 * padding): the contract, filter layout (OHWI rows padded with zeros to k_padded, a multiple
 * of 4) and folded requantization of tml_conv2d_s8_m4 (tml_kernels_m4.h), so the compiler
 * prepares the same constants for it.
 *
 * Pixel by pixel: the filter window is copied to the scratch as k_padded int8 values (padding
 * at the input zero point, whose offset value is 0; the tail after fh * fw * in_c meets zero
 * weights), then the output channels are the dot products of tml_mve_dot.h, four weight rows
 * per pass. Tested against the M4 twin on the host (C loops) and in QEMU. */
#include "tml_kernels_m55.h"
#include "tml_mve_dot.h"

#include <string.h>

/* The window of output pixel (oy, ox) as int8 values, k_padded of them. */
static void im2col_s8(const tml_conv_params *conv, const tml_dims *in_d, const int8_t *input,
                      int32_t f_h, int32_t f_w, int32_t k_padded, int32_t oy, int32_t ox,
                      int8_t *col)
{
    const int32_t in_h = in_d->h, in_w = in_d->w, in_c = in_d->c;
    const int32_t y0 = oy * conv->stride_h - conv->pad_h;
    const int32_t x0 = ox * conv->stride_w - conv->pad_w;
    const int32_t row_len = f_w * in_c;
    const int8_t pad = (int8_t)(-conv->input_offset);
    const int x_inside = x0 >= 0 && x0 + (f_w - 1) * conv->dilation_w < in_w;
    int32_t fy, fx, t = 0;
    for (fy = 0; fy < f_h; ++fy, t += row_len) {
        const int32_t y = y0 + fy * conv->dilation_h;
        if (y < 0 || y >= in_h) {
            memset(col + t, pad, (size_t)row_len);
        } else if (x_inside && conv->dilation_w == 1) {
            const int8_t *src = input + (y * in_w + x0) * in_c;
            int32_t k = 0;
            /* Window rows are short (4 values in the MLPerf KWS first layer): words, inline. */
            for (; k + 4 <= row_len; k += 4) {
                const int32_t word = tml_read_s8x4(src + k);
                memcpy(col + t + k, &word, 4);
            }
            for (; k < row_len; ++k) {
                col[t + k] = src[k];
            }
        } else {
            for (fx = 0; fx < f_w; ++fx) {
                const int32_t x = x0 + fx * conv->dilation_w;
                if (x >= 0 && x < in_w) {
                    memcpy(col + t + fx * in_c, input + (y * in_w + x) * in_c, (size_t)in_c);
                } else {
                    memset(col + t + fx * in_c, pad, (size_t)in_c);
                }
            }
        }
    }
    memset(col + t, 0, (size_t)(k_padded - t));
}

int tml_conv2d_s8_mve(const tml_context *ctx, const tml_conv_params *conv,
                      const tml_m4_requant *rq, const tml_dims *input_dims, const int8_t *input,
                      const tml_dims *filter_dims, const int8_t *filter,
                      const tml_dims *output_dims, int8_t *output)
{
    const int32_t f_h = filter_dims->h, f_w = filter_dims->w, out_c = output_dims->c;
    const int32_t k_padded = (f_h * f_w * input_dims->c + 3) & ~3;
    const int32_t out_h = output_dims->h, out_w = output_dims->w;
    const int32_t in_size = input_dims->h * input_dims->w * input_dims->c;
    int8_t *col;
    int32_t b, oy, ox;
    if (!tml_conv_call_ok(ctx, input_dims, input, filter_dims, output_dims, output)) {
        return TML_ERR_ARG;
    }
    col = (int8_t *)ctx->buf;
    for (b = 0; b < input_dims->n; ++b) {
        for (oy = 0; oy < out_h; ++oy) {
            for (ox = 0; ox < out_w; ++ox) {
                im2col_s8(conv, input_dims, input + b * in_size, f_h, f_w, k_padded, oy, ox, col);
                tml_mve_pixel(col, filter, k_padded, out_c, rq, conv->act_min, conv->act_max,
                              output + ((b * out_h + oy) * out_w + ox) * out_c);
            }
        }
    }
    return TML_OK;
}
