#define _GNU_SOURCE  // pipe2
// What the port mapping needs from the system: the default IPv4 gateway, a UDP socket to it (NAT-PMP), and a child
// process whose output we read on the poll loop (UPnP IGD through miniupnpc's `upnpc`, which blocks).
#include "sd_support.h"
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

extern char **environ;

int sd_default_gateway4(uint8_t out[4]) {
    // /proc/net/route: "Iface Destination Gateway Flags …", addresses as little-endian hex of the raw u32.
    FILE *f = fopen("/proc/net/route", "re");
    if (!f) return -errno;
    char line[256];
    int found = -ENOENT;
    if (!fgets(line, sizeof line, f)) { fclose(f); return -ENOENT; }  // header
    while (fgets(line, sizeof line, f)) {
        char iface[64];
        unsigned dest, gw, flags;
        if (sscanf(line, "%63s %x %x %x", iface, &dest, &gw, &flags) != 4) continue;
        if (dest != 0 || gw == 0 || !(flags & 0x2)) continue;  // 0x2 = RTF_GATEWAY
        memcpy(out, &gw, 4);  // already in network order in memory
        found = 0;
        break;
    }
    fclose(f);
    return found;
}

int sd_udp_connect4(const uint8_t ip[4], uint16_t port, uint8_t local_out[4]) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -errno;
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
    memcpy(&to.sin_addr, ip, 4);
    struct sockaddr_in me;
    socklen_t len = sizeof me;
    // connect() on UDP picks the route and the source address, and makes the kernel drop datagrams from anyone
    // but the gateway's port 5351.
    if (connect(fd, (struct sockaddr *)&to, sizeof to) < 0 || getsockname(fd, (struct sockaddr *)&me, &len) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    memcpy(local_out, &me.sin_addr, 4);
    return fd;
}

int sd_spawn_reader(const char *path, const char *const *argv, int *out_fd) {
    signal(SIGCHLD, SIG_IGN);  // the kernel reaps our children: we never wait for one
    int fds[2] = {-1, -1};
    if (out_fd && pipe2(fds, O_CLOEXEC) < 0) return -errno;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    if (out_fd) {
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
    } else {
        // Nobody reads: output to /dev/null, so that the child never dies of SIGPIPE once we are gone.
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
    }
    pid_t pid;
    int rc = posix_spawn(&pid, path, &actions, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (out_fd) close(fds[1]);
    if (rc != 0) {
        if (out_fd) close(fds[0]);
        return -rc;
    }
    if (out_fd) {
        fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL, 0) | O_NONBLOCK);
        *out_fd = fds[0];
    }
    return (int)pid;
}

int sd_spawn_nft(int *out_fd) {
    const char *const argv[] = {"nft", "list", "ruleset", NULL};
    int pid = sd_spawn_reader("/usr/sbin/nft", argv, out_fd);
    return pid == -ENOENT ? sd_spawn_reader("/sbin/nft", argv, out_fd) : pid;
}

void sd_kill(int pid) {
    if (pid > 0) kill(pid, SIGTERM);
}

int sd_upnpc(int add, const uint8_t local[4], uint16_t port, uint32_t lease, int *out_fd) {
    // Fixed argv, numbers formatted here: no shell, nothing from the network in it.
    char ip[16], p[8], l[12];
    snprintf(ip, sizeof ip, "%u.%u.%u.%u", local[0], local[1], local[2], local[3]);
    snprintf(p, sizeof p, "%u", (unsigned)port);
    snprintf(l, sizeof l, "%u", (unsigned)lease);
    const char *map[] = {"upnpc", "-e", "sd-pair", "-a", ip, p, p, "TCP", l, NULL};
    const char *unmap[] = {"upnpc", "-e", "sd-pair", "-d", p, "TCP", NULL};
    return sd_spawn_reader("/usr/bin/upnpc", add ? map : unmap, out_fd);
}
