/*
 * Included first by every frontend source: forbids contracting a * b + c into a fused
 * multiply-add, whatever flags the build uses (GCC's default in GNU C mode is to contract, and
 * Cortex-M4F has VFMA while baseline x86-64 has none: the results would differ in the last bit).
 */
#ifndef TML_FRONTEND_FP_STRICT_H
#define TML_FRONTEND_FP_STRICT_H

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#if defined(__FAST_MATH__)
#error "the audio frontend must not be built with -ffast-math (host and device bits would differ)"
#endif

/* acc + a * b and acc - a * b with the product rounded before the addition (never fused), i.e.
 * exactly the C expressions below. Arm VFP's VMLA/VMLS are such chained (not fused) operations
 * and do it in one instruction; GCC does not emit them by itself under fp-contract=off. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__ARM_FP) && (__ARM_FP & 4) && \
    defined(__thumb2__)
#define TML_FRONTEND_ARM_VFP 1 /* single-precision VFP: hand-scheduled paths may be used */
#endif

#if defined(TML_FRONTEND_ARM_VFP)
static inline float tml_mla(float acc, float a, float b)
{
    __asm__("vmla.f32 %0, %1, %2" : "+t"(acc) : "t"(a), "t"(b));
    return acc;
}
static inline float tml_mls(float acc, float a, float b)
{
    __asm__("vmls.f32 %0, %1, %2" : "+t"(acc) : "t"(a), "t"(b));
    return acc;
}
#else
static inline float tml_mla(float acc, float a, float b)
{
    return acc + a * b;
}
static inline float tml_mls(float acc, float a, float b)
{
    return acc - a * b;
}
#endif

#endif /* TML_FRONTEND_FP_STRICT_H */
