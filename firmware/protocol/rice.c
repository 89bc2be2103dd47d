/* Lossless audio compression for the upload (host encoder: host/codec.py).
 *
 * Stream: num_samples u32 LE, then a bit stream read least-significant bit first. Samples go
 * in blocks of TML_RICE_BLOCK; each block starts with its Rice parameter k (4 bits). Each sample
 * is coded as its first-order residual r = x[i] - x[i-1] (x[-1] = 0), zigzag-mapped to
 * z = 2r (r >= 0) or -2r - 1, as q = z >> k one-bits and a zero bit followed by the k low bits
 * of z; when q >= TML_RICE_ESCAPE the code is TML_RICE_ESCAPE one-bits and z in 17 bits.
 * Speech compresses about 2:1, which halves the serial time per clip. */
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

long tml_rice_decode(const uint8_t *in, size_t len, int16_t *out, size_t max_samples) {
    if (len < 4) {
        return -1;
    }
    uint32_t n = tml_get_u32(in);
    if (n > max_samples || len - 4u > 0x1FFFFFFFu) {
        return -1;
    }
    bit_reader br = {in + 4, (uint32_t)(len - 4u) * 8u, 0};
    int32_t prev = 0;
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (i % TML_RICE_BLOCK == 0 && read_bits(&br, 4, &k) != 0) {
            return -1;
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
            if (read_bits(&br, 17, &z) != 0) {
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
        int32_t x = prev + r;
        if (x < -32768 || x > 32767) {
            return -1;
        }
        out[i] = (int16_t)x;
        prev = x;
    }
    return (long)n;
}
