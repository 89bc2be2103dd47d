/* qemu-m4 board layer: CMSDK APB UART0 with an RX interrupt feeding a ring buffer.
 * Base address and IRQ come from board.toml (TML_UART_BASE, TML_UART_RX_IRQ). */
#include "cortexm.h"
#include "tml_board.h"

#define UART_DATA TML_REG32(TML_UART_BASE + 0x00u)
#define UART_STATE TML_REG32(TML_UART_BASE + 0x04u)
#define UART_CTRL TML_REG32(TML_UART_BASE + 0x08u)
#define UART_INTSTATUS TML_REG32(TML_UART_BASE + 0x0Cu)
#define UART_BAUDDIV TML_REG32(TML_UART_BASE + 0x10u)

#define UART_STATE_TX_FULL (1u << 0)
#define UART_STATE_RX_FULL (1u << 1)
#define UART_CTRL_TX_EN (1u << 0)
#define UART_CTRL_RX_EN (1u << 1)
#define UART_CTRL_RX_INT_EN (1u << 3)
#define UART_INT_RX (1u << 1)

/* Power of two; holds more than one maximum frame so a whole request fits while the main loop
 * is busy computing. */
#define RX_RING_BYTES 16384u

static volatile uint8_t rx_ring[RX_RING_BYTES];
static volatile uint32_t rx_head; /* written by the interrupt */
static volatile uint32_t rx_tail; /* written by the main loop */
static volatile uint32_t rx_overruns;

void tml_irq0_handler(void) {
    /* Clear first: a byte that lands after the last read raises the interrupt again. The
     * reverse order can lose it, and with a one-byte receive register the line then stalls. */
    UART_INTSTATUS = UART_INT_RX; /* write one to clear */
    while (UART_STATE & UART_STATE_RX_FULL) {
        uint8_t byte = (uint8_t)UART_DATA;
        uint32_t head = rx_head;
        if (head - rx_tail < RX_RING_BYTES) {
            rx_ring[head & (RX_RING_BYTES - 1u)] = byte;
            rx_head = head + 1u;
        } else {
            rx_overruns++;
        }
    }
}

void tml_board_init(void) {
    UART_BAUDDIV = TML_CLOCK_HZ / TML_UART_BAUD;
    UART_CTRL = UART_CTRL_TX_EN | UART_CTRL_RX_EN | UART_CTRL_RX_INT_EN;
    NVIC_ICPR0 = 1u << TML_UART_RX_IRQ;
    NVIC_ISER0 = 1u << TML_UART_RX_IRQ;
    tml_ticks_region_begin();
    tml_irq_enable();
}

void tml_uart_write(const uint8_t *data, size_t len) {
    for (size_t i = 0; i < len; i++) {
        while (UART_STATE & UART_STATE_TX_FULL) {
        }
        UART_DATA = data[i];
    }
}

int tml_uart_read(uint8_t *out) {
    uint32_t tail = rx_tail;
    if (tail == rx_head) {
        return 0;
    }
    *out = rx_ring[tail & (RX_RING_BYTES - 1u)];
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
