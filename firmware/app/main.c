/* Firmware entry: serve requests over the serial line, or, when the emulator passes
 * "bulk IN OUT" on the semihosting command line, run clips from a file and exit. */
#include <string.h>

#include "tml_app.h"
#include "tml_board.h"

#if TML_HAS_SEMIHOSTING
static char cmdline[512];

/* Splits the command line in place; returns the number of words. */
static int split_words(char *s, char **words, int max) {
    int n = 0;
    while (*s && n < max) {
        while (*s == ' ') {
            *s++ = 0;
        }
        if (!*s) {
            break;
        }
        words[n++] = s;
        while (*s && *s != ' ') {
            s++;
        }
    }
    return n;
}
#endif

int main(void) {
    tml_board_init();
    int init_status = tml_app_init();
#if TML_HAS_SEMIHOSTING
    if (tml_semihost_cmdline(cmdline, sizeof cmdline) == 0) {
        char *words[8];
        int n = split_words(cmdline, words, 8);
        for (int i = 0; i + 2 < n; i++) {
            if (strcmp(words[i], "bulk") == 0) {
                tml_semihost_exit(init_status != 0 ? 5 : tml_app_bulk(words[i + 1], words[i + 2]));
            }
        }
    }
#endif
    (void)init_status;
    tml_app_serve();
    return 0;
}
