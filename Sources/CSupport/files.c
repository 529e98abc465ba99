// Files for the state directory: small, atomic, private (0600).
#include "sd_support.h"
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/utsname.h>
#include <time.h>

int sd_mkdir(const char *path) {
    if (mkdir(path, 0700) == 0) return 0;
    if (errno != EEXIST) return -errno;
    struct stat st;
    if (stat(path, &st) < 0) return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

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
    int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
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
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
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

int sd_show_on_display(const char *path, const void *buf, size_t len) {
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) return -errno;
    struct stat st;
    int rc = fstat(fd, &st) < 0 ? -errno : 0;
    if (rc == 0 && S_ISREG(st.st_mode) && ftruncate(fd, 0) < 0) rc = -errno;
    if (rc == 0 && S_ISCHR(st.st_mode) && sd_write_all(fd, "\033[2J\033[H", 7) < 0) rc = -errno;
    if (rc == 0 && len > 0 && sd_write_all(fd, buf, len) < 0) rc = -errno;
    close(fd);
    return rc;
}

extern char **environ;

int sd_spawn_shell(const char *command, const char *const *extra) {
    signal(SIGCHLD, SIG_IGN);
    size_t base = 0, added = 0;
    while (environ && environ[base]) base++;
    while (extra && extra[added] && added < 8) added++;
    char **envp = calloc(base + added + 1, sizeof *envp);
    if (!envp) return -ENOMEM;
    for (size_t i = 0; i < base; i++) envp[i] = environ[i];
    for (size_t i = 0; i < added; i++) envp[base + i] = (char *)extra[i];
    char *argv[] = {"sh", "-c", (char *)command, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, envp);
    free(envp);
    return rc == 0 ? (int)pid : -rc;
}
