#include "tml_board.h"
int main(void) {
    tml_board_init();
    static const uint8_t msg[] = "hello from " TML_BOARD_NAME "\n";
    tml_uart_write(msg, sizeof msg - 1);
    tml_semihost_exit(0);
    return 0;
}
