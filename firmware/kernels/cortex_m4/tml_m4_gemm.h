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
