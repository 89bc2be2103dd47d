/* Shared inner block of the Cortex-M4 convolutions (internal, header-only).
 *
 * A block is 4 output pixels. Their input vectors (k4 chunks of 4 int8 values each) are widened
 * into the scratch "cols" as SXTB16 would give them: for chunk k and pixel p, word
 * cols[k*8 + p*2] holds values (0, 2) and cols[k*8 + p*2 + 1] values (1, 3) of the chunk as two
 * int16 halves. A filter word then needs two SXTB16 (values 0,2 and 1,3) and feeds 8 SMLAD, so
 * weight unpacking is shared by 4 pixels. On the DSP core the chunk loop is hand-scheduled
 * assembly: 1 LDR + 2 LDM + 2 SXTB16 + 8 SMLAD per 16 multiply-accumulates (tml_m4_gemm4.c,
 * shared by the convolutions so that its unrolled body is in flash once).
 */
#ifndef TML_M4_GEMM_H
#define TML_M4_GEMM_H

#include <string.h>

#include "tml_acle.h"
#include "tml_kernels_m4.h"

#if defined(__GNUC__)
#define TML_M4_INLINE static inline __attribute__((always_inline))
#else
#define TML_M4_INLINE static inline
#endif

/* Folded requantization of one accumulator (see tml_kernels_m4.h). */
TML_M4_INLINE int32_t tml_m4_requant_one(int32_t acc, const tml_m4_requant *rq, int32_t shift)
{
    return tml_smmlar(acc, rq->multiplier, rq->round_add) >> shift;
}

static inline int32_t tml_m4_clamp(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* Clamp n int8 values in place to [lo, hi]. After the fast paths saturated to int8, this
 * gives exactly TFLite's clamp(v, act_min, act_max): quantization-aware trained models have
 * ReLU outputs whose zero point (and so act_min) is above -128. On the DSP core four values
 * take SSUB8 (per-byte compare into the GE flags) and SEL (per-byte pick) for each bound. */
static inline void tml_m4_clamp_s8(int8_t *p, int32_t n, int32_t lo, int32_t hi)
{
    int32_t i = 0;
#if TML_HAVE_DSP
    const uint32_t lo4 = 0x01010101u * (uint8_t)lo, hi4 = 0x01010101u * (uint8_t)hi;
    for (; i < n && ((uintptr_t)(p + i) & 3u) != 0; ++i) {
        p[i] = (int8_t)tml_m4_clamp(p[i], lo, hi);
    }
    for (; i + 4 <= n; i += 4) {
        uint32_t v, t;
        memcpy(&v, p + i, 4);
        __asm__("ssub8 %[t], %[v], %[lo]\n\t" /* GE[k] = v[k] >= lo */
                "sel %[v], %[v], %[lo]\n\t"
                "ssub8 %[t], %[v], %[hi]\n\t" /* GE[k] = v[k] >= hi */
                "sel %[v], %[hi], %[v]"
                : [v] "+&r"(v), [t] "=&r"(t)
                : [lo] "r"(lo4), [hi] "r"(hi4)
                : "cc");
        memcpy(p + i, &v, 4);
    }
#endif
    for (; i < n; ++i) {
        p[i] = (int8_t)tml_m4_clamp(p[i], lo, hi);
    }
}

/* Widen 4 int8 values (one word) into the two cols words of a chunk, doubled. */
static inline void tml_m4_widen_word(int32_t word, int32_t *dst)
{
    const int32_t even = tml_sxtb16(word);
    const int32_t odd = tml_sxtb16_ror8(word);
    dst[0] = tml_sadd16(even, even);
    dst[1] = tml_sadd16(odd, odd);
}


/* One block: every output channel of 4 pixels (tml_m4_gemm4.c). Pixel p's outputs go to
 * out + s_p (s_0 = 0); a block with fewer pixels repeats its last pixel in cols and passes that
 * pixel's offset again, so the extra stores rewrite the same values. The filter rows are 4*k4
 * bytes apart. act_min == -128 and act_max == 127 take one SSAT instead of a clamp. */
void tml_m4_gemm4(const int32_t *cols, int32_t k4, const int8_t *filter, int32_t out_c,
                  const tml_m4_requant *rq, int8_t *out, int32_t s1, int32_t s2, int32_t s3,
                  int32_t act_min, int32_t act_max);

#endif /* TML_M4_GEMM_H */
