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

#endif /* TML_FRONTEND_FP_STRICT_H */
