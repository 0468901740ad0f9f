/* slow_sync: an LD_PRELOAD fault injector for storage tests. fdatasync() and fsync() of any file
 * whose path ends with $MG_SLOW_SYNC_SUFFIX take $MG_SLOW_SYNC_MS longer (after the real call:
 * the data is on disk only when the call returns, as with a slow disk), and with
 * $MG_SLOW_SYNC_FAIL set they then fail with EIO, as a failing disk's would ($MG_SLOW_SYNC_FAIL=N
 * with N > 0: only the first N matched calls fail, then the disk is healthy again). With
 * $MG_WRITE_FAIL=N, the first N pwritev() calls to a matched file fail with ENOSPC instead, as
 * on a full disk (nothing written). Everything else
 * goes straight to libc. Built without sanitizers; the broker under test runs with
 * ASAN_OPTIONS=verify_asan_link_order=0. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static int slow(int fd)
{
    const char *suffix = getenv("MG_SLOW_SYNC_SUFFIX");
    if (!suffix || !*suffix) return 0;
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return 0;
    path[n] = '\0';
    size_t sl = strlen(suffix);
    return (size_t)n >= sl && !strcmp(path + n - sl, suffix);
}

/* The delay, then the result a matched call returns instead of r. */
static int delay(int r)
{
    const char *ms = getenv("MG_SLOW_SYNC_MS");
    usleep((useconds_t)(ms ? atoi(ms) : 300) * 1000);
    const char *fail = getenv("MG_SLOW_SYNC_FAIL");
    if (fail) {
        static int failed; /* matched calls failed so far (the broker's storage workers) */
        int n = atoi(fail);
        if (n <= 0 || __atomic_fetch_add(&failed, 1, __ATOMIC_RELAXED) < n) {
            errno = EIO;
            return -1;
        }
    }
    return r;
}

int fdatasync(int fd)
{
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    int r = real(fd);
    return slow(fd) ? delay(r) : r;
}

int fsync(int fd)
{
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    int r = real(fd);
    return slow(fd) ? delay(r) : r;
}

/* The first $MG_WRITE_FAIL matched writes fail with ENOSPC. */
static int write_fails(int fd)
{
    const char *fail = getenv("MG_WRITE_FAIL");
    if (!fail || !slow(fd)) return 0;
    static int failed;
    if (__atomic_fetch_add(&failed, 1, __ATOMIC_RELAXED) >= atoi(fail)) return 0;
    errno = ENOSPC;
    return 1;
}

ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
    static ssize_t (*real)(int, const struct iovec *, int, off_t);
    if (!real) real = (ssize_t(*)(int, const struct iovec *, int, off_t))dlsym(RTLD_NEXT, "pwritev");
    return write_fails(fd) ? -1 : real(fd, iov, n, off);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int n, off_t off)
{
    static ssize_t (*real)(int, const struct iovec *, int, off_t);
    if (!real) real = (ssize_t(*)(int, const struct iovec *, int, off_t))dlsym(RTLD_NEXT, "pwritev64");
    return write_fails(fd) ? -1 : real(fd, iov, n, off);
}
