// The few libc entry points the command-line agent needs, reachable from Embedded Swift (which cannot import Glibc).
#ifndef SD_SUPPORT_H
#define SD_SUPPORT_H
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/// argc/argv as the C runtime passed them to main (Embedded Swift has no CommandLine).
int sd_argc(void);
const char *sd_arg(int index);

/// Writes all of buf to fd, retrying on EINTR and short writes. Returns 0, or -1 with errno set.
int sd_write_all(int fd, const void *buf, size_t len);

/// Monotonic milliseconds since an arbitrary origin (CLOCK_MONOTONIC): the only clock the protocol needs.
uint64_t sd_monotonic_ms(void);

/// Monotonic nanoseconds, for benchmarks.
uint64_t sd_monotonic_ns(void);
#endif
