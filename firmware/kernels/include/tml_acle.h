/* Armv7E-M DSP intrinsics used by the optimised kernels (firmware/kernels/cortex_m4).
 *
 * On a core with the DSP extension (__ARM_FEATURE_DSP) these are the ACLE intrinsics of
 * <arm_acle.h>, one instruction each. Elsewhere (the host, Cortex-M0/M3) they are plain C with
 * the same results, so the optimised kernels build and are tested bit for bit on the host too.
 * Lanes: a 32-bit word holds two signed 16-bit halves, "bottom" (bits 0-15) and "top".
 */
#ifndef TML_ACLE_H
#define TML_ACLE_H

#include <stdint.h>
#include <string.h>

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#define TML_HAVE_DSP 1
#else
#define TML_HAVE_DSP 0
#endif

static inline int32_t tml_bottom16(int32_t x) { return (int32_t)(int16_t)(uint16_t)(uint32_t)x; }
static inline int32_t tml_top16(int32_t x) { return (int32_t)(int16_t)(uint16_t)((uint32_t)x >> 16); }

/* Halves from two int16 values. */
static inline int32_t tml_pack16(int32_t bottom, int32_t top)
{
    return (int32_t)(((uint32_t)(uint16_t)bottom) | ((uint32_t)(uint16_t)top << 16));
}

/* Load 4 bytes (any alignment) as one word, little-endian. */
static inline int32_t tml_read_s8x4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

#if TML_HAVE_DSP
/* SXTB16: bytes 0 and 2 sign-extended to the two halves. */
static inline int32_t tml_sxtb16(int32_t x) { return (int32_t)__sxtb16((uint32_t)x); }
/* SXTB16 with ROR #8: bytes 1 and 3 sign-extended to the two halves. */
static inline int32_t tml_sxtb16_ror8(int32_t x)
{
    int32_t r; /* GCC 12's <arm_acle.h> has no __ror and does not fold the rotation itself */
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}
/* SMLAD: acc + bottom(a)*bottom(b) + top(a)*top(b). */
static inline int32_t tml_smlad(int32_t a, int32_t b, int32_t acc) { return __smlad(a, b, acc); }
/* SMMLAR: acc + ((a * b + 2^31) >> 32), the high word of the rounded 64-bit product. */
static inline int32_t tml_smmlar(int32_t a, int32_t b, int32_t acc)
{
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}
/* SXTAB16: acc + SXTB16(x), per half (modulo 2^16). */
static inline int32_t tml_sxtab16(int32_t acc, int32_t x) { return (int32_t)__sxtab16(acc, x); }
/* SXTAB16 with ROR #8: acc + SXTB16(x ROR 8) (bytes 1 and 3), per half. */
static inline int32_t tml_sxtab16_ror8(int32_t acc, int32_t x)
{
    int32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(acc), "r"(x));
    return r;
}
/* SADD16: the two halves added separately (here: doubled). */
static inline int32_t tml_sadd16(int32_t a, int32_t b) { return (int32_t)__sadd16(a, b); }
static inline int32_t tml_smlabb(int32_t a, int32_t b, int32_t acc) { return __smlabb(a, b, acc); }
static inline int32_t tml_smlabt(int32_t a, int32_t b, int32_t acc) { return __smlabt(a, b, acc); }
static inline int32_t tml_smlatb(int32_t a, int32_t b, int32_t acc) { return __smlatb(a, b, acc); }
static inline int32_t tml_smlatt(int32_t a, int32_t b, int32_t acc) { return __smlatt(a, b, acc); }
/* SSAT #8: clamp to [-128, 127]. */
#define tml_ssat8(x) __ssat((x), 8)
#else
static inline int32_t tml_sxtb16(int32_t x)
{
    return tml_pack16((int8_t)(uint8_t)(uint32_t)x, (int8_t)(uint8_t)((uint32_t)x >> 16));
}
static inline int32_t tml_sxtb16_ror8(int32_t x)
{
    return tml_pack16((int8_t)(uint8_t)((uint32_t)x >> 8), (int8_t)(uint8_t)((uint32_t)x >> 24));
}
/* The DSP SMLAD accumulates modulo 2^32; so does this (via uint32). */
static inline int32_t tml_smlad(int32_t a, int32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(tml_bottom16(a) * tml_bottom16(b)) +
                     (uint32_t)(tml_top16(a) * tml_top16(b)));
}
static inline int32_t tml_smlabb(int32_t a, int32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(tml_bottom16(a) * tml_bottom16(b)));
}
static inline int32_t tml_smlabt(int32_t a, int32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(tml_bottom16(a) * tml_top16(b)));
}
static inline int32_t tml_smlatb(int32_t a, int32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(tml_top16(a) * tml_bottom16(b)));
}
static inline int32_t tml_smlatt(int32_t a, int32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(tml_top16(a) * tml_top16(b)));
}
static inline int32_t tml_ssat8(int32_t x) { return x < -128 ? -128 : (x > 127 ? 127 : x); }
static inline int32_t tml_smmlar(int32_t a, int32_t b, int32_t acc)
{
    const int64_t high = ((int64_t)a * b + ((int64_t)1 << 31)) >> 32; /* arithmetic shift */
    return (int32_t)((uint32_t)acc + (uint32_t)high);
}
static inline int32_t tml_sxtab16(int32_t acc, int32_t x)
{
    const int32_t b = tml_sxtb16(x);
    return tml_pack16(tml_bottom16(acc) + tml_bottom16(b), tml_top16(acc) + tml_top16(b));
}
static inline int32_t tml_sxtab16_ror8(int32_t acc, int32_t x)
{
    return tml_sxtab16(acc, (int32_t)(((uint32_t)x >> 8) | ((uint32_t)x << 24)));
}
static inline int32_t tml_sadd16(int32_t a, int32_t b)
{
    return tml_pack16(tml_bottom16(a) + tml_bottom16(b), tml_top16(a) + tml_top16(b));
}
#endif

#endif /* TML_ACLE_H */
