/* Cortex-M4 int8 3x3 depthwise convolution (stride 1, padding 1, multiplier 1), one channel at
 * a time: the channel is copied into a zero-point-padded int16 plane in scratch, then each pair
 * of horizontally adjacent outputs takes 2 word loads and 4 multiply-accumulates per filter row
 * (SMLAD pairs two taps; SMLABT/SMLATB take the odd ones). The channel's weights stay in six
 * registers as int16 pairs. Runs in place: channel c is written only after it was copied. */
#include "tml_m4_gemm.h"

#if TML_HAVE_DSP
/* One output pair of a row: plane words at [p + off] (3 rows, 16 bytes apart), outputs stored
 * at dst and dst + ch (the second only when STORE1). */
#define DW_PAIR(OFF, STORE1)                                                                  \
    "ldr %[o0], %[b2]\n\t"                                                                    \
    "ldrd %[ta], %[tb], [%[p], #" #OFF "]\n\t"                                                \
    "smlatb %[o1], %[ta], %[w0], %[o0]\n\t"                                                   \
    "smlad %[o0], %[ta], %[w0], %[o0]\n\t"                                                    \
    "smlabt %[o0], %[tb], %[w1], %[o0]\n\t"                                                   \
    "smlad %[o1], %[tb], %[w1], %[o1]\n\t"                                                    \
    "ldrd %[ta], %[tb], [%[p], #" #OFF " + 16]\n\t"                                           \
    "smlad %[o0], %[ta], %[w2], %[o0]\n\t"                                                    \
    "smlatb %[o1], %[ta], %[w2], %[o1]\n\t"                                                   \
    "smlabt %[o0], %[tb], %[w3], %[o0]\n\t"                                                   \
    "smlad %[o1], %[tb], %[w3], %[o1]\n\t"                                                    \
    "ldrd %[ta], %[tb], [%[p], #" #OFF " + 32]\n\t"                                           \
    "smlad %[o0], %[ta], %[w4], %[o0]\n\t"                                                    \
    "smlatb %[o1], %[ta], %[w4], %[o1]\n\t"                                                   \
    "smlabt %[o0], %[tb], %[w5], %[o0]\n\t"                                                   \
    "smlad %[o1], %[tb], %[w5], %[o1]\n\t"                                                    \
    "ldr %[ta], %[ra]\n\t"                                                                    \
    "ldr %[tb], %[m]\n\t"                                                                     \
    "smmlar %[o0], %[o0], %[tb], %[ta]\n\t"                                                   \
    "smmlar %[o1], %[o1], %[tb], %[ta]\n\t"                                                   \
    "ldr %[ta], %[e]\n\t"                                                                     \
    "asr %[o0], %[o0], %[ta]\n\t"                                                             \
    "asr %[o1], %[o1], %[ta]\n\t"                                                             \
    "ssat %[o0], #8, %[o0]\n\t"                                                               \
    "ssat %[o1], #8, %[o1]\n\t"                                                               \
    "strb %[o0], [%[dst]]\n\t" STORE1

static void dw3x3_w5_channel(const int16_t *plane, int32_t h, int32_t w0, int32_t w1,
                             int32_t w2, int32_t w3, int32_t w4, int32_t w5,
                             const tml_m4_requant *rq, int8_t *dst, int32_t ch)
{
    const int32_t b2 = rq->bias2, m = rq->multiplier, ra = rq->round_add;
    const int32_t e = tml_m4_shift(rq);
    const int16_t *p = plane;
    int32_t rows = h;
    int32_t o0, o1, ta, tb;
    __asm__ volatile(
        "1:\n\t"
        DW_PAIR(0, "strb %[o1], [%[dst], %[ch]]\n\t"
                   "add %[dst], %[dst], %[ch], lsl #1\n\t")
        DW_PAIR(4, "strb %[o1], [%[dst], %[ch]]\n\t"
                   "add %[dst], %[dst], %[ch], lsl #1\n\t")
        DW_PAIR(8, "add %[dst], %[dst], %[ch]\n\t")
        "add %[p], %[p], #16\n\t"
        "ldr %[ta], %[rows]\n\t"
        "subs %[ta], %[ta], #1\n\t"
        "str %[ta], %[rows]\n\t"
        "bne 1b\n\t"
        : [o0] "=&r"(o0), [o1] "=&r"(o1), [ta] "=&r"(ta), [tb] "=&r"(tb), [p] "+r"(p),
          [dst] "+r"(dst), [rows] "+m"(rows)
        : [w0] "r"(w0), [w1] "r"(w1), [w2] "r"(w2), [w3] "r"(w3), [w4] "r"(w4), [w5] "r"(w5),
          [ch] "r"(ch), [b2] "m"(b2), [m] "m"(m), [ra] "m"(ra), [e] "m"(e)
        : "cc", "memory");
}
#undef DW_PAIR
#endif

int tml_depthwise_conv2d_3x3_s8_m4(const tml_context *ctx, const tml_dw_conv_params *conv,
                                   const tml_m4_requant *rq, const tml_dims *input_dims,
                                   const int8_t *input, const tml_dims *filter_dims,
                                   const int8_t *filter, const tml_dims *output_dims,
                                   int8_t *output)
{
    const int32_t h = input_dims->h, w = input_dims->w, ch = input_dims->c;
    const int32_t plane_w = 2 * ((w + 1) / 2) + 2; /* even: rows start on a word */
    const int32_t row_words = plane_w / 2;
    const int32_t plane_len = (h + 2) * plane_w;
    const int16_t pad = (int16_t)(-conv->input_offset);
    const int full = conv->act_min == -128 && conv->act_max == 127;
    int16_t *plane = (int16_t *)ctx->buf;
    int32_t b, c, i, y, x;
    if (!tml_dw3x3_call_ok(ctx, conv, input_dims, filter_dims, output_dims,
                           TML_M4_DW3X3_SCRATCH_BYTES(h, w))) {
        return TML_ERR_ARG;
    }
    /* The border stays at the zero point for every channel; only the interior is rewritten. */
    for (i = 0; i < plane_len; ++i) {
        plane[i] = pad;
    }
    for (b = 0; b < input_dims->n; ++b) {
        const int8_t *in_b = input + b * h * w * ch;
        int8_t *out_b = output + b * h * w * ch;
        for (c = 0; c < ch; ++c) {
            const int8_t *f = filter + c;
            /* Weights doubled (the requantization takes twice the dot product). */
            const int32_t w01_0 = tml_pack16(2 * f[0], 2 * f[ch]);
            const int32_t w12_0 = tml_pack16(2 * f[ch], 2 * f[2 * ch]);
            const int32_t w01_1 = tml_pack16(2 * f[3 * ch], 2 * f[4 * ch]);
            const int32_t w12_1 = tml_pack16(2 * f[4 * ch], 2 * f[5 * ch]);
            const int32_t w01_2 = tml_pack16(2 * f[6 * ch], 2 * f[7 * ch]);
            const int32_t w12_2 = tml_pack16(2 * f[7 * ch], 2 * f[8 * ch]);
            const tml_m4_requant *rqc = rq + c;
            const int32_t bias2 = rqc->bias2, e = tml_m4_shift(rqc);
            const int8_t *src = in_b + c;
            int8_t *dst = out_b + c;
            if (w == 5) {
                for (y = 0; y < h; ++y) {
                    int16_t *row = plane + (y + 1) * plane_w + 1;
                    row[0] = src[0];
                    row[1] = src[ch];
                    row[2] = src[2 * ch];
                    row[3] = src[3 * ch];
                    row[4] = src[4 * ch];
                    src += 5 * ch;
                }
            } else {
                for (y = 0; y < h; ++y) {
                    int16_t *row = plane + (y + 1) * plane_w + 1;
                    for (x = 0; x < w; ++x) {
                        row[x] = *src;
                        src += ch;
                    }
                }
            }
#if TML_HAVE_DSP
            if (w == 5) {
                /* Shape-specialised (rows of 5, plane rows of 8 int16 = 16 bytes): the whole
                 * channel in one assembly loop, 3 output pairs per row unrolled; saturated to
                 * int8 here, clamped to the activation range once the batch is done. */
                dw3x3_w5_channel(plane, h, w01_0, w12_0, w01_1, w12_1, w01_2, w12_2, rqc, dst,
                                 ch);
                continue;
            }
#endif
            for (y = 0; y < h; ++y) {
                const int32_t *r0 = (const int32_t *)(void *)(plane + y * plane_w);
                const int32_t *r1 = r0 + row_words;
                const int32_t *r2 = r1 + row_words;
                for (x = 0; x < w; x += 2) {
                    int32_t o0, o1;
                    const int32_t a0 = r0[0], b0 = r0[1], a1 = r1[0], b1 = r1[1];
                    const int32_t a2 = r2[0], b2 = r2[1];
                    o0 = tml_smlad(a0, w01_0, bias2);
                    o1 = tml_smlatb(a0, w01_0, bias2);
                    o0 = tml_smlabt(b0, w12_0, o0);
                    o1 = tml_smlad(b0, w12_0, o1);
                    o0 = tml_smlad(a1, w01_1, o0);
                    o1 = tml_smlatb(a1, w01_1, o1);
                    o0 = tml_smlabt(b1, w12_1, o0);
                    o1 = tml_smlad(b1, w12_1, o1);
                    o0 = tml_smlad(a2, w01_2, o0);
                    o1 = tml_smlatb(a2, w01_2, o1);
                    o0 = tml_smlabt(b2, w12_2, o0);
                    o1 = tml_smlad(b2, w12_2, o1);
                    ++r0;
                    ++r1;
                    ++r2;
                    o0 = tml_m4_requant_one(o0, rqc, e);
                    o1 = tml_m4_requant_one(o1, rqc, e);
                    if (full) {
                        o0 = tml_ssat8(o0);
                        o1 = tml_ssat8(o1);
                    } else {
                        o0 = tml_m4_clamp(o0, conv->act_min, conv->act_max);
                        o1 = tml_m4_clamp(o1, conv->act_min, conv->act_max);
                    }
                    dst[0] = (int8_t)o0;
                    if (x + 1 < w) {
                        dst[ch] = (int8_t)o1;
                    }
                    dst += 2 * ch;
                }
                dst -= (w & 1) * ch; /* the last pair of an odd row was half outside */
            }
        }
#if TML_HAVE_DSP
        if (w == 5 && !full) {
            tml_m4_clamp_s8(out_b, h * w * ch, conv->act_min, conv->act_max);
        }
#endif
    }
    return TML_OK;
}
