/* Portable int8 depthwise convolution with any depth multiplier (filter 1HW(C*M)): output
 * channel ic * M + m filters input channel ic. Only taps inside the input are visited. */
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
    const int32_t dil_h = conv->dilation_h, dil_w = conv->dilation_w;
    const int32_t in_offset = conv->input_offset;
    int32_t b, oy, ox, ic, m, fy, fx;
    (void)ctx;
    if (out_c != in_c * mult || filter_dims->c != out_c || input_dims->n != output_dims->n ||
        dil_h < 1 || dil_w < 1) {
        return TML_ERR_ARG;
    }
    for (b = 0; b < input_dims->n; ++b) {
        const int8_t *in_b = input + b * in_h * in_w * in_c;
        for (oy = 0; oy < out_h; ++oy) {
            const int32_t in_y0 = oy * conv->stride_h - conv->pad_h;
            const int32_t fy_start = tml_first_tap(in_y0, dil_h);
            const int32_t fy_end = tml_end_tap(in_y0, dil_h, in_h, f_h);
            for (ox = 0; ox < out_w; ++ox) {
                const int32_t in_x0 = ox * conv->stride_w - conv->pad_w;
                const int32_t fx_start = tml_first_tap(in_x0, dil_w);
                const int32_t fx_end = tml_end_tap(in_x0, dil_w, in_w, f_w);
                int8_t *out_px = output + ((b * out_h + oy) * out_w + ox) * out_c;
                for (ic = 0; ic < in_c; ++ic) {
                    for (m = 0; m < mult; ++m) {
                        const int32_t oc = ic * mult + m;
                        const int32_t q = quant->per_channel ? oc : 0;
                        int32_t acc = 0;
                        for (fy = fy_start; fy < fy_end; ++fy) {
                            const int8_t *in_p = in_b +
                                ((in_y0 + fy * dil_h) * in_w + in_x0 + fx_start * dil_w) * in_c +
                                ic;
                            const int8_t *f_p = filter + (fy * f_w + fx_start) * out_c + oc;
                            for (fx = fx_start; fx < fx_end; ++fx) {
                                acc += (int32_t)*f_p * ((int32_t)*in_p + in_offset);
                                in_p += dil_w * in_c;
                                f_p += out_c;
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
