/*
 * Bench firmware for QEMU mps2-an386 (Cortex-M4F): runs a `tinyml compile` model on inputs read
 * over semihosting and writes outputs and instruction counts back (`tinyml bench`).
 *
 *   in  inputs.bin   int8 [n][TINYML_INPUT_SIZE]
 *   out outputs.bin  int8 [n][TINYML_OUTPUT_SIZE]
 *   out ticks.bin    uint32 [n][1 + TINYML_NUM_OPS]: SysTick ticks of the whole tinyml_invoke
 *                    (hooks off), then of each op (a second run with per-op hooks)
 * Under -icount shift=0 one tick is 40 instructions. Exit code (SYS_EXIT_EXTENDED): 0 ok,
 * 1 file error, 2 inference error, 3 fault, 4 outputs of the two runs differ.
 */
#include <stdint.h>

#include "bench_hooks.h"
#include "model.h"

/* ---- semihosting --------------------------------------------------------------------- */
static int semihost(int op, void *arg)
{
    register int r0 __asm__("r0") = op;
    register void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static int sh_open(const char *name, int mode)
{
    uint32_t len = 0;
    while (name[len] != '\0') {
        ++len;
    }
    uint32_t block[3] = {(uint32_t)name, (uint32_t)mode, len};
    return semihost(0x01, block);
}

static int sh_read(int fd, void *buf, uint32_t n) /* bytes NOT read */
{
    uint32_t block[3] = {(uint32_t)fd, (uint32_t)buf, n};
    return semihost(0x06, block);
}

static int sh_write(int fd, const void *buf, uint32_t n)
{
    uint32_t block[3] = {(uint32_t)fd, (uint32_t)buf, n};
    return semihost(0x05, block);
}

static void sh_close(int fd)
{
    uint32_t block[1] = {(uint32_t)fd};
    semihost(0x02, block);
}

static void __attribute__((noreturn)) sh_exit(int code)
{
    uint32_t block[2] = {0x20026u /* ADP_Stopped_ApplicationExit */, (uint32_t)code};
    semihost(0x20, block);
    for (;;) {
    }
}

/* ---- SysTick regions ----------------------------------------------------------------- */
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define RELOAD 0x00FFFFFFu

static void region_begin(void)
{
    SYST_CSR = 0;
    SYST_RVR = RELOAD;
    SYST_CVR = 0; /* reads 0 until the first tick reloads it */
    SYST_CSR = 0x5u; /* enable, processor clock, no interrupt */
}

static uint32_t region_ticks(void)
{
    return (RELOAD + 1u - SYST_CVR) & RELOAD;
}

volatile int tml_bench_per_op;
static uint32_t ticks[1 + TINYML_NUM_OPS];

void tml_bench_op_begin(int op_index)
{
    (void)op_index;
    region_begin();
}

void tml_bench_op_end(int op_index)
{
    ticks[1 + op_index] = region_ticks();
}

static int8_t input[TINYML_INPUT_SIZE];
static int8_t output[TINYML_OUTPUT_SIZE];
static int8_t output2[TINYML_OUTPUT_SIZE];

int main(void)
{
    const int in = sh_open("inputs.bin", 1 /* rb */);
    const int out = sh_open("outputs.bin", 5 /* wb */);
    const int out_t = sh_open("ticks.bin", 5);
    int i;
    if (in < 0 || out < 0 || out_t < 0) {
        sh_exit(1);
    }
    while (sh_read(in, input, sizeof input) == 0) {
        int status;
        tml_bench_per_op = 0;
        region_begin();
        status = tinyml_invoke(input, output);
        ticks[0] = region_ticks();
        tml_bench_per_op = 1;
        status |= tinyml_invoke(input, output2);
        if (status != 0) {
            sh_exit(2);
        }
        for (i = 0; i < TINYML_OUTPUT_SIZE; ++i) {
            if (output[i] != output2[i]) {
                sh_exit(4);
            }
        }
        if (sh_write(out, output, sizeof output) != 0 || sh_write(out_t, ticks, sizeof ticks) != 0) {
            sh_exit(1);
        }
    }
    sh_close(in);
    sh_close(out);
    sh_close(out_t);
    sh_exit(0);
}

/* ---- startup ------------------------------------------------------------------------- */
extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;

void Reset_Handler(void);
void Reset_Handler(void)
{
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20; /* CPACR: enable the FPU */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    const uint32_t *src = &_sidata;
    for (uint32_t *dst = &_sdata; dst < &_edata;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &_sbss; dst < &_ebss;) {
        *dst++ = 0;
    }
    (void)main();
    sh_exit(0);
}

static void Fault_Handler(void)
{
    sh_exit(3);
}

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))(&_estack), Reset_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
    Fault_Handler, Fault_Handler, 0, 0, 0, 0, Fault_Handler, Fault_Handler, 0, Fault_Handler,
    Fault_Handler,
};
