/*
 * Bench firmware for QEMU mps2-an386 (Cortex-M4F): runs a `tinyml compile` model on inputs read
 * over semihosting and writes outputs and instruction counts back (`tinyml bench`). Startup,
 * semihosting and the SysTick region timer are the board layer's (boards/common/cortex-m).
 *
 *   in  inputs.bin   int8 [n][TINYML_INPUT_SIZE]
 *   out outputs.bin  int8 [n][TINYML_OUTPUT_SIZE]
 *   out ticks.bin    uint32 [n][1 + TINYML_NUM_OPS]: SysTick ticks of the whole tinyml_invoke
 *                    (hooks off), then of each op (a second run with per-op hooks)
 * Each region restarts the timer, so under -icount shift=0 it counts exactly 40 instructions
 * per tick on every run. Exit code (SYS_EXIT_EXTENDED): 0 ok, 1 file error, 2 inference
 * error, 3 fault, 4 outputs of the two runs differ.
 */
#include <stdint.h>

#include "bench_hooks.h"
#include "model.h"
#include "tml_board.h"

volatile int tml_bench_per_op;
static uint32_t ticks[1 + TINYML_NUM_OPS];

void tml_bench_op_begin(int op_index)
{
    (void)op_index;
    tml_ticks_region_begin();
}

void tml_bench_op_end(int op_index)
{
    ticks[1 + op_index] = tml_ticks_region_elapsed();
}

/* Overrides the board layer's parking handler: report the fault to the host. */
void tml_hardfault_handler(void)
{
    tml_semihost_exit(3);
}

static int8_t input[TINYML_INPUT_SIZE];
static int8_t output[TINYML_OUTPUT_SIZE];
static int8_t output2[TINYML_OUTPUT_SIZE];

int main(void)
{
    const int in = tml_semihost_open("inputs.bin", 0);
    const int out = tml_semihost_open("outputs.bin", 1);
    const int out_t = tml_semihost_open("ticks.bin", 1);
    int i;
    if (in < 0 || out < 0 || out_t < 0) {
        tml_semihost_exit(1);
    }
    while (tml_semihost_read(in, input, sizeof input) == 0) {
        int status;
        tml_bench_per_op = 0;
        tml_ticks_region_begin();
        status = tinyml_invoke(input, output);
        ticks[0] = tml_ticks_region_elapsed();
        tml_bench_per_op = 1;
        status |= tinyml_invoke(input, output2);
        if (status != 0) {
            tml_semihost_exit(2);
        }
        for (i = 0; i < TINYML_OUTPUT_SIZE; ++i) {
            if (output[i] != output2[i]) {
                tml_semihost_exit(4);
            }
        }
        if (tml_semihost_write(out, output, sizeof output) != 0 ||
            tml_semihost_write(out_t, ticks, sizeof ticks) != 0) {
            tml_semihost_exit(1);
        }
    }
    tml_semihost_close(in);
    tml_semihost_close(out);
    tml_semihost_close(out_t);
    tml_semihost_exit(0);
    return 0;
}
