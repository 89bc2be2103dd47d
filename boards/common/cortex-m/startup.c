/* Reset handler and vector table shared by the Cortex-M boards.
 *
 * Boards provide interrupt handlers by defining tml_irqN_handler; unused ones fall through to
 * tml_default_handler, which parks the core (a debugger or the emulator shows where).
 */
#include <stdint.h>

#include "cortexm.h"

extern uint32_t __data_load__, __data_start__, __data_end__;
extern uint32_t __bss_start__, __bss_end__;
extern uint32_t __stack_top__;

int main(void);
void tml_reset_handler(void);

void tml_default_handler(void) {
    for (;;) {
    }
}

#define WEAK_HANDLER(name) void name(void) __attribute__((weak, alias("tml_default_handler")))
WEAK_HANDLER(tml_nmi_handler);
WEAK_HANDLER(tml_hardfault_handler);
WEAK_HANDLER(tml_svc_handler);
WEAK_HANDLER(tml_pendsv_handler);
WEAK_HANDLER(tml_systick_handler);

/* External interrupts in the table: 16 unless the board's interrupt numbers need more (the
 * builder passes a multiple of 16 covering board.toml's rx_irq, e.g. 48 for IRQ 33). */
#ifndef TML_NUM_IRQS
#define TML_NUM_IRQS 16
#endif
#if TML_NUM_IRQS != 16 && TML_NUM_IRQS != 32 && TML_NUM_IRQS != 48 && TML_NUM_IRQS != 64
#error "TML_NUM_IRQS must be 16, 32, 48 or 64"
#endif

#define IRQS_0_15(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) \
    X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#define IRQS_16_31(X) X(16) X(17) X(18) X(19) X(20) X(21) X(22) X(23) \
    X(24) X(25) X(26) X(27) X(28) X(29) X(30) X(31)
#define IRQS_32_47(X) X(32) X(33) X(34) X(35) X(36) X(37) X(38) X(39) \
    X(40) X(41) X(42) X(43) X(44) X(45) X(46) X(47)
#define IRQS_48_63(X) X(48) X(49) X(50) X(51) X(52) X(53) X(54) X(55) \
    X(56) X(57) X(58) X(59) X(60) X(61) X(62) X(63)
#define DECLARE_IRQ_HANDLER(n) WEAK_HANDLER(tml_irq##n##_handler);
#define IRQ_VECTOR(n) tml_irq##n##_handler,

IRQS_0_15(DECLARE_IRQ_HANDLER)
#if TML_NUM_IRQS > 16
IRQS_16_31(DECLARE_IRQ_HANDLER)
#endif
#if TML_NUM_IRQS > 32
IRQS_32_47(DECLARE_IRQ_HANDLER)
#endif
#if TML_NUM_IRQS > 48
IRQS_48_63(DECLARE_IRQ_HANDLER)
#endif

typedef void (*tml_vector)(void);

__attribute__((section(".vectors"), used)) const tml_vector tml_vector_table[16 + TML_NUM_IRQS] = {
    (tml_vector)(uintptr_t)&__stack_top__,
    tml_reset_handler,
    tml_nmi_handler,
    tml_hardfault_handler,
    tml_hardfault_handler, /* MemManage */
    tml_hardfault_handler, /* BusFault */
    tml_hardfault_handler, /* UsageFault */
    0,
    0,
    0,
    0,
    tml_svc_handler,
    tml_default_handler, /* DebugMon */
    0,
    tml_pendsv_handler,
    tml_systick_handler,
    IRQS_0_15(IRQ_VECTOR)
#if TML_NUM_IRQS > 16
    IRQS_16_31(IRQ_VECTOR)
#endif
#if TML_NUM_IRQS > 32
    IRQS_32_47(IRQ_VECTOR)
#endif
#if TML_NUM_IRQS > 48
    IRQS_48_63(IRQ_VECTOR)
#endif
};

void tml_reset_handler(void) {
    const uint32_t *src = &__data_load__;
    for (uint32_t *dst = &__data_start__; dst < &__data_end__;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &__bss_start__; dst < &__bss_end__;) {
        *dst++ = 0;
    }
#if defined(__ARM_FP)
    /* Full access to CP10/CP11 (the FPU) before any float instruction runs. */
    SCB_CPACR |= (0xFu << 20);
    tml_dsb();
    __asm volatile("isb");
#endif
    (void)main();
    for (;;) {
    }
}
