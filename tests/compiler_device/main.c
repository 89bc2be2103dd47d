/*
 * Bare-metal runner for a generated model on QEMU mps2-an386 (Cortex-M4F). Reads int8 inputs
 * over semihosting, runs tinyml_invoke, writes the outputs and instruction counts back.
 * Startup, semihosting and the SysTick tick source are the board layer's
 * (boards/common/cortex-m).
 *
 *   in  inputs.bin   int8 [N][TINYML_INPUT_SIZE]
 *   out outputs.bin  int8 [N][TINYML_OUTPUT_SIZE]
 *   out ticks.bin    uint32 [N]: SysTick ticks of one tinyml_invoke (tml_ticks_now, which
 *                    keeps counting across the per-op restarts)
 *   out op_ticks.bin uint32 [N][TINYML_NUM_OPS]: ticks of the region from TINYML_OP_BEGIN
 *                    (a timer restart) to TINYML_OP_END
 * Under QEMU -icount shift=0 one SysTick tick is 40 guest instructions.
 * Exit code: 0 ok, 1 file error, 2 invoke error, 3 fault.
 */
#include <stdint.h>

#include "device_hooks.h"
#include "model.h"
#include "tml_board.h"

uint32_t device_op_ticks[TINYML_NUM_OPS];

void device_op_begin(int op_index)
{
    (void)op_index;
    tml_ticks_region_begin();
}

void device_op_end(int op_index)
{
    device_op_ticks[op_index] = tml_ticks_region_elapsed();
}

/* Overrides the board layer's parking handler: report the fault to the host. */
void tml_hardfault_handler(void)
{
    tml_semihost_exit(3);
}

static int8_t input[TINYML_INPUT_SIZE];
static int8_t output[TINYML_OUTPUT_SIZE];

int main(void)
{
    const int in = tml_semihost_open("inputs.bin", 0);
    const int out = tml_semihost_open("outputs.bin", 1);
    const int out_t = tml_semihost_open("ticks.bin", 1);
    const int out_op = tml_semihost_open("op_ticks.bin", 1);
    if (in < 0 || out < 0 || out_t < 0 || out_op < 0) {
        tml_semihost_exit(1);
    }
    tml_ticks_region_begin();
    while (tml_semihost_read(in, input, sizeof input) == 0) {
        const uint64_t start = tml_ticks_now();
        const int status = tinyml_invoke(input, output);
        const uint32_t ticks = (uint32_t)(tml_ticks_now() - start);
        if (status != 0) {
            tml_semihost_exit(2);
        }
        if (tml_semihost_write(out, output, sizeof output) != 0 ||
            tml_semihost_write(out_t, &ticks, sizeof ticks) != 0 ||
            tml_semihost_write(out_op, device_op_ticks, sizeof device_op_ticks) != 0) {
            tml_semihost_exit(1);
        }
    }
    tml_semihost_exit(0);
    return 0;
}
