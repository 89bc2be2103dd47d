/* The interface every board layer (boards/<name>/ and boards/common/<arch>/) implements.
 * The application and the protocol only talk to the hardware through these functions. */
#ifndef TML_BOARD_H
#define TML_BOARD_H

#include <stddef.h>
#include <stdint.h>

/* Clocks, UART, interrupts. Called once before anything else. */
void tml_board_init(void);

/* Blocking write of len bytes to the host serial line. */
void tml_uart_write(const uint8_t *data, size_t len);

/* Next received byte (filled by the RX interrupt). Returns 1 and stores it, or 0 when none. */
int tml_uart_read(uint8_t *out);

/* Bytes the RX buffer dropped because it was full (monotonic). */
uint32_t tml_uart_overruns(void);

/* Sleep until an interrupt unless received bytes are already waiting. */
void tml_board_idle(void);

/* Request a system reset; does not return. */
void tml_board_reset(void);

/* Ticks: a free-running 64-bit count of tick-source periods (SysTick on the CPU clock).
 * tml_ticks_region_begin() restarts the hardware counter so that a region measured from it
 * counts the same on every run (under QEMU -icount one tick is exactly 40 instructions). */
uint64_t tml_ticks_now(void);
void tml_ticks_region_begin(void);
uint32_t tml_ticks_region_elapsed(void);

/* Semihosting (boards whose debugger or emulator provides it; see TML_HAS_SEMIHOSTING). */
int tml_semihost_cmdline(char *buf, size_t size);             /* 0 on success */
int tml_semihost_open(const char *path, int write);           /* handle, or -1 */
int tml_semihost_read(int handle, void *buf, size_t len);     /* bytes NOT read */
int tml_semihost_write(int handle, const void *buf, size_t len); /* bytes NOT written */
int tml_semihost_close(int handle);
void tml_semihost_exit(int code);

#endif
