/* Portable int8 depthwise convolution with any depth multiplier (filter 1HW(C*M)): output
 * channel ic * M + m filters input channel ic. Only taps inside the input are visited.
 * 3x3 filters with depth multiplier 1 and no dilation (the common case) take a path that runs
 * one channel at a time: its nine weights, requantization and the folded input zero point
 * (sum w * (x + off) = sum w * x + off * sum w) are loaded once, and interior pixels sum the
 * nine taps without bounds checks. */
#include "tml_fixedpoint.h"
#include "tml_kernels.h"

/* The taps of output (oy, ox) that fall inside the input, with the input zero point added to
 * each value (border pixels). */
static int32_t dw_clipped(const tml_dw_conv_params *conv, const tml_dims *input_dims,
                          const int8_t *in_b, const int8_t *f, int32_t f_h, int32_t f_w,
                          int32_t oy, int32_t ox, int32_t c_step, int32_t f_step)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w;
    const int32_t dil_h = conv->dilation_h, dil_w = conv->dilation_w;
    const int32_t in_y0 = oy * conv->stride_h - conv->pad_h;
    const int32_t in_x0 = ox * conv->stride_w - conv->pad_w;
    const int32_t fy_end = tml_end_tap(in_y0, dil_h, in_h, f_h);
    const int32_t fx_start = tml_first_tap(in_x0, dil_w);
    const int32_t fx_end = tml_end_tap(in_x0, dil_w, in_w, f_w);
    int32_t fy, fx, acc = 0;
    for (fy = tml_first_tap(in_y0, dil_h); fy < fy_end; ++fy) {
        const int8_t *in_p =
            in_b + ((in_y0 + fy * dil_h) * in_w + in_x0 + fx_start * dil_w) * c_step;
        const int8_t *f_p = f + (fy * f_w + fx_start) * f_step;
        for (fx = fx_start; fx < fx_end; ++fx) {
            acc += (int32_t)*f_p * ((int32_t)*in_p + conv->input_offset);
            in_p += dil_w * c_step;
            f_p += f_step;
        }
    }
    return acc;
}

/* The reference requantization, out of line: rare, and the hot loop stays small. */
static TML_NOINLINE int32_t requant_reference(int32_t acc, int32_t multiplier, int32_t shift)
{
    return tml_multiply_by_quantized_multiplier(acc, multiplier, shift);
}

static inline int32_t requant(int32_t acc, const tml_requant *rq)
{
    return rq->fast ? tml_requant_apply_fast(acc, rq)
                    : requant_reference(acc, rq->multiplier, rq->shift);
}

/* 3x3, depth multiplier 1, dilation 1; any stride and padding. One channel at a time, over
 * "lines": the outer spatial axis (u) is the shorter one of the output, so the per-line set-up
 * is paid rarely, and the inner axis (v) is the longer one. Per line, filter rows that fall
 * outside the input get zero weights (and a valid line pointer), so every output whose three
 * taps along v are inside the input sums nine products with no check; the input zero point is
 * folded into a per-line constant (sum w * (x + off) = sum w * x + off * sum w). */
static void dw3x3(const tml_dw_conv_params *conv, const tml_quant_params *quant,
                  const tml_dims *input_dims, const int8_t *input, const int8_t *filter,
                  const int32_t *bias, const tml_dims *output_dims, int8_t *output)
{
    const int32_t ch = input_dims->c, in_h = input_dims->h, in_w = input_dims->w;
    const int32_t out_h = output_dims->h, out_w = output_dims->w;
    const int32_t lines_are_columns = out_w < out_h;
    /* Sizes, strides (in elements), conv strides and paddings along u (outer) and v (inner). */
    const int32_t in_u = lines_are_columns ? in_w : in_h, in_v = lines_are_columns ? in_h : in_w;
    const int32_t out_u = lines_are_columns ? out_w : out_h;
    const int32_t out_v = lines_are_columns ? out_h : out_w;
    const int32_t step_u = lines_are_columns ? ch : in_w * ch;
    const int32_t step_v = lines_are_columns ? in_w * ch : ch;
    const int32_t ostep_u = lines_are_columns ? ch : out_w * ch;
    const int32_t ostep_v = lines_are_columns ? out_w * ch : ch;
    const int32_t su = lines_are_columns ? conv->stride_w : conv->stride_h;
    const int32_t sv = lines_are_columns ? conv->stride_h : conv->stride_w;
    const int32_t pad_u = lines_are_columns ? conv->pad_w : conv->pad_h;
    const int32_t pad_v = lines_are_columns ? conv->pad_h : conv->pad_w;
    /* Filter tap (k along u, j along v) is filter[(tap_k * k + tap_j * j) * ch + c]. */
    const int32_t tap_k = lines_are_columns ? 1 : 3, tap_j = lines_are_columns ? 3 : 1;
    const int32_t in_off = conv->input_offset, out_off = conv->output_offset;
    const int32_t lo = conv->act_min, hi = conv->act_max;
    /* Outputs v in [v_first, v_last] have their three taps along v inside the input. */
    const int32_t v_first = (pad_v + sv - 1) / sv;
    const int32_t v_room = in_v - 3 + pad_v;
    const int32_t v_last = v_room < 0 ? -1 : v_room / sv;
    int32_t c, b, u, v, k, j;
    for (c = 0; c < ch; ++c) {
        const int32_t base = bias ? bias[c] : 0;
        const int32_t q = quant->per_channel ? c : 0;
        const tml_requant rq = tml_requant_prepare(quant->multiplier[q], quant->shift[q]);
        for (b = 0; b < input_dims->n; ++b) {
            const int8_t *in_b = input + b * in_h * in_w * ch + c;
            int8_t *out_b = output + b * out_h * out_w * ch + c;
            for (u = 0; u < out_u; ++u) {
                const int32_t u0 = u * su - pad_u;
                const int8_t *l0, *l1, *l2;
                int32_t w[3][3], folded = base;
                int8_t *out_p = out_b + u * ostep_u;
                const int8_t *line[3];
                for (k = 0; k < 3; ++k) {
                    const int32_t pos = u0 + k, inside = pos >= 0 && pos < in_u;
                    line[k] = in_b + (inside ? pos : 0) * step_u;
                    for (j = 0; j < 3; ++j) {
                        w[k][j] = inside ? filter[(tap_k * k + tap_j * j) * ch + c] : 0;
                        folded += in_off * w[k][j];
                    }
                }
                l0 = line[0];
                l1 = line[1];
                l2 = line[2];
                for (v = 0; v < out_v; ++v) {
                    const int32_t v0 = v * sv - pad_v;
                    int32_t acc;
                    if (sv == 1 && v >= v_first && v < v_last) {
                        /* two neighbours along v share six of their nine inputs */
                        const int32_t o0 = v0 * step_v, o1 = o0 + step_v, o2 = o1 + step_v;
                        const int32_t o3 = o2 + step_v;
                        int32_t x0 = l0[o1], x1 = l0[o2], next;
                        acc = folded + w[0][1] * x0 + w[0][2] * x1;
                        next = folded + w[0][0] * x0 + w[0][1] * x1;
                        x0 = l0[o0];
                        x1 = l0[o3];
                        acc += w[0][0] * x0;
                        next += w[0][2] * x1;
                        x0 = l1[o1];
                        x1 = l1[o2];
                        acc += w[1][1] * x0 + w[1][2] * x1;
                        next += w[1][0] * x0 + w[1][1] * x1;
                        x0 = l1[o0];
                        x1 = l1[o3];
                        acc += w[1][0] * x0;
                        next += w[1][2] * x1;
                        x0 = l2[o1];
                        x1 = l2[o2];
                        acc += w[2][1] * x0 + w[2][2] * x1;
                        next += w[2][0] * x0 + w[2][1] * x1;
                        x0 = l2[o0];
                        x1 = l2[o3];
                        acc += w[2][0] * x0;
                        next += w[2][2] * x1;
                        out_p[v * ostep_v] =
                            (int8_t)tml_clamp_s32(requant(acc, &rq) + out_off, lo, hi);
                        acc = next;
                        ++v;
                    } else if (v >= v_first && v <= v_last) {
                        const int32_t o0 = v0 * step_v, o1 = o0 + step_v, o2 = o1 + step_v;
                        acc = folded + w[0][0] * l0[o0] + w[0][1] * l0[o1] + w[0][2] * l0[o2] +
                              w[1][0] * l1[o0] + w[1][1] * l1[o1] + w[1][2] * l1[o2] +
                              w[2][0] * l2[o0] + w[2][1] * l2[o1] + w[2][2] * l2[o2];
                    } else { /* border along v: the taps inside, zero point added */
                        acc = base;
                        for (j = 0; j < 3; ++j) {
                            const int32_t pos = v0 + j;
                            if (pos >= 0 && pos < in_v) {
                                const int32_t o = pos * step_v;
                                acc += w[0][j] * (l0[o] + in_off) + w[1][j] * (l1[o] + in_off) +
                                       w[2][j] * (l2[o] + in_off);
                            }
                        }
                    }
                    out_p[v * ostep_v] =
                        (int8_t)tml_clamp_s32(requant(acc, &rq) + out_off, lo, hi);
                }
            }
        }
    }
}

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
    int32_t b, oy, ox, oc;
    (void)ctx;
    if (out_c != in_c * mult || filter_dims->c != out_c || input_dims->n != output_dims->n ||
        dil_h < 1 || dil_w < 1) {
        return TML_ERR_ARG;
    }
    if (mult == 1 && f_h == 3 && f_w == 3 && dil_h == 1 && dil_w == 1 &&
        conv->stride_h >= 1 && conv->stride_w >= 1) {
        dw3x3(conv, quant, input_dims, input, filter, bias, output_dims, output);
        return TML_OK;
    }
    for (b = 0; b < input_dims->n; ++b) {
        const int8_t *in_b = input + b * in_h * in_w * in_c;
        for (oy = 0; oy < out_h; ++oy) {
            for (ox = 0; ox < out_w; ++ox) {
                int8_t *out_px = output + ((b * out_h + oy) * out_w + ox) * out_c;
                for (oc = 0; oc < out_c; ++oc) {
                    const int32_t q = quant->per_channel ? oc : 0;
                    const int32_t acc = (bias ? bias[oc] : 0) +
                        dw_clipped(conv, input_dims, in_b + oc / mult, filter + oc, f_h, f_w, oy,
                                   ox, in_c, out_c);
                    out_px[oc] = (int8_t)tml_clamp_s32(
                        requant_reference(acc, quant->multiplier[q], quant->shift[q]) +
                            conv->output_offset,
                        conv->act_min, conv->act_max);
                }
            }
        }
    }
    return TML_OK;
}
