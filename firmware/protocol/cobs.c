/* Consistent Overhead Byte Stuffing: removes every 0x00 so that 0x00 can delimit frames. */
#include "tml_protocol.h"

size_t tml_cobs_encode(const uint8_t *in, size_t len, uint8_t *out) {
    size_t code_at = 0; /* where the current block's length byte goes */
    size_t o = 1;
    uint8_t code = 1;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == 0) {
            out[code_at] = code;
            code_at = o++;
            code = 1;
        } else {
            out[o++] = in[i];
            if (++code == 0xFF) {
                out[code_at] = code;
                code_at = o++;
                code = 1;
            }
        }
    }
    out[code_at] = code;
    return o;
}

long tml_cobs_decode(const uint8_t *in, size_t len, uint8_t *out) {
    size_t i = 0;
    size_t o = 0;
    while (i < len) {
        uint8_t code = in[i++];
        if (code == 0 || i + (size_t)(code - 1) > len) {
            return -1;
        }
        for (uint8_t k = 1; k < code; k++) {
            uint8_t b = in[i++];
            if (b == 0) {
                return -1;
            }
            out[o++] = b;
        }
        if (code != 0xFF && i < len) {
            out[o++] = 0;
        }
    }
    return (long)o;
}
