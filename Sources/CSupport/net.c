#define _GNU_SOURCE  // accept4, pipe2
// Sockets, poll and signals for the event loop. Small wrappers so that Swift (also Embedded Swift, which cannot
// import Glibc) sees plain ints: fd or -errno.
#include "sd_support.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return -errno;
    return 0;
}

// Fills a sockaddr from a literal address; returns its length or 0 if the text is no IP address.
static socklen_t make_addr(const char *ip, uint16_t port, struct sockaddr_storage *ss) {
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        return sizeof *v4;
    }
    if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        return sizeof *v6;
    }
    return 0;
}

/* A socket bound to ip:port (0: any free port, reported in bound_port); listening when backlog > 0. */
static int bound_socket(const char *ip, uint16_t port, uint16_t *bound_port, int backlog) {
    struct sockaddr_storage ss;
    socklen_t len = make_addr(ip, port, &ss);
    if (len == 0) return -EINVAL;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    int rc = set_nonblocking(fd);
    if (rc == 0 && bind(fd, (struct sockaddr *)&ss, len) < 0) rc = -errno;
    if (rc == 0 && backlog > 0 && listen(fd, backlog) < 0) rc = -errno;
    if (rc == 0 && bound_port) {
        struct sockaddr_storage got;
        socklen_t got_len = sizeof got;
        if (getsockname(fd, (struct sockaddr *)&got, &got_len) < 0) rc = -errno;
        else *bound_port = ntohs(got.ss_family == AF_INET ? ((struct sockaddr_in *)&got)->sin_port
                                                           : ((struct sockaddr_in6 *)&got)->sin6_port);
    }
    if (rc != 0) { close(fd); return rc; }
    return fd;
}

/* 64: a burst of connections waits in the kernel while the loop accepts (and evicts), instead of in SYN retries. */
int sd_tcp_listen(const char *ip, uint16_t port, uint16_t *bound_port) { return bound_socket(ip, port, bound_port, 64); }

/* A hole punch names its port before it dials (DCUtR's CONNECT), so the socket is bound first and connected later;
 * a NAT that keeps the port then maps the dial to the address the other side was told. */
int sd_tcp_bind_any(int ipv6, uint16_t *bound_port) { return bound_socket(ipv6 ? "::" : "0.0.0.0", 0, bound_port, 0); }

int sd_tcp_connect_from(int fd, const char *ip, uint16_t port) {
    struct sockaddr_storage ss;
    socklen_t len = make_addr(ip, port, &ss);
    if (len == 0) return -EINVAL;
    if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) return -errno;
    return 0;
}

int sd_tcp_connect(const char *ip, uint16_t port) { return sd_tcp_connect_scoped(ip, port, 0); }

int sd_tcp_connect_scoped(const char *ip, uint16_t port, uint32_t scope) {
    struct sockaddr_storage ss;
    socklen_t len = make_addr(ip, port, &ss);
    if (len == 0) return -EINVAL;
    if (ss.ss_family == AF_INET6) ((struct sockaddr_in6 *)&ss)->sin6_scope_id = scope;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int rc = set_nonblocking(fd);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (rc == 0 && connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) rc = -errno;
    if (rc != 0) { close(fd); return rc; }
    return fd;
}

/* The source network a connection comes from, as one number: an IPv4 address (or an IPv4-mapped IPv6 one) is its
 * own /32, tagged in the top bits so it cannot equal an IPv6 /64; an IPv6 address counts as its /64, the block one
 * subscriber usually gets. The listener uses it to share its slots fairly between sources under pressure. */
static uint64_t source_prefix(const struct sockaddr_storage *ss) {
    if (ss->ss_family == AF_INET) return 0xFFFF000000000000ull | ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr);
    if (ss->ss_family != AF_INET6) return 0;
    const uint8_t *a = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    if (memcmp(a, mapped, 12) == 0)
        return 0xFFFF000000000000ull | ((uint64_t)a[12] << 24 | (uint64_t)a[13] << 16 | (uint64_t)a[14] << 8 | a[15]);
    uint64_t p = 0;
    for (int i = 0; i < 8; i++) p = p << 8 | a[i];
    return p;
}

int sd_tcp_accept(int listen_fd, char *peer, size_t peer_len, uint64_t *source) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd = accept4(listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return -errno;
    if (source) *source = source_prefix(&ss);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (peer && peer_len >= 64) {
        char text[INET6_ADDRSTRLEN] = "?";
        uint16_t port = 0;
        if (ss.ss_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, text, sizeof text);
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, text, sizeof text);
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
        snprintf(peer, peer_len, "%s:%u", text, (unsigned)port);
    }
    return fd;
}

int sd_socket_error(int fd) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return errno;
    return err;
}

long sd_read(int fd, void *buf, size_t len) {
    for (;;) {
        ssize_t n = read(fd, buf, len);
        if (n >= 0) return (long)n;
        if (errno != EINTR) return -errno;
    }
}

long sd_write(int fd, const void *buf, size_t len) {
    for (;;) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n >= 0) return (long)n;
        if (errno != EINTR) return -errno;
    }
}

int sd_poll(struct pollfd *fds, unsigned long count, int timeout_ms) {
    int n = poll(fds, (nfds_t)count, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -errno;
    return n;
}

static int signal_write_fd = -1;

static void on_signal(int sig) {
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    if (signal_write_fd >= 0) (void)!write(signal_write_fd, &b, 1);
    errno = saved;
}

int sd_signal_pipe(void) {
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) return -errno;
    signal_write_fd = fds[1];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return fds[0];
}

int sd_next_signal(int pipe_fd) {
    unsigned char b;
    ssize_t n = read(pipe_fd, &b, 1);
    return n == 1 ? (int)b : 0;
}

#include <ifaddrs.h>
#include <net/if.h>

int sd_local_addresses(uint8_t *out, int max, int want_ipv6) {
    struct ifaddrs *list = NULL;
    if (getifaddrs(&list) != 0) return -errno;
    int n = 0;
    for (struct ifaddrs *a = list; a && n < max; a = a->ifa_next) {
        if (!a->ifa_addr || !(a->ifa_flags & IFF_UP) || (a->ifa_flags & IFF_LOOPBACK)) continue;
        uint8_t *slot = out + 17 * n;
        if (a->ifa_addr->sa_family == AF_INET) {
            slot[0] = 4;
            memcpy(slot + 1, &((struct sockaddr_in *)a->ifa_addr)->sin_addr, 4);
            n++;
        } else if (want_ipv6 && a->ifa_addr->sa_family == AF_INET6) {
            const uint8_t *b = (const uint8_t *)&((struct sockaddr_in6 *)a->ifa_addr)->sin6_addr;
            if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) continue;  // link-local: useless beyond the LAN
            slot[0] = 6;
            memcpy(slot + 1, b, 16);
            n++;
        }
    }
    freeifaddrs(list);
    return n;
}

int sd_interfaces(char *out, int max) {
    struct ifaddrs *list = NULL;
    if (getifaddrs(&list) != 0) return -errno;
    int n = 0;
    for (struct ifaddrs *a = list; a; a = a->ifa_next) {
        int family = a->ifa_addr ? a->ifa_addr->sa_family : 0;
        if (family != AF_INET && family != AF_INET6) continue;
        char *r = NULL;
        for (int k = 0; k < n && !r; k++) if (strncmp(out + 160 * k, a->ifa_name, 15) == 0) r = out + 160 * k;
        if (!r) {
            if (n == max) continue;
            r = out + 160 * n++;
            memset(r, 0, 160);
            strncpy(r, a->ifa_name, 15);
            r[16] = (a->ifa_flags & IFF_UP ? 1 : 0) | (a->ifa_flags & IFF_MULTICAST ? 2 : 0) | (a->ifa_flags & IFF_LOOPBACK ? 4 : 0);
        }
        const void *addr = family == AF_INET ? (const void *)&((struct sockaddr_in *)a->ifa_addr)->sin_addr
                                             : (const void *)&((struct sockaddr_in6 *)a->ifa_addr)->sin6_addr;
        const uint8_t *b = addr;
        int link_local = family == AF_INET ? (b[0] == 169 && b[1] == 254) : (b[0] == 0xfe && (b[1] & 0xc0) == 0x80);
        if (!link_local) r[16] |= 8;
        char text[INET6_ADDRSTRLEN];
        if (!inet_ntop(family, addr, text, sizeof text)) continue;
        size_t used = strlen(r + 17);
        if (used + strlen(text) + 2 < 143) snprintf(r + 17 + used, 143 - used, "%s%s", used ? " " : "", text);
    }
    freeifaddrs(list);
    return n;
}

int sd_connect_check(const char *ip, uint16_t port, int ms) {
    int fd = sd_tcp_connect(ip, port);
    if (fd < 0) return -fd;
    struct pollfd p = {fd, POLLOUT, 0};
    int rc = poll(&p, 1, ms);
    int error = rc == 0 ? ETIMEDOUT : rc < 0 ? errno : sd_socket_error(fd);
    close(fd);
    return error;
}

int sd_firewall_verdict(const char *text, size_t length, const char *proto, unsigned port, char *line, size_t line_max) {
    char dport[16], number[8];
    snprintf(dport, sizeof dport, "%s dport", proto);
    snprintf(number, sizeof number, "%u", port);
    int input = 0, policy_drop = 0, accepted = 0, dropped = 0;
    const char *end = text + length;
    for (const char *s = text; s < end;) {
        const char *e = memchr(s, '\n', (size_t)(end - s));
        if (!e) e = end;
        char l[512];
        size_t n = (size_t)(e - s) < sizeof l - 1 ? (size_t)(e - s) : sizeof l - 1;
        memcpy(l, s, n);
        l[n] = 0;
        s = e + 1;
        if (strstr(l, "hook input")) {
            input = 1;
            if (strstr(l, "policy drop")) policy_drop = 1;
            continue;
        }
        if (strstr(l, "hook ")) input = 0;
        if (!input || !strstr(l, dport)) continue;
        int names = 0;  /* the port as a whole number, not part of a longer one */
        for (const char *p = strstr(l, number); p && !names; p = strstr(p + 1, number)) {
            char after = p[strlen(number)];
            names = (p == l || p[-1] < '0' || p[-1] > '9') && (after < '0' || after > '9');
        }
        if (!names) continue;
        if (strstr(l, " accept")) accepted = 1;
        if (!dropped && (strstr(l, " drop") || strstr(l, " reject"))) {
            dropped = 1;
            const char *t = l;
            while (*t == ' ' || *t == '\t') t++;
            snprintf(line, line_max, "%s", t);
        }
    }
    return dropped ? 1 : policy_drop && !accepted ? 2 : 0;
}

int sd_isatty(int fd) { return isatty(fd); }

int sd_fd_is_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }

int sd_stdout_is_journal(void) {
    const char *stream = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (!stream || sscanf(stream, "%llu:%llu", &dev, &ino) != 2 || fstat(1, &st) != 0) return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

int sd_peer_address(int fd, uint8_t *out, uint16_t *port) {
    struct sockaddr_storage ss;
    socklen_t length = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &length) != 0) return 0;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        out[0] = 4;
        memcpy(out + 1, &a->sin_addr, 4);
        *port = ntohs(a->sin_port);
        return 4;
    }
    if (ss.ss_family != AF_INET6) return 0;
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    *port = ntohs(a->sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
        out[0] = 4;
        memcpy(out + 1, a->sin6_addr.s6_addr + 12, 4);
        return 4;
    }
    out[0] = 6;
    memcpy(out + 1, &a->sin6_addr, 16);
    return 6;
}

int sd_on_local_network(const uint8_t *address, int family) {
    struct ifaddrs *list = NULL;
    if (getifaddrs(&list) != 0) return 0;
    int found = 0;
    for (struct ifaddrs *a = list; a && !found; a = a->ifa_next) {
        if (!a->ifa_addr || !a->ifa_netmask || !(a->ifa_flags & IFF_UP)) continue;
        const uint8_t *mine, *mask;
        int n;
        if (family == 4 && a->ifa_addr->sa_family == AF_INET) {
            mine = (const uint8_t *)&((struct sockaddr_in *)a->ifa_addr)->sin_addr;
            mask = (const uint8_t *)&((struct sockaddr_in *)a->ifa_netmask)->sin_addr;
            n = 4;
        } else if (family == 6 && a->ifa_addr->sa_family == AF_INET6) {
            mine = (const uint8_t *)&((struct sockaddr_in6 *)a->ifa_addr)->sin6_addr;
            mask = (const uint8_t *)&((struct sockaddr_in6 *)a->ifa_netmask)->sin6_addr;
            n = 16;
        } else {
            continue;
        }
        int same = 1;
        for (int i = 0; i < n; i++) same &= ((mine[i] ^ address[i]) & mask[i]) == 0;
        found = same;
    }
    freeifaddrs(list);
    return found;
}

// Fills a unix socket address; 0 when the path does not fit sun_path (108 bytes with its terminator).
static socklen_t make_unix_addr(const char *path, struct sockaddr_un *un) {
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof un->sun_path) return 0;
    memset(un, 0, sizeof *un);
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, path, len + 1);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
}

int sd_unix_connect(const char *path) {
    struct sockaddr_un un;
    socklen_t len = make_unix_addr(path, &un);
    if (len == 0) return -ENAMETOOLONG;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    // Blocking connect: a unix socket connects at once or fails (ENOENT, ECONNREFUSED, EAGAIN when the backlog is full).
    if (connect(fd, (struct sockaddr *)&un, len) < 0 || set_nonblocking(fd) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int sd_unix_listen(const char *path) {
    struct sockaddr_un un;
    socklen_t len = make_unix_addr(path, &un);
    if (len == 0) return -ENAMETOOLONG;
    int probe = sd_unix_connect(path);
    if (probe >= 0) {
        close(probe);
        return -EADDRINUSE;
    }
    if (probe == -ECONNREFUSED) unlink(path);  // a dead agent's socket: nobody accepts on it any more
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    // Created 0600 from the start (umask), not chmod-ed after: no moment where others could connect.
    mode_t old = umask(0177);
    int rc = bind(fd, (struct sockaddr *)&un, len);
    umask(old);
    if (rc < 0 || listen(fd, 4) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int sd_unlink(const char *path) { return unlink(path) < 0 ? -errno : 0; }

int sd_pipe(int fds[2]) { return pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0 ? -errno : 0; }

void sd_write_byte(int fd, int byte) {
    unsigned char b = (unsigned char)byte;
    (void)!write(fd, &b, 1);
}

long sd_peer_uid(int fd) {
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return -errno;
    return (long)cred.uid;
}

uint32_t sd_euid(void) { return (uint32_t)geteuid(); }

/* noinline and a barrier: the buffer must be really allocated below the caller and really cleared. */
__attribute__((noinline)) void sd_scrub_stack(void) {
    volatile unsigned char scrub[65536];
    explicit_bzero((void *)scrub, sizeof scrub);
    __asm__ __volatile__("" : : "r"(scrub) : "memory");
}
