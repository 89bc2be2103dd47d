/* Per-op instruction counting for the QEMU runner (passed as TINYML_HOOKS_HEADER). */
#ifndef DEVICE_HOOKS_H
#define DEVICE_HOOKS_H
void device_op_begin(int op_index);
void device_op_end(int op_index);
#define TINYML_OP_BEGIN(op_index) device_op_begin(op_index)
#define TINYML_OP_END(op_index) device_op_end(op_index)
#endif
