/* Complex radix-4 decimation-in-frequency FFT, in place, output in digit-reversed order. */
#include "fp_strict.h"

#include "tml_frontend.h"

/* Radix-4 stage of span 4 (every twiddle is 1): additions only. */
static void fft_stage_span4(float *x, uint32_t n)
{
    for (uint32_t b = 0; b < n; b += 4) {
        float *p = x + 2 * b;
#if defined(TML_FRONTEND_ARM_VFP)
        /* Same operations as the C below, with one multi-register load and store. */
        __asm__ volatile(
            "vldmia %0, {s0-s7}\n\t"
            "vadd.f32 s8, s0, s4\n\t"   /* t0 = a + c */
            "vadd.f32 s9, s1, s5\n\t"
            "vsub.f32 s10, s0, s4\n\t"  /* t1 = a - c */
            "vsub.f32 s11, s1, s5\n\t"
            "vadd.f32 s12, s2, s6\n\t"  /* t2 = b + d */
            "vadd.f32 s13, s3, s7\n\t"
            "vsub.f32 s14, s2, s6\n\t"  /* t3 = b - d */
            "vsub.f32 s15, s3, s7\n\t"
            "vadd.f32 s0, s8, s12\n\t"  /* t0 + t2 */
            "vadd.f32 s1, s9, s13\n\t"
            "vadd.f32 s2, s10, s15\n\t" /* t1 - i t3 */
            "vsub.f32 s3, s11, s14\n\t"
            "vsub.f32 s4, s8, s12\n\t"  /* t0 - t2 */
            "vsub.f32 s5, s9, s13\n\t"
            "vsub.f32 s6, s10, s15\n\t" /* t1 + i t3 */
            "vadd.f32 s7, s11, s14\n\t"
            "vstmia %0, {s0-s7}"
            :
            : "r"(p)
            : "memory", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10",
              "s11", "s12", "s13", "s14", "s15");
#else
        const float ar = p[0], ai = p[1], br = p[2], bi = p[3];
        const float cr = p[4], ci = p[5], dr = p[6], di = p[7];
        const float t0r = ar + cr, t0i = ai + ci, t1r = ar - cr, t1i = ai - ci;
        const float t2r = br + dr, t2i = bi + di, t3r = br - dr, t3i = bi - di;
        p[0] = t0r + t2r;
        p[1] = t0i + t2i;
        p[2] = t1r + t3i; /* t1 - i t3 */
        p[3] = t1i - t3r;
        p[4] = t0r - t2r;
        p[5] = t0i - t2i;
        p[6] = t1r - t3i; /* t1 + i t3 */
        p[7] = t1i + t3r;
#endif
    }
}

#if defined(TML_FRONTEND_ARM_VFP)
/* Assembly text of one radix-4 butterfly in place on the registers a, b, c, d (real, imaginary
 * names), twiddles w1, w2, w3 in s16-s21, temporaries s22-s29; the operations and their order
 * are those of the portable C below. First t0..t3 into s22-s29: */
#define TML_FFT_SUMS(ar, ai, br, bi, cr, ci, dr, di) \
    "vadd.f32 s22, " ar ", " cr "\n\t" /* t0 = a + c */ \
    "vadd.f32 s23, " ai ", " ci "\n\t" \
    "vsub.f32 s24, " ar ", " cr "\n\t" /* t1 = a - c */ \
    "vsub.f32 s25, " ai ", " ci "\n\t" \
    "vadd.f32 s26, " br ", " dr "\n\t" /* t2 = b + d */ \
    "vadd.f32 s27, " bi ", " di "\n\t" \
    "vsub.f32 s28, " br ", " dr "\n\t" /* t3 = b - d */ \
    "vsub.f32 s29, " bi ", " di "\n\t"

#define TML_FFT_BUTTERFLY(ar, ai, br, bi, cr, ci, dr, di) \
    TML_FFT_SUMS(ar, ai, br, bi, cr, ci, dr, di) \
    "vadd.f32 " ar ", s22, s26\n\t" /* y0 = t0 + t2 */ \
    "vadd.f32 " ai ", s23, s27\n\t" \
    "vsub.f32 s22, s22, s26\n\t" /* y2 = t0 - t2 */ \
    "vsub.f32 s23, s23, s27\n\t" \
    "vadd.f32 s26, s24, s29\n\t" /* y1 = t1 - i t3 */ \
    "vsub.f32 s27, s25, s28\n\t" \
    "vsub.f32 s24, s24, s29\n\t" /* y3 = t1 + i t3 */ \
    "vadd.f32 s25, s25, s28\n\t" \
    "vmul.f32 " br ", s26, s16\n\t" /* b = y1 w1 */ \
    "vmls.f32 " br ", s27, s17\n\t" \
    "vmul.f32 " bi ", s26, s17\n\t" \
    "vmla.f32 " bi ", s27, s16\n\t" \
    "vmul.f32 " cr ", s22, s18\n\t" /* c = y2 w2 */ \
    "vmls.f32 " cr ", s23, s19\n\t" \
    "vmul.f32 " ci ", s22, s19\n\t" \
    "vmla.f32 " ci ", s23, s18\n\t" \
    "vmul.f32 " dr ", s24, s20\n\t" /* d = y3 w3 */ \
    "vmls.f32 " dr ", s25, s21\n\t" \
    "vmul.f32 " di ", s24, s21\n\t" \
    "vmla.f32 " di ", s25, s20\n\t"

/* Butterfly 0 of a group, whose twiddles are all 1: the additions of TML_FFT_BUTTERFLY, with
 * y1, y2, y3 written straight to b, c, d (the portable C below does the same). */
#define TML_FFT_BUTTERFLY_UNIT(ar, ai, br, bi, cr, ci, dr, di) \
    TML_FFT_SUMS(ar, ai, br, bi, cr, ci, dr, di) \
    "vadd.f32 " ar ", s22, s26\n\t" /* y0 = t0 + t2 */ \
    "vadd.f32 " ai ", s23, s27\n\t" \
    "vsub.f32 " cr ", s22, s26\n\t" /* y2 = t0 - t2 */ \
    "vsub.f32 " ci ", s23, s27\n\t" \
    "vadd.f32 " br ", s24, s29\n\t" /* y1 = t1 - i t3 */ \
    "vsub.f32 " bi ", s25, s28\n\t" \
    "vsub.f32 " dr ", s24, s29\n\t" /* y3 = t1 + i t3 */ \
    "vadd.f32 " di ", s25, s28\n\t"

/* Radix-4 stage of span `span` (a multiple of 8): butterflies j, j+span/4, j+span/2, j+3span/4.
 * Arm VFP: two neighbouring butterflies (j, j+1) per step of an assembly loop, so that each
 * multi-register load and store moves two complex values. The operations are those of the
 * portable C below, in the same order within each butterfly (VMLS/VMLA round the product like
 * the C does); butterflies are independent, so visiting them in another order changes no bit. */
static void fft_stage_radix4(float *x, uint32_t n, uint32_t span, const float *tw)
{
    const uint32_t quarter = span / 4; /* even: span is a power of two >= 8 */
    const uint32_t tw_skip = 24u * (n / span - 1u); /* bytes: the n-point table, subsampled */
    for (uint32_t base = 0; base < n; base += span) {
        float *pa = x + 2 * base;
        float *pb = pa + 2 * quarter;
        float *pc = pb + 2 * quarter;
        float *pd = pc + 2 * quarter;
        const float *w = tw + 6; /* past butterfly 0's twiddles */
        uint32_t count = quarter / 2 - 1;
        /* Butterflies 0 (twiddles 1: additions only) and 1. */
        __asm__ volatile(
            "vldmia %[pa], {s0-s3}\n\t"
            "vldmia %[pb], {s4-s7}\n\t"
            "vldmia %[pc], {s8-s11}\n\t"
            "vldmia %[pd], {s12-s15}\n\t"
            "add %[w], %[w], %[skip]\n\t"
            "vldmia %[w]!, {s16-s21}\n\t" /* w1, w2, w3 of butterfly 1 */
            "add %[w], %[w], %[skip]\n\t"
            TML_FFT_BUTTERFLY_UNIT("s0", "s1", "s4", "s5", "s8", "s9", "s12", "s13")
            TML_FFT_BUTTERFLY("s2", "s3", "s6", "s7", "s10", "s11", "s14", "s15")
            "vstmia %[pa]!, {s0-s3}\n\t"
            "vstmia %[pb]!, {s4-s7}\n\t"
            "vstmia %[pc]!, {s8-s11}\n\t"
            "vstmia %[pd]!, {s12-s15}"
            : [pa] "+r"(pa), [pb] "+r"(pb), [pc] "+r"(pc), [pd] "+r"(pd), [w] "+r"(w)
            : [skip] "r"(tw_skip)
            : "memory", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10",
              "s11", "s12", "s13", "s14", "s15", "s16", "s17", "s18", "s19", "s20", "s21", "s22",
              "s23", "s24", "s25", "s26", "s27", "s28", "s29");
        if (count == 0) {
            continue;
        }
        __asm__ volatile(
            "1:\n\t"
            "vldmia %[pa], {s0-s3}\n\t"   /* a of butterflies j, j+1 */
            "vldmia %[pb], {s4-s7}\n\t"
            "vldmia %[pc], {s8-s11}\n\t"
            "vldmia %[pd], {s12-s15}\n\t"
            "vldmia %[w]!, {s16-s21}\n\t" /* w1, w2, w3 of butterfly j */
            "add %[w], %[w], %[skip]\n\t"
            TML_FFT_BUTTERFLY("s0", "s1", "s4", "s5", "s8", "s9", "s12", "s13")
            "vldmia %[w]!, {s16-s21}\n\t" /* w1, w2, w3 of butterfly j+1 */
            "add %[w], %[w], %[skip]\n\t"
            TML_FFT_BUTTERFLY("s2", "s3", "s6", "s7", "s10", "s11", "s14", "s15")
            "vstmia %[pa]!, {s0-s3}\n\t"
            "vstmia %[pb]!, {s4-s7}\n\t"
            "vstmia %[pc]!, {s8-s11}\n\t"
            "vstmia %[pd]!, {s12-s15}\n\t"
            "subs %[count], %[count], #1\n\t"
            "bne 1b"
            : [pa] "+r"(pa), [pb] "+r"(pb), [pc] "+r"(pc), [pd] "+r"(pd), [w] "+r"(w),
              [count] "+r"(count)
            : [skip] "r"(tw_skip)
            : "cc", "memory", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10",
              "s11", "s12", "s13", "s14", "s15", "s16", "s17", "s18", "s19", "s20", "s21", "s22",
              "s23", "s24", "s25", "s26", "s27", "s28", "s29");
    }
}
#else
/* Radix-4 stage of span `span` (a multiple of 8): butterflies j, j+span/4, j+span/2, j+3span/4. */
static void fft_stage_radix4(float *x, uint32_t n, uint32_t span, const float *tw)
{
    const uint32_t quarter = span / 4;
    const uint32_t tw_step = 6 * (n / span); /* the n-point table, subsampled */
    for (uint32_t j = 0; j < quarter; ++j) {
        const float *w = tw + j * tw_step;
        const float w1r = w[0], w1i = w[1], w2r = w[2], w2i = w[3], w3r = w[4], w3i = w[5];
        for (uint32_t b = j; b < n; b += span) {
            float *pa = x + 2 * b;
            float *pb = pa + 2 * quarter;
            float *pc = pb + 2 * quarter;
            float *pd = pc + 2 * quarter;
            const float t0r = pa[0] + pc[0], t0i = pa[1] + pc[1];
            const float t1r = pa[0] - pc[0], t1i = pa[1] - pc[1];
            const float t2r = pb[0] + pd[0], t2i = pb[1] + pd[1];
            const float t3r = pb[0] - pd[0], t3i = pb[1] - pd[1];
            const float y2r = t0r - t2r, y2i = t0i - t2i;
            const float y1r = t1r + t3i, y1i = t1i - t3r; /* t1 - i t3 */
            const float y3r = t1r - t3i, y3i = t1i + t3r; /* t1 + i t3 */
            pa[0] = t0r + t2r;
            pa[1] = t0i + t2i;
            if (j == 0) { /* twiddles 1 (the Arm path does the same) */
                pb[0] = y1r;
                pb[1] = y1i;
                pc[0] = y2r;
                pc[1] = y2i;
                pd[0] = y3r;
                pd[1] = y3i;
                continue;
            }
            pb[0] = tml_mls(y1r * w1r, y1i, w1i);
            pb[1] = tml_mla(y1r * w1i, y1i, w1r);
            pc[0] = tml_mls(y2r * w2r, y2i, w2i);
            pc[1] = tml_mla(y2r * w2i, y2i, w2r);
            pd[0] = tml_mls(y3r * w3r, y3i, w3i);
            pd[1] = tml_mla(y3r * w3i, y3i, w3r);
        }
    }
}
#endif

/* Final radix-2 stage of span 2 when log2(n) is odd. */
static void fft_stage_span2(float *x, uint32_t n)
{
    for (uint32_t b = 0; b < n; b += 2) {
        float *p = x + 2 * b;
        const float ar = p[0], ai = p[1], br = p[2], bi = p[3];
        p[0] = ar + br;
        p[1] = ai + bi;
        p[2] = ar - br;
        p[3] = ai - bi;
    }
}

void tml_frontend_fft(float *data, uint32_t n, const float *twiddles)
{
    uint32_t span = n;
    while (span >= 8) {
        fft_stage_radix4(data, n, span, twiddles);
        span /= 4;
    }
    if (span == 4) {
        fft_stage_span4(data, n);
    } else if (span == 2) {
        fft_stage_span2(data, n);
    }
}
