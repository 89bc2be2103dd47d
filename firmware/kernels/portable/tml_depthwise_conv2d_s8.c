/* Portable int8 depthwise convolution with any depth multiplier (filter 1HW(C*M)). */
#include "tml_fixedpoint.h"
#include "tml_kernels.h"

int tml_depthwise_conv2d_s8(const tml_context *ctx, const tml_dw_conv_params *conv,
                            const tml_quant_params *quant, const tml_dims *input_dims,
                            const int8_t *input, const tml_dims *filter_dims,
                            const int8_t *filter, const int32_t *bias,
                            const tml_dims *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, in_c = input_dims->c;
    const int32_t f_h = filter_dims->h, f_w = filter_dims->w;
    const int32_t out_h = output_dims->h, out_w = output_dims->w, out_c = output_dims->c;
    const int32_t mult = conv->depth_multiplier;
    int32_t b, oy, ox, ic, m, fy, fx;
    (void)ctx;
    if (out_c != in_c * mult || filter_dims->c != out_c || input_dims->n != output_dims->n) {
        return TML_ERR_ARG;
    }
    for (b = 0; b < input_dims->n; ++b) {
        const int8_t *in_b = input + b * in_h * in_w * in_c;
        for (oy = 0; oy < out_h; ++oy) {
            const int32_t in_y0 = oy * conv->stride_h - conv->pad_h;
            for (ox = 0; ox < out_w; ++ox) {
                const int32_t in_x0 = ox * conv->stride_w - conv->pad_w;
                int8_t *out_px = output + ((b * out_h + oy) * out_w + ox) * out_c;
                for (ic = 0; ic < in_c; ++ic) {
                    for (m = 0; m < mult; ++m) {
                        const int32_t oc = ic * mult + m;
                        const int32_t q = quant->per_channel ? oc : 0;
                        int32_t acc = 0;
                        for (fy = 0; fy < f_h; ++fy) {
                            const int32_t in_y = in_y0 + fy * conv->dilation_h;
                            if (in_y < 0 || in_y >= in_h) {
                                continue;
                            }
                            for (fx = 0; fx < f_w; ++fx) {
                                const int32_t in_x = in_x0 + fx * conv->dilation_w;
                                int32_t in_val;
                                if (in_x < 0 || in_x >= in_w) {
                                    continue;
                                }
                                in_val = in_b[(in_y * in_w + in_x) * in_c + ic];
                                acc += (int32_t)filter[(fy * f_w + fx) * out_c + oc] *
                                       (in_val + conv->input_offset);
                            }
                        }
                        if (bias) {
                            acc += bias[oc];
                        }
                        acc = tml_multiply_by_quantized_multiplier(acc, quant->multiplier[q],
                                                                   quant->shift[q]);
                        acc += conv->output_offset;
                        out_px[oc] = (int8_t)tml_clamp_s32(acc, conv->act_min, conv->act_max);
                    }
                }
            }
        }
    }
    return TML_OK;
}
