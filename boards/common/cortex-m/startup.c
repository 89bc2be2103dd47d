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
WEAK_HANDLER(tml_irq0_handler);
WEAK_HANDLER(tml_irq1_handler);
WEAK_HANDLER(tml_irq2_handler);
WEAK_HANDLER(tml_irq3_handler);
WEAK_HANDLER(tml_irq4_handler);
WEAK_HANDLER(tml_irq5_handler);
WEAK_HANDLER(tml_irq6_handler);
WEAK_HANDLER(tml_irq7_handler);
WEAK_HANDLER(tml_irq8_handler);
WEAK_HANDLER(tml_irq9_handler);
WEAK_HANDLER(tml_irq10_handler);
WEAK_HANDLER(tml_irq11_handler);
WEAK_HANDLER(tml_irq12_handler);
WEAK_HANDLER(tml_irq13_handler);
WEAK_HANDLER(tml_irq14_handler);
WEAK_HANDLER(tml_irq15_handler);

typedef void (*tml_vector)(void);

__attribute__((section(".vectors"), used)) const tml_vector tml_vector_table[16 + 16] = {
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
    tml_irq0_handler,
    tml_irq1_handler,
    tml_irq2_handler,
    tml_irq3_handler,
    tml_irq4_handler,
    tml_irq5_handler,
    tml_irq6_handler,
    tml_irq7_handler,
    tml_irq8_handler,
    tml_irq9_handler,
    tml_irq10_handler,
    tml_irq11_handler,
    tml_irq12_handler,
    tml_irq13_handler,
    tml_irq14_handler,
    tml_irq15_handler,
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
