/*
 * Bare-metal test program for QEMU mps2-an386 (Cortex-M4F): runs the audio frontend of
 * firmware/frontend on clips read over semihosting and writes the features back, so the test
 * can compare them with the host extension bit for bit.
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
#include "tml_frontend.h"

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

/* Returns the number of bytes NOT transferred (0 = all). */
static int sh_read(int fd, void *buf, uint32_t n)
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

/* ---- SysTick as an instruction counter under -icount --------------------------------- */
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)

static int16_t pcm[TML_FRONTEND_CLIP_SAMPLES];
static float scratch[TML_FRONTEND_SCRATCH_BYTES / sizeof(float)];
static int8_t features[TML_FRONTEND_NUM_FRAMES * TML_FRONTEND_NUM_COEFFICIENTS];
static float mfcc[TML_FRONTEND_NUM_FRAMES * TML_FRONTEND_NUM_COEFFICIENTS];

int main(void)
{
    const int in = sh_open("pcm.bin", 1 /* rb */);
    const int out_q = sh_open("features.bin", 5 /* wb */);
    const int out_f = sh_open("mfcc.bin", 5);
    const int out_t = sh_open("ticks.bin", 5);
    if (in < 0 || out_q < 0 || out_f < 0 || out_t < 0) {
        sh_exit(1);
    }
    SYST_RVR = 0x00FFFFFFu;
    SYST_CVR = 0;
    SYST_CSR = 0x5u; /* enable, processor clock, no interrupt */
    uint32_t num_samples;
    while (sh_read(in, &num_samples, sizeof num_samples) == 0) {
        if (sh_read(in, pcm, sizeof pcm) != 0 || num_samples > TML_FRONTEND_CLIP_SAMPLES) {
            sh_exit(1);
        }
        const uint32_t start = SYST_CVR;
        const int err = tml_frontend_compute(&tml_frontend_default, pcm, num_samples, scratch,
                                             features);
        const uint32_t ticks = (start - SYST_CVR) & 0x00FFFFFFu;
        if (err != TML_FRONTEND_OK ||
            tml_frontend_compute_float(&tml_frontend_default, pcm, num_samples, scratch, mfcc) !=
                TML_FRONTEND_OK) {
            sh_exit(2);
        }
        if (sh_write(out_q, features, sizeof features) != 0 ||
            sh_write(out_f, mfcc, sizeof mfcc) != 0 || sh_write(out_t, &ticks, sizeof ticks) != 0) {
            sh_exit(1);
        }
    }
    sh_close(in);
    sh_close(out_q);
    sh_close(out_f);
    sh_close(out_t);
    sh_exit(0);
}

/* ---- startup ------------------------------------------------------------------------- */
extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;

void Reset_Handler(void)
{
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20; /* CPACR: full access to CP10/CP11 (FPU) */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    const uint32_t *src = &_sidata;
    for (uint32_t *dst = &_sdata; dst < &_edata;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &_sbss; dst < &_ebss;) {
        *dst++ = 0;
    }
    main();
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
