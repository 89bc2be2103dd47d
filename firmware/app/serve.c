/* Serial request loop: frames in, one reply per request (see firmware/protocol). */
#include <string.h>

#include "tml_app.h"
#include "tml_board.h"
#include "tml_protocol.h"

/* A partial frame older than this is dropped (the host resends after its own timeout). */
#define RX_TIMEOUT_TICKS ((uint64_t)TML_TICK_HZ / 2u)

static tml_receiver rx;
static uint8_t reply_frame[TML_PROTO_ENCODED_SIZE(TML_PROTO_MAX_PAYLOAD)]; /* last reply */
static size_t reply_frame_len;
static uint8_t error_frame[TML_PROTO_ENCODED_SIZE(5)];
static uint8_t payload[TML_PROTO_MAX_PAYLOAD];

static int have_last;
static uint8_t last_seq, last_type;
static uint32_t last_crc;

static union {
    int16_t pcm[TML_AUDIO_MAX_SAMPLES];
    int8_t features[TINYML_INPUT_SIZE];
    uint8_t bytes[1];
} input;
/* Compressed uploads land here and are decoded into input.pcm; the host sends raw PCM when
 * compression would not make it smaller, so this never needs more than the raw size. */
static uint8_t compressed[2u * TML_AUDIO_MAX_SAMPLES + 64u];
static uint8_t load_kind;
static uint32_t load_total, load_received;

static void send_error(uint8_t seq, uint8_t code, uint32_t detail) {
    uint8_t p[5];
    p[0] = code;
    tml_put_u32(p + 1, detail);
    /* Errors are not cached: a retried request that failed is executed again. */
    size_t n = tml_frame_encode(TML_MSG_ERROR, seq, p, sizeof p, error_frame);
    tml_uart_write(error_frame, n);
}

static void send_reply(const tml_frame *req, uint16_t length) {
    reply_frame_len = tml_frame_encode((uint8_t)(req->type | TML_MSG_REPLY), req->seq, payload,
                                       length, reply_frame);
    have_last = 1;
    last_seq = req->seq;
    last_type = req->type;
    last_crc = req->crc;
    tml_uart_write(reply_frame, reply_frame_len);
}

static size_t put_string(uint8_t *p, const char *s) {
    size_t n = strlen(s);
    if (n > 255u) {
        n = 255u;
    }
    p[0] = (uint8_t)n;
    memcpy(p + 1, s, n);
    return n + 1u;
}

static void handle_hello(const tml_frame *req) {
    uint8_t *p = payload;
    p[0] = TML_PROTO_VERSION;
    p[1] = TML_FW_VERSION_MAJOR;
    p[2] = TML_FW_VERSION_MINOR;
    p[3] = TML_FW_VERSION_PATCH;
    tml_put_u32(p + 4, TML_CLOCK_HZ);
    tml_put_u32(p + 8, TML_TICK_HZ);
    tml_put_u32(p + 12, TINYML_ARENA_BYTES);
    tml_put_u32(p + 16, TINYML_INPUT_SIZE);
    tml_put_u16(p + 20, TINYML_OUTPUT_SIZE);
    tml_put_u32(p + 22, tml_app_audio_samples());
    tml_put_u16(p + 26, TML_PROTO_MAX_PAYLOAD);
#ifdef TINYML_NUM_OPS
    tml_put_u16(p + 28, TINYML_NUM_OPS);
#else
    tml_put_u16(p + 28, 0);
#endif
    size_t n = 30;
    n += put_string(p + n, TML_BOARD_NAME);
#ifdef TINYML_MODEL_HASH
    n += put_string(p + n, TINYML_MODEL_HASH);
#else
    n += put_string(p + n, "");
#endif
#if defined(TINYML_NUM_LABELS) && TINYML_NUM_LABELS > 0
    static const char *const labels[] = TINYML_LABELS;
    p[n++] = (uint8_t)TINYML_NUM_LABELS;
    for (unsigned i = 0; i < TINYML_NUM_LABELS && n + 34u < sizeof payload; i++) {
        n += put_string(p + n, labels[i]);
    }
#else
    p[n++] = 0;
#endif
    send_reply(req, (uint16_t)n);
}

/* The upload kinds that arrive compressed (decoded at RUN). */
static int is_compressed(uint8_t kind) {
    return kind == TML_INPUT_AUDIO_RICE || kind == TML_INPUT_AUDIO_RICE_ORDER;
}

static void handle_load_begin(const tml_frame *req) {
    if (req->length != 5) {
        send_error(req->seq, TML_ERR_BAD_ARGS, req->length);
        return;
    }
    uint8_t kind = req->payload[0];
    uint32_t total = tml_get_u32(req->payload + 1);
    int ok = (kind == TML_INPUT_AUDIO && total % 2u == 0 && total > 0 &&
              total <= 2u * TML_AUDIO_MAX_SAMPLES) ||
             ((kind == TML_INPUT_AUDIO_RICE || kind == TML_INPUT_AUDIO_RICE_ORDER) &&
              total >= 4u && total <= sizeof compressed) ||
             (kind == TML_INPUT_FEATURES && total == TINYML_INPUT_SIZE);
    if (!ok) {
        load_kind = 0;
        send_error(req->seq, TML_ERR_BAD_ARGS, total);
        return;
    }
    load_kind = kind;
    load_total = total;
    load_received = 0;
    tml_put_u32(payload, 0);
    send_reply(req, 4);
}

static void handle_load_chunk(const tml_frame *req) {
    if (req->length < 4 || load_kind == 0) {
        send_error(req->seq, load_kind ? TML_ERR_BAD_ARGS : TML_ERR_NOT_LOADED, 0);
        return;
    }
    uint32_t offset = tml_get_u32(req->payload);
    uint32_t n = (uint32_t)req->length - 4u;
    if (offset < load_received && offset + n == load_received) {
        tml_put_u32(payload, load_received); /* a repeat of the chunk just stored */
        send_reply(req, 4);
        return;
    }
    if (offset != load_received || n > load_total - load_received) {
        send_error(req->seq, TML_ERR_BAD_OFFSET, load_received);
        return;
    }
    uint8_t *dest = is_compressed(load_kind) ? compressed : input.bytes;
    memcpy(dest + offset, req->payload + 4, n);
    load_received += n;
    tml_put_u32(payload, load_received);
    send_reply(req, 4);
}

static void handle_run(const tml_frame *req) {
    if (req->length != 6) {
        send_error(req->seq, TML_ERR_BAD_ARGS, req->length);
        return;
    }
    uint8_t kind = req->payload[0];
    uint8_t flags = req->payload[1];
    uint32_t crc = tml_get_u32(req->payload + 2);
    if (kind != load_kind || load_received != load_total) {
        send_error(req->seq, TML_ERR_NOT_LOADED, load_received);
        return;
    }
    const uint8_t *loaded = is_compressed(kind) ? compressed : input.bytes;
    if (tml_crc32_update(0, loaded, load_total) != crc) {
        /* The host re-sends the input: a corrupted upload never produces a result. */
        load_kind = 0;
        send_error(req->seq, TML_ERR_INPUT_CRC, 0);
        return;
    }
    tml_result result;
    memset(&result, 0, sizeof result);
    if (kind == TML_INPUT_AUDIO) {
        tml_app_run_audio(input.pcm, load_total / 2u, &result);
    } else if (is_compressed(kind)) {
        long samples =
            kind == TML_INPUT_AUDIO_RICE
                ? tml_rice_decode(compressed, load_total, input.pcm, TML_AUDIO_MAX_SAMPLES)
                : tml_rice_decode_orders(compressed, load_total, input.pcm, TML_AUDIO_MAX_SAMPLES);
        if (samples <= 0) {
            load_kind = 0;
            send_error(req->seq, TML_ERR_BAD_ARGS, (uint32_t)load_total);
            return;
        }
        tml_app_run_audio(input.pcm, (uint32_t)samples, &result);
    } else {
        tml_app_run_features(input.features, &result);
    }
    if (result.status != 0) {
        send_error(req->seq, TML_ERR_MODEL, (uint32_t)result.status);
        return;
    }
    uint8_t *p = payload;
    p[0] = 0;
    p[1] = result.top;
    p[2] = TINYML_OUTPUT_SIZE;
    p[3] = 0;
    tml_put_u32(p + 4, result.feature_ticks);
    tml_put_u32(p + 8, result.invoke_ticks);
    memcpy(p + 12, result.scores, TINYML_OUTPUT_SIZE);
    size_t n = 12u + TINYML_OUTPUT_SIZE;
    uint16_t nfeat = (kind != TML_INPUT_FEATURES && (flags & TML_RUN_RETURN_FEATURES))
                         ? (uint16_t)TINYML_INPUT_SIZE
                         : 0u;
    tml_put_u16(p + n, nfeat);
    n += 2;
    memcpy(p + n, tml_app_features(), nfeat);
    n += nfeat;
    send_reply(req, (uint16_t)n);
}

static void handle(const tml_frame *req) {
    if (have_last && req->seq == last_seq && req->type == last_type && req->crc == last_crc) {
        tml_uart_write(reply_frame, reply_frame_len); /* a repeat: the reply was lost */
        return;
    }
    switch (req->type) {
    case TML_MSG_HELLO:
        handle_hello(req);
        break;
    case TML_MSG_PING:
        memcpy(payload, req->payload, req->length);
        send_reply(req, req->length);
        break;
    case TML_MSG_RESET:
        send_reply(req, 0);
        tml_board_reset();
        break;
    case TML_MSG_LOAD_BEGIN:
        handle_load_begin(req);
        break;
    case TML_MSG_LOAD_CHUNK:
        handle_load_chunk(req);
        break;
    case TML_MSG_RUN:
        handle_run(req);
        break;
    default:
        send_error(req->seq, TML_ERR_UNKNOWN_TYPE, req->type);
        break;
    }
}

void tml_app_serve(void) {
    tml_receiver_reset(&rx);
    uint64_t last_byte_at = tml_ticks_now();
    for (;;) {
        uint8_t byte;
        if (tml_uart_read(&byte)) {
            last_byte_at = tml_ticks_now();
            tml_frame frame;
            uint8_t code, seq;
            int status = tml_receiver_push(&rx, byte, &frame, &code, &seq);
            if (status == TML_RX_FRAME) {
                handle(&frame);
            } else if (status == TML_RX_ERROR) {
                send_error(seq, code, 0);
            }
        } else if (rx.len > 0 && tml_ticks_now() > last_byte_at + RX_TIMEOUT_TICKS) {
            tml_receiver_abandon(&rx);
            send_error(0, TML_ERR_TIMEOUT, 0);
        } else {
            tml_board_idle();
        }
    }
}
