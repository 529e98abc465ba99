/* A C program with a poll() loop of its own that embeds the agent through libsdpair.so (sd_pair.h): what a
 * vendor's NAS manager does. Its loop also serves a timer and standard input of its own, so the test sees the
 * agent share the loop rather than own it. EmbeddingTests runs it against the sd-pair command in both roles.
 *
 *   embed initiator <state-dir> <settings>           prints LISTEN <multiaddr> and CODE: <code>, then pairs
 *   embed joiner <state-dir> <settings> <code> [peer]
 *
 * <settings> is sd_pair_new's text with ';' for newlines. A line "cancel" on stdin calls sd_pair_cancel, and so
 * does the timer's Nth expiry with EMBED_CANCEL_AFTER_TICKS=N (the allocation test's fixed-length waits). Each
 * event is printed as EVENT <json>; the end as RESULT <status> <message> and TICKS <n> (timer expiries served).
 * Exit: 0 paired, 1 expired or failed, 2 usage or set-up, 3 cancelled. */
#include "sd_pair.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

static void on_event(void *context, const char *json) {
    (void)context;
    printf("EVENT %s\n", json);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int joiner = argc >= 5 && strcmp(argv[1], "joiner") == 0;
    if (!(argc == 4 && strcmp(argv[1], "initiator") == 0) && !(joiner && argc <= 6)) {
        fprintf(stderr, "usage: embed initiator <state-dir> <settings> | embed joiner <state-dir> <settings> <code> [peer]\n");
        return 2;
    }
    char settings[1024];
    snprintf(settings, sizeof settings, "%s", argv[3]);
    for (char *c = settings; *c; c++)
        if (*c == ';') *c = '\n';

    char error[256];
    sd_pair *p = sd_pair_new(argv[2], settings, error, sizeof error);
    if (!p) {
        fprintf(stderr, "embed: %s\n", error);
        return 2;
    }
    sd_pair_on_event(p, on_event, NULL);
    int rc;
    if (joiner) {
        rc = sd_pair_start_joiner(p, argv[4], argc == 6 ? argv[5] : NULL);
    } else {
        char code[SD_PAIR_CODE_SIZE];
        rc = sd_pair_start_initiator(p, code, sizeof code);
        if (rc == SD_PAIR_RUNNING) {
            char address[256];
            if (sd_pair_listening(p, 0, address, sizeof address) > 0) printf("LISTEN %s\n", address);
            printf("CODE: %s\n", code);
            memset(code, 0, sizeof code);
        }
    }
    if (rc != SD_PAIR_RUNNING) {
        fprintf(stderr, "embed: start: %d: %s\n", rc, sd_pair_message(p));
        sd_pair_free(p);
        return 2;
    }

    /* The program's own descriptors: a 20 ms timer and stdin, in the first two slots; the agent's follow. */
    int timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct itimerspec every = {{0, 20000000}, {0, 20000000}};
    timerfd_settime(timer, 0, &every, NULL);
    struct pollfd fds[2 + SD_PAIR_MAX_FDS];
    unsigned long ticks = 0;
    const char *cancel_after = getenv("EMBED_CANCEL_AFTER_TICKS");
    unsigned long cancel_at = cancel_after ? strtoul(cancel_after, NULL, 10) : 0;
    int stdin_open = 1;
    int status;
    for (int turns = 0;; turns++) {
        if (turns > 1000000) { /* a bounded loop: a pairing is minutes at most, a turn at least one poll */
            fprintf(stderr, "embed: too many turns\n");
            return 2;
        }
        size_t n = 0;
        uint64_t deadline = 0;
        status = sd_pair_prepare(p, sd_pair_now(), fds + 2, SD_PAIR_MAX_FDS, &n, &deadline);
        if (status != SD_PAIR_RUNNING) break;
        fds[0] = (struct pollfd){.fd = timer, .events = POLLIN};
        fds[1] = (struct pollfd){.fd = stdin_open ? 0 : -1, .events = POLLIN};
        uint64_t now = sd_pair_now();
        if (poll(fds, 2 + n, deadline > now ? (int)(deadline - now) : 0) < 0) continue;
        if (fds[0].revents & POLLIN) {
            uint64_t expired;
            if (read(timer, &expired, sizeof expired) == sizeof expired) ticks += expired;
            if (cancel_at > 0 && ticks >= cancel_at) {
                sd_pair_cancel(p);
                cancel_at = 0;
            }
        }
        if (fds[1].revents & (POLLIN | POLLHUP)) {
            char line[64];
            ssize_t got = read(0, line, sizeof line - 1);
            if (got <= 0) stdin_open = 0;
            else if (strncmp(line, "cancel", 6) == 0) sd_pair_cancel(p);
        }
        status = sd_pair_step(p, sd_pair_now(), fds + 2, n);
        if (status < 0) {
            fprintf(stderr, "embed: step: %d: %s\n", status, sd_pair_message(p));
            return 2;
        }
        if (status != SD_PAIR_RUNNING) break;
    }
    printf("RESULT %d %s\n", status, sd_pair_message(p));
    if (status == SD_PAIR_PAIRED) {
        char id[64], name[128];
        if (sd_pair_paired(p, id, sizeof id, name, sizeof name) == 0) printf("PAIRED %s %s\n", id, name);
    }
    printf("TICKS %lu\n", ticks);
    sd_pair_free(p);
    close(timer);
    return status == SD_PAIR_PAIRED ? 0 : status == SD_PAIR_CANCELLED ? 3 : 1;
}
