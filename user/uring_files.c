/*
 * uring_files [DIR] - a file's whole life through io_uring alone:
 * OPENAT (O_CREAT, then dirfd-relative), WRITE and READ at the file
 * position (off -1) and at an offset, STATX (by path and AT_EMPTY_PATH),
 * CLOSE; and the errors Linux gives: -ENOENT, -EBADF (closing a bad fd,
 * closing twice, closing a ring), -EFAULT (a bad path pointer).  DIR
 * (default /) must be writable.  Prints one "uring_files: ok <check>"
 * line per check passed and "uring_files: all ok" at the end, or the first
 * failure.  A static Linux binary: it runs the same on Linux 6.1 (run as
 * pid 1, it powers off when done).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>
#include "uring_raw.h"

#ifndef STATX_BASIC_STATS
#define STATX_BASIC_STATS 0x7ffU
#endif
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

static struct uring r;
static int failed;

static void done(int code)
{
    printf("uring_files: %s\n", code ? "FAILED" : "all ok");
    fflush(stdout);
    if (getpid() == 1)
        reboot(RB_POWER_OFF);
    exit(code);
}

static void check(int ok, const char *what, long got)
{
    if (ok) {
        printf("uring_files: ok %s\n", what);
        return;
    }
    printf("uring_files: FAIL %s (got %ld)\n", what, got);
    failed = 1;
    done(1);
}

/* Submit the one SQE filled in, wait for its completion: its res. */
static int32_t run1(void)
{
    long e = uring_enter(&r, 1, 1, IORING_ENTER_GETEVENTS);
    if (e != 1) {
        printf("uring_files: io_uring_enter gave %ld\n", e);
        done(1);
    }
    struct io_uring_cqe c;
    if (uring_wait(&r, &c) < 0 || c.user_data != 42) {
        printf("uring_files: no completion\n");
        done(1);
    }
    return c.res;
}

static struct io_uring_sqe *sqe(uint8_t opcode)
{
    struct io_uring_sqe *s = uring_sqe(&r);
    s->opcode = opcode;
    s->user_data = 42;
    return s;
}

static int32_t openat_u(int dirfd, const char *path, int flags, unsigned mode)
{
    struct io_uring_sqe *s = sqe(IORING_OP_OPENAT);
    s->fd = dirfd;
    s->addr = (uint64_t)(uintptr_t)path;
    s->len = mode;
    s->open_flags = (uint32_t)flags;
    return run1();
}

static int32_t rw_u(uint8_t op, int fd, void *buf, unsigned len, int64_t off)
{
    struct io_uring_sqe *s = sqe(op);
    s->fd = fd;
    s->addr = (uint64_t)(uintptr_t)buf;
    s->len = len;
    s->off = (uint64_t)off;
    return run1();
}

static int32_t statx_u(int dirfd, const char *path, int flags, struct statx *st)
{
    struct io_uring_sqe *s = sqe(IORING_OP_STATX);
    s->fd = dirfd;
    s->addr = (uint64_t)(uintptr_t)path;
    s->len = STATX_BASIC_STATS;
    s->statx_flags = (uint32_t)flags;
    s->addr2 = (uint64_t)(uintptr_t)st;
    return run1();
}

static int32_t close_u(int fd)
{
    struct io_uring_sqe *s = sqe(IORING_OP_CLOSE);
    s->fd = fd;
    return run1();
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *dir = argc > 1 ? argv[1] : "/";
    char path[256], rel[] = "uring_files.tmp";
    snprintf(path, sizeof path, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", rel);
    if (uring_open(&r, 8, NULL) < 0) {
        printf("uring_files: io_uring_setup failed\n");
        done(1);
    }

    int fd = openat_u(AT_FDCWD, path, O_RDWR | O_CREAT | O_TRUNC, 0640);
    check(fd >= 0, "openat O_CREAT", fd);
    static const char a[] = "hello uring", b[] = " world";
    int32_t n = rw_u(IORING_OP_WRITE, fd, (void *)a, sizeof a - 1, -1);
    check(n == (int32_t)sizeof a - 1, "write at the file position", n);
    n = rw_u(IORING_OP_WRITE, fd, (void *)b, sizeof b - 1, -1);
    check(n == (int32_t)sizeof b - 1, "second write follows the first", n);
    char buf[64] = { 0 };
    n = rw_u(IORING_OP_READ, fd, buf, sizeof buf, 0);
    check(n == 17 && !memcmp(buf, "hello uring world", 17), "read at offset 0", n);
    n = rw_u(IORING_OP_READ, fd, buf, sizeof buf, -1);
    check(n == 0, "read at the file position (its end) gives 0", n);
    n = rw_u(IORING_OP_READ, fd, buf, 5, 6);
    check(n == 5 && !memcmp(buf, "uring", 5), "read at offset 6", n);

    struct statx st;
    memset(&st, 0, sizeof st);
    n = statx_u(AT_FDCWD, path, 0, &st);
    check(n == 0 && st.stx_size == 17 && S_ISREG(st.stx_mode) && (st.stx_mode & 0777) == 0640 &&
              st.stx_ino != 0 && (st.stx_mask & STATX_SIZE),
          "statx by path: size, mode, inode", n);
    struct statx st2;
    memset(&st2, 0, sizeof st2);
    n = statx_u(fd, "", AT_EMPTY_PATH, &st2);
    check(n == 0 && st2.stx_ino == st.stx_ino && st2.stx_size == 17, "statx AT_EMPTY_PATH of the fd", n);
    n = close_u(fd);
    check(n == 0, "close", n);
    check(read(fd, buf, 1) < 0 && errno == EBADF, "the fd is gone after CLOSE", 0);

    /* dirfd-relative: open the directory, then the file in it */
    int dfd = openat_u(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY, 0);
    check(dfd >= 0, "openat O_DIRECTORY", dfd);
    fd = openat_u(dfd, rel, O_RDONLY, 0);
    check(fd >= 0, "openat relative to a dirfd", fd);
    memset(buf, 0, sizeof buf);
    n = rw_u(IORING_OP_READ, fd, buf, sizeof buf, -1);
    check(n == 17 && !memcmp(buf, "hello uring world", 17), "read back through the new fd", n);
    check(close_u(fd) == 0 && close_u(dfd) == 0, "close both", 0);

    /* errors */
    n = openat_u(AT_FDCWD, "/no/such/file", O_RDONLY, 0);
    check(n == -ENOENT, "openat of a missing file: -ENOENT", n);
    n = statx_u(AT_FDCWD, "/no_such_file", 0, &st);
    check(n == -ENOENT, "statx of a missing file: -ENOENT", n);
    n = openat_u(AT_FDCWD, (const char *)8, O_RDONLY, 0);
    check(n == -EFAULT, "openat of a bad path pointer: -EFAULT", n);
    n = statx_u(AT_FDCWD, (const char *)8, 0, &st);
    check(n == -EFAULT, "statx of a bad path pointer: -EFAULT", n);
    n = statx_u(AT_FDCWD, path, 0, (struct statx *)8);
    check(n == -EFAULT, "statx into a bad buffer: -EFAULT", n);
    n = close_u(999);
    check(n == -EBADF, "close of a bad fd: -EBADF", n);
    n = close_u(fd);
    check(n == -EBADF, "close of a closed fd: -EBADF", n);
    n = close_u(r.fd);
    check(n == -EBADF, "close of the ring itself: -EBADF", n);
    n = openat_u(AT_FDCWD, path, O_RDWR | O_CREAT | O_EXCL, 0600);
    check(n == -EEXIST, "openat O_EXCL of an existing file: -EEXIST", n);

    check(unlink(path) == 0, "unlink", 0);
    n = statx_u(AT_FDCWD, path, 0, &st);
    check(n == -ENOENT, "statx after unlink: -ENOENT", n);
    done(failed);
}
