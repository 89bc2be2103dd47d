/* The receive side of tml_board.h for boards whose UART interrupt feeds tml_rx_ring_push(),
 * and the Armv7-M idle and reset that every such board shares. */
#include "cortexm.h"
#include "rx_ring.h"
#include "tml_board.h"

static volatile uint8_t rx_ring[TML_RX_RING_BYTES];
static volatile uint32_t rx_head; /* written by the interrupt */
static volatile uint32_t rx_tail; /* written by the main loop */
static volatile uint32_t rx_overruns;

void tml_rx_ring_push(uint8_t byte) {
    uint32_t head = rx_head;
    if (head - rx_tail < TML_RX_RING_BYTES) {
        rx_ring[head & (TML_RX_RING_BYTES - 1u)] = byte;
        rx_head = head + 1u;
    } else {
        rx_overruns++;
    }
}

void tml_rx_ring_start(uint32_t irq) {
    NVIC_ICPR(irq) = NVIC_BIT(irq);
    NVIC_ISER(irq) = NVIC_BIT(irq);
    tml_ticks_region_begin();
    tml_irq_enable();
}

int tml_uart_read(uint8_t *out) {
    uint32_t tail = rx_tail;
    if (tail == rx_head) {
        return 0;
    }
    *out = rx_ring[tail & (TML_RX_RING_BYTES - 1u)];
    rx_tail = tail + 1u;
    return 1;
}

uint32_t tml_uart_overruns(void) { return rx_overruns; }

void tml_board_idle(void) {
    tml_irq_disable();
    if (rx_tail == rx_head) {
        tml_wfi(); /* a pending interrupt wakes the core even with interrupts masked */
    }
    tml_irq_enable();
}

void tml_board_reset(void) {
    tml_dsb();
    SCB_AIRCR = (0x05FAu << 16) | (1u << 2); /* VECTKEY | SYSRESETREQ */
    tml_dsb();
    for (;;) {
    }
}
