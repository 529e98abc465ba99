// The few libc entry points the command-line agent needs, reachable from Embedded Swift (which cannot import Glibc).
#ifndef SD_SUPPORT_H
#define SD_SUPPORT_H
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>

/// argc/argv as the C runtime passed them to main (Embedded Swift has no CommandLine).
int sd_argc(void);
const char *sd_arg(int index);

/// Writes all of buf to fd, retrying on EINTR and short writes. Returns 0, or -1 with errno set.
int sd_write_all(int fd, const void *buf, size_t len);

/// Monotonic milliseconds since an arbitrary origin (CLOCK_MONOTONIC): the only clock the protocol needs.
uint64_t sd_monotonic_ms(void);

/// Sleeps `ms` milliseconds (one-shot commands only: never in the agent's loop).
void sd_sleep_ms(uint32_t ms);

/// Monotonic nanoseconds, for benchmarks.
uint64_t sd_monotonic_ns(void);

/// Wall-clock milliseconds since the epoch (gettimeofday): only to translate Avahi's absolute timeouts, which
/// the library computes from gettimeofday, into the loop's monotonic deadlines.
uint64_t sd_realtime_ms(void);

/// A place in the BIP39 English wordlist (bip39.c, over the front-coded table of bip39_table.c): word `index`, its
/// `length` letters in `word`. Each word depends on the one before, so a walk over the list is one call a word.
typedef struct {
    uint32_t bit;
    int index;
    int length;
    uint8_t word[8];
} sd_bip39_cursor;

/// Decodes word `index` (clamped to 0…2047) into the cursor: at most 31 other words are decoded on the way.
void sd_bip39_seek(sd_bip39_cursor *c, int index);
/// Moves to the next word; 0 (and no change) after the last.
int sd_bip39_next(sd_bip39_cursor *c);

/// Opens a non-blocking TCP listener on a literal IPv4 or IPv6 address (port 0 = any) and writes the bound port.
/// Returns the fd, or -errno.
int sd_tcp_listen(const char *ip, uint16_t port, uint16_t *bound_port);

/// Starts a non-blocking TCP connect to a literal address. Returns the fd (the connect may still be in progress:
/// wait for POLLOUT, then check sd_socket_error), or -errno.
int sd_tcp_connect(const char *ip, uint16_t port);

/// A non-blocking TCP socket bound to a free port (reported in bound_port), connected later with sd_tcp_connect_from.
int sd_tcp_bind_any(int ipv6, uint16_t *bound_port);
/// Connects a socket from sd_tcp_bind_any: 0 when under way (poll for writable), or -errno.
int sd_tcp_connect_from(int fd, const char *ip, uint16_t port);

/// The host's addresses worth advertising (interfaces up, not loopback, IPv6 not link-local): up to `max` slots
/// of 17 bytes (family 4 or 6, then the address). Returns the count, or -errno.
int sd_local_addresses(uint8_t *out, int max, int want_ipv6);

/// For `doctor`: one record per network interface with an address, up to `max` records of 160 bytes — its name
/// (16 bytes, NUL-padded), flags (bit 0 up, 1 multicast, 2 loopback, 3 an address that is not link-local), then
/// its addresses as text, space-separated (143 bytes, NUL-terminated; more are left out). Returns the count, or
/// -errno.
int sd_interfaces(char *out, int max);

/// For `doctor`: connects to ip:port and waits up to `ms` for the answer. 0 when the connection completed, else
/// the errno (ETIMEDOUT for no answer).
int sd_connect_check(const char *ip, uint16_t port, int ms);

/// For `doctor`: how `nft list ruleset`'s text (`text`, `length` bytes) treats `proto` ("tcp" or "udp") port `port`
/// in input chains: 0 nothing drops it, 1 a rule drops or rejects it (its line, trimmed, goes to `line`, up to
/// `line_max` bytes with the NUL), 2 an input policy drops and no rule accepts it.
int sd_firewall_verdict(const char *text, size_t length, const char *proto, unsigned port, char *line, size_t line_max);

/// 1 when standard output is the systemd journal's stream (JOURNAL_STREAM names its device and inode, as
/// systemd.exec(5) says to check), else 0.
int sd_stdout_is_journal(void);

/// 1 when `fd` is an open descriptor, else 0.
int sd_fd_is_open(int fd);

/// isatty(3): 1 when `fd` is a terminal.
int sd_isatty(int fd);

/// The address of the other end of connected socket `fd`, as one 17-byte slot like sd_local_addresses (an
/// IPv4-mapped IPv6 address comes back as IPv4), and its port. Returns 4 or 6, or 0 when there is none.
int sd_peer_address(int fd, uint8_t *out, uint16_t *port);

/// 1 when an interface of this host (up) is on the network of `address` (4 or 16 bytes, by `family` 4 or 6):
/// the address masked with that interface's netmask equals the interface's own, masked. 0 otherwise.
int sd_on_local_network(const uint8_t *address, int family);

/// Creates the missing ancestors of `path` (not `path` itself), each 0700. 0 or -errno.
int sd_mkdir_parents(const char *path);

/// getenv(3).
const char *sd_env(const char *name);

/// The default IPv4 gateway (from /proc/net/route) into `out`: 0, or -ENOENT when there is none, or -errno.
int sd_default_gateway4(uint8_t out[4]);

/// A non-blocking UDP socket connected to ip:port (NAT-PMP to the gateway), its local address into `local_out`.
/// Returns the fd, or -errno.
int sd_udp_connect4(const uint8_t ip[4], uint16_t port, uint8_t local_out[4]);

/// Runs `path` with `argv` (NULL-terminated; no shell), stdin from /dev/null, stdout and stderr into a pipe whose
/// non-blocking read end goes to *out_fd (NULL: to /dev/null). Returns the child's pid, or -errno. Children are reaped by the kernel
/// (SIGCHLD is ignored), as for sd_spawn_shell.
int sd_spawn_reader(const char *path, const char *const *argv, int *out_fd);

/// `nft list ruleset` through sd_spawn_reader (for `doctor`, which only reads the rules). Its pid, or -errno.
int sd_spawn_nft(int *out_fd);

/// miniupnpc's client: `upnpc -e sd-pair -a <local> <port> <port> TCP <lease>` (add) or `upnpc -e sd-pair -d <port>
/// TCP` (remove), through sd_spawn_reader. Returns its pid, or -errno (-ENOENT: miniupnpc is not installed).
int sd_upnpc(int add, const uint8_t local[4], uint16_t port, uint32_t lease, int *out_fd);

/// SIGTERM to a child we spawned (by its PID).
void sd_kill(int pid);

/// As sd_tcp_connect, with an IPv6 scope (interface index) for link-local addresses found by mDNS; 0 = none.
int sd_tcp_connect_scoped(const char *ip, uint16_t port, uint32_t scope);

/// Accepts one pending connection as a non-blocking fd; -EAGAIN when there is none, other -errno on failure.
/// Writes the peer's address as text into peer (at least 64 bytes) and its source network into `source`: the IPv4
/// /32 (tagged 0xFFFF in the top 16 bits) or the IPv6 /64.
int sd_tcp_accept(int listen_fd, char *peer, size_t peer_len, uint64_t *source);

/// Listens on a unix stream socket at `path` (non-blocking, mode 0600: it controls pairing windows). A socket file
/// left by an agent that died is replaced; one that still answers gives -EADDRINUSE. Returns the fd, or -errno.
int sd_unix_listen(const char *path);

/// Connects to the unix stream socket at `path` (a local, immediate connect) and makes the fd non-blocking.
/// Returns the fd, or -errno (-ENOENT or -ECONNREFUSED: nobody listens there).
int sd_unix_connect(const char *path);

/// Reads one line (the typed code) from standard input into buf, without its newline: at most cap - 1 bytes, then
/// NUL-terminated. With a terminal on stdin, first writes `prompt` to stderr. Returns the length, -ENODATA at end of
/// input with nothing read, -EMSGSIZE for a longer line (the rest of it is left unread), or -errno.
int sd_read_line(const char *prompt, char *buf, size_t cap);

/// Removes a file (the control socket at shutdown); 0 or -errno.
int sd_unlink(const char *path);

/// Encodes `text` as a QR code with libqrencode, opened at run time: writes width × width modules (1 = dark, row
/// by row) and returns the width; -ENOENT when libqrencode.so.4 is not installed, -ENOSPC when the symbol needs more
/// than `capacity` modules, -EINVAL when it cannot be encoded.
int sd_qr_encode(const char *text, uint8_t *modules, int capacity);

/// A non-blocking close-on-exec pipe: fds[0] reads, fds[1] writes. 0 or -errno.
int sd_pipe(int fds[2]);

/// Writes one byte (async-signal-safe, any thread): wakes a poll loop waiting on the pipe's read end.
void sd_write_byte(int fd, int byte);

/// The pending error of a socket (0 when a non-blocking connect succeeded).
int sd_socket_error(int fd);

/// read()/write() returning -errno instead of -1 (EINTR is retried).
long sd_read(int fd, void *buf, size_t len);
long sd_write(int fd, const void *buf, size_t len);

/// poll() returning -errno (EINTR is reported as 0 ready, so the caller re-checks its signal pipe).
int sd_poll(struct pollfd *fds, unsigned long count, int timeout_ms);

/// Installs SIGINT, SIGTERM and SIGUSR1 handlers that write the signal number to a non-blocking self-pipe, and
/// ignores SIGPIPE. Returns the pipe's read end, or -errno. Call once.
int sd_signal_pipe(void);

/// Reads one pending signal number from the self-pipe, or 0 when none.
int sd_next_signal(int pipe_fd);

/// sd_check_state_dir's answers: the directory belongs to another user / group or others can write it.
#define SD_EOWNER 1001
#define SD_EMODE 1002

/// Whether a state directory may hold an identity key and be trusted (ssh's StrictModes, adapted): a directory (a
/// link to one only if we or root made the link) that group and others cannot write, owned by us or root — or, for
/// root, by a service user when its parent is root's and private (systemd's StateDirectory). Writes the owner's uid
/// into `owner` (may be NULL). 0, -SD_EOWNER, -SD_EMODE, -ENOTDIR or -errno.
int sd_check_state_dir(const char *path, uint32_t *owner);

/// The permission bits of `path` (not following a link), or -errno.
int sd_file_mode(const char *path);

/// mkdir with mode 0700, then sd_check_state_dir (an existing directory is used only if it passes).
/// Returns 0 or -errno / -SD_EOWNER / -SD_EMODE.
int sd_mkdir(const char *path);

/// The uid of the process at the other end of a unix socket (SO_PEERCRED), or -errno.
long sd_peer_uid(int fd);

/// Clears 64 KiB of the stack below the caller's frame (explicit_bzero), where copies of a closed window's words
/// may linger in the frames of calls that have returned. Call it from a shallow frame (the agent's loop).
void sd_scrub_stack(void);

/// geteuid(), for Swift code that cannot import Glibc (Embedded).
uint32_t sd_euid(void);

/// Reads up to cap bytes of a file. Returns the byte count, or -errno (-ENOENT when missing). A file larger
/// than cap is -EFBIG.
long sd_read_file(const char *path, void *buf, size_t cap);

/// Replaces dir/name atomically with mode 0600: temp file, write, fsync, rename, fsync of the directory.
/// Returns 0 or -errno; on failure the old file is untouched and the temp file removed.
int sd_write_file_atomic(const char *dir, const char *name, const void *buf, size_t len);

/// Takes an exclusive advisory lock (flock) on dir/name, creating it 0600. Returns the fd to keep open while
/// writing, -EWOULDBLOCK if another process holds it, or another -errno.
int sd_lock(const char *dir, const char *name);

/// Makes dir/backup a hard link to the current dir/name (if it exists), replacing any older backup atomically.
/// Returns 0, or -errno (a missing dir/name is not an error).
int sd_keep_backup(const char *dir, const char *name, const char *backup);

/// sd_display_check's answer for a path that is neither a regular file nor a character device (a FIFO, a socket).
#define EFTYPE_DISPLAY 1000

/// Whether `path` is safe for --display (it receives a live code): not a symbolic link; a character device, or a
/// regular file (or none yet) in a directory owned by us or root that group and others cannot write. 0, -ELOOP,
/// -EFTYPE_DISPLAY, -EPERM (the directory), or another -errno.
int sd_display_check(const char *path);

/// Replaces what a display shows, after sd_display_check: a character device (a console such as /dev/tty1, an LCD)
/// is opened without following links and without blocking and gets a clear-screen sequence first; a regular file is
/// replaced by a new 0600 file renamed over it (never written through, whoever owned it). Returns 0 or -errno.
int sd_show_on_display(const char *path, const void *buf, size_t len);

/// Starts `/bin/sh -c command` with the process's environment plus `extra` (NULL-terminated "NAME=value" strings,
/// at most 8), without waiting for it: a forked watcher runs it, waits for it (30 s at most, then stops it) and, when
/// it fails, writes one line on stderr with its exit status and the first line of its stderr. SIGCHLD is set to be
/// ignored first, so finished watchers never linger as zombies. Returns the watcher's pid, or -errno.
int sd_spawn_shell(const char *command, const char *const *extra);

/// Wall-clock seconds since the Unix epoch (for "paired at" times only; never for timeouts).
int64_t sd_unix_time(void);

/// The host name (for a default device name) and "sysname release" (for the OS version); 0 or -errno.
int sd_host_name(char *buf, size_t len);
int sd_os_version(char *buf, size_t len);
/// CPace-RISTRETTO255-SHA512 (draft-irtf-cfrg-cpace): the generator from password, channel identifier and session id
/// (cpace.c), and the intermediate session key from our scalar and the peer's share; -1 when the share is invalid.
void sd_cpace_generator(unsigned char g[32], const unsigned char *prs, size_t prs_len, const unsigned char *ci, size_t ci_len,
                        const unsigned char *sid, size_t sid_len);
int sd_cpace_isk(unsigned char isk[64], const unsigned char y[32], const unsigned char peer[32], const unsigned char *sid, size_t sid_len,
                 const unsigned char ya[32], const unsigned char *ada, size_t ada_len, const unsigned char yb[32],
                 const unsigned char *adb, size_t adb_len);

#endif
