// Files for the state directory: small, atomic, private (0600).
#include "sd_support.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <stdio.h>
#include <sys/stat.h>
#include <signal.h>
#include <poll.h>
#include <spawn.h>
#include <time.h>
#include <sys/wait.h>
#include <sys/file.h>
#include <sys/utsname.h>
#include <time.h>

int sd_check_state_dir(const char *path, uint32_t *owner) {
    struct stat st;
    if (lstat(path, &st) < 0) return -errno;
    /* A link is followed only if we or root made it (systemd's DynamicUser StateDirectory is a root-owned link). */
    if (S_ISLNK(st.st_mode) && st.st_uid != geteuid() && st.st_uid != 0) return -SD_EOWNER;
    if (stat(path, &st) < 0) return -errno;
    if (!S_ISDIR(st.st_mode)) return -ENOTDIR;
    if (owner) *owner = st.st_uid;
    if (st.st_mode & (S_IWGRP | S_IWOTH)) return -SD_EMODE;
    if (st.st_uid == geteuid() || st.st_uid == 0) return 0;
    if (geteuid() != 0) return -SD_EOWNER;
    /* Root using a service user's directory (`sudo sd-pair invite` beside the unit): trusted only where root's own
     * administration put it, i.e. its parent belongs to root and nobody else can write there. A directory another
     * user made in /tmp, say, fails here. */
    char real[4096];
    if (!realpath(path, real)) return -errno;
    char *slash = strrchr(real, '/');
    if (slash == real) slash[1] = 0; else if (slash) *slash = 0;
    if (stat(real, &st) < 0) return -errno;
    return st.st_uid == 0 && !(st.st_mode & (S_IWGRP | S_IWOTH)) ? 0 : -SD_EOWNER;
}

void sd_sleep_ms(uint32_t ms) {
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) < 0 && errno == EINTR) {}
}

int sd_file_mode(const char *path) {
    struct stat st;
    return lstat(path, &st) < 0 ? -errno : (int)(st.st_mode & 07777);
}

int sd_mkdir(const char *path) {
    if (mkdir(path, 0700) < 0 && errno != EEXIST) return -errno;
    return sd_check_state_dir(path, NULL);
}

int sd_mkdir_parents(const char *path) {
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf) return -ENAMETOOLONG;
    memcpy(buf, path, len + 1);
    // Every ancestor after the first component, as `mkdir -p` would, private to the user (the XDG spec's 0700).
    for (size_t i = 1; i < len; i++) {
        if (buf[i] != '/') continue;
        buf[i] = '\0';
        if (mkdir(buf, 0700) < 0 && errno != EEXIST) return -errno;
        buf[i] = '/';
    }
    return 0;
}

const char *sd_env(const char *name) { return getenv(name); }

long sd_read_file(const char *path, void *buf, size_t cap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    size_t total = 0;
    for (;;) {
        if (total == cap) {
            char probe;
            ssize_t extra = read(fd, &probe, 1);
            close(fd);
            return extra > 0 ? -EFBIG : (long)total;
        }
        ssize_t n = read(fd, (char *)buf + total, cap - total);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            return -e;
        }
        if (n == 0) break;
        total += (size_t)n;
    }
    close(fd);
    return (long)total;
}

int sd_write_file_atomic(const char *dir, const char *name, const void *buf, size_t len) {
    char path[4096], temp[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) return -ENAMETOOLONG;
    if (snprintf(temp, sizeof temp, "%s/.%s.tmp.%ld", dir, name, (long)getpid()) >= (int)sizeof temp) return -ENAMETOOLONG;
    unlink(temp);  /* left by a writer that died; O_EXCL then guarantees the file is ours, new, and no link */
    int fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return -errno;
    int rc = sd_write_all(fd, buf, len) == 0 ? 0 : -errno;
    if (rc == 0 && fsync(fd) < 0) rc = -errno;
    if (close(fd) < 0 && rc == 0) rc = -errno;
    if (rc == 0 && rename(temp, path) < 0) rc = -errno;
    if (rc != 0) {
        unlink(temp);
        return rc;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return -errno;
    if (fsync(dfd) < 0) rc = -errno;
    close(dfd);
    return rc;
}

int sd_host_name(char *buf, size_t len) {
    if (gethostname(buf, len) < 0) return -errno;
    buf[len - 1] = 0;
    return 0;
}

int sd_os_version(char *buf, size_t len) {
    struct utsname u;
    if (uname(&u) < 0) return -errno;
    snprintf(buf, len, "%s %s", u.sysname, u.release);
    return 0;
}

int sd_lock(const char *dir, const char *name) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) return -ENAMETOOLONG;
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int sd_keep_backup(const char *dir, const char *name, const char *backup) {
    char path[4096], temp[4096], target[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) return -ENAMETOOLONG;
    if (snprintf(temp, sizeof temp, "%s/.%s.tmp.%ld", dir, backup, (long)getpid()) >= (int)sizeof temp) return -ENAMETOOLONG;
    if (snprintf(target, sizeof target, "%s/%s", dir, backup) >= (int)sizeof target) return -ENAMETOOLONG;
    unlink(temp);
    if (link(path, temp) < 0) return errno == ENOENT ? 0 : -errno;
    if (rename(temp, target) < 0) {
        int e = errno;
        unlink(temp);
        return -e;
    }
    return 0;
}

int64_t sd_unix_time(void) { return (int64_t)time(NULL); }

/* The directory part of `path` into dir ("." when there is none) and the last component into name. */
static int split_path(const char *path, char *dir, size_t dir_cap, const char **name) {
    const char *slash = strrchr(path, '/');
    if (!slash) {
        if (dir_cap < 2) return -ENAMETOOLONG;
        strcpy(dir, ".");
        *name = path;
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        if (n >= dir_cap) return -ENAMETOOLONG;
        memcpy(dir, path, n);
        dir[n] = 0;
        *name = slash + 1;
    }
    return **name ? 0 : -EISDIR;
}

int sd_display_check(const char *path) {
    char dir[4096];
    const char *name;
    int rc = split_path(path, dir, sizeof dir, &name);
    if (rc < 0) return rc;
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (S_ISLNK(st.st_mode)) return -ELOOP;
        if (S_ISCHR(st.st_mode)) return 0;  /* a console or an LCD device node: written in place */
        if (S_ISDIR(st.st_mode)) return -EISDIR;
        if (!S_ISREG(st.st_mode)) return -EFTYPE_DISPLAY;
    } else if (errno != ENOENT) {
        return -errno;
    }
    /* A regular file is replaced by rename in its directory, so whoever can write the directory could swap in a
     * link or read the code: only a directory of ours (or root's) that nobody else can write will do. */
    if (stat(dir, &st) < 0) return -errno;
    if (!S_ISDIR(st.st_mode)) return -ENOTDIR;
    if ((st.st_uid != geteuid() && st.st_uid != 0) || (st.st_mode & (S_IWGRP | S_IWOTH))) return -EPERM;
    return 0;
}

int sd_show_on_display(const char *path, const void *buf, size_t len) {
    int rc = sd_display_check(path);
    if (rc < 0) return rc;
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISCHR(st.st_mode)) {
        /* O_NONBLOCK: a node swapped for a FIFO must not stall the agent's loop; O_NOFOLLOW: nor for a link. */
        int fd = open(path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) return -errno;
        if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode)) rc = -EFTYPE_DISPLAY;
        if (rc == 0 && sd_write_all(fd, "\033[2J\033[H", 7) < 0 && errno != EAGAIN) rc = -errno;
        if (rc == 0 && len > 0 && sd_write_all(fd, buf, len) < 0 && errno != EAGAIN) rc = -errno;
        close(fd);
        return rc;
    }
    /* A regular file: a new file of ours, 0600, then renamed over the path, so an existing file (someone else's,
     * or a hard link to one) is replaced, never written through. */
    char dir[4096], temp[4096];
    const char *name;
    if ((rc = split_path(path, dir, sizeof dir, &name)) < 0) return rc;
    if (snprintf(temp, sizeof temp, "%s/.%s.tmp.%ld", dir, name, (long)getpid()) >= (int)sizeof temp) return -ENAMETOOLONG;
    unlink(temp);
    int fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) return -errno;
    if (len > 0 && sd_write_all(fd, buf, len) < 0) rc = -errno;
    if (close(fd) < 0 && rc == 0) rc = -errno;
    if (rc == 0 && rename(temp, path) < 0) rc = -errno;
    if (rc < 0) unlink(temp);
    return rc;
}

extern char **environ;

// The watcher (a forked copy of the agent, alive while the hook runs) waits for the hook and says on the agent's
// stderr, in one line, when it failed: its exit status or signal, and the first line it wrote to stderr.
static void watch_hook(const char *command, char **envp) {
    closefrom(3);              // not the agent's sockets: a restarted agent must be able to listen again
    signal(SIGCHLD, SIG_DFL);  // so that waitpid sees the hook's status
    int fds[2];
    if (pipe(fds) != 0) _exit(0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
    char *argv[] = {"sh", "-c", (char *)command, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, "/bin/sh", &actions, NULL, argv, envp);
    close(fds[1]);
    if (rc != 0) {
        dprintf(2, "sd-pair: cannot run the display command: %s\n", strerror(rc));
        _exit(0);
    }
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    char line[161];
    size_t n = 0;
    int line_done = 0, status = 0, exited = 0, eof = 0;
    // Bounded: at most 600 rounds of at least 50 ms (the pipe's end makes poll return at once, so the wait is a
    // plain 50 ms sleep from then on). A hook still running after about 30 s is stopped and reported.
    for (int round = 0; round < 600 && !exited; round++) {
        struct pollfd p = {fds[0], POLLIN, 0};
        if (eof) poll(NULL, 0, 50);
        else poll(&p, 1, 50);
        // waitpid before reading: what the hook wrote before it exited is then all in the pipe.
        exited = waitpid(pid, &status, WNOHANG) == pid;
        char buf[256];
        ssize_t r = -1;
        for (int reads = 0; !eof && reads < 64 && (r = read(fds[0], buf, sizeof buf)) > 0; reads++) {
            for (ssize_t i = 0; i < r && !line_done; i++) {
                if (buf[i] == '\n' || n == sizeof line - 1) line_done = 1;
                else line[n++] = (buf[i] >= 0x20 && buf[i] != 0x7f) ? buf[i] : '?';
            }
        }
        if (r == 0) eof = 1;
    }
    line[n] = 0;
    if (!exited) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        dprintf(2, "sd-pair: the display command did not finish in 30 s; stopped it\n");
    } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        dprintf(2, "sd-pair: the display command failed (exit status %d)%s%s\n", WEXITSTATUS(status), n ? ": " : "", line);
    } else if (WIFSIGNALED(status)) {
        dprintf(2, "sd-pair: the display command was killed by signal %d%s%s\n", WTERMSIG(status), n ? ": " : "", line);
    }
    _exit(0);
}

int sd_spawn_shell(const char *command, const char *const *extra) {
    signal(SIGCHLD, SIG_IGN);
    size_t base = 0, added = 0;
    while (environ && environ[base]) base++;
    while (extra && extra[added] && added < 8) added++;
    char **envp = calloc(base + added + 1, sizeof *envp);
    if (!envp) return -ENOMEM;
    for (size_t i = 0; i < base; i++) envp[i] = environ[i];
    for (size_t i = 0; i < added; i++) envp[base + i] = (char *)extra[i];
    pid_t watcher = fork();
    if (watcher == 0) watch_hook(command, envp);
    int error = errno;
    free(envp);
    return watcher > 0 ? (int)watcher : -error;
}

int sd_read_line(const char *prompt, char *buf, size_t cap) {
    if (cap == 0) return -EINVAL;
    if (prompt && isatty(0)) sd_write_all(2, prompt, strlen(prompt));
    size_t n = 0;
    for (;;) {
        char c;
        ssize_t r = read(0, &c, 1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -errno;
        if (r == 0) {
            if (n == 0) return -ENODATA;
            break;
        }
        if (c == '\n') break;
        if (n + 1 >= cap) {
            buf[0] = 0;
            return -EMSGSIZE;
        }
        buf[n++] = c;
    }
    buf[n] = 0;
    return (int)n;
}
