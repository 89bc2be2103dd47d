/*
 * tinyml audio frontend: int16 PCM clip -> int8 MFCC features [num_frames][num_coefficients].
 *
 * One implementation, compiled into the firmware and into the Python extension
 * toolchain.frontend._frontend, so training and device features are the same bits.
 *
 * Pipeline per frame: frame (window_samples every stride_samples) -> periodic Hann window ->
 * real FFT of fft_length (a fft_length/2-point complex radix-4 FFT plus a split step) ->
 * magnitude of the bins the mel filterbank uses -> sparse mel filterbank -> scale by the
 * waveform normalisation -> log(mel + log_offset) -> DCT-II rows (only the coefficients kept)
 * -> int8 quantization q = clamp(round_half_away(mfcc / output_scale) + output_zero_point).
 *
 * Determinism: only IEEE-754 single +, -, *, /, sqrt in a fixed order and our own log, so any
 * conforming compiler and FPU give the same bits. Build WITHOUT fused multiply-add contraction
 * (-ffp-contract=off; the sources also say so with a GCC pragma) and without -ffast-math.
 * No heap, no libm. Tables (window, twiddles, mel weights, DCT) are generated from a feature
 * spec by toolchain.frontend (emit_c writes frontend_tables.c/.h for the device).
 */
#ifndef TML_FRONTEND_H
#define TML_FRONTEND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Return codes of tml_frontend_compute*. */
#define TML_FRONTEND_OK 0
#define TML_FRONTEND_ERR_NULL (-1)      /* a NULL pointer argument */
#define TML_FRONTEND_ERR_CONFIG (-2)    /* inconsistent sizes in the config */
#define TML_FRONTEND_ERR_ALIGNMENT (-3) /* scratch not 4-byte aligned */

/* Waveform normalisation before the spectrum (applied after the mel filterbank, which is
 * linear, so it costs num_mel_bins multiplies per frame instead of one per sample). */
typedef enum {
    /* x / 32768 */
    TML_FRONTEND_NORM_FULL_SCALE = 0,
    /* x / max(x) (the largest sample value, not the largest magnitude). When max(x) <= 0 the
     * divisor is max|x| instead, and 1 for an all-zero clip, so every clip gives finite features. */
    TML_FRONTEND_NORM_DIVIDE_BY_MAX = 1
} tml_frontend_normalization;

typedef struct tml_frontend_config {
    uint32_t clip_samples;     /* samples per clip; shorter input is zero-padded at the end,
                                  longer input is cropped at the end */
    uint32_t window_samples;   /* frame length */
    uint32_t stride_samples;   /* frame step */
    uint32_t fft_length;       /* real FFT length, power of two >= 4, >= window_samples */
    uint32_t num_frames;       /* frames per clip: 1 + (clip_samples - window_samples) / stride */
    uint32_t first_bin;        /* first spectrum bin with a nonzero mel weight */
    uint32_t num_bins;         /* spectrum bins computed: first_bin .. first_bin + num_bins - 1 */
    uint32_t num_mel_bins;     /* mel bands */
    uint32_t num_coefficients; /* DCT coefficients kept (the first ones) */
    uint32_t normalization;    /* a tml_frontend_normalization */
    float log_offset;          /* log(mel + log_offset) */
    float output_scale;        /* int8 quantization of the MFCCs (the model's input tensor) */
    int32_t output_zero_point;
    const float *window;         /* [window_samples]: periodic Hann times 0.5 (the split step's 1/2) */
    const float *fft_twiddles;   /* [fft_length/8][3][re,im]: exp(-2 pi i m j / (fft_length/2)), m=1..3 */
    const uint16_t *split_order; /* [num_bins][2]: FFT output positions of Z[k], Z[(h-k) mod h] */
    const float *split_twiddles; /* [num_bins][re,im]: -i exp(-2 pi i k / fft_length), k from first_bin */
    const uint16_t *mel_start;   /* [num_mel_bins]: first spectrum bin of each band */
    const uint16_t *mel_count;   /* [num_mel_bins]: nonzero weights of each band */
    const float *mel_weights;    /* [sum(mel_count)]: nonzero weights, band after band */
    const float *dct;            /* [num_coefficients][num_mel_bins]: DCT-II rows, scaled */
} tml_frontend_config;

/* Bytes of scratch tml_frontend_compute needs (4-byte aligned); 0 for an invalid config. */
size_t tml_frontend_scratch_bytes(const tml_frontend_config *cfg);

/* Features of one clip: out_features[num_frames * num_coefficients], frame-major.
 * num_samples may differ from clip_samples (see clip_samples). Returns TML_FRONTEND_OK or an
 * error code. */
int tml_frontend_compute(const tml_frontend_config *cfg, const int16_t *pcm, size_t num_samples,
                         void *scratch, int8_t *out_features);

/* The same before quantization: float MFCCs [num_frames * num_coefficients] (for debugging and
 * float models). */
int tml_frontend_compute_float(const tml_frontend_config *cfg, const int16_t *pcm,
                               size_t num_samples, void *scratch, float *out_mfcc);

/* Natural logarithm, deterministic (no libm): within ~1 ulp for normal and subnormal x > 0;
 * returns -1e30f for x <= 0 or NaN (never reached by the frontend, whose log_offset > 0). */
float tml_frontend_logf(float x);

/* In-place complex FFT (forward, unnormalised) of n = 2^p interleaved (re, im) values:
 * radix-4 decimation-in-frequency stages, then one radix-2 stage when p is odd. The output
 * is in digit-reversed order (the split step reads it through split_order). */
void tml_frontend_fft(float *data, uint32_t n, const float *twiddles);

#ifdef __cplusplus
}
#endif

#endif /* TML_FRONTEND_H */
