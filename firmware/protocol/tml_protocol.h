/* tinyml serial protocol, version 1 (the host side is host/link.py).
 *
 * A frame on the wire is COBS-encoded and ends with a 0x00 byte, so a receiver resynchronises
 * at the next zero after any corruption. Decoded, a frame is
 *
 *   version u8 | type u8 | seq u8 | flags u8 | length u16 LE | payload[length] | CRC-32 u32 LE
 *
 * with the CRC-32 (IEEE 802.3, reflected, init and xorout 0xFFFFFFFF) over everything before
 * it. Every request gets exactly one reply carrying the same seq and type | 0x80 (or
 * TML_MSG_ERROR); the host sends the next request only after the reply, which is the flow
 * control a UART without backpressure needs. A repeated request (same seq, type and CRC) gets
 * the cached reply again without being executed twice.
 */
#ifndef TML_PROTOCOL_H
#define TML_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#define TML_PROTO_VERSION 1u
#define TML_PROTO_HEADER_BYTES 6u
#define TML_PROTO_CRC_BYTES 4u
#ifndef TML_PROTO_MAX_PAYLOAD
#define TML_PROTO_MAX_PAYLOAD 4096u
#endif
#define TML_PROTO_MAX_FRAME (TML_PROTO_HEADER_BYTES + TML_PROTO_MAX_PAYLOAD + TML_PROTO_CRC_BYTES)
/* COBS adds one byte per 254 plus one; the delimiter is extra. */
#define TML_PROTO_MAX_ENCODED (TML_PROTO_MAX_FRAME + TML_PROTO_MAX_FRAME / 254u + 4u)

enum tml_msg_type {
    TML_MSG_HELLO = 0x01,      /* -> INFO */
    TML_MSG_PING = 0x02,       /* payload echoed back */
    TML_MSG_RESET = 0x03,      /* reply, then system reset */
    TML_MSG_LOAD_BEGIN = 0x10, /* kind u8, total bytes u32 */
    TML_MSG_LOAD_CHUNK = 0x11, /* offset u32, data; reply: bytes received u32 */
    TML_MSG_RUN = 0x12,        /* kind u8, flags u8, CRC-32 of the whole input u32 -> RESULT */
    TML_MSG_REPLY = 0x80,      /* reply type = request type | 0x80 */
    TML_MSG_ERROR = 0xFF,      /* code u8, detail u32 */
};

enum tml_input_kind {
    TML_INPUT_AUDIO = 1,    /* int16 PCM, little-endian */
    TML_INPUT_FEATURES = 2, /* int8 model input */
    TML_INPUT_AUDIO_RICE = 3, /* int16 PCM, losslessly compressed (see rice.c) */
    TML_INPUT_AUDIO_RICE_ORDER = 4, /* the same with a predictor order per block (rice.c) */
};

enum tml_run_flags {
    TML_RUN_RETURN_FEATURES = 1u << 0, /* append the int8 features to the RESULT */
};

enum tml_error_code {
    TML_ERR_CRC = 1,          /* frame CRC mismatch */
    TML_ERR_FRAMING = 2,      /* COBS or length field invalid */
    TML_ERR_TOO_LONG = 3,     /* frame longer than TML_PROTO_MAX_FRAME */
    TML_ERR_VERSION = 4,      /* unknown protocol version */
    TML_ERR_UNKNOWN_TYPE = 5, /* request type not served */
    TML_ERR_BAD_ARGS = 6,     /* payload malformed for its type */
    TML_ERR_BAD_OFFSET = 7,   /* chunk not at the next offset; detail = bytes received */
    TML_ERR_NOT_LOADED = 8,   /* RUN before the whole input arrived; detail = bytes received */
    TML_ERR_INPUT_CRC = 9,    /* input CRC differs from the one the host sent */
    TML_ERR_TIMEOUT = 10,     /* a partial frame was abandoned */
    TML_ERR_MODEL = 11,       /* the model or the frontend failed; detail = their status */
};

/* CRC-32 (IEEE), incremental: crc = tml_crc32_update(0, ...) for a fresh one. */
uint32_t tml_crc32_update(uint32_t crc, const uint8_t *data, size_t len);

/* COBS. encode returns the encoded length (no delimiter); decode returns the decoded length or
 * -1 when the input holds a zero or a truncated block. Decoding in place (out == in) works. */
size_t tml_cobs_encode(const uint8_t *in, size_t len, uint8_t *out);
long tml_cobs_decode(const uint8_t *in, size_t len, uint8_t *out);

/* A decoded request. payload points into the receiver's buffer until the next frame. */
typedef struct {
    uint8_t type;
    uint8_t seq;
    uint8_t flags;
    uint16_t length;
    const uint8_t *payload;
    uint32_t crc;
} tml_frame;

/* Receiver: feed bytes one at a time. Returns TML_RX_NONE while a frame is incomplete,
 * TML_RX_FRAME when *frame holds a valid request, or TML_RX_ERROR with *error and *seq set
 * (seq 0 when unknown) for a frame that must be answered with an error. */
enum tml_rx_status { TML_RX_NONE = 0, TML_RX_FRAME = 1, TML_RX_ERROR = 2 };

typedef struct {
    uint8_t buf[TML_PROTO_MAX_ENCODED];
    size_t len;
    int overflow;
} tml_receiver;

void tml_receiver_reset(tml_receiver *rx);
int tml_receiver_push(tml_receiver *rx, uint8_t byte, tml_frame *frame, uint8_t *error,
                      uint8_t *seq);
/* Discard a partial frame (after a receive timeout). Returns 1 if there was one. */
int tml_receiver_abandon(tml_receiver *rx);

/* Bytes tml_frame_encode needs in its output buffer for a payload of n bytes. */
#define TML_PROTO_ENCODED_SIZE(n)                                                              \
    ((TML_PROTO_HEADER_BYTES + (size_t)(n) + TML_PROTO_CRC_BYTES) * 255u / 254u + 4u)

/* Build an encoded frame (COBS plus a leading and trailing 0x00) into out, which must hold
 * TML_PROTO_ENCODED_SIZE(length) bytes. Returns its length. payload must not overlap out. */
size_t tml_frame_encode(uint8_t type, uint8_t seq, const uint8_t *payload, uint16_t length,
                        uint8_t *out);

/* Lossless PCM decoding (rice.c): returns the number of samples, or -1 for a malformed stream
 * or more than max_samples. tml_rice_decode reads TML_INPUT_AUDIO_RICE streams (first-order
 * prediction), tml_rice_decode_orders TML_INPUT_AUDIO_RICE_ORDER streams (order 0-3 per block). */
#define TML_RICE_BLOCK 128u
#define TML_RICE_ESCAPE 32u
long tml_rice_decode(const uint8_t *in, size_t len, int16_t *out, size_t max_samples);
long tml_rice_decode_orders(const uint8_t *in, size_t len, int16_t *out, size_t max_samples);

/* Little-endian helpers. */
static inline uint32_t tml_get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint16_t tml_get_u16(const uint8_t *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline void tml_put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void tml_put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

#endif
