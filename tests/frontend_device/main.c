/*
 * Bare-metal test program for QEMU mps2-an386 (Cortex-M4F): runs the audio frontend of
 * firmware/frontend on clips read over semihosting and writes the features back, so the test
 * can compare them with the host extension bit for bit. Startup, semihosting and the SysTick
 * region timer are the board layer's (boards/common/cortex-m).
 *
 *   in  pcm.bin       per clip: uint32 num_samples, int16 [TML_FRONTEND_CLIP_SAMPLES] (samples
 *                     past num_samples are ignored: the frontend pads/crops by its rule)
 *   out features.bin  int8  [clips][frames][coefficients]   (tml_frontend_compute)
 *   out mfcc.bin      float [clips][frames][coefficients]   (tml_frontend_compute_float)
 *   out ticks.bin     uint32 [clips]: SysTick ticks of tml_frontend_compute (under QEMU
 *                     -icount shift=0 one tick is 40 instructions)
 * Exit code (SYS_EXIT_EXTENDED): 0 ok, 1 file error, 2 frontend error, 3 fault.
 */
#include <stdint.h>

#include "frontend_tables.h"
#include "tml_board.h"
#include "tml_frontend.h"

/* Overrides the board layer's parking handler: report the fault to the host. */
void tml_hardfault_handler(void)
{
    tml_semihost_exit(3);
}

static int16_t pcm[TML_FRONTEND_CLIP_SAMPLES];
static float scratch[TML_FRONTEND_SCRATCH_BYTES / sizeof(float)];
static int8_t features[TML_FRONTEND_NUM_FRAMES * TML_FRONTEND_NUM_COEFFICIENTS];
static float mfcc[TML_FRONTEND_NUM_FRAMES * TML_FRONTEND_NUM_COEFFICIENTS];

int main(void)
{
    const int in = tml_semihost_open("pcm.bin", 0);
    const int out_q = tml_semihost_open("features.bin", 1);
    const int out_f = tml_semihost_open("mfcc.bin", 1);
    const int out_t = tml_semihost_open("ticks.bin", 1);
    if (in < 0 || out_q < 0 || out_f < 0 || out_t < 0) {
        tml_semihost_exit(1);
    }
    uint32_t num_samples;
    while (tml_semihost_read(in, &num_samples, sizeof num_samples) == 0) {
        if (tml_semihost_read(in, pcm, sizeof pcm) != 0 ||
            num_samples > TML_FRONTEND_CLIP_SAMPLES) {
            tml_semihost_exit(1);
        }
        tml_ticks_region_begin();
        const int err = tml_frontend_compute(&tml_frontend_default, pcm, num_samples, scratch,
                                             features);
        const uint32_t ticks = tml_ticks_region_elapsed();
        if (err != TML_FRONTEND_OK ||
            tml_frontend_compute_float(&tml_frontend_default, pcm, num_samples, scratch, mfcc) !=
                TML_FRONTEND_OK) {
            tml_semihost_exit(2);
        }
        if (tml_semihost_write(out_q, features, sizeof features) != 0 ||
            tml_semihost_write(out_f, mfcc, sizeof mfcc) != 0 ||
            tml_semihost_write(out_t, &ticks, sizeof ticks) != 0) {
            tml_semihost_exit(1);
        }
    }
    tml_semihost_close(in);
    tml_semihost_close(out_q);
    tml_semihost_close(out_f);
    tml_semihost_close(out_t);
    tml_semihost_exit(0);
    return 0;
}
