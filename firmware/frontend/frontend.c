/* MFCC features of one clip: framing, window, real FFT, magnitude, mel, log, DCT, int8. */
#include "fp_strict.h"

#include "logf_impl.h"
#include "tml_frontend.h"

#include <string.h>

/* Square root: one IEEE instruction on both targets, without libm's errno path. */
static inline float frontend_sqrtf(float x)
{
#if defined(__ARM_FP) && (__ARM_FP & 4) && defined(__GNUC__)
    float r;
    __asm__("vsqrt.f32 %0, %1" : "=t"(r) : "t"(x));
    return r;
#else
    return __builtin_sqrtf(x); /* the host build uses -fno-math-errno: a single sqrtss */
#endif
}

static int is_power_of_two(uint32_t v)
{
    return v != 0 && (v & (v - 1)) == 0;
}

static int config_is_valid(const tml_frontend_config *cfg)
{
    if (cfg->window == 0 || cfg->fft_twiddles == 0 || cfg->split_order == 0 ||
        cfg->split_twiddles == 0 || cfg->mel_start == 0 || cfg->mel_count == 0 ||
        cfg->mel_weights == 0 || cfg->dct == 0) {
        return 0;
    }
    if (!is_power_of_two(cfg->fft_length) || cfg->fft_length < 4 || cfg->fft_length > 65536 ||
        cfg->window_samples == 0 || cfg->window_samples > cfg->fft_length ||
        cfg->stride_samples == 0 || cfg->clip_samples < cfg->window_samples ||
        cfg->num_frames != 1 + (cfg->clip_samples - cfg->window_samples) / cfg->stride_samples ||
        cfg->num_bins == 0 || cfg->first_bin + cfg->num_bins > cfg->fft_length / 2 + 1 ||
        cfg->num_mel_bins == 0 || cfg->num_coefficients == 0 ||
        cfg->num_coefficients > cfg->num_mel_bins || !(cfg->output_scale > 0.0f) ||
        !(cfg->log_offset >= 1.17549435e-38f) || !(cfg->log_offset < 1e30f) ||
        cfg->normalization > TML_FRONTEND_NORM_DIVIDE_BY_MAX) {
        return 0;
    }
    for (uint32_t b = 0; b < cfg->num_mel_bins; ++b) {
        if (cfg->mel_start[b] < cfg->first_bin ||
            cfg->mel_start[b] + cfg->mel_count[b] > cfg->first_bin + cfg->num_bins) {
            return 0;
        }
    }
    return 1;
}

/* Scratch layout (floats): FFT buffer [fft_length], magnitudes [num_bins], log-mel
 * [num_mel_bins], MFCCs [num_coefficients]. */
size_t tml_frontend_scratch_bytes(const tml_frontend_config *cfg)
{
    if (cfg == 0 || !config_is_valid(cfg)) {
        return 0;
    }
    return sizeof(float) *
           ((size_t)cfg->fft_length + cfg->num_bins + cfg->num_mel_bins + cfg->num_coefficients);
}

#if defined(__ARM_FEATURE_SIMD32) && defined(__GNUC__)
/* SSUB16 sets the GE flags per halfword where acc - x >= 0, SEL then picks per halfword: with
 * (acc, x) the larger halves, with (x, acc) the smaller. Eight samples per TML_EXTREME_8,
 * sixteen per step of TML_EXTREME_LOOP. */
#define TML_EXTREME_8(sel_operands)                                                         \
    "ldrd %[a], %[b], [%[src]], #8\n\t"                                                     \
    "ldrd %[c], %[d], [%[src]], #8\n\t"                                                     \
    "ssub16 %[t], %[acc], %[a]\n\t"                                                         \
    "sel %[acc], " sel_operands("a") "\n\t"                                                 \
    "ssub16 %[t], %[acc], %[b]\n\t"                                                         \
    "sel %[acc], " sel_operands("b") "\n\t"                                                 \
    "ssub16 %[t], %[acc], %[c]\n\t"                                                         \
    "sel %[acc], " sel_operands("c") "\n\t"                                                 \
    "ssub16 %[t], %[acc], %[d]\n\t"                                                         \
    "sel %[acc], " sel_operands("d") "\n\t"
#define TML_EXTREME_LOOP(sel_operands)                                                      \
    __asm__ volatile("1:\n\t" TML_EXTREME_8(sel_operands) TML_EXTREME_8(sel_operands)       \
                     "subs %[steps], %[steps], #1\n\t"                                      \
                     "bne 1b"                                                               \
                     : [acc] "+r"(packed), [src] "+r"(src), [steps] "+r"(steps),             \
                       [a] "=&r"(a), [b] "=&r"(b), [c] "=&r"(c), [d] "=&r"(d), [t] "=&r"(t) \
                     :                                                                      \
                     : "cc", "memory")
#define TML_SEL_LARGER(x) "%[acc], %[" x "]"
#define TML_SEL_SMALLER(x) "%[" x "], %[acc]"
#endif

/* Largest sample value, or the smallest when `smallest` (two samples per word on Armv7E-M). */
static int32_t extreme_sample(const int16_t *pcm, size_t n, int smallest)
{
    int32_t best = smallest ? 32767 : -32768;
    size_t i = 0;
#if defined(__ARM_FEATURE_SIMD32) && defined(__GNUC__)
    if (((uintptr_t)pcm & 3u) != 0 && n > 0) {
        best = pcm[0]; /* the words start at the next sample */
        i = 1;
    }
    const uint32_t blocks = (uint32_t)((n - i) / 16);
    if (blocks > 0) {
        uint32_t steps = blocks;
        uint32_t packed = smallest ? 0x7fff7fffu : 0x80008000u;
        const int16_t *src = pcm + i;
        uint32_t a, b, c, d, t;
        if (smallest) {
            TML_EXTREME_LOOP(TML_SEL_SMALLER);
        } else {
            TML_EXTREME_LOOP(TML_SEL_LARGER);
        }
        i += 16u * (size_t)blocks;
        const int32_t lo = (int16_t)(packed & 0xffffu), hi = (int16_t)(packed >> 16);
        const int32_t word_best = smallest ? (lo < hi ? lo : hi) : (lo > hi ? lo : hi);
        best = smallest ? (word_best < best ? word_best : best)
                        : (word_best > best ? word_best : best);
    }
#endif
    for (; i < n; ++i) {
        const int32_t v = pcm[i];
        best = smallest ? (v < best ? v : best) : (v > best ? v : best);
    }
    return best;
}

/* 1 / divisor of the waveform normalisation (see tml_frontend_normalization). */
static float normalization_gain(const tml_frontend_config *cfg, const int16_t *pcm, size_t n)
{
    if (cfg->normalization == TML_FRONTEND_NORM_FULL_SCALE) {
        return 1.0f / 32768.0f;
    }
    if (n == 0) {
        return 1.0f;
    }
    int32_t divisor = extreme_sample(pcm, n, 0);
    if (divisor <= 0) { /* all samples <= 0: the largest magnitude, or 1 when all are 0 */
        const int32_t trough = extreme_sample(pcm, n, 1);
        divisor = trough == 0 ? 1 : -trough;
    }
    return 1.0f / (float)divisor;
}

/* Windowed frame as fft_length/2 complex values (even samples real, odd imaginary), padded
 * with zeros past the window and past the end of the input. */
static void load_frame(const tml_frontend_config *cfg, const int16_t *pcm, size_t avail,
                       size_t start, float *buf)
{
    const uint32_t len = cfg->window_samples;
    const float *w = cfg->window;
    uint32_t i = 0;
    if (start + len <= avail) {
        const int16_t *x = pcm + start;
#if defined(TML_FRONTEND_ARM_VFP)
        if (((uintptr_t)x & 3u) == 0 && len >= 8) {
            /* Eight samples per step: two LDRD, convert, window, one VSTM (the same
             * int -> float conversion and single multiply as the C below). */
            const int16_t *src = x;
            const float *win = w;
            float *dst = buf;
            uint32_t steps = len / 8;
            __asm__ volatile(
                "1:\n\t"
                "ldrd r4, r5, [%[src]], #8\n\t"
                "asr r6, r4, #16\n\t"
                "asr r12, r5, #16\n\t"
                "vmov s0, s1, r4, r6\n\t"
                "vmov s2, s3, r5, r12\n\t"
                "ldrd r4, r5, [%[src]], #8\n\t"
                "asr r6, r4, #16\n\t"
                "asr r12, r5, #16\n\t"
                "vmov s4, s5, r4, r6\n\t"
                "vmov s6, s7, r5, r12\n\t"
                "vcvt.f32.s16 s0, s0, #0\n\t"
                "vcvt.f32.s32 s1, s1\n\t"
                "vcvt.f32.s16 s2, s2, #0\n\t"
                "vcvt.f32.s32 s3, s3\n\t"
                "vcvt.f32.s16 s4, s4, #0\n\t"
                "vcvt.f32.s32 s5, s5\n\t"
                "vcvt.f32.s16 s6, s6, #0\n\t"
                "vcvt.f32.s32 s7, s7\n\t"
                "vldmia %[win]!, {s8-s15}\n\t"
                "vmul.f32 s0, s0, s8\n\t"
                "vmul.f32 s1, s1, s9\n\t"
                "vmul.f32 s2, s2, s10\n\t"
                "vmul.f32 s3, s3, s11\n\t"
                "vmul.f32 s4, s4, s12\n\t"
                "vmul.f32 s5, s5, s13\n\t"
                "vmul.f32 s6, s6, s14\n\t"
                "vmul.f32 s7, s7, s15\n\t"
                "vstmia %[dst]!, {s0-s7}\n\t"
                "subs %[steps], %[steps], #1\n\t"
                "bne 1b"
                : [src] "+r"(src), [win] "+r"(win), [dst] "+r"(dst), [steps] "+r"(steps)
                :
                : "cc", "memory", "r4", "r5", "r6", "r12", "s0", "s1", "s2", "s3", "s4", "s5",
                  "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15");
            i = len & ~7u;
        }
#endif
        for (; i + 1 < len; i += 2) {
            buf[i] = (float)x[i] * w[i];
            buf[i + 1] = (float)x[i + 1] * w[i + 1];
        }
    }
    for (; i < len; ++i) {
        buf[i] = (start + i < avail) ? (float)pcm[start + i] * w[i] : 0.0f;
    }
    for (; i < cfg->fft_length; ++i) {
        buf[i] = 0.0f;
    }
}

/* |X[k]| for the used bins from the half-size complex FFT Z of the (halved) windowed frame:
 * X[k] = (Z[k] + conj Z[h-k]) - i W^k (Z[k] - conj Z[h-k]), h = fft_length / 2, W = e^(-2 pi i/N). */
static void split_magnitudes(const tml_frontend_config *cfg, const float *z, float *mag)
{
    const uint16_t *pos = cfg->split_order;
    const float *t = cfg->split_twiddles;
    uint32_t j = 0;
#if defined(TML_FRONTEND_ARM_VFP)
    /* The same operations as the C loop below, two bins per step: bin j in s0-s5, s8-s12,
     * s26, s30; bin j+1 in s13-s22, s6-s7 (twiddles), s31; one store for both magnitudes. */
    if (cfg->num_bins >= 2) {
        uint32_t n = cfg->num_bins / 2;
        const uint16_t *p = pos;
        const float *tw = t;
        float *out = mag;
        __asm__ volatile(
            "1:\n\t"
            "ldr r4, [%[p]], #4\n\t"        /* positions of Z[k] (low) and Z[h-k] (high) */
            "uxth r5, r4\n\t"
            "lsr r4, r4, #16\n\t"
            "add r5, %[z], r5, lsl #3\n\t"
            "add r4, %[z], r4, lsl #3\n\t"
            "vldmia r5, {s0-s1}\n\t"        /* a = Z[k] */
            "vldmia r4, {s2-s3}\n\t"        /* b = Z[h-k] */
            "ldr r4, [%[p]], #4\n\t"        /* the same for bin j+1 */
            "uxth r5, r4\n\t"
            "lsr r4, r4, #16\n\t"
            "add r5, %[z], r5, lsl #3\n\t"
            "add r4, %[z], r4, lsl #3\n\t"
            "vldmia r5, {s13-s14}\n\t"
            "vldmia r4, {s15-s16}\n\t"
            "vldmia %[tw]!, {s4-s7}\n\t"    /* t of bins j and j+1 */
            "vadd.f32 s8, s0, s2\n\t"       /* sr = ar + br */
            "vsub.f32 s9, s1, s3\n\t"       /* si = ai - bi */
            "vsub.f32 s10, s0, s2\n\t"      /* dr = ar - br */
            "vadd.f32 s11, s1, s3\n\t"      /* di = ai + bi */
            "vmul.f32 s12, s10, s4\n\t"     /* dr tr - di ti */
            "vmls.f32 s12, s11, s5\n\t"
            "vmul.f32 s26, s10, s5\n\t"     /* dr ti + di tr */
            "vmla.f32 s26, s11, s4\n\t"
            "vadd.f32 s12, s8, s12\n\t"     /* xr */
            "vadd.f32 s26, s9, s26\n\t"     /* xi */
            "vmul.f32 s30, s12, s12\n\t"
            "vmla.f32 s30, s26, s26\n\t"
            "vsqrt.f32 s30, s30\n\t"
            "vadd.f32 s17, s13, s15\n\t"    /* bin j+1 */
            "vsub.f32 s18, s14, s16\n\t"
            "vsub.f32 s19, s13, s15\n\t"
            "vadd.f32 s20, s14, s16\n\t"
            "vmul.f32 s21, s19, s6\n\t"
            "vmls.f32 s21, s20, s7\n\t"
            "vmul.f32 s22, s19, s7\n\t"
            "vmla.f32 s22, s20, s6\n\t"
            "vadd.f32 s21, s17, s21\n\t"
            "vadd.f32 s22, s18, s22\n\t"
            "vmul.f32 s31, s21, s21\n\t"
            "vmla.f32 s31, s22, s22\n\t"
            "vsqrt.f32 s31, s31\n\t"
            "vstmia %[out]!, {s30-s31}\n\t"
            "subs %[n], %[n], #1\n\t"
            "bne 1b"
            : [p] "+r"(p), [tw] "+r"(tw), [out] "+r"(out), [n] "+r"(n)
            : [z] "r"(z)
            : "cc", "memory", "r4", "r5", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8",
              "s9", "s10", "s11", "s12", "s13", "s14", "s15", "s16", "s17", "s18", "s19", "s20",
              "s21", "s22", "s26", "s30", "s31");
        j = cfg->num_bins & ~1u;
    }
#endif
    for (; j < cfg->num_bins; ++j) {
        const float *a = z + 2 * pos[2 * j];
        const float *b = z + 2 * pos[2 * j + 1];
        const float sr = a[0] + b[0], si = a[1] - b[1]; /* Z[k] + conj Z[h-k] */
        const float dr = a[0] - b[0], di = a[1] + b[1]; /* Z[k] - conj Z[h-k] */
        const float tr = t[2 * j], ti = t[2 * j + 1];
        const float xr = sr + tml_mls(dr * tr, di, ti);
        const float xi = si + tml_mla(dr * ti, di, tr);
        mag[j] = frontend_sqrtf(tml_mla(xr * xr, xi, xi));
    }
}

/* sum s[i] w[i], i ascending (one mel band) */
static inline float dot_ascending(const float *s, const float *w, uint32_t count)
{
    float acc = 0.0f;
#if defined(TML_FRONTEND_ARM_VFP)
    uint32_t pairs = count / 2;
    if (pairs > 0) {
        __asm__ volatile(
            "1:\n\t"
            "vldmia %[s]!, {s0-s1}\n\t"
            "vldmia %[w]!, {s2-s3}\n\t"
            "vmla.f32 %[acc], s0, s2\n\t"
            "vmla.f32 %[acc], s1, s3\n\t"
            "subs %[n], %[n], #1\n\t"
            "bne 1b"
            : [acc] "+t"(acc), [s] "+r"(s), [w] "+r"(w), [n] "+r"(pairs)
            :
            : "cc", "memory", "s0", "s1", "s2", "s3");
        count &= 1u;
    }
#endif
    for (uint32_t i = 0; i < count; ++i) {
        acc = tml_mla(acc, s[i], w[i]);
    }
    return acc;
}

/* out0 = sum row0[b] v[b], out1 = sum row1[b] v[b], b ascending (two DCT rows) */
static inline void dot2_ascending(const float *row0, const float *row1, const float *v,
                                  uint32_t count, float *out0, float *out1)
{
    float acc0 = 0.0f, acc1 = 0.0f;
#if defined(TML_FRONTEND_ARM_VFP)
    uint32_t quads = count / 4;
    if (quads > 0) {
        __asm__ volatile(
            "1:\n\t"
            "vldmia %[v]!, {s8-s11}\n\t"
            "vldmia %[r0]!, {s0-s3}\n\t"
            "vldmia %[r1]!, {s4-s7}\n\t"
            "vmla.f32 %[a0], s0, s8\n\t"
            "vmla.f32 %[a1], s4, s8\n\t"
            "vmla.f32 %[a0], s1, s9\n\t"
            "vmla.f32 %[a1], s5, s9\n\t"
            "vmla.f32 %[a0], s2, s10\n\t"
            "vmla.f32 %[a1], s6, s10\n\t"
            "vmla.f32 %[a0], s3, s11\n\t"
            "vmla.f32 %[a1], s7, s11\n\t"
            "subs %[n], %[n], #1\n\t"
            "bne 1b"
            : [a0] "+t"(acc0), [a1] "+t"(acc1), [v] "+r"(v), [r0] "+r"(row0), [r1] "+r"(row1),
              [n] "+r"(quads)
            :
            : "cc", "memory", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10",
              "s11");
        count &= 3u;
    }
#endif
    for (uint32_t b = 0; b < count; ++b) {
        acc0 = tml_mla(acc0, row0[b], v[b]);
        acc1 = tml_mla(acc1, row1[b], v[b]);
    }
    *out0 = acc0;
    *out1 = acc1;
}

/* Float MFCCs of one frame into out[num_coefficients]. */
static void frame_mfcc(const tml_frontend_config *cfg, float gain, float *scratch, float *out)
{
    float *z = scratch;
    float *mag = z + cfg->fft_length;
    float *logmel = mag + cfg->num_bins;
    tml_frontend_fft(z, cfg->fft_length / 2, cfg->fft_twiddles);
    split_magnitudes(cfg, z, mag);

    const float *w = cfg->mel_weights;
    const float *spectrum = mag - cfg->first_bin; /* indexed by absolute bin */
    for (uint32_t b = 0; b < cfg->num_mel_bins; ++b) {
        const float *s = spectrum + cfg->mel_start[b];
        const uint32_t count = cfg->mel_count[b];
        const float acc = dot_ascending(s, w, count);
        w += count;
        logmel[b] = frontend_logf_normal(tml_mla(cfg->log_offset, acc, gain));
    }

    /* DCT rows two at a time: one load of each log-mel value serves both */
    const uint32_t bands = cfg->num_mel_bins;
    uint32_t c = 0;
    for (; c + 2 <= cfg->num_coefficients; c += 2) {
        const float *row0 = cfg->dct + (size_t)c * bands;
        dot2_ascending(row0, row0 + bands, logmel, bands, &out[c], &out[c + 1]);
    }
    if (c < cfg->num_coefficients) {
        out[c] = dot_ascending(cfg->dct + (size_t)c * bands, logmel, bands);
    }
}

static int check_args(const tml_frontend_config *cfg, const int16_t *pcm, size_t num_samples,
                      const void *scratch, const void *out)
{
    if (cfg == 0 || scratch == 0 || out == 0 || (pcm == 0 && num_samples != 0)) {
        return TML_FRONTEND_ERR_NULL;
    }
    if (((uintptr_t)scratch & 3u) != 0) {
        return TML_FRONTEND_ERR_ALIGNMENT;
    }
    if (!config_is_valid(cfg)) {
        return TML_FRONTEND_ERR_CONFIG;
    }
    return TML_FRONTEND_OK;
}

int tml_frontend_compute_float(const tml_frontend_config *cfg, const int16_t *pcm,
                               size_t num_samples, void *scratch, float *out_mfcc)
{
    const int err = check_args(cfg, pcm, num_samples, scratch, out_mfcc);
    if (err != TML_FRONTEND_OK) {
        return err;
    }
    const size_t avail = num_samples < cfg->clip_samples ? num_samples : cfg->clip_samples;
    const float gain = normalization_gain(cfg, pcm, avail);
    for (uint32_t f = 0; f < cfg->num_frames; ++f) {
        load_frame(cfg, pcm, avail, (size_t)f * cfg->stride_samples, (float *)scratch);
        frame_mfcc(cfg, gain, (float *)scratch, out_mfcc + (size_t)f * cfg->num_coefficients);
    }
    return TML_FRONTEND_OK;
}

/* round_half_away(v / scale) + zero_point, saturated to int8. */
static int8_t quantize(float v, float scale, int32_t zero_point)
{
    float q = v / scale;
    if (!(q > -512.0f)) { /* also catches NaN */
        q = -512.0f;
    } else if (q > 512.0f) {
        q = 512.0f;
    }
    int32_t r = (int32_t)q; /* toward zero, exact below 2^23 */
    const float frac = q - (float)r;
    if (frac >= 0.5f) {
        r += 1;
    } else if (frac <= -0.5f) {
        r -= 1;
    }
    r += zero_point;
    return (int8_t)(r < -128 ? -128 : (r > 127 ? 127 : r));
}

int tml_frontend_compute(const tml_frontend_config *cfg, const int16_t *pcm, size_t num_samples,
                         void *scratch, int8_t *out_features)
{
    const int err = check_args(cfg, pcm, num_samples, scratch, out_features);
    if (err != TML_FRONTEND_OK) {
        return err;
    }
    const size_t avail = num_samples < cfg->clip_samples ? num_samples : cfg->clip_samples;
    const float gain = normalization_gain(cfg, pcm, avail);
    float *mfcc = (float *)scratch + cfg->fft_length + cfg->num_bins + cfg->num_mel_bins;
    for (uint32_t f = 0; f < cfg->num_frames; ++f) {
        int8_t *out = out_features + (size_t)f * cfg->num_coefficients;
        load_frame(cfg, pcm, avail, (size_t)f * cfg->stride_samples, (float *)scratch);
        frame_mfcc(cfg, gain, (float *)scratch, mfcc);
        for (uint32_t c = 0; c < cfg->num_coefficients; ++c) {
            out[c] = quantize(mfcc[c], cfg->output_scale, cfg->output_zero_point);
        }
    }
    return TML_FRONTEND_OK;
}
