/* Portable int8 2-D convolution (NHWC input, OHWI filter, per-channel requantization).
 *
 * Two paths, both exact integer arithmetic (so bit-exact with any order of summation):
 * - 1x1 without padding: a GEMM over pixels. Two pixels x two output channels share every
 *   load, and the input zero point is folded out of the inner loop:
 *   sum f * (x + off) = sum f * x + off * sum f, with sum f taken once per output channel.
 * - anything else: per output pixel only the filter taps inside the input are visited (padding
 *   contributes nothing), four output channels per pass share each input load; with dilation 1
 *   a filter row is one contiguous run of taps x channels. */
#include "tml_fixedpoint.h"
#include "tml_kernels.h"

/* Requantization of one output channel, prepared once per channel where the loops allow. */
typedef tml_requant channel_quant;

static inline channel_quant quant_of(const tml_quant_params *quant, int32_t oc)
{
    const int32_t q = quant->per_channel ? oc : 0;
    return tml_requant_prepare(quant->multiplier[q], quant->shift[q]);
}

/* The reference path, out of line: rare, and the hot loops stay small. */
static TML_NOINLINE int32_t requant_reference(int32_t acc, int32_t multiplier, int32_t shift)
{
    return tml_multiply_by_quantized_multiplier(acc, multiplier, shift);
}

static inline int8_t finish(int32_t acc, const channel_quant *cq, const tml_conv_params *conv)
{
    acc = cq->fast ? tml_requant_apply_fast(acc, cq)
                   : requant_reference(acc, cq->multiplier, cq->shift);
    acc += conv->output_offset;
    return (int8_t)tml_clamp_s32(acc, conv->act_min, conv->act_max);
}

/* One value requantized straight from the parameters (loops that visit channels once per
 * pixel). */
static inline int8_t finish_raw(int32_t acc, const tml_quant_params *quant, int32_t oc,
                                const tml_conv_params *conv)
{
    const int32_t q = quant->per_channel ? oc : 0;
    acc = requant_reference(acc, quant->multiplier[q], quant->shift[q]) + conv->output_offset;
    return (int8_t)tml_clamp_s32(acc, conv->act_min, conv->act_max);
}

/* Requantizes and stores the accumulators of up to four consecutive output channels. */
static TML_NOINLINE void store_quad(int8_t *o, int32_t a0, int32_t a1, int32_t a2, int32_t a3,
                                    const channel_quant cq[4], int32_t lanes,
                                    const tml_conv_params *conv)
{
    o[0] = finish(a0, &cq[0], conv);
    if (lanes > 1) {
        o[1] = finish(a1, &cq[1], conv);
    }
    if (lanes > 2) {
        o[2] = finish(a2, &cq[2], conv);
    }
    if (lanes > 3) {
        o[3] = finish(a3, &cq[3], conv);
    }
}

/* Filters up to this many values (h * w * input channels) run four output channels at a time
 * from an interleaved copy of their filters on the stack (4 bytes per value). */
#define TML_CONV_QUAD_MAX 256

/* Prepares output channels [oc, oc + 4) (n filter values each): fq[4k + j] = value k of
 * channel oc + j, its bias (plus fold * sum of its filter: the input zero point folded in) and
 * requantization. A last block of fewer than four channels repeats its last channel in the
 * spare lanes (never stored). Returns the number of real lanes. */
static int32_t load_quad(const int8_t *filter, int32_t n, int32_t oc, int32_t out_c,
                         const int32_t *bias, int32_t fold, const tml_quant_params *quant,
                         int8_t *fq, int32_t bq[4], channel_quant cq[4])
{
    const int32_t lanes = out_c - oc < 4 ? out_c - oc : 4;
    int32_t j, k;
    for (j = 0; j < 4; ++j) {
        const int32_t c = oc + (j < lanes ? j : lanes - 1);
        const int8_t *f = filter + c * n;
        int32_t sum = 0;
        for (k = 0; k < n; ++k) {
            fq[4 * k + j] = f[k];
            sum += f[k];
        }
        bq[j] = (bias ? bias[c] : 0) + fold * sum;
        cq[j] = quant_of(quant, c);
    }
    return lanes;
}

/* 1x1 convolution without padding: out[p][oc] = requant(bias'[oc] + sum_k f[oc][k] * x[p][k]),
 * bias' = bias + input_offset * sum_k f[oc][k]. Four output channels per pass, their filters
 * interleaved (fq[4k + j] = filter of channel j at k) so one pointer serves all four, and two
 * pixels per pass: 6 loads per 8 products. A last block of fewer than four channels repeats
 * its last channel in the spare lanes and does not store them. */
static void conv1x1(const tml_conv_params *conv, const tml_quant_params *quant,
                    const tml_dims *input_dims, const int8_t *input, const int8_t *filter,
                    const int32_t *bias, const tml_dims *output_dims, int8_t *output)
{
    const int32_t in_c = input_dims->c, out_c = output_dims->c;
    /* Pixels: rows of cols pixels, px_step input values apart (one row when the stride is 1). */
    const int32_t contiguous = conv->stride_h == 1 && conv->stride_w == 1 &&
                               output_dims->w == input_dims->w &&
                               output_dims->h == input_dims->h;
    const int32_t rows = contiguous ? 1 : output_dims->n * output_dims->h;
    const int32_t cols = contiguous ? output_dims->n * output_dims->h * output_dims->w
                                    : output_dims->w;
    const int32_t px_step = (contiguous ? 1 : conv->stride_w) * in_c;
    int8_t fq[4 * TML_CONV_QUAD_MAX];
    int32_t b[4];
    channel_quant cq[4];
    int32_t oc, k, r, p;
    for (oc = 0; oc < out_c; oc += 4) {
        const int32_t n = load_quad(filter, in_c, oc, out_c, bias, conv->input_offset, quant, fq,
                                    b, cq);
        for (r = 0; r < rows; ++r) {
            const int32_t batch = contiguous ? 0 : r / output_dims->h;
            const int32_t oy = contiguous ? 0 : r % output_dims->h;
            const int8_t *in_row =
                input + (batch * input_dims->h + oy * conv->stride_h) * input_dims->w * in_c;
            int8_t *out_row = output + r * output_dims->w * out_c + oc;
            for (p = 0; p < cols; p += 2) {
                const int32_t pair = p + 1 < cols;
                const int8_t *x0 = in_row + p * px_step;
                const int8_t *x1 = pair ? x0 + px_step : x0;
                const int8_t *fp = fq;
                int32_t a0 = b[0], a1 = b[1], a2 = b[2], a3 = b[3];
                int32_t c0 = b[0], c1 = b[1], c2 = b[2], c3 = b[3];
                for (k = 0; k < in_c; ++k) {
                    const int32_t x = x0[k], y = x1[k];
                    int32_t u;
                    u = fp[0]; a0 += u * x; c0 += u * y;
                    u = fp[1]; a1 += u * x; c1 += u * y;
                    u = fp[2]; a2 += u * x; c2 += u * y;
                    u = fp[3]; a3 += u * x; c3 += u * y;
                    fp += 4;
                }
                store_quad(out_row + p * out_c, a0, a1, a2, a3, cq, n, conv);
                if (pair) {
                    store_quad(out_row + (p + 1) * out_c, c0, c1, c2, c3, cq, n, conv);
                }
            }
        }
    }
}

/* Any other convolution (receptive fields larger than the patch path takes): per output pixel
 * only the filter taps inside the input are visited; with dilation 1 a filter row is one
 * contiguous run of taps x channels. */
static void conv_general(const tml_conv_params *conv, const tml_quant_params *quant,
                         const tml_dims *input_dims, const int8_t *input,
                         const tml_dims *filter_dims, const int8_t *filter,
                         const int32_t *bias, const tml_dims *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, in_c = input_dims->c;
    const int32_t f_h = filter_dims->h, f_w = filter_dims->w;
    const int32_t out_h = output_dims->h, out_w = output_dims->w, out_c = output_dims->c;
    const int32_t dil_h = conv->dilation_h, dil_w = conv->dilation_w;
    const int32_t in_offset = conv->input_offset;
    int32_t b, oy, ox, oc, fy, fx, k;
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
                /* dil_w == 1: one run of taps x channels per filter row */
                const int32_t runs = dil_w == 1 ? 1 : fx_end - fx_start;
                const int32_t run = dil_w == 1 ? (fx_end - fx_start) * in_c : in_c;
                int8_t *out_px = output + ((b * out_h + oy) * out_w + ox) * out_c;
                for (oc = 0; oc < out_c; ++oc) {
                    int32_t acc = bias ? bias[oc] : 0;
                    for (fy = fy_start; fy < fy_end; ++fy) {
                        const int8_t *in_p =
                            in_b + ((in_y0 + fy * dil_h) * in_w + in_x0 + fx_start * dil_w) * in_c;
                        const int8_t *f_p = filter + ((oc * f_h + fy) * f_w + fx_start) * in_c;
                        for (fx = 0; fx < runs; ++fx) {
                            for (k = 0; k < run; ++k) {
                                acc += (int32_t)f_p[k] * ((int32_t)in_p[k] + in_offset);
                            }
                            in_p += dil_w * in_c;
                            f_p += in_c;
                        }
                    }
                    out_px[oc] = finish_raw(acc, quant, oc, conv);
                }
            }
        }
    }
}

/* Any filter up to TML_CONV_QUAD_MAX values with dilation 1 along the width: four output
 * channels at a time from an interleaved copy of their filters, over the filter rows inside
 * the input; each row is one contiguous run of (taps inside the input) x channels, and the
 * input zero point is added as values are loaded. Two horizontally adjacent pixels whose runs
 * are the whole filter width share every filter load. */
static void conv_quad(const tml_conv_params *conv, const tml_quant_params *quant,
                      const tml_dims *input_dims, const int8_t *input,
                      const tml_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                      const tml_dims *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, in_c = input_dims->c;
    const int32_t f_h = filter_dims->h, f_w = filter_dims->w, n = f_h * f_w * in_c;
    const int32_t out_h = output_dims->h, out_w = output_dims->w, out_c = output_dims->c;
    const int32_t sx = conv->stride_w, dil_h = conv->dilation_h, off = conv->input_offset;
    int8_t fq[4 * TML_CONV_QUAD_MAX];
    int32_t bq[4];
    channel_quant cq[4];
    int32_t oc, k, b, oy, ox, fy;
    for (oc = 0; oc < out_c; oc += 4) {
        const int32_t lanes = load_quad(filter, n, oc, out_c, bias, 0, quant, fq, bq, cq);
        for (b = 0; b < input_dims->n; ++b) {
            const int8_t *in_b = input + b * in_h * in_w * in_c;
            for (oy = 0; oy < out_h; ++oy) {
                const int32_t y0 = oy * conv->stride_h - conv->pad_h;
                const int32_t fy0 = tml_first_tap(y0, dil_h);
                const int32_t fy1 = tml_end_tap(y0, dil_h, in_h, f_h);
                int8_t *out_row = output + ((b * out_h + oy) * out_w) * out_c + oc;
                for (ox = 0; ox < out_w; ++ox) {
                    const int32_t x0 = ox * sx - conv->pad_w;
                    const int32_t fx0 = tml_first_tap(x0, 1), fx1 = tml_end_tap(x0, 1, in_w, f_w);
                    const int32_t run = (fx1 - fx0) * in_c;
                    const int32_t pair = ox + 1 < out_w && fx0 == 0 && fx1 == f_w &&
                                         x0 + sx + f_w <= in_w;
                    int32_t a0 = bq[0], a1 = bq[1], a2 = bq[2], a3 = bq[3];
                    int32_t c0 = bq[0], c1 = bq[1], c2 = bq[2], c3 = bq[3];
                    for (fy = fy0; fy < fy1; ++fy) {
                        const int8_t *xp = in_b + ((y0 + fy * dil_h) * in_w + x0 + fx0) * in_c;
                        const int8_t *fp = fq + 4 * ((fy * f_w + fx0) * in_c);
                        if (pair) {
                            const int8_t *xq = xp + sx * in_c;
                            for (k = 0; k < run; ++k) {
                                const int32_t x = xp[k] + off, y = xq[k] + off;
                                int32_t u;
                                u = fp[0]; a0 += u * x; c0 += u * y;
                                u = fp[1]; a1 += u * x; c1 += u * y;
                                u = fp[2]; a2 += u * x; c2 += u * y;
                                u = fp[3]; a3 += u * x; c3 += u * y;
                                fp += 4;
                            }
                        } else {
                            for (k = 0; k < run; ++k) {
                                const int32_t x = xp[k] + off;
                                a0 += fp[0] * x;
                                a1 += fp[1] * x;
                                a2 += fp[2] * x;
                                a3 += fp[3] * x;
                                fp += 4;
                            }
                        }
                    }
                    store_quad(out_row + ox * out_c, a0, a1, a2, a3, cq, lanes, conv);
                    if (pair) {
                        store_quad(out_row + (ox + 1) * out_c, c0, c1, c2, c3, cq, lanes, conv);
                    }
                    ox += pair;
                }
            }
        }
    }
}

int tml_conv2d_s8(const tml_context *ctx, const tml_conv_params *conv,
                  const tml_quant_params *quant, const tml_dims *input_dims, const int8_t *input,
                  const tml_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                  const tml_dims *output_dims, int8_t *output)
{
    (void)ctx;
    if (filter_dims->c != input_dims->c || filter_dims->n != output_dims->c ||
        input_dims->n != output_dims->n || conv->dilation_h < 1 || conv->dilation_w < 1) {
        return TML_ERR_ARG;
    }
    if (filter_dims->h == 1 && filter_dims->w == 1 && conv->pad_h == 0 && conv->pad_w == 0 &&
        input_dims->c <= TML_CONV_QUAD_MAX && conv->stride_h >= 1 && conv->stride_w >= 1 &&
        output_dims->h > 0 && output_dims->w > 0 &&
        (output_dims->h - 1) * conv->stride_h < input_dims->h &&
        (output_dims->w - 1) * conv->stride_w < input_dims->w) {
        conv1x1(conv, quant, input_dims, input, filter, bias, output_dims, output);
    } else if (filter_dims->h * filter_dims->w * input_dims->c <= TML_CONV_QUAD_MAX &&
               conv->dilation_w == 1 && conv->stride_w >= 1) {
        conv_quad(conv, quant, input_dims, input, filter_dims, filter, bias, output_dims,
                  output);
    } else {
        conv_general(conv, quant, input_dims, input, filter_dims, filter, bias, output_dims,
                     output);
    }
    return TML_OK;
}
