/* Core registers of the Armv7-M system control space used by the board layer. */
#ifndef TML_CORTEXM_H
#define TML_CORTEXM_H

#include <stdint.h>

#define TML_REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* SysTick */
#define SYST_CSR TML_REG32(0xE000E010u)
#define SYST_RVR TML_REG32(0xE000E014u)
#define SYST_CVR TML_REG32(0xE000E018u)
#define SYST_CSR_ENABLE (1u << 0)
#define SYST_CSR_TICKINT (1u << 1)
#define SYST_CSR_CLKSOURCE_CPU (1u << 2)

/* NVIC */
/* NVIC: interrupt n is bit n % 32 of word n / 32 */
#define NVIC_ISER(n) TML_REG32(0xE000E100u + 4u * ((n) / 32u))
#define NVIC_ICPR(n) TML_REG32(0xE000E280u + 4u * ((n) / 32u))
#define NVIC_BIT(n) (1u << ((n) % 32u))

/* System control block */
#define SCB_AIRCR TML_REG32(0xE000ED0Cu)
#define SCB_CPACR TML_REG32(0xE000ED88u)
#define SCB_VTOR TML_REG32(0xE000ED08u)

/* Name of the handler of external interrupt n in the vector table (startup.c), for drivers whose
 * interrupt number comes from board.toml: void TML_IRQ_HANDLER(TML_UART_RX_IRQ)(void) {...} */
#define TML_IRQ_HANDLER(n) TML_IRQ_HANDLER_(n)
#define TML_IRQ_HANDLER_(n) tml_irq##n##_handler

static inline void tml_irq_disable(void) { __asm volatile("cpsid i" ::: "memory"); }
static inline void tml_irq_enable(void) { __asm volatile("cpsie i" ::: "memory"); }
static inline void tml_wfi(void) { __asm volatile("wfi" ::: "memory"); }
static inline void tml_dsb(void) { __asm volatile("dsb" ::: "memory"); }

#endif
