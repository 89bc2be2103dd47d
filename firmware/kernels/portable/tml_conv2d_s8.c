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

/* bias[oc] + input_offset * (sum of the filter of output channel oc). */
static int32_t folded_bias(const int8_t *f, int32_t n, const int32_t *bias, int32_t oc,
                           int32_t in_offset)
{
    int32_t sum = 0, k;
    for (k = 0; k < n; ++k) {
        sum += f[k];
    }
    return (bias ? bias[oc] : 0) + in_offset * sum;
}

/* 1x1 convolutions up to this many input channels deep run from an interleaved copy of four
 * output channels' filters on the stack (4 bytes per input channel). */
#define TML_CONV1X1_MAX_DEPTH 256

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
    int8_t fq[4 * TML_CONV1X1_MAX_DEPTH];
    int32_t b[4];
    channel_quant cq[4];
    int32_t oc, j, k, r, p;
    for (oc = 0; oc < out_c; oc += 4) {
        const int32_t n = out_c - oc < 4 ? out_c - oc : 4;
        for (j = 0; j < 4; ++j) {
            const int32_t c = oc + (j < n ? j : n - 1);
            const int8_t *f = filter + c * in_c;
            for (k = 0; k < in_c; ++k) {
                fq[4 * k + j] = f[k];
            }
            b[j] = folded_bias(f, in_c, bias, c, conv->input_offset);
            cq[j] = quant_of(quant, c);
        }
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
                out_row[p * out_c] = finish(a0, &cq[0], conv);
                if (n > 1) {
                    out_row[p * out_c + 1] = finish(a1, &cq[1], conv);
                }
                if (n > 2) {
                    out_row[p * out_c + 2] = finish(a2, &cq[2], conv);
                }
                if (n > 3) {
                    out_row[p * out_c + 3] = finish(a3, &cq[3], conv);
                }
                if (pair) {
                    int8_t *o = out_row + (p + 1) * out_c;
                    o[0] = finish(c0, &cq[0], conv);
                    if (n > 1) {
                        o[1] = finish(c1, &cq[1], conv);
                    }
                    if (n > 2) {
                        o[2] = finish(c2, &cq[2], conv);
                    }
                    if (n > 3) {
                        o[3] = finish(c3, &cq[3], conv);
                    }
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

/* Receptive fields of at most this many values (filter h * w * input channels) take the patch
 * path; its two patches live on the stack (4 bytes per value). */
#define TML_CONV_PATCH_MAX 256

/* The receptive field of output (oy, ox) with the input zero point added: values outside the
 * input are 0 (padding holds the zero point), so every pixel is a plain dot product. */
static void fill_patch(const tml_conv_params *conv, const tml_dims *input_dims,
                       const int8_t *in_b, int32_t f_h, int32_t f_w, int32_t oy, int32_t ox,
                       int16_t *patch)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, in_c = input_dims->c;
    const int32_t y0 = oy * conv->stride_h - conv->pad_h, x0 = ox * conv->stride_w - conv->pad_w;
    const int32_t off = conv->input_offset;
    int32_t fy, fx, k;
    for (fy = 0; fy < f_h; ++fy) {
        const int32_t y = y0 + fy * conv->dilation_h;
        for (fx = 0; fx < f_w; ++fx) {
            const int32_t x = x0 + fx * conv->dilation_w;
            if (y >= 0 && y < in_h && x >= 0 && x < in_w) {
                const int8_t *src = in_b + (y * in_w + x) * in_c;
                for (k = 0; k < in_c; ++k) {
                    patch[k] = (int16_t)(src[k] + off);
                }
            } else {
                for (k = 0; k < in_c; ++k) {
                    patch[k] = 0;
                }
            }
            patch += in_c;
        }
    }
}

/* Any convolution whose receptive field fits TML_CONV_PATCH_MAX: two output pixels' patches
 * are built once, then every pair of output channels is a 2 x 2 block of dot products. */
static void conv_patches(const tml_conv_params *conv, const tml_quant_params *quant,
                         const tml_dims *input_dims, const int8_t *input,
                         const tml_dims *filter_dims, const int8_t *filter,
                         const int32_t *bias, const tml_dims *output_dims, int8_t *output)
{
    const int32_t f_h = filter_dims->h, f_w = filter_dims->w;
    const int32_t n = f_h * f_w * input_dims->c;
    const int32_t out_h = output_dims->h, out_w = output_dims->w, out_c = output_dims->c;
    int16_t patch[2][TML_CONV_PATCH_MAX];
    int32_t b, oy, ox, oc, k;
    for (b = 0; b < input_dims->n; ++b) {
        const int8_t *in_b = input + b * input_dims->h * input_dims->w * input_dims->c;
        for (oy = 0; oy < out_h; ++oy) {
            for (ox = 0; ox < out_w; ox += 2) {
                const int32_t pair = ox + 1 < out_w;
                int8_t *out0 = output + ((b * out_h + oy) * out_w + ox) * out_c;
                int8_t *out1 = out0 + out_c;
                const int16_t *x0 = patch[0], *x1 = pair ? patch[1] : patch[0];
                fill_patch(conv, input_dims, in_b, f_h, f_w, oy, ox, patch[0]);
                if (pair) {
                    fill_patch(conv, input_dims, in_b, f_h, f_w, oy, ox + 1, patch[1]);
                }
                for (oc = 0; oc < out_c; oc += 2) {
                    const int32_t oc1 = oc + 1 < out_c ? oc + 1 : oc;
                    const int8_t *f0 = filter + oc * n, *f1 = filter + oc1 * n;
                    int32_t a00 = bias ? bias[oc] : 0, a01 = bias ? bias[oc1] : 0;
                    int32_t a10 = a00, a11 = a01;
                    for (k = 0; k + 2 <= n; k += 2) {
                        int32_t x, y, u, v;
                        x = x0[k]; y = x1[k]; u = f0[k]; v = f1[k];
                        a00 += u * x; a01 += v * x; a10 += u * y; a11 += v * y;
                        x = x0[k + 1]; y = x1[k + 1]; u = f0[k + 1]; v = f1[k + 1];
                        a00 += u * x; a01 += v * x; a10 += u * y; a11 += v * y;
                    }
                    if (k < n) {
                        const int32_t x = x0[k], y = x1[k], u = f0[k], v = f1[k];
                        a00 += u * x; a01 += v * x; a10 += u * y; a11 += v * y;
                    }
                    out0[oc] = finish_raw(a00, quant, oc, conv);
                    if (oc1 != oc) {
                        out0[oc1] = finish_raw(a01, quant, oc1, conv);
                    }
                    if (pair) {
                        out1[oc] = finish_raw(a10, quant, oc, conv);
                        if (oc1 != oc) {
                            out1[oc1] = finish_raw(a11, quant, oc1, conv);
                        }
                    }
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
        input_dims->c <= TML_CONV1X1_MAX_DEPTH && conv->stride_h >= 1 && conv->stride_w >= 1 &&
        output_dims->h > 0 && output_dims->w > 0 &&
        (output_dims->h - 1) * conv->stride_h < input_dims->h &&
        (output_dims->w - 1) * conv->stride_w < input_dims->w) {
        conv1x1(conv, quant, input_dims, input, filter, bias, output_dims, output);
    } else if (filter_dims->h * filter_dims->w * input_dims->c <= TML_CONV_PATCH_MAX) {
        conv_patches(conv, quant, input_dims, input, filter_dims, filter, bias, output_dims,
                     output);
    } else {
        conv_general(conv, quant, input_dims, input, filter_dims, filter, bias, output_dims,
                     output);
    }
    return TML_OK;
}
