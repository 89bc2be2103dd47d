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

#if !TML_HAVE_DSP
/* acc[p] = init + sum over k4 chunks of the dot product of pixel p's cols with the filter row
 * at *w; *w advances past the row (portable C; the DSP build runs the assembly below). */
static void tml_m4_dot4(const int32_t *x, const int8_t **wp, int32_t k4, int32_t init,
                        int32_t *acc)
{
    int32_t a0 = init, a1 = init, a2 = init, a3 = init;
    const int8_t *w = *wp;
    int32_t k;
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
    *wp = w;
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}
#endif

void tml_m4_gemm4(const int32_t *cols, int32_t k4, const int8_t *filter, int32_t out_c,
                  const tml_m4_requant *rq, int8_t *out, int32_t s1, int32_t s2, int32_t s3,
                  int32_t act_min, int32_t act_max)
{
    const int full_range = act_min == -128 && act_max == 127;
    int8_t *const end = out + out_c;
#if TML_HAVE_DSP
    {
        /* Byte offset (plus the Thumb bit) of the first chunk to run in the unrolled body:
         * ((k4 - 1) % 16 + 1) chunks before its end; then (k4 - 1) / 16 more full passes. */
        const uint32_t entry =
            (uint32_t)(TML_M4_MAX_UNROLL - ((k4 - 1) % TML_M4_MAX_UNROLL + 1)) * 52u + 1u;
        /* The whole output-channel loop in assembly, so that nothing spills around the
         * unrolled body: values needed once per channel live in this frame. */
        int32_t frame[9];
        int32_t a0, a1, a2, a3, we, wv;
        const int32_t *x;
        frame[0] = s1;
        frame[1] = s2;
        frame[2] = s3;
        frame[3] = (int32_t)(uintptr_t)cols;
        frame[4] = (int32_t)entry;
        frame[5] = (k4 - 1) / TML_M4_MAX_UNROLL;
        frame[6] = (int32_t)(uintptr_t)rq;
        frame[7] = (int32_t)(uintptr_t)out;
        frame[8] = (int32_t)(uintptr_t)end;
        __asm__ volatile(
            "0:\n\t"
            "ldr %[x], [%[f], #12]\n\t"           /* cols */
            "ldr %[we], [%[f], #24]\n\t"          /* rq */
            "ldr %[a0], [%[we]]\n\t"              /* bias2 */
            "mov %[a1], %[a0]\n\t"
            "mov %[a2], %[a0]\n\t"
            "mov %[a3], %[a0]\n\t"
            "ldr lr, [%[f], #20]\n\t"             /* extra 16-chunk passes */
            "adr.w %[wv], 1f\n\t"
            "ldr %[we], [%[f], #16]\n\t"          /* entry offset | 1 */
            "add %[we], %[we], %[wv]\n\t"
            "bx %[we]\n\t"
            ".p2align 2\n\t"
            "1:\n\t"
            ".rept 16\n\t" TML_M4_CHUNK ".endr\n\t"
            "subs lr, lr, #1\n\t"
            "bpl 1b\n\t"
            "ldr %[wv], [%[f], #24]\n\t"
            "ldmia %[wv]!, {r2, r3, r4}\n\t"      /* bias2 (unused), multiplier, round_add */
            "str %[wv], [%[f], #24]\n\t"
            "smmlar %[a0], %[a0], r3, r4\n\t"
            "smmlar %[a1], %[a1], r3, r4\n\t"
            "smmlar %[a2], %[a2], r3, r4\n\t"
            "smmlar %[a3], %[a3], r3, r4\n\t"
            "rbit r5, r4\n\t"                     /* e = 1 + trailing zeros of round_add */
            "clz r5, r5\n\t"
            "adds r5, r5, #1\n\t"
            "asr %[a0], %[a0], r5\n\t"
            "asr %[a1], %[a1], r5\n\t"
            "asr %[a2], %[a2], r5\n\t"
            "asr %[a3], %[a3], r5\n\t"
            "ssat %[a0], #8, %[a0]\n\t"
            "ssat %[a1], #8, %[a1]\n\t"
            "ssat %[a2], #8, %[a2]\n\t"
            "ssat %[a3], #8, %[a3]\n\t"
            "ldmia %[f], {r3, r4, r5}\n\t"        /* s1, s2, s3 */
            "ldr r2, [%[f], #28]\n\t"             /* out */
            "strb %[a1], [r2, r3]\n\t"
            "strb %[a2], [r2, r4]\n\t"
            "strb %[a3], [r2, r5]\n\t"
            "strb %[a0], [r2], #1\n\t"
            "str r2, [%[f], #28]\n\t"
            "ldr r3, [%[f], #32]\n\t"             /* end */
            "cmp r2, r3\n\t"
            "bne 0b\n\t"
            : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [w] "+r"(filter),
              [x] "=&r"(x), [we] "=&r"(we), [wv] "=&r"(wv)
            : [f] "r"(frame)
            : "r2", "r3", "r4", "r5", "lr", "cc", "memory");
    }
#else
    for (; out != end; ++out, ++rq) {
        int32_t acc[4];
        int32_t v0, v1, v2, v3, e;
        tml_m4_dot4(cols, &filter, k4, rq->bias2, acc);
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
    out -= out_c;
#endif
    if (!full_range) {
        /* clamp(v, lo, hi) == clamp(ssat8(v), lo, hi) for -128 <= lo <= hi <= 127. */
        const int32_t offsets[4] = {0, s1, s2, s3};
        int32_t p;
        for (p = 0; p < 4; ++p) {
            tml_m4_clamp_s8(out + offsets[p], out_c, act_min, act_max);
        }
    }
}

