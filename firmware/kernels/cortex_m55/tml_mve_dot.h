/* Cortex-M55 (MVE) int8 dot products shared by the 1x1 and im2col convolutions: one pixel's
 * k int8 values (x) against out_c weight rows of k values, four rows per pass (16 products per
 * VMLADAVA, one input load for four rows, a VCTP-predicated tail), requantized with the M4
 * kernels' folded constants (tml_kernels_m4.h). Elsewhere (the host) plain C loops compute the
 * same sums. */
#ifndef TML_MVE_DOT_H
#define TML_MVE_DOT_H

#include "tml_acle.h"
#include "tml_kernels_m4.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define TML_HAVE_MVE 1
#else
#define TML_HAVE_MVE 0
#endif

/* sum_k x[k] * w[k], k < n: one row (the channels left after the groups of four; on the host
 * every row). */
static inline int32_t dot1_s8(const int8_t *x, const int8_t *w, int32_t n)
{
    int32_t acc = 0, k = 0;
#if TML_HAVE_MVE
    for (; k + 16 <= n; k += 16) {
        acc = vmladavaq_s8(acc, vldrbq_s8(x + k), vldrbq_s8(w + k));
    }
    if (k < n) {
        const mve_pred16_t p = vctp8q((uint32_t)(n - k));
        acc = vmladavaq_p_s8(acc, vldrbq_z_s8(x + k, p), vldrbq_z_s8(w + k, p), p);
    }
#else
    for (; k < n; ++k) {
        acc += (int32_t)x[k] * (int32_t)w[k];
    }
#endif
    return acc;
}

/* acc[i] = sum_k x[k] * w[i * n + k] for four weight rows (raw int8 values, n % 4 == 0): each
 * 16 inputs are loaded once for four VMLADAVA, a predicated tail takes the last n % 16. */
static inline void dot4_s8(const int8_t *x, const int8_t *w, int32_t n, int32_t acc[4])
{
#if TML_HAVE_MVE
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, k = 0;
    for (; k + 16 <= n; k += 16) {
        const int8x16_t xv = vldrbq_s8(x + k);
        a0 = vmladavaq_s8(a0, xv, vldrbq_s8(w + k));
        a1 = vmladavaq_s8(a1, xv, vldrbq_s8(w + n + k));
        a2 = vmladavaq_s8(a2, xv, vldrbq_s8(w + 2 * n + k));
        a3 = vmladavaq_s8(a3, xv, vldrbq_s8(w + 3 * n + k));
    }
    if (k < n) {
        const mve_pred16_t p = vctp8q((uint32_t)(n - k));
        const int8x16_t xv = vldrbq_z_s8(x + k, p);
        a0 = vmladavaq_p_s8(a0, xv, vldrbq_z_s8(w + k, p), p);
        a1 = vmladavaq_p_s8(a1, xv, vldrbq_z_s8(w + n + k, p), p);
        a2 = vmladavaq_p_s8(a2, xv, vldrbq_z_s8(w + 2 * n + k, p), p);
        a3 = vmladavaq_p_s8(a3, xv, vldrbq_z_s8(w + 3 * n + k, p), p);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
#else
    int32_t i;
    for (i = 0; i < 4; ++i) {
        acc[i] = dot1_s8(x, w + i * n, n);
    }
#endif
}

/* The int8 output of one channel (the SMMLAR form of tml_kernels_m4.h, then the clamp). */
static inline int8_t requant(int32_t dot, const tml_m4_requant *rq, int32_t lo, int32_t hi)
{
    const int32_t v = tml_smmlar(rq->bias2 + 2 * dot, rq->multiplier, rq->round_add) >>
                      tml_m4_shift(rq);
    return (int8_t)(v < lo ? lo : (v > hi ? hi : v));
}

/* out[c] for every output channel c of one pixel (k % 4 == 0). */
static inline void tml_mve_pixel(const int8_t *x, const int8_t *filter, int32_t k, int32_t out_c,
                                 const tml_m4_requant *rq, int32_t lo, int32_t hi, int8_t *out)
{
    int32_t c;
    for (c = 0; c + 4 <= out_c; c += 4) {
        int32_t acc[4];
        dot4_s8(x, filter + c * k, k, acc);
        out[c] = requant(acc[0], &rq[c], lo, hi);
        out[c + 1] = requant(acc[1], &rq[c + 1], lo, hi);
        out[c + 2] = requant(acc[2], &rq[c + 2], lo, hi);
        out[c + 3] = requant(acc[3], &rq[c + 3], lo, hi);
    }
    for (; c < out_c; ++c) {
        out[c] = requant(dot1_s8(x, filter + c * k, k), &rq[c], lo, hi);
    }
}

#endif /* TML_MVE_DOT_H */
