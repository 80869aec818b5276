/*
 * ktest_files.c - self-test of the file layer, run without any user
 * process: the namespace (initrd lookups, /dev, /proc, stat, errors of
 * open), getdents64 and reads into a scratch user address space, pipes
 * (data, EOF, EPIPE, EAGAIN, a wait and its cancel), fd tables, and the
 * /proc reports.
 *
 * ktest_files() returns NULL on success or what failed.  The parts that
 * need the initrd's /bin/sh and /etc/motd are skipped without one.  File
 * I/O is polled directly with this task as the waker; every io here
 * either completes on its first poll or is cancelled.
 */
#include "lib/errno.h"
#include "fs/initrd.h"
#include "lib/klib.h"
#include "mem/mm.h"
#include "fs/pipe.h"
#include "core/task.h"

#define UBUF 0x20000UL          /* a scratch user buffer */
#define UBUF_LEN (8 * 4096UL)

#define CHECK(c, why) do { if (!(c)) { fail = (why); goto out; } } while (0)

static long run_io(struct file_io *io)
{
    struct cx cx = { task_current() };
    if (future_poll(&io->base, &cx) == PENDING) {
        future_cancel(&io->base);
        return -99999;
    }
    return io->result;
}

static long do_read(struct file *f, struct mm *mm, uint64_t ubuf, size_t len)
{
    struct file_io io;
    file_read_init(&io, f, mm, ubuf, len);
    return run_io(&io);
}

static long do_write(struct file *f, struct mm *mm, uint64_t ubuf, size_t len)
{
    struct file_io io;
    file_write_init(&io, f, mm, ubuf, len);
    return run_io(&io);
}

static bool resolves(const char *cwd, const char *path, const char *want)
{
    char out[64];
    return path_resolve(cwd, path, out, sizeof out) == 0 && !strcmp(out, want);
}

static int open_err(const char *path, int flags)
{
    struct file *f;
    int r = file_open(path, flags, &f);
    if (r == 0)
        file_put(f);
    return r;
}

static const char *t_namespace(void)
{
    const char *fail = NULL;
    struct kstat st;
    const uint8_t *data;
    size_t size;
    CHECK(resolves("/bin", "../etc//motd/", "/etc/motd"), "path_resolve");
    CHECK(path_stat("/", &st) == 0 && st.st_mode == (S_IFDIR | 0555), "stat /");
    CHECK(path_stat("/dev/console", &st) == 0 && st.st_mode == (S_IFCHR | 0620) &&
          st.st_rdev == 0x501, "stat /dev/console");
    CHECK(path_stat("/proc/mem", &st) == 0 && st.st_mode == (S_IFREG | 0444), "stat /proc/mem");
    CHECK(path_stat("/nonexistent", &st) == -ENOENT, "stat /nonexistent");
    CHECK(path_stat("/dev/nothing", &st) == -ENOENT, "stat /dev/nothing");
    CHECK(path_stat("/dev/console/x", &st) == -ENOTDIR, "stat /dev/console/x");
    CHECK(initrd_lookup("/", &data, &size) == -EACCES, "exec / not EACCES");
    CHECK(open_err("/", O_WRONLY) == -EISDIR, "open / O_WRONLY");
    CHECK(open_err("/proc/ps", O_WRONLY) == -EACCES, "open /proc/ps O_WRONLY");
    CHECK(open_err("/dev/console", O_RDONLY | O_DIRECTORY) == -ENOTDIR, "console O_DIRECTORY");
    CHECK(open_err("/proc/nothing", O_RDONLY) == -ENOENT, "open /proc/nothing");
    CHECK(open_err("/newfile", O_WRONLY | O_CREAT) == -EROFS, "create /newfile");
    CHECK(open_err("/nonexistent/file", O_WRONLY | O_CREAT) == -ENOENT, "create in missing dir");
    if (!initrd_size())
        goto out;
    CHECK(initrd_lookup("/bin/sh", &data, &size) == 0 && size > 64 &&
          !memcmp(data, "\177ELF", 4), "/bin/sh is not an ELF file");
    CHECK(path_stat("/bin/sh", &st) == 0 && st.st_mode == (S_IFREG | 0555) &&
          st.st_size == (int64_t)size && st.st_ino == fs_ino("/bin/sh"), "stat /bin/sh");
    CHECK(initrd_lookup("/bin", &data, &size) == -EACCES, "exec /bin not EACCES");
    CHECK(initrd_lookup("/bin/nonexistent", &data, &size) == -ENOENT, "exec missing");
    CHECK(path_stat("/bin", &st) == 0 && st.st_mode == (S_IFDIR | 0555), "stat /bin");
    CHECK(path_stat("/bin/sh/x", &st) == -ENOTDIR, "stat /bin/sh/x");
    CHECK(open_err("/bin/sh", O_WRONLY) == -EROFS, "open /bin/sh O_WRONLY");
    CHECK(open_err("/bin/sh", O_RDONLY | O_TRUNC) == -EROFS, "open /bin/sh O_TRUNC");
    CHECK(open_err("/bin/sh", O_RDONLY | O_DIRECTORY) == -ENOTDIR, "open /bin/sh O_DIRECTORY");
    CHECK(open_err("/bin/sh", O_RDONLY | O_CREAT | O_EXCL) == -EEXIST, "O_EXCL on /bin/sh");
    CHECK(open_err("/bin/sh/x", O_RDONLY) == -ENOTDIR, "open /bin/sh/x");
    CHECK(open_err("/bin", O_RDONLY | O_DIRECTORY) == 0, "open /bin");
out:
    return fail;
}

/* List dir with getdents64 through a buffer of `chunk` bytes; count the
 * entries and remember which of `want` (NULL-terminated) appeared. */
static const char *list_dir(struct mm *mm, const char *dir, size_t chunk, const char *const *want,
                            int *count)
{
    const char *fail = NULL;
    struct file *f = NULL;
    uint8_t buf[512];
    unsigned seen = 0;
    *count = 0;
    CHECK(file_open(dir, O_RDONLY | O_DIRECTORY, &f) == 0, "open dir");
    for (;;) {
        long n = file_getdents64(f, mm, UBUF, chunk);
        CHECK(n >= 0, "getdents64 failed");
        if (n == 0)
            break;
        CHECK((size_t)n <= chunk && (size_t)n <= sizeof buf, "getdents64 overran");
        CHECK(copyin(mm, buf, UBUF, n) == 0, "copyin");
        for (long off = 0; off < n;) {
            uint16_t reclen;
            memcpy(&reclen, buf + off + 16, 2);
            CHECK(reclen % 8 == 0 && reclen >= 24 && off + reclen <= n, "bad d_reclen");
            const char *name = (const char *)buf + off + 19;
            for (int i = 0; want[i]; i++)
                if (!strcmp(name, want[i]))
                    seen |= 1u << i;
            if (!strcmp(name, "console") && !strcmp(dir, "/dev"))
                CHECK(buf[off + 18] == DT_CHR, "console not DT_CHR");
            (*count)++;
            off += reclen;
        }
    }
    for (int i = 0; want[i]; i++)
        CHECK(seen & (1u << i), "an entry is missing from a listing");
out:
    file_put(f);
    return fail;
}

static const char *t_getdents_and_reads(struct mm *mm)
{
    static const char *const root[] = { ".", "..", "dev", "proc", NULL };
    static const char *const rootfull[] = { ".", "..", "dev", "proc", "bin", "etc", NULL };
    static const char *const dev[] = { ".", "..", "console", NULL };
    static const char *const proc[] = { "ps", "harts", "tasks", "mem", "console", NULL };
    static const char *const bin[] = { "sh", "echo", NULL };
    const char *fail = NULL;
    struct file *f = NULL, *d = NULL;
    int n1, n2;
    char buf[64];

    if ((fail = list_dir(mm, "/", 4096, initrd_size() ? rootfull : root, &n1)))
        goto out;
    if ((fail = list_dir(mm, "/", 32, root, &n2)))     /* one entry per call */
        goto out;
    CHECK(n1 == n2, "listing / in small pieces differs");
    if ((fail = list_dir(mm, "/dev", 4096, dev, &n1)))
        goto out;
    CHECK(n1 == 3, "/dev has extra entries");
    if ((fail = list_dir(mm, "/proc", 100, proc, &n1)))
        goto out;
    CHECK(n1 == 7, "/proc has extra entries");
    CHECK(file_open("/", O_RDONLY, &d) == 0, "open /");
    CHECK(file_getdents64(d, mm, UBUF, 8) == -EINVAL, "getdents64 tiny buffer");
    CHECK(file_getdents64(d, mm, 0, 4096) == -EFAULT, "getdents64 NULL");
    CHECK(do_read(d, mm, UBUF, 10) == -EISDIR, "read of a directory");

    CHECK(file_open("/proc/mem", O_RDONLY, &f) == 0, "open /proc/mem");
    CHECK(do_read(f, mm, UBUF, 6) == 6, "read /proc/mem");
    CHECK(copyin(mm, buf, UBUF, 6) == 0 && !memcmp(buf, "pages:", 6), "/proc/mem text");
    CHECK(do_read(f, mm, UBUF, UBUF_LEN) > 0, "read rest of /proc/mem");
    CHECK(do_read(f, mm, UBUF, UBUF_LEN) == 0, "/proc/mem: no EOF");
    CHECK(do_write(f, mm, UBUF, 1) == -EBADF, "write to /proc/mem");
    file_put(f);
    f = NULL;
    CHECK(file_open("/proc/ps", O_RDONLY, &f) == 0 && do_read(f, mm, UBUF, 4) == 4, "/proc/ps");
    CHECK(copyin(mm, buf, UBUF, 4) == 0 && !memcmp(buf, "PID ", 4), "/proc/ps header");
    file_put(f);
    f = NULL;

    if (!initrd_size())
        goto out;
    if ((fail = list_dir(mm, "/bin", 200, bin, &n1)))
        goto out;
    const uint8_t *data;
    size_t size;
    struct kstat st;
    CHECK(initrd_lookup("/bin/sh", &data, &size) == 0, "lookup /bin/sh");
    CHECK(file_open("/bin/sh", O_RDONLY, &f) == 0, "open /bin/sh");
    CHECK(file_stat(f, &st) == 0 && st.st_size == (int64_t)size && st.st_ino == fs_ino("/bin/sh"),
          "fstat /bin/sh");
    CHECK(do_read(f, mm, UBUF, 4) == 4, "read /bin/sh");
    CHECK(copyin(mm, buf, UBUF, 4) == 0 && !memcmp(buf, "\177ELF", 4), "read /bin/sh: not ELF");
    CHECK(do_read(f, mm, UBUF, 60) == 60 && copyin(mm, buf, UBUF, 60) == 0 &&
          !memcmp(buf, data + 4, 60), "second read /bin/sh");
    CHECK(do_read(f, mm, 0x10, 8) == -EFAULT, "read into unmapped memory");
    CHECK(do_read(f, mm, UBUF, (size_t)1 << 60) == -EFAULT, "read of length 2^60");
    CHECK(do_read(f, mm, 0, 0) == 0, "read of length 0");
    CHECK(do_write(f, mm, UBUF, 1) == -EBADF, "write to /bin/sh");
    spin_lock(&f->lock);
    f->off = size - 3;
    spin_unlock(&f->lock);
    CHECK(do_read(f, mm, UBUF, 100) == 3 && do_read(f, mm, UBUF, 100) == 0, "EOF of /bin/sh");
out:
    file_put(f);
    file_put(d);
    return fail;
}

static const char *t_pipes(struct mm *mm)
{
    const char *fail = NULL;
    struct file *r = NULL, *w = NULL;
    struct file_io io;
    struct kstat st;
    char buf[16];
    CHECK(pipe_create(&r, &w) == 0, "pipe_create");
    CHECK(file_stat(r, &st) == 0 && (st.st_mode & S_IFMT) == S_IFIFO, "pipe not FIFO");
    CHECK(!file_readable(r) && file_writable(w), "new pipe readiness");
    CHECK(copyout(mm, UBUF, "hello", 5) == 0, "copyout");
    CHECK(do_write(w, mm, UBUF, 5) == 5, "pipe write");
    CHECK(file_readable(r), "pipe with data not readable");
    CHECK(do_read(w, mm, UBUF, 5) == -EBADF && do_write(r, mm, UBUF, 5) == -EBADF,
          "wrong direction not EBADF");
    CHECK(do_read(r, mm, UBUF + 100, 3) == 3 && do_read(r, mm, UBUF + 103, 10) == 2, "pipe read");
    CHECK(copyin(mm, buf, UBUF + 100, 5) == 0 && !memcmp(buf, "hello", 5), "pipe data");

    /* An empty pipe: a read waits; its cancel unregisters the waiter. */
    file_read_init(&io, r, mm, UBUF, 8);
    {
        struct cx cx = { task_current() };
        CHECK(future_poll(&io.base, &cx) == PENDING && io.w.linked, "empty read did not wait");
        future_cancel(&io.base);
        CHECK(!io.w.linked, "cancel left the waiter linked");
    }
    r->flags |= O_NONBLOCK;
    CHECK(do_read(r, mm, UBUF, 8) == -EAGAIN, "non-blocking empty read");

    /* Fill it: 4096 bytes fit, then EAGAIN; an atomic write waits whole. */
    w->flags |= O_NONBLOCK;
    CHECK(do_write(w, mm, UBUF, 4000) == 4000, "write 4000");
    CHECK(do_write(w, mm, UBUF, 200) == -EAGAIN, "atomic write split");
    CHECK(do_write(w, mm, UBUF, 8192) == 96, "big non-blocking write");
    CHECK(!file_writable(w), "full pipe writable");
    CHECK(do_read(r, mm, UBUF, 8192) == 4096, "read all");
    CHECK(do_read(r, mm, 0x10, 8) == -EAGAIN, "empty");
    CHECK(do_write(w, mm, UBUF, 8) == 8 && do_read(r, mm, 0x10, 8) == -EFAULT, "EFAULT read");
    CHECK(do_read(r, mm, UBUF, 8) == 8, "data kept after EFAULT");

    /* Close of the writer: EOF.  Close of the reader: EPIPE. */
    file_put(w);
    w = NULL;
    CHECK(file_readable(r) && do_read(r, mm, UBUF, 8) == 0, "no EOF after writer closed");
    file_put(r);
    r = NULL;
    CHECK(pipe_create(&r, &w) == 0, "pipe_create 2");
    file_put(r);
    r = NULL;
    CHECK(file_writable(w) && do_write(w, mm, UBUF, 8) == -EPIPE, "no EPIPE");
out:
    file_put(r);
    file_put(w);
    return fail;
}

static const char *t_fdtable(void)
{
    const char *fail = NULL;
    struct fdtable *t = fdtable_create(), *c = NULL;
    struct file *r = NULL, *w = NULL, *g;
    CHECK(t, "fdtable_create");
    CHECK(pipe_create(&r, &w) == 0, "pipe_create");
    CHECK(fd_install(t, r, 0, false) == 0, "install r");
    r = NULL;
    CHECK(fd_install(t, w, 0, true) == 1, "install w");
    w = NULL;
    CHECK(fd_dup_to(t, 1, 1, false) == -EINVAL, "dup3 same fd");
    CHECK(fd_dup_to(t, 5, 6, false) == -EBADF, "dup3 bad old");
    CHECK(fd_dup_to(t, 0, NOFILE_DEFAULT, false) == -EBADF, "dup3 at the limit");
    CHECK(fd_dup_to(t, 0, 10, true) == 0, "dup3");
    CHECK(fd_dup_to(t, 1, 10, false) == 0, "dup3 over an open fd");
    g = fd_get(t, 10);
    CHECK(g && g->type == FT_PIPE_WRITE && atomic_load(&g->refs) == 3, "dup3 result");
    file_put(g);
    CHECK(fd_get(t, 3) == NULL && fd_get(t, -1) == NULL && fd_get(t, NOFILE_MAX) == NULL, "fd_get");
    CHECK(fd_install(t, console_file_open(), 2, false) == 2, "install console");
    c = fdtable_copy(t);
    CHECK(c && atomic_load(&c->fd[0]->refs) == 2, "fdtable_copy");
    fd_close_on_exec(c);
    CHECK(c->fd[0] && !c->fd[1] && c->fd[10] && c->fd[2], "close on exec");
    CHECK(fd_close(c, 1) == -EBADF && fd_close(c, 10) == 0, "fd_close");
    CHECK(atomic_load(&t->fd[1]->refs) == 2, "refs after close");
    CHECK(file_is_tty(t->fd[2]) && !file_is_tty(t->fd[0]), "file_is_tty");
    uint64_t lim[2] = { 100, NOFILE_MAX };
    CHECK(fd_set_limit(t, lim) == 0, "lower the soft limit");
    int filled = 0, fd;
    for (;;) {                          /* 0, 1, 2 and 10 are taken; grows past 64 */
        g = file_get(t->fd[0]);
        if ((fd = fd_install(t, g, 0, false)) < 0)
            break;
        filled++;
    }
    file_put(g);                        /* a failed install leaves it to us */
    CHECK(fd == -EMFILE && filled == 100 - 4 && t->cap == 128, "EMFILE at the soft limit");
    lim[1] = NOFILE_MAX + 1;
    CHECK(fd_set_limit(t, lim) == -EPERM, "hard limit raised");
out:
    fdtable_put(c);
    fdtable_put(t);
    file_put(r);
    file_put(w);
    return fail;
}

const char *ktest_files(void)
{
    const char *fail;
    struct mm *mm = mm_create();
    if (!mm)
        return "mm_create";
    if (mm_map_region(mm, UBUF, UBUF_LEN, PROT_READ | PROT_WRITE, VMA_ANON, NULL, 0) < 0)
        fail = "mm_map_region";
    else if (!(fail = t_namespace()) && !(fail = t_getdents_and_reads(mm)) &&
             !(fail = t_pipes(mm)))
        fail = t_fdtable();
    mm_put(mm);
    return fail;
}
