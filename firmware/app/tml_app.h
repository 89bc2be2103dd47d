/* The application core: one clip in, scores out. Shared by the serial loop and the bulk
 * (semihosting) path so that both run exactly the same code. */
#ifndef TML_APP_H
#define TML_APP_H

#include <stddef.h>
#include <stdint.h>

#include "frontend_tables.h" /* generated: tml_frontend_default and its sizes */
#include "model.h"            /* generated: tinyml_invoke and the model sizes */

/* Samples one clip holds; the input buffers are sized for it. */
#define TML_AUDIO_MAX_SAMPLES TML_FRONTEND_CLIP_SAMPLES

#ifndef TML_FW_VERSION_MAJOR
#define TML_FW_VERSION_MAJOR 0
#define TML_FW_VERSION_MINOR 1
#define TML_FW_VERSION_PATCH 0
#endif

typedef struct {
    int8_t scores[TINYML_OUTPUT_SIZE];
    uint8_t top;              /* index of the largest score (first one on ties) */
    uint32_t feature_ticks;   /* tick-source periods spent computing features (0: none) */
    uint32_t invoke_ticks;    /* tick-source periods spent in tinyml_invoke */
    int status;               /* 0, or the failing step's status */
} tml_result;

/* Number of int16 samples one clip holds (from the frontend configuration). */
uint32_t tml_app_audio_samples(void);

/* Model input of the last tml_app_run_audio call (TINYML_INPUT_SIZE int8). */
const int8_t *tml_app_features(void);

/* Check the scratch memory against what the frontend needs; 0 when ready. */
int tml_app_init(void);

/* Features from PCM, then the model. */
void tml_app_run_audio(const int16_t *pcm, uint32_t num_samples, tml_result *out);

/* The model only, on int8 features. */
void tml_app_run_features(const int8_t *features, tml_result *out);

/* Serial request loop; never returns. */
void tml_app_serve(void);

/* Bulk mode over semihosting: returns the exit code. */
int tml_app_bulk(const char *input_path, const char *output_path);

#endif
