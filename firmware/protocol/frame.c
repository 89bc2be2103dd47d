/* Frame receiver and encoder for the tinyml serial protocol (see tml_protocol.h). */
#include "tml_protocol.h"

void tml_receiver_reset(tml_receiver *rx) {
    rx->len = 0;
    rx->overflow = 0;
}

int tml_receiver_abandon(tml_receiver *rx) {
    int had = rx->len > 0 || rx->overflow;
    tml_receiver_reset(rx);
    return had;
}

static int finish_frame(tml_receiver *rx, tml_frame *frame, uint8_t *error, uint8_t *seq) {
    *seq = 0;
    long n = tml_cobs_decode(rx->buf, rx->len, rx->buf);
    if (n < 0 || (size_t)n < TML_PROTO_HEADER_BYTES + TML_PROTO_CRC_BYTES) {
        *error = TML_ERR_FRAMING;
        return TML_RX_ERROR;
    }
    const uint8_t *f = rx->buf;
    size_t body = (size_t)n - TML_PROTO_CRC_BYTES;
    uint32_t crc = tml_get_u32(f + body);
    if (tml_crc32_update(0, f, body) != crc) {
        *error = TML_ERR_CRC;
        return TML_RX_ERROR;
    }
    *seq = f[2];
    if (f[0] != TML_PROTO_VERSION) {
        *error = TML_ERR_VERSION;
        return TML_RX_ERROR;
    }
    uint16_t length = tml_get_u16(f + 4);
    if ((size_t)length != body - TML_PROTO_HEADER_BYTES) {
        *error = TML_ERR_FRAMING;
        return TML_RX_ERROR;
    }
    frame->type = f[1];
    frame->seq = f[2];
    frame->flags = f[3];
    frame->length = length;
    frame->payload = f + TML_PROTO_HEADER_BYTES;
    frame->crc = crc;
    return TML_RX_FRAME;
}

int tml_receiver_push(tml_receiver *rx, uint8_t byte, tml_frame *frame, uint8_t *error,
                      uint8_t *seq) {
    if (byte != 0) {
        if (rx->len < sizeof rx->buf) {
            rx->buf[rx->len++] = byte;
        } else {
            rx->overflow = 1;
        }
        return TML_RX_NONE;
    }
    /* Delimiter: an empty frame is just resynchronisation. */
    int status = TML_RX_NONE;
    if (rx->overflow) {
        *error = TML_ERR_TOO_LONG;
        *seq = 0;
        status = TML_RX_ERROR;
    } else if (rx->len > 0) {
        status = finish_frame(rx, frame, error, seq);
    }
    rx->len = 0;
    rx->overflow = 0;
    return status;
}

size_t tml_frame_encode(uint8_t type, uint8_t seq, const uint8_t *payload, uint16_t length,
                        uint8_t *out) {
    /* Assemble the raw frame at the end of out, then COBS-encode it to the front: the encoded
     * form is never shorter, and the encoder reads ahead of where it writes. */
    size_t raw_len = TML_PROTO_HEADER_BYTES + (size_t)length + TML_PROTO_CRC_BYTES;
    uint8_t *raw = out + TML_PROTO_ENCODED_SIZE(length) - raw_len;
    raw[0] = TML_PROTO_VERSION;
    raw[1] = type;
    raw[2] = seq;
    raw[3] = 0;
    tml_put_u16(raw + 4, length);
    for (uint16_t i = 0; i < length; i++) {
        raw[TML_PROTO_HEADER_BYTES + i] = payload[i];
    }
    tml_put_u32(raw + TML_PROTO_HEADER_BYTES + length,
                tml_crc32_update(0, raw, TML_PROTO_HEADER_BYTES + length));
    out[0] = 0;
    size_t n = tml_cobs_encode(raw, raw_len, out + 1);
    out[1 + n] = 0;
    return n + 2;
}
