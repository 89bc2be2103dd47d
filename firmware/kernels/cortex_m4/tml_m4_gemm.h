/* Shared inner block of the Cortex-M4 convolutions (internal, header-only).
 *
 * A block is 4 output pixels. Their input vectors (k4 chunks of 4 int8 values each) are widened
 * into the scratch "cols" as SXTB16 would give them: for chunk k and pixel p, word
 * cols[k*8 + p*2] holds values (0, 2) and cols[k*8 + p*2 + 1] values (1, 3) of the chunk as two
 * int16 halves. A filter word then needs two SXTB16 (values 0,2 and 1,3) and feeds 8 SMLAD, so
 * weight unpacking is shared by 4 pixels.
 */
#ifndef TML_M4_GEMM_H
#define TML_M4_GEMM_H

#include "tml_acle.h"
#include "tml_kernels_m4.h"

/* Folded requantization of one accumulator (see tml_kernels_m4.h). */
static inline int32_t tml_m4_requant_one(int32_t acc, int32_t multiplier, int64_t offset,
                                         int32_t shift)
{
    return (int32_t)(((int64_t)acc * multiplier + offset) >> 32) >> shift;
}

static inline int32_t tml_m4_clamp(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* Widen 4 int8 values (one word) into the two cols words of a chunk. */
static inline void tml_m4_widen_word(int32_t word, int32_t *dst)
{
    dst[0] = tml_sxtb16(word);
    dst[1] = tml_sxtb16_ror8(word);
}

/* out[p * out_stride + oc] for oc < out_c and the first `pixels` (1..4) pixels of the block.
 * full_range: act_min == -128 and act_max == 127 (one SSAT instead of a clamp). */
static inline void tml_m4_gemm4(const int32_t *cols, int32_t k4, const int8_t *filter,
                                int32_t filter_stride, int32_t out_c, const tml_m4_requant *rq,
                                int8_t *out, int32_t out_stride, int32_t pixels, int32_t act_min,
                                int32_t act_max, int full_range)
{
    int32_t oc;
    for (oc = 0; oc < out_c; ++oc) {
        const int8_t *w = filter + oc * filter_stride;
        const int32_t *x = cols;
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        int32_t k;
        for (k = 0; k < k4; ++k) {
            const int32_t wv = tml_read_s8x4(w);
            const int32_t we = tml_sxtb16(wv);
            const int32_t wo = tml_sxtb16_ror8(wv);
            a0 = tml_smlad(x[0], we, a0);
            a0 = tml_smlad(x[1], wo, a0);
            a1 = tml_smlad(x[2], we, a1);
            a1 = tml_smlad(x[3], wo, a1);
            a2 = tml_smlad(x[4], we, a2);
            a2 = tml_smlad(x[5], wo, a2);
            a3 = tml_smlad(x[6], we, a3);
            a3 = tml_smlad(x[7], wo, a3);
            w += 4;
            x += 8;
        }
        {
            const int64_t off = rq[oc].offset;
            const int32_t m = rq[oc].multiplier;
            const int32_t s = rq[oc].shift;
            int32_t v0 = tml_m4_requant_one(a0, m, off, s);
            int32_t v1 = tml_m4_requant_one(a1, m, off, s);
            int32_t v2 = tml_m4_requant_one(a2, m, off, s);
            int32_t v3 = tml_m4_requant_one(a3, m, off, s);
            if (full_range) {
                v0 = tml_ssat8(v0);
                v1 = tml_ssat8(v1);
                v2 = tml_ssat8(v2);
                v3 = tml_ssat8(v3);
            } else {
                v0 = tml_m4_clamp(v0, act_min, act_max);
                v1 = tml_m4_clamp(v1, act_min, act_max);
                v2 = tml_m4_clamp(v2, act_min, act_max);
                v3 = tml_m4_clamp(v3, act_min, act_max);
            }
            out[oc] = (int8_t)v0;
            if (pixels == 4) {
                out[out_stride + oc] = (int8_t)v1;
                out[2 * out_stride + oc] = (int8_t)v2;
                out[3 * out_stride + oc] = (int8_t)v3;
            } else {
                if (pixels > 1) {
                    out[out_stride + oc] = (int8_t)v1;
                }
                if (pixels > 2) {
                    out[2 * out_stride + oc] = (int8_t)v2;
                }
            }
        }
    }
}

#endif /* TML_M4_GEMM_H */
