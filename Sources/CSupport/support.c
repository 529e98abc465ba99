#include <sys/time.h>
#include "sd_support.h"
#include <signal.h>
#include <time.h>

static int captured_argc;
static char **captured_argv;

// glibc (and musl) call .init_array entries with (argc, argv, envp); this is how the arguments reach Embedded
// Swift, whose runtime has no CommandLine. The host build uses the same path so both behave identically.
__attribute__((constructor)) static void sd_capture_arguments(int argc, char **argv, char **envp) {
    (void)envp;
    captured_argc = argc;
    captured_argv = argv;
    // A full disk or a file-size limit must surface as EFBIG/ENOSPC from write(), reported and survived, not as a
    // SIGXFSZ that kills the agent mid-update; a peer that hangs up must not kill it with SIGPIPE.
    signal(SIGXFSZ, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
}

int sd_argc(void) { return captured_argc; }

const char *sd_arg(int index) {
    if (index < 0 || index >= captured_argc || captured_argv == NULL) return NULL;
    return captured_argv[index];
}

int sd_write_all(int fd, const void *buf, size_t len) {
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += (size_t)n;
        len -= (size_t)n;
    }
    return 0;
}

uint64_t sd_monotonic_ms(void) { return sd_monotonic_ns() / 1000000u; }

uint64_t sd_realtime_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

uint64_t sd_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
