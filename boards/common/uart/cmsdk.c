/* Arm CMSDK APB UART (MPS2 and MPS3 FPGA images, and QEMU's models of them): the serial line of
 * tml_board.h, with the RX interrupt feeding the shared receive ring.
 *
 * Shared by every board whose board.toml says [uart] driver = "cmsdk"; the builder compiles
 * boards/common/uart/<driver>.c for it. Base address, RX interrupt and baud rate come from
 * board.toml (TML_UART_BASE, TML_UART_RX_IRQ, TML_UART_BAUD). */
#include "cortexm.h"
#include "rx_ring.h"
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

void TML_IRQ_HANDLER(TML_UART_RX_IRQ)(void) {
    /* Clear first: a byte that lands after the last read raises the interrupt again. The
     * reverse order can lose it, and with a one-byte receive register the line then stalls. */
    UART_INTSTATUS = UART_INT_RX; /* write one to clear */
    while (UART_STATE & UART_STATE_RX_FULL) {
        tml_rx_ring_push((uint8_t)UART_DATA);
    }
}

void tml_board_init(void) {
    UART_BAUDDIV = TML_CLOCK_HZ / TML_UART_BAUD; /* QEMU wants >= 16; ignores the rate */
    UART_CTRL = UART_CTRL_TX_EN | UART_CTRL_RX_EN | UART_CTRL_RX_INT_EN;
    tml_rx_ring_start(TML_UART_RX_IRQ);
}

void tml_uart_write(const uint8_t *data, size_t len) {
    for (size_t i = 0; i < len; i++) {
        while (UART_STATE & UART_STATE_TX_FULL) {
        }
        UART_DATA = data[i];
    }
}
