/* Natural logarithm without libm (glibc and newlib logf differ in the last bit); inlined into
 * the frontend, exported as tml_frontend_logf. */
#ifndef TML_FRONTEND_LOGF_IMPL_H
#define TML_FRONTEND_LOGF_IMPL_H

#include "fp_strict.h"

#include <stdint.h>
#include <string.h>

/* log(x) for x = 2^k * (bits as float), x positive, finite and normal except for the scaling
 * already folded into k. The core shared by both entry points below. */
static inline float frontend_logf_core(uint32_t bits, int32_t k)
{
    /* ln 2 split so that k * LN2_HI is exact for |k| < 2^8 (LN2_HI has 15 trailing zero bits). */
    static const float LN2_HI = 6.9313812256e-01f; /* 0x3f317180 */
    static const float LN2_LO = 9.0580006145e-06f; /* 0x3717f7d1 */
    /* log(1 + f) = f - f^2/2 + s (f^2/2 + R), s = f / (2 + f), R = 2 s^2/3 + 2 s^4/5 + ... */
    static const float C1 = 6.6666668653e-01f, C2 = 4.0000000596e-01f;
    static const float C3 = 2.8571429849e-01f, C4 = 2.2222222388e-01f;
    static const float C5 = 1.8181818724e-01f;
    k += (int32_t)(bits >> 23) - 127;
    bits = (bits & 0x007fffffu) | 0x3f800000u; /* mantissa m in [1, 2) */
    if (bits > 0x3fb504f3u) {                  /* m > sqrt(2): use m / 2 in [0.707, 1) */
        bits -= 0x00800000u;
        k += 1;
    }
    float m;
    memcpy(&m, &bits, sizeof m);
    const float f = m - 1.0f; /* exact */
    const float s = f / (2.0f + f);
    const float z = s * s;
    const float r = z * tml_mla(C1, z, tml_mla(C2, z, tml_mla(C3, z, tml_mla(C4, z, C5))));
    const float hfsq = 0.5f * f * f;
    const float dk = (float)k;
    /* k ln2_hi + (f - (hfsq - (s (hfsq + r) + k ln2_lo))) */
    return tml_mla(f - (hfsq - tml_mla(s * (hfsq + r), dk, LN2_LO)), dk, LN2_HI);
}


/* log(x) for a positive normal finite x (the frontend's log(mel + log_offset), log_offset >=
 * FLT_MIN): no special cases. Same bits as frontend_logf for such x. */
static inline float frontend_logf_normal(float x)
{
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    return frontend_logf_core(bits, 0);
}

/* log(x) for any float: -1e30f for x <= 0 or NaN, +inf for +inf, subnormals scaled first. */
static inline float frontend_logf(float x)
{
    if (!(x > 0.0f)) {
        return -1e30f; /* x <= 0 or NaN */
    }
    if (x > 3.4028234664e+38f) {
        return x; /* +inf */
    }
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    int32_t k = 0;
    if (bits < 0x00800000u) { /* subnormal: scale by 2^25 */
        x *= 33554432.0f;
        memcpy(&bits, &x, sizeof bits);
        k = -25;
    }
    return frontend_logf_core(bits, k);
}

#endif /* TML_FRONTEND_LOGF_IMPL_H */
