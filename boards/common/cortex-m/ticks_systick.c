/* Tick source: SysTick on the processor clock, 24-bit down-counter plus a wrap count.
 *
 * Region measurements restart the counter, because QEMU's SysTick under -icount only counts
 * the same number of ticks for the same code when restarted at the same instruction. */
#include "cortexm.h"
#include "tml_board.h"

#define SYSTICK_RELOAD 0x00FFFFFFu

static volatile uint32_t systick_wraps;
static uint64_t ticks_before_region; /* ticks accumulated before the current restart */

void tml_systick_handler(void) { systick_wraps++; }

static uint32_t region_ticks(void) {
    uint32_t wraps, value;
    do {
        wraps = systick_wraps;
        value = SYST_CVR;
    } while (wraps != systick_wraps);
    /* After a restart the counter reads 0 until the first tick reloads it: that is 0 ticks,
     * and k ticks later it reads (RELOAD + 1 - k) mod 2^24. */
    return wraps * (SYSTICK_RELOAD + 1u) + ((SYSTICK_RELOAD + 1u - value) & SYSTICK_RELOAD);
}

void tml_ticks_region_begin(void) {
    ticks_before_region += region_ticks();
    SYST_CSR = 0;
    SYST_RVR = SYSTICK_RELOAD;
    SYST_CVR = 0; /* any write clears the counter; it reloads on the next tick */
    systick_wraps = 0;
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSOURCE_CPU;
}

uint32_t tml_ticks_region_elapsed(void) { return region_ticks(); }

uint64_t tml_ticks_now(void) { return ticks_before_region + region_ticks(); }
