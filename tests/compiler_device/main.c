/*
 * Bare-metal runner for a generated model on QEMU mps2-an386 (Cortex-M4F). Reads int8 inputs
 * over semihosting, runs tinyml_invoke, writes the outputs and instruction counts back.
 *
 *   in  inputs.bin   int8 [N][TINYML_INPUT_SIZE]
 *   out outputs.bin  int8 [N][TINYML_OUTPUT_SIZE]
 *   out ticks.bin    uint32 [N]: SysTick ticks of one tinyml_invoke
 *   out op_ticks.bin uint32 [N][TINYML_NUM_OPS]: ticks between TINYML_OP_BEGIN and _END
 * Under QEMU -icount shift=0 one SysTick tick is 40 guest instructions.
 * Exit code: 0 ok, 1 file error, 2 invoke error, 3 fault.
 */
#include <stdint.h>

#include "model.h"
#include "device_hooks.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)

static int semihost(int op, void *arg)
{
    register int r0 __asm__("r0") = op;
    register void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static int file_open(const char *name, uint32_t mode)
{
    uint32_t len = 0;
    uint32_t block[3];
    while (name[len] != '\0') {
        ++len;
    }
    block[0] = (uint32_t)name;
    block[1] = mode;
    block[2] = len;
    return semihost(0x01, block);
}

static int file_io(int op, int fd, const void *buf, uint32_t n) /* 0 = all bytes moved */
{
    uint32_t block[3];
    block[0] = (uint32_t)fd;
    block[1] = (uint32_t)buf;
    block[2] = n;
    return semihost(op, block);
}

static void __attribute__((noreturn)) finish(int code)
{
    uint32_t block[2];
    block[0] = 0x20026u; /* ADP_Stopped_ApplicationExit */
    block[1] = (uint32_t)code;
    semihost(0x20, block);
    for (;;) {
    }
}

uint32_t device_op_ticks[TINYML_NUM_OPS];
static uint32_t op_start;

void device_op_begin(int op_index)
{
    (void)op_index;
    op_start = SYST_CVR;
}

void device_op_end(int op_index)
{
    device_op_ticks[op_index] = (op_start - SYST_CVR) & 0x00FFFFFFu;
}

static int8_t input[TINYML_INPUT_SIZE];
static int8_t output[TINYML_OUTPUT_SIZE];

int main(void)
{
    const int in = file_open("inputs.bin", 1 /* rb */);
    const int out = file_open("outputs.bin", 5 /* wb */);
    const int out_t = file_open("ticks.bin", 5);
    const int out_op = file_open("op_ticks.bin", 5);
    if (in < 0 || out < 0 || out_t < 0 || out_op < 0) {
        finish(1);
    }
    SYST_RVR = 0x00FFFFFFu;
    SYST_CVR = 0;
    SYST_CSR = 0x5u; /* enable, processor clock, no interrupt */
    while (file_io(0x06, in, input, sizeof input) == 0) {
        const uint32_t start = SYST_CVR;
        const int status = tinyml_invoke(input, output);
        const uint32_t ticks = (start - SYST_CVR) & 0x00FFFFFFu;
        if (status != 0) {
            finish(2);
        }
        if (file_io(0x05, out, output, sizeof output) != 0 ||
            file_io(0x05, out_t, &ticks, sizeof ticks) != 0 ||
            file_io(0x05, out_op, device_op_ticks, sizeof device_op_ticks) != 0) {
            finish(1);
        }
    }
    finish(0);
}

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;

void Reset_Handler(void)
{
    const uint32_t *src = &_sidata;
    uint32_t *dst;
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20; /* CPACR: enable the FPU */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    for (dst = &_sdata; dst < &_edata;) {
        *dst++ = *src++;
    }
    for (dst = &_sbss; dst < &_ebss;) {
        *dst++ = 0;
    }
    main();
    finish(0);
}

static void Fault_Handler(void)
{
    finish(3);
}

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))(&_estack), Reset_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
    Fault_Handler, Fault_Handler, 0, 0, 0, 0, Fault_Handler, Fault_Handler, 0, Fault_Handler,
    Fault_Handler,
};
