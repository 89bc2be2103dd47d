/* The shared SMLAD block of the Cortex-M4 convolutions (see tml_m4_gemm.h). */
#include "tml_m4_gemm.h"

#if TML_HAVE_DSP
/* One chunk: 13 instructions, all 32-bit encodings (52 bytes), so that the unrolled sequence
 * below can be entered at any chunk by a computed branch. */
#define TML_M4_CHUNK                                                                          \
    "ldr.w %[wv], [%[w]], #4\n\t"                                                             \
    "ldmia.w %[x]!, {r2, r3, r4, r5}\n\t"                                                     \
    "sxtb16 %[we], %[wv]\n\t"                                                                 \
    "sxtb16 %[wv], %[wv], ror #8\n\t"                                                         \
    "smlad %[a0], r2, %[we], %[a0]\n\t"                                                       \
    "smlad %[a0], r3, %[wv], %[a0]\n\t"                                                       \
    "smlad %[a1], r4, %[we], %[a1]\n\t"                                                       \
    "smlad %[a1], r5, %[wv], %[a1]\n\t"                                                       \
    "ldmia.w %[x]!, {r2, r3, r4, r5}\n\t"                                                     \
    "smlad %[a2], r2, %[we], %[a2]\n\t"                                                       \
    "smlad %[a2], r3, %[wv], %[a2]\n\t"                                                       \
    "smlad %[a3], r4, %[we], %[a3]\n\t"                                                       \
    "smlad %[a3], r5, %[wv], %[a3]\n\t"
#endif

/* Chunks in the unrolled dot-product body. */
#define TML_M4_MAX_UNROLL 16

/* acc[p] = init + sum over k4 chunks of the dot product of pixel p's cols with the filter row
 * at *w; *w advances past the row. On the DSP core the chunks run fully unrolled: the code
 * branches to byte `entry` (minus the Thumb bit) of a 16-chunk sequence, ((k4 - 1) % 16 + 1)
 * chunks before its end, and then repeats the whole sequence (k4 - 1) / 16 more times. */
TML_M4_INLINE void tml_m4_dot4(const int32_t *x, const int8_t **wp, int32_t k4, uint32_t entry,
                                int32_t init, int32_t *acc)
{
    int32_t a0 = init, a1 = init, a2 = init, a3 = init;
    const int8_t *w = *wp;
#if TML_HAVE_DSP
    int32_t we, wv;
    int32_t passes = (k4 - 1) / TML_M4_MAX_UNROLL;
    __asm__ volatile("adr.w %[we], 1f\n\t"
                     "add %[we], %[we], %[entry]\n\t"
                     "bx %[we]\n\t"
                     ".p2align 2\n\t"
                     "1:\n\t"
                     ".rept 16\n\t" TML_M4_CHUNK ".endr\n\t"
                     "ldr %[we], %[passes]\n\t"
                     "subs %[we], %[we], #1\n\t"
                     "str %[we], %[passes]\n\t"
                     "bpl 1b\n\t"
                     : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3),
                       [w] "+r"(w), [x] "+r"(x), [we] "=&r"(we), [wv] "=&r"(wv),
                       [passes] "+m"(passes)
                     : [entry] "r"(entry)
                     : "r2", "r3", "r4", "r5", "cc", "memory");
#else
    int32_t k;
    (void)entry;
    for (k = 0; k < k4; ++k) {
        const int32_t wv = tml_read_s8x4(w);
        const int32_t we = tml_sxtb16(wv);
        const int32_t wo = tml_sxtb16_ror8(wv);
        a0 = tml_smlad(x[1], wo, tml_smlad(x[0], we, a0));
        a1 = tml_smlad(x[3], wo, tml_smlad(x[2], we, a1));
        a2 = tml_smlad(x[5], wo, tml_smlad(x[4], we, a2));
        a3 = tml_smlad(x[7], wo, tml_smlad(x[6], we, a3));
        w += 4;
        x += 8;
    }
#endif
    *wp = w;
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

void tml_m4_gemm4(const int32_t *cols, int32_t k4, const int8_t *filter, int32_t out_c,
                  const tml_m4_requant *rq, int8_t *out, int32_t s1, int32_t s2, int32_t s3,
                  int32_t act_min, int32_t act_max)
{
    const int full_range = act_min == -128 && act_max == 127;
    int8_t *const end = out + out_c;
    /* Byte offset (plus the Thumb bit) of the first chunk to run in the unrolled body. */
    const uint32_t entry =
        (uint32_t)(TML_M4_MAX_UNROLL - ((k4 - 1) % TML_M4_MAX_UNROLL + 1)) * 52u + 1u;
    for (; out != end; ++out, ++rq) {
        int32_t acc[4];
        int32_t v0, v1, v2, v3, e;
        tml_m4_dot4(cols, &filter, k4, entry, rq->bias2, acc);
        e = tml_m4_shift(rq);
        v0 = tml_m4_requant_one(acc[0], rq, e);
        v1 = tml_m4_requant_one(acc[1], rq, e);
        v2 = tml_m4_requant_one(acc[2], rq, e);
        v3 = tml_m4_requant_one(acc[3], rq, e);
        out[0] = (int8_t)tml_ssat8(v0);
        out[s1] = (int8_t)tml_ssat8(v1);
        out[s2] = (int8_t)tml_ssat8(v2);
        out[s3] = (int8_t)tml_ssat8(v3);
    }
    if (!full_range) {
        /* clamp(v, lo, hi) == clamp(ssat8(v), lo, hi) for -128 <= lo <= hi <= 127. */
        const int32_t offsets[4] = {0, s1, s2, s3};
        int32_t p, oc;
        out -= out_c;
        for (p = 0; p < 4; ++p) {
            int8_t *o = out + offsets[p];
            for (oc = 0; oc < out_c; ++oc) {
                o[oc] = (int8_t)tml_m4_clamp(o[oc], act_min, act_max);
            }
        }
    }
}

