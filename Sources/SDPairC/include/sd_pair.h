/* sd_pair.h: the sd-pair agent inside a C program's own poll() loop (libsdpair.so; see Docs/ARCHITECTURE.md).
 *
 * One handle is one device: its identity and registry in a state directory. It runs one pairing at a time, as the
 * initiator (it shows a code) or as the joiner (it was given one). The pairing never blocks and never takes a
 * thread: the program asks which descriptors to watch and until when (sd_pair_prepare), polls them beside its own,
 * and hands back what poll reported (sd_pair_step):
 *
 *     sd_pair *p = sd_pair_new("/var/lib/my-nas/pairing", "name = Living-room NAS\n", err, sizeof err);
 *     char code[SD_PAIR_CODE_SIZE];
 *     sd_pair_start_initiator(p, code, sizeof code);        // show `code` to the person
 *     for (;;) {
 *         struct pollfd fds[SD_PAIR_MAX_FDS]; size_t n; uint64_t deadline;
 *         int status = sd_pair_prepare(p, sd_pair_now(), fds, SD_PAIR_MAX_FDS, &n, &deadline);
 *         if (status != SD_PAIR_RUNNING) break;              // SD_PAIR_PAIRED, _EXPIRED, _CANCELLED, _FAILED
 *         uint64_t now = sd_pair_now();
 *         poll(fds, n, deadline > now ? (int)(deadline - now) : 0);   // with the program's own descriptors
 *         sd_pair_step(p, sd_pair_now(), fds, n);
 *     }
 *
 * Calls on one handle come from one thread, except sd_pair_cancel. Nothing is allocated per step (the Embedded build,
 * cross/build-embedded.sh <arch> sdpair, which EmbeddingTests counts; a host debug build of Swift does allocate). Functions return
 * a status (>= 0) or an SD_PAIR_ERR_* (< 0); sd_pair_message says why in a sentence. Strings are UTF-8, NUL-ended.
 */
#ifndef SD_PAIR_H
#define SD_PAIR_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sd_pair sd_pair;

enum {
    SD_PAIR_RUNNING = 0,
    SD_PAIR_PAIRED = 1,     /* both proved the code and their identities; the device is in the registry */
    SD_PAIR_EXPIRED = 2,    /* the code expired first */
    SD_PAIR_CANCELLED = 3,  /* sd_pair_cancel */
    SD_PAIR_FAILED = 4,     /* refused, unreachable, burned code, or the registry could not record it */

    SD_PAIR_ERR_INVALID = -1, /* a setting or an argument is wrong */
    SD_PAIR_ERR_CODE = -2,    /* not a code: 12 BIP39 words with their checksum, or 12 digits */
    SD_PAIR_ERR_BUSY = -3,    /* a pairing already runs on this handle */
    SD_PAIR_ERR_STATE = -4,   /* the state directory or the identity in it cannot be used */
    SD_PAIR_ERR_SYSTEM = -5,  /* a listener, a pipe, poll */
    SD_PAIR_ERR_SPACE = -6,   /* the caller's buffer is too small; nothing was started or copied */
    SD_PAIR_ERR_IDLE = -7     /* no pairing runs: start one first */
};

#define SD_PAIR_MAX_FDS 32     /* the most descriptors sd_pair_prepare asks to watch */
#define SD_PAIR_CODE_SIZE 128  /* enough for any code and its NUL */

/* Reads `settings` (lines of `key = value`, the keys of /etc/sd-pair.conf that concern a pairing: name,
 * device-type, listen, expiry, max-attempts, handshake-timeout, no-mdns, dht-bootstrap, dht-protocol, dht-records,
 * relay, no-port-mapping, code; NULL for the defaults), then loads the identity from `state_dir` (creating both,
 * 0700, on first use). NULL on failure, with the reason in `error`. */
sd_pair *sd_pair_new(const char *state_dir, const char *settings, char *error, size_t error_size);
/* Ends a running pairing (its sockets close) and frees the handle. */
void sd_pair_free(sd_pair *p);

/* Each state change of a pairing, as one JSON object (the `--events json` lines, e.g.
 * {"event":"completed","device_id":"…","device_name":"…","path":"direct","time":…}), on the stepping thread. The
 * string lives during the call only, and is cleared after it (the `waiting` event carries the code). */
typedef void (*sd_pair_event_fn)(void *context, const char *json);
void sd_pair_on_event(sd_pair *p, sd_pair_event_fn fn, void *context);

/* Opens a pairing window with a new code and copies the code into `code` (at least SD_PAIR_CODE_SIZE bytes; wipe
 * it once shown). */
int sd_pair_start_initiator(sd_pair *p, char *code, size_t code_size);
/* Pairs with the device showing `code`; found by mDNS and the DHT as the settings allow, or dialled at `peer` (a
 * multiaddr with /p2p/<id>) when not NULL. */
int sd_pair_start_joiner(sd_pair *p, const char *code, const char *peer);

/* Runs what is due at `now_ms`; while the pairing runs, fills fds[0..*count) (fd and events, revents zero) and
 * sets *deadline_ms, when sd_pair_step is due at the latest (at most a second away), and returns SD_PAIR_RUNNING.
 * Returns the result once the pairing is over. */
int sd_pair_prepare(sd_pair *p, uint64_t now_ms, struct pollfd *fds, size_t capacity, size_t *count, uint64_t *deadline_ms);
/* Hands back the `count` entries sd_pair_prepare filled, with poll's revents (all zero when only time passed).
 * Returns SD_PAIR_RUNNING or the result. */
int sd_pair_step(sd_pair *p, uint64_t now_ms, const struct pollfd *fds, size_t count);
/* Ends the running pairing (SD_PAIR_CANCELLED at the next step). Safe from any thread and a signal handler. */
void sd_pair_cancel(sd_pair *p);
/* CLOCK_MONOTONIC in milliseconds: the clock of now_ms and deadline_ms. */
uint64_t sd_pair_now(void);

/* Why the last call failed, or how the last pairing did ("" when there is nothing to say). Valid until the next
 * call on the handle. */
const char *sd_pair_message(sd_pair *p);
/* The running initiator's listening address `index` (from 0), with its port and /p2p/ id: for a joiner told where
 * to dial. Returns its length, or SD_PAIR_ERR_INVALID past the last. */
int sd_pair_listening(sd_pair *p, size_t index, char *out, size_t size);
/* After SD_PAIR_PAIRED: the other device's id and name. */
int sd_pair_paired(sd_pair *p, char *device_id, size_t id_size, char *device_name, size_t name_size);
/* This device's id in the registry, and its libp2p peer id. */
int sd_pair_device_id(sd_pair *p, char *out, size_t size);
int sd_pair_peer_id(sd_pair *p, char *out, size_t size);

#ifdef __cplusplus
}
#endif
#endif
