/*
 * file.c - open files: references, open by path, the read/write futures
 * (dispatched by f->type), stat, readiness.
 *
 * Invariants:
 *  - f->refs counts fd-table slots and in-flight users; at zero the
 *    type's resources go (a pipe end is closed, a /proc buffer freed).
 *  - f->off is read and advanced under f->lock (initrd and /proc reads,
 *    getdents).  Pipes and the console have no offset.
 *  - A file_io does its argument checks at init: a wrong-direction op is
 *    -EBADF, a user range outside user space -EFAULT, a zero length 0;
 *    such an io is already finished and completes on its first poll.
 *    The caller keeps a reference to io->f until the io is READY or
 *    cancelled.
 *  - initrd and /proc reads never wait; a long one yields between
 *    64 KiB chunks so that a poll stays short.
 */
#include "dev/console.h"
#include "lib/errno.h"
#include "lib/klib.h"
#include "mem/kmalloc.h"
#include "uring/uring.h"
#include "layout.h"
#include "mem/mm.h"
#include "fs/pipe.h"
#include "fs/ext2_ops.h"

#define MAX_RW_COUNT 0x7ffff000UL       /* Linux's cap on one read/write */
#define READ_CHUNK (64UL << 10)

struct file *file_get(struct file *f)
{
    atomic_fetch_add(&f->refs, 1);
    return f;
}

void file_put(struct file *f)
{
    if (!f || atomic_fetch_sub(&f->refs, 1) != 1)
        return;
    if (f->type == FT_PIPE_READ || f->type == FT_PIPE_WRITE)
        pipe_release(f);
    else if (f->type == FT_PROC)
        procfs_release(f);
    else if (f->type == FT_URING)
        uring_release(f->uring);
    else if (f->type == FT_EXT2 && x2_open_unref(f->x2.fs, f->x2.ino))
        x2_evict_spawn(f->x2.fs, f->x2.ino);   /* unlinked while open: free it now */
    kfree(f);
}

struct file *file_alloc(enum file_type type, int flags)
{
    struct file *f = kzalloc(sizeof *f);
    if (!f)
        return NULL;
    atomic_store(&f->refs, 1);
    spin_init(&f->lock, "file");
    f->type = type;
    f->flags = flags & (O_ACCMODE | O_NONBLOCK | O_APPEND);
    return f;
}

struct file *console_file_open(void)
{
    return file_alloc(FT_CONSOLE, O_RDWR);
}

/* ---- open ----------------------------------------------------------------- */

int file_open(const char *path, int flags, struct file **out)
{
    int acc = flags & O_ACCMODE;
    struct fs_node n;
    struct file *f;
    if (acc == O_ACCMODE)
        return -EINVAL;
    int r = fs_lookup(path, &n);
    if (r == -ENOENT && (flags & O_CREAT))
        return fs_create_error(path);
    if (r)
        return r;
    if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
        return -EEXIST;
    if (n.kind == FS_DIR) {
        if (acc != O_RDONLY || (flags & O_CREAT))
            return -EISDIR;
    } else if (flags & O_DIRECTORY) {
        return -ENOTDIR;
    }
    if (n.kind == FS_FILE && (acc != O_RDONLY || (flags & O_TRUNC)))
        return -EROFS;
    if (n.kind == FS_PROC && acc != O_RDONLY)
        return -EACCES;
    if ((n.kind == FS_DIR || n.kind == FS_FILE) && strlen(path) >= sizeof f->ird.path)
        return -ENAMETOOLONG;

    static const enum file_type types[] = {
        [FS_DIR] = FT_DIR, [FS_FILE] = FT_INITRD, [FS_CONSOLE] = FT_CONSOLE, [FS_PROC] = FT_PROC,
    };
    f = file_alloc(types[n.kind], flags);
    if (!f)
        return -ENOMEM;
    if (n.kind == FS_DIR || n.kind == FS_FILE) {
        f->ird.data = n.data;
        f->ird.size = n.size;
        strlcpy(f->ird.path, path, sizeof f->ird.path);
    } else if (n.kind == FS_PROC) {
        r = procfs_fill(f, path + strlen("/proc/"));
        if (r) {
            file_put(f);                /* f->proc.buf is still NULL */
            return r;
        }
    }
    *out = f;
    return 0;
}

/* ---- reads of memory: initrd files and /proc reports ------------------------ */

static const char *mem_data(struct file *f, size_t *size)
{
    if (f->type == FT_PROC)
        return procfs_text(f, size);
    *size = f->ird.size;
    return (const char *)f->ird.data;
}

static enum poll mem_read_poll(struct future *base, struct cx *cx)
{
    struct file_io *io = (struct file_io *)base;
    ASYNC_BEGIN(io);
    for (;;) {
        size_t size, n;
        const char *data = mem_data(io->f, &size);
        spin_lock(&io->f->lock);
        uint64_t pos = io->f->off;
        n = pos < size ? MIN(size - pos, io->len - io->done) : 0;
        n = MIN(n, READ_CHUNK);
        if (n && copyout(io->mm, io->ubuf + io->done, data + pos, n) < 0) {
            spin_unlock(&io->f->lock);
            io->result = io->done ? (long)io->done : -EFAULT;
            break;
        }
        io->f->off = pos + n;
        spin_unlock(&io->f->lock);
        io->done += n;
        io->result = io->done;
        if (n < READ_CHUNK || io->done == io->len)
            break;
        YIELD(io, cx);          /* a long read gives way between chunks */
    }
    ASYNC_END(io);
}

static const struct future_ops mem_read_ops = { mem_read_poll, NULL, "file_read" };

/* ---- file_io set-up ----------------------------------------------------------- */

/* An io decided at init: READY on its first poll with io->result. */
static enum poll decided_poll(struct future *base, struct cx *cx)
{
    (void)cx;
    base->resume = RESUME_DONE;
    return READY;
}

static const struct future_ops decided_ops = { decided_poll, NULL, "file_io" };

static void io_setup(struct file_io *io, struct file *f, struct mm *mm, uint64_t ubuf, size_t len)
{
    io->f = f;
    io->mm = mm;
    io->ubuf = ubuf;
    io->len = MIN(len, MAX_RW_COUNT);
    io->done = 0;
    io->pos = -1;
    io->result = 0;
    io->w.linked = false;
    io->w.task = NULL;
    io->bounce = NULL;
    future_init(&io->base, &decided_ops);
}

/* As Linux's access_ok: the range lies in the user half. */
static bool user_range_ok(uint64_t ubuf, size_t len)
{
    return len <= USER_TOP && ubuf <= USER_TOP - len;
}

void file_read_init(struct file_io *io, struct file *f, struct mm *mm, uint64_t ubuf, size_t len)
{
    io_setup(io, f, mm, ubuf, len);
    if (!file_can_read(f) || f->type == FT_PIPE_WRITE)
        io->result = -EBADF;
    else if (f->type == FT_URING)
        io->result = -EINVAL;
    else if (!user_range_ok(ubuf, len))
        io->result = -EFAULT;
    else if (f->type == FT_DIR || (f->type == FT_EXT2 && (f->x2.mode & S_IFMT) == S_IFDIR))
        io->result = -EISDIR;
    else if (len == 0)
        io->result = 0;
    else if (f->type == FT_CONSOLE)
        console_io_init(io, false);
    else if (f->type == FT_PIPE_READ)
        pipe_io_init(io);
    else if (f->type == FT_EXT2)
        x2_io_init(io, false);
    else
        future_init(&io->base, &mem_read_ops);
}

void file_write_init(struct file_io *io, struct file *f, struct mm *mm, uint64_t ubuf, size_t len)
{
    io_setup(io, f, mm, ubuf, len);
    bool can = file_can_write(f) && (f->type == FT_CONSOLE || f->type == FT_PIPE_WRITE ||
                                     f->type == FT_EXT2);
    if (!can)
        io->result = -EBADF;
    else if (f->type == FT_EXT2 && (f->x2.mode & S_IFMT) == S_IFDIR)
        io->result = -EISDIR;
    else if (!user_range_ok(ubuf, len))
        io->result = -EFAULT;
    else if (len == 0)
        io->result = 0;
    else if (f->type == FT_CONSOLE)
        console_io_init(io, true);
    else if (f->type == FT_EXT2)
        x2_io_init(io, true);
    else
        pipe_io_init(io);
}

/* ---- stat ------------------------------------------------------------------------ */

#define DEV_FS 1                /* the initrd, /dev, /proc */
#define DEV_PIPE 2              /* pipe inode numbers are a counter */

static void stat_fill(struct kstat *st, uint64_t dev, uint32_t mode, uint64_t ino, size_t size)
{
    memset(st, 0, sizeof *st);
    st->st_dev = dev;
    st->st_ino = ino;
    st->st_mode = mode;
    st->st_nlink = 1;
    st->st_size = size;
    st->st_blksize = 4096;
    st->st_blocks = (size + 511) / 512;
    if ((mode & S_IFMT) == S_IFCHR)
        st->st_rdev = (5 << 8) | 1;     /* makedev(5, 1): /dev/console */
}

static const uint32_t kind_mode[] = {
    [FS_DIR] = S_IFDIR | 0555, [FS_FILE] = S_IFREG | 0555,
    [FS_CONSOLE] = S_IFCHR | 0620, [FS_PROC] = S_IFREG | 0444,
};

int path_stat(const char *path, struct kstat *st)
{
    struct fs_node n;
    int r = fs_lookup(path, &n);
    if (r)
        return r;
    stat_fill(st, DEV_FS, kind_mode[n.kind], fs_ino(path), n.kind == FS_FILE ? n.size : 0);
    return 0;
}

int file_stat(struct file *f, struct kstat *st)
{
    switch (f->type) {
    case FT_CONSOLE:
        stat_fill(st, DEV_FS, kind_mode[FS_CONSOLE], fs_ino("/dev/console"), 0);
        break;
    case FT_PIPE_READ:
    case FT_PIPE_WRITE:
        stat_fill(st, DEV_PIPE, S_IFIFO | 0600, pipe_ino(f->pipe), 0);
        break;
    case FT_INITRD:
        stat_fill(st, DEV_FS, kind_mode[FS_FILE], fs_ino(f->ird.path), f->ird.size);
        break;
    case FT_DIR:
        stat_fill(st, DEV_FS, kind_mode[FS_DIR], fs_ino(f->ird.path), 0);
        break;
    case FT_PROC:
        stat_fill(st, DEV_FS, kind_mode[FS_PROC], procfs_ino(f), 0);
        break;
    case FT_EXT2:               /* sys_fstat asks ext2 (it may wait) */
        return -EAGAIN;
    case FT_URING:              /* an anonymous inode, as on Linux */
        stat_fill(st, DEV_PIPE, 0600, (uint64_t)(uintptr_t)f->uring >> 4, 0);
        break;
    }
    return 0;
}

/* ---- readiness -------------------------------------------------------------------- */

bool file_readable(struct file *f)
{
    switch (f->type) {
    case FT_CONSOLE: return console_readable();
    case FT_PIPE_READ: return pipe_readable(f->pipe);
    case FT_PIPE_WRITE: return false;
    default: return true;       /* memory never waits (EOF is readable) */
    }
}

bool file_writable(struct file *f)
{
    switch (f->type) {
    case FT_CONSOLE: return console_writable();
    case FT_PIPE_WRITE: return pipe_writable(f->pipe);
    default: return false;
    }
}

unsigned file_poll_events(struct file *f)
{
    switch (f->type) {
    case FT_CONSOLE:
        return (console_readable() ? POLL_IN_MASK : 0) | (console_writable() ? POLL_OUT_MASK : 0);
    case FT_PIPE_READ: return pipe_poll_events(f->pipe, false);
    case FT_PIPE_WRITE: return pipe_poll_events(f->pipe, true);
    default:
        /* memory never waits: Linux's DEFAULT_POLLMASK.  (A ring's fd is
         * said ready too: waiting on it is io_uring_enter's job.) */
        return POLL_IN_MASK | POLL_OUT_MASK;
    }
}

struct waitq *file_poll_queue(struct file *f, bool out)
{
    switch (f->type) {
    case FT_CONSOLE: return console_poll_queue(out);
    case FT_PIPE_READ: case FT_PIPE_WRITE: return pipe_poll_queue(f->pipe, out);
    default: return NULL;       /* never waits */
    }
}

bool file_is_tty(struct file *f)
{
    return f->type == FT_CONSOLE;
}
