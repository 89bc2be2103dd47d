// nano33-arduino board layer: the tml_board.h interface on the Arduino mbed core. The serial
// line is the USB CDC port (Serial); ticks are micros() (1 MHz), so latency is reported in us.
#include <Arduino.h>

extern "C" {
#include "tml_app.h"
#include "tml_board.h"
}

static uint64_t ticks_before_region;
static uint32_t region_start_us;

extern "C" void tml_board_init(void) {
    Serial.begin(115200);
    while (!Serial) {
    }
    tml_ticks_region_begin();
}

extern "C" void tml_uart_write(const uint8_t *data, size_t len) {
    Serial.write(data, len);
    Serial.flush();
}

extern "C" int tml_uart_read(uint8_t *out) {
    if (Serial.available() <= 0) {
        return 0;
    }
    *out = (uint8_t)Serial.read();
    return 1;
}

extern "C" uint32_t tml_uart_overruns(void) { return 0; } // USB CDC has flow control

extern "C" void tml_board_idle(void) { yield(); }

extern "C" void tml_board_reset(void) { NVIC_SystemReset(); }

extern "C" void tml_ticks_region_begin(void) {
    uint32_t now = micros();
    ticks_before_region += (uint32_t)(now - region_start_us);
    region_start_us = now;
}

extern "C" uint32_t tml_ticks_region_elapsed(void) { return micros() - region_start_us; }

extern "C" uint64_t tml_ticks_now(void) { return ticks_before_region + tml_ticks_region_elapsed(); }

void setup() {
    tml_board_init();
    if (tml_app_init() != 0) {
        for (;;) {
        }
    }
}

void loop() { tml_app_serve(); } // never returns
