/* Features + model for one clip, timed with the board's tick source. */
#include "tml_app.h"

#include "tml_board.h"
#include "tml_frontend.h"

static float frontend_scratch[(TML_FRONTEND_SCRATCH_BYTES + 3u) / sizeof(float)];
static int8_t features[TINYML_INPUT_SIZE];

uint32_t tml_app_audio_samples(void) { return (uint32_t)tml_frontend_default.clip_samples; }

const int8_t *tml_app_features(void) { return features; }

int tml_app_init(void) {
    return tml_frontend_scratch_bytes(&tml_frontend_default) <= sizeof frontend_scratch ? 0 : -1;
}

static uint8_t argmax(const int8_t *scores, uint32_t n) {
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++) {
        if (scores[i] > scores[best]) {
            best = i;
        }
    }
    return (uint8_t)best;
}

void tml_app_run_features(const int8_t *input, tml_result *out) {
    tml_ticks_region_begin();
    int status = tinyml_invoke(input, out->scores);
    out->invoke_ticks = tml_ticks_region_elapsed();
    out->status = status;
    out->top = argmax(out->scores, TINYML_OUTPUT_SIZE);
}

void tml_app_run_audio(const int16_t *pcm, uint32_t num_samples, tml_result *out) {
    tml_ticks_region_begin();
    int status = tml_frontend_compute(&tml_frontend_default, pcm, num_samples, frontend_scratch,
                                      features);
    out->feature_ticks = tml_ticks_region_elapsed();
    if (status != 0) {
        out->status = status;
        out->invoke_ticks = 0;
        out->top = 0;
        return;
    }
    tml_app_run_features(features, out);
}
