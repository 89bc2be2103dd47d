/* Per-op instruction counting for the bench firmware (included into the generated model.c via
 * TINYML_HOOKS_HEADER). Each op restarts SysTick at TINYML_OP_BEGIN and reads it at
 * TINYML_OP_END; under QEMU -icount shift=0 one tick is 40 instructions, exactly repeatable when
 * the counter is restarted at the start of a region. */
#ifndef TML_BENCH_HOOKS_H
#define TML_BENCH_HOOKS_H

#include <stdint.h>

extern volatile int tml_bench_per_op;
void tml_bench_op_begin(int op_index);
void tml_bench_op_end(int op_index);

#define TINYML_OP_BEGIN(op_index)                                                             \
    do {                                                                                      \
        if (tml_bench_per_op) {                                                               \
            tml_bench_op_begin(op_index);                                                     \
        }                                                                                     \
    } while (0)
#define TINYML_OP_END(op_index)                                                               \
    do {                                                                                      \
        if (tml_bench_per_op) {                                                               \
            tml_bench_op_end(op_index);                                                       \
        }                                                                                     \
    } while (0)

#endif /* TML_BENCH_HOOKS_H */
