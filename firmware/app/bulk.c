/* Bulk mode: clips from a host file through semihosting, results to another file. The same
 * tml_app_run_audio as the serial path computes every clip; only the transport differs.
 *
 * Input: clips back to back, each tml_app_audio_samples() int16 little-endian samples.
 * Output, one record per clip: status u8, top u8, num_scores u8, 0 u8, feature_ticks u32,
 * invoke_ticks u32, scores int8[num_scores], features int8[TINYML_INPUT_SIZE]. */
#include <string.h>

#include "tml_app.h"
#include "tml_board.h"
#include "tml_protocol.h"


static int16_t clip[TML_AUDIO_MAX_SAMPLES];
static uint8_t record[12u + TINYML_OUTPUT_SIZE + TINYML_INPUT_SIZE];

int tml_app_bulk(const char *input_path, const char *output_path) {
    uint32_t samples = tml_app_audio_samples();
    if (samples > TML_AUDIO_MAX_SAMPLES) {
        return 3;
    }
    int in = tml_semihost_open(input_path, 0);
    int out = tml_semihost_open(output_path, 1);
    if (in < 0 || out < 0) {
        return 2;
    }
    size_t clip_bytes = samples * sizeof(int16_t);
    while (tml_semihost_read(in, clip, clip_bytes) == 0) {
        tml_result result;
        memset(&result, 0, sizeof result);
        tml_app_run_audio(clip, samples, &result);
        record[0] = (uint8_t)(result.status != 0);
        record[1] = result.top;
        record[2] = TINYML_OUTPUT_SIZE;
        record[3] = 0;
        tml_put_u32(record + 4, result.feature_ticks);
        tml_put_u32(record + 8, result.invoke_ticks);
        memcpy(record + 12, result.scores, TINYML_OUTPUT_SIZE);
        memcpy(record + 12 + TINYML_OUTPUT_SIZE, tml_app_features(), TINYML_INPUT_SIZE);
        if (tml_semihost_write(out, record, sizeof record) != 0) {
            return 4;
        }
    }
    tml_semihost_close(in);
    tml_semihost_close(out);
    return 0;
}
