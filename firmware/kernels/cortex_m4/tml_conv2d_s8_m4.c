/* Cortex-M4 int8 2-D convolution (any filter size, stride, dilation, padding): im2col of 4
 * output pixels into scratch as int16 pairs, padding filled with the input zero point, then
 * the SMLAD block of tml_m4_gemm.h. Rows of the filter window that lie inside the input and
 * start on a 4-value boundary are widened a word at a time. */
#include "tml_m4_gemm.h"

/* int16 position of value t of pixel p (0..3) in the cols layout. */
static inline int32_t cols_index(int32_t t, int32_t p)
{
    return (((t >> 2) * 8 + p * 2 + (t & 1)) << 1) + ((t >> 1) & 1);
}

static void im2col_pixel(const tml_conv_params *conv, const tml_dims *in_d, const int8_t *input,
                         int32_t f_h, int32_t f_w, int32_t k_padded, int32_t oy, int32_t ox,
                         int32_t p, int32_t *cols)
{
    const int32_t in_h = in_d->h, in_w = in_d->w, in_c = in_d->c;
    const int32_t row_len = f_w * in_c;
    const int32_t y0 = oy * conv->stride_h - conv->pad_h;
    const int32_t x0 = ox * conv->stride_w - conv->pad_w;
    const int16_t pad = (int16_t)(-2 * conv->input_offset); /* values are doubled */
    int16_t *half = (int16_t *)cols;
    int32_t fy, fx, c, t = 0;
    const int x_inside = x0 >= 0 && x0 + (f_w - 1) * conv->dilation_w < in_w;
    for (fy = 0; fy < f_h; ++fy) {
        const int32_t y = y0 + fy * conv->dilation_h;
        const int y_inside = y >= 0 && y < in_h;
        if (conv->dilation_w == 1 && (t & 3) == 0 && (row_len & 3) == 0) {
            /* The window row is whole chunks: one word per chunk. */
            int32_t *dst = cols + (t >> 2) * 8 + p * 2;
            int32_t k;
            if (!y_inside) {
                const int32_t pad_pair = tml_pack16(pad, pad);
                for (k = 0; k < row_len; k += 4, dst += 8) {
                    dst[0] = pad_pair;
                    dst[1] = pad_pair;
                }
            } else if (x_inside) {
                const int8_t *src = input + (y * in_w + x0) * in_c;
                for (k = 0; k < row_len; k += 4, dst += 8) {
                    tml_m4_widen_word(tml_read_s8x4(src + k), dst);
                }
            } else if (row_len == 4 && in_w * in_c >= 4) {
                /* One chunk partly outside the row: shift a word read inside the row and fill
                 * the vacated bytes with the zero point. */
                const int8_t *row = input + y * in_w * in_c;
                const int32_t first = x0 * in_c, last = in_w * in_c - 4;
                const uint32_t pad_byte = (uint8_t)(-conv->input_offset);
                const int32_t shift = first < 0 ? -first : first - last;
                uint32_t word = pad_byte * 0x01010101u;
                if (shift < 4) {
                    const uint32_t fill = word & ((1u << (8 * shift)) - 1u);
                    word = first < 0 ? ((uint32_t)tml_read_s8x4(row) << (8 * shift)) | fill
                                     : ((uint32_t)tml_read_s8x4(row + last) >> (8 * shift)) |
                                           (fill << (8 * (4 - shift)));
                }
                tml_m4_widen_word((int32_t)word, dst);
            } else {
                const int8_t *row = input + y * in_w * in_c;
                for (k = 0; k < row_len; k += 4, dst += 8) {
                    uint32_t word = 0;
                    int32_t j;
                    for (j = 0; j < 4; ++j) {
                        const int32_t x = x0 + (k + j) / in_c;
                        const int32_t v = x >= 0 && x < in_w ? row[x * in_c + (k + j) % in_c]
                                                               : -conv->input_offset;
                        word |= (uint32_t)(uint8_t)v << (8 * j);
                    }
                    tml_m4_widen_word((int32_t)word, dst);
                }
            }
            t += row_len;
            continue;
        }
        for (fx = 0; fx < f_w; ++fx) {
            const int32_t x = x0 + fx * conv->dilation_w;
            const int inside = y_inside && x >= 0 && x < in_w;
            for (c = 0; c < in_c; ++c, ++t) {
                half[cols_index(t, p)] =
                    inside ? (int16_t)(2 * input[(y * in_w + x) * in_c + c]) : pad;
            }
        }
    }
    for (; t < k_padded; ++t) {
        half[cols_index(t, p)] = 0; /* zero weights there; any value would do */
    }
}

int tml_conv2d_s8_m4(const tml_context *ctx, const tml_conv_params *conv,
                     const tml_m4_requant *rq, const tml_dims *input_dims, const int8_t *input,
                     const tml_dims *filter_dims, const int8_t *filter,
                     const tml_dims *output_dims, int8_t *output)
{
    const int32_t f_h = filter_dims->h, f_w = filter_dims->w, out_c = output_dims->c;
    const int32_t k_padded = (f_h * f_w * input_dims->c + 3) & ~3;
    const int32_t out_h = output_dims->h, out_w = output_dims->w;
    const int32_t per_image = out_h * out_w;
    const int32_t pixels = output_dims->n * per_image;
    int32_t *cols = (int32_t *)ctx->buf;
    int32_t p0;
    if (!tml_conv_call_ok(ctx, input_dims, input, filter_dims, output_dims, output)) {
        return TML_ERR_ARG;
    }
    for (p0 = 0; p0 < pixels; p0 += 4) {
        const int32_t n = pixels - p0 < 4 ? pixels - p0 : 4;
        int32_t p;
        for (p = 0; p < 4; ++p) {
            const int32_t q = p0 + (p < n ? p : n - 1);
            const int32_t b = q / per_image, r = q % per_image;
            const int8_t *in_b = input + b * input_dims->h * input_dims->w * input_dims->c;
            im2col_pixel(conv, input_dims, in_b, f_h, f_w, k_padded, r / out_w, r % out_w, p,
                         cols);
        }
        {
            /* Offsets of pixels 1..3 (a short last block repeats its last pixel). */
            const int32_t s1 = (n > 1 ? 1 : n - 1) * out_c, s2 = (n > 2 ? 2 : n - 1) * out_c;
            const int32_t s3 = (n - 1 < 3 ? n - 1 : 3) * out_c;
            int8_t *out = output + p0 * out_c;
            tml_m4_gemm4(cols, k_padded / 4, filter, out_c, rq, out, s1, s2, s3, conv->act_min,
                         conv->act_max);
        }
    }
    return TML_OK;
}
