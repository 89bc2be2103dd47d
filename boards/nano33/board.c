/* nano33 board layer (nRF52840): crystal clock, UART0 on the header pins with an RX interrupt
 * feeding a ring buffer, system reset. Addresses from the nRF52840 product specification. */
#include "cortexm.h"
#include "rx_ring.h"
#include "tml_board.h"

/* CLOCK: start the 64 MHz crystal, the UART baud rate is off by up to 8% on the RC oscillator. */
#define CLOCK_TASKS_HFCLKSTART TML_REG32(0x40000000u)
#define CLOCK_EVENTS_HFCLKSTARTED TML_REG32(0x40000100u)

#define UART_TASKS_STARTRX TML_REG32(TML_UART_BASE + 0x000u)
#define UART_TASKS_STARTTX TML_REG32(TML_UART_BASE + 0x008u)
#define UART_EVENTS_RXDRDY TML_REG32(TML_UART_BASE + 0x108u)
#define UART_EVENTS_TXDRDY TML_REG32(TML_UART_BASE + 0x11Cu)
#define UART_EVENTS_ERROR TML_REG32(TML_UART_BASE + 0x124u)
#define UART_INTENSET TML_REG32(TML_UART_BASE + 0x304u)
#define UART_ERRORSRC TML_REG32(TML_UART_BASE + 0x480u)
#define UART_ENABLE TML_REG32(TML_UART_BASE + 0x500u)
#define UART_PSEL_TXD TML_REG32(TML_UART_BASE + 0x50Cu)
#define UART_PSEL_RXD TML_REG32(TML_UART_BASE + 0x514u)
#define UART_PSEL_RTS TML_REG32(TML_UART_BASE + 0x508u)
#define UART_PSEL_CTS TML_REG32(TML_UART_BASE + 0x510u)
#define UART_RXD TML_REG32(TML_UART_BASE + 0x518u)
#define UART_TXD TML_REG32(TML_UART_BASE + 0x51Cu)
#define UART_BAUDRATE TML_REG32(TML_UART_BASE + 0x524u)
#define UART_CONFIG TML_REG32(TML_UART_BASE + 0x56Cu)

#define UART_ENABLE_UART 4u
#define UART_INT_RXDRDY (1u << 2)
#define UART_INT_ERROR (1u << 9)
#define PSEL_DISCONNECTED 0xFFFFFFFFu

/* GPIO port of a pin number (port * 32 + pin). */
#define GPIO_BASE(pin) ((pin) >= 32 ? 0x50000300u : 0x50000000u)
#define GPIO_OUTSET(pin) TML_REG32(GPIO_BASE(pin) + 0x508u)
#define GPIO_DIRSET(pin) TML_REG32(GPIO_BASE(pin) + 0x518u)
#define GPIO_PIN_CNF(pin) TML_REG32(GPIO_BASE(pin) + 0x700u + 4u * ((pin) & 31u))

#ifndef TML_UART_TX_PIN
#define TML_UART_TX_PIN 35u /* P1.03 */
#endif
#ifndef TML_UART_RX_PIN
#define TML_UART_RX_PIN 42u /* P1.10 */
#endif

typedef void (*tml_vector)(void);
extern const tml_vector tml_vector_table[]; /* boards/common/cortex-m/startup.c */

/* Baud rate register values (nRF52840 PS, UART BAUDRATE). */
static uint32_t baud_register(uint32_t baud) {
    switch (baud) {
    case 9600u: return 0x00275000u;
    case 57600u: return 0x00EBF000u;
    case 230400u: return 0x03AFB000u;
    case 460800u: return 0x075F7000u;
    case 921600u: return 0x0EBED000u;
    case 1000000u: return 0x10000000u;
    default: return 0x01D7E000u; /* 115200 */
    }
}

void tml_irq2_handler(void) {
    if (UART_EVENTS_ERROR) {
        UART_EVENTS_ERROR = 0;
        UART_ERRORSRC = UART_ERRORSRC; /* write one to clear; the protocol's CRC catches it */
    }
    while (UART_EVENTS_RXDRDY) {
        UART_EVENTS_RXDRDY = 0;
        tml_rx_ring_push((uint8_t)UART_RXD);
    }
}

void tml_board_init(void) {
    /* The bootloader jumps here with its own vector table active. */
    SCB_VTOR = (uint32_t)(uintptr_t)tml_vector_table;
    CLOCK_EVENTS_HFCLKSTARTED = 0;
    CLOCK_TASKS_HFCLKSTART = 1;
    while (!CLOCK_EVENTS_HFCLKSTARTED) {
    }

    GPIO_OUTSET(TML_UART_TX_PIN) = 1u << (TML_UART_TX_PIN & 31u); /* idle high */
    GPIO_DIRSET(TML_UART_TX_PIN) = 1u << (TML_UART_TX_PIN & 31u);
    GPIO_PIN_CNF(TML_UART_RX_PIN) = 0; /* input, buffer connected, no pull */
    UART_PSEL_TXD = TML_UART_TX_PIN;
    UART_PSEL_RXD = TML_UART_RX_PIN;
    UART_PSEL_RTS = PSEL_DISCONNECTED;
    UART_PSEL_CTS = PSEL_DISCONNECTED;
    UART_BAUDRATE = baud_register(TML_UART_BAUD);
    UART_CONFIG = 0; /* 8N1, no flow control */
    UART_ENABLE = UART_ENABLE_UART;
    UART_EVENTS_RXDRDY = 0;
    UART_INTENSET = UART_INT_RXDRDY | UART_INT_ERROR;
    UART_TASKS_STARTRX = 1;
    UART_TASKS_STARTTX = 1;

    tml_rx_ring_start(TML_UART_RX_IRQ);
}

void tml_uart_write(const uint8_t *data, size_t len) {
    for (size_t i = 0; i < len; i++) {
        UART_EVENTS_TXDRDY = 0;
        UART_TXD = data[i];
        while (!UART_EVENTS_TXDRDY) {
        }
    }
}
