/* Arm semihosting calls (BKPT 0xAB). Only boards that run under an emulator or a debugger that
 * serves them set TML_HAS_SEMIHOSTING; on a free-running board the BKPT would stop the core. */
#include <string.h>

#include "tml_board.h"

#if defined(TML_HAS_SEMIHOSTING) && TML_HAS_SEMIHOSTING

enum {
    SYS_OPEN = 0x01,
    SYS_CLOSE = 0x02,
    SYS_WRITE = 0x05,
    SYS_READ = 0x06,
    SYS_GET_CMDLINE = 0x15,
    SYS_EXIT_EXTENDED = 0x20,
};

static int semihost_call(int op, void *args) {
    register int r0 __asm("r0") = op;
    register void *r1 __asm("r1") = args;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

int tml_semihost_cmdline(char *buf, size_t size) {
    uint32_t args[2] = {(uint32_t)(uintptr_t)buf, (uint32_t)size};
    return semihost_call(SYS_GET_CMDLINE, args) == 0 ? 0 : -1;
}

int tml_semihost_open(const char *path, int write) {
    /* modes 1 = "rb", 5 = "wb" */
    uint32_t args[3] = {(uint32_t)(uintptr_t)path, write ? 5u : 1u, (uint32_t)strlen(path)};
    return semihost_call(SYS_OPEN, args);
}

int tml_semihost_read(int handle, void *buf, size_t len) {
    uint32_t args[3] = {(uint32_t)handle, (uint32_t)(uintptr_t)buf, (uint32_t)len};
    return semihost_call(SYS_READ, args);
}

int tml_semihost_write(int handle, const void *buf, size_t len) {
    uint32_t args[3] = {(uint32_t)handle, (uint32_t)(uintptr_t)buf, (uint32_t)len};
    return semihost_call(SYS_WRITE, args);
}

int tml_semihost_close(int handle) {
    uint32_t args[1] = {(uint32_t)handle};
    return semihost_call(SYS_CLOSE, args);
}

void tml_semihost_exit(int code) {
    uint32_t args[2] = {0x20026u /* ADP_Stopped_ApplicationExit */, (uint32_t)code};
    (void)semihost_call(SYS_EXIT_EXTENDED, args);
    for (;;) {
    }
}

#else

int tml_semihost_cmdline(char *buf, size_t size) {
    (void)buf;
    (void)size;
    return -1;
}
int tml_semihost_open(const char *path, int write) {
    (void)path;
    (void)write;
    return -1;
}
int tml_semihost_read(int handle, void *buf, size_t len) {
    (void)handle;
    (void)buf;
    return (int)len;
}
int tml_semihost_write(int handle, const void *buf, size_t len) {
    (void)handle;
    (void)buf;
    return (int)len;
}
int tml_semihost_close(int handle) {
    (void)handle;
    return -1;
}
void tml_semihost_exit(int code) {
    (void)code;
    tml_board_reset();
}

#endif
