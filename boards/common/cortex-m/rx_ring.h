/* Receive ring buffer shared by the Cortex-M board layers: the UART interrupt pushes bytes,
 * the main loop pops them through tml_uart_read() (tml_board.h). Single producer (interrupt),
 * single consumer (main loop), so no lock is needed. */
#ifndef TML_RX_RING_H
#define TML_RX_RING_H

#include <stdint.h>

/* Power of two; holds more than one maximum request frame, so a whole request fits while the
 * main loop is busy computing. */
#define TML_RX_RING_BYTES 16384u

/* Called from the UART receive interrupt; counts an overrun when the ring is full. */
void tml_rx_ring_push(uint8_t byte);

/* Last step of a board's init: enable the UART receive interrupt (NVIC line `irq`), start the
 * tick source and unmask interrupts. */
void tml_rx_ring_start(uint32_t irq);

#endif
