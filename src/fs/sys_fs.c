/*
 * sys_fs.c - the file-system calls that may wait for a disk: open,
 * stat, directories, links, truncate, sync, mount.  Each is a struct
 * fscall run as the thread's syscall future:
 *
 *     loop { route the path to its file system (vfs_route)
 *            not on ext2: the initrd's answer (fallback), done
 *            await the ext2 attempt under x2run
 *            a symlink: the attempt rewrote the path; go round (40 at most) }
 *     finish: copy results out, install the fd
 *
 * An fscall is allocated at the call and freed when it completes or is
 * cancelled; it holds the reference to any file it works on.  The walk
 * (the loop above) is a future of its own, fs_walk, so that io_uring's
 * OPENAT and STATX (src/uring) run the very same walk and finish outside
 * a system call: an fscall names the address space and file table it
 * works for (mm, files), never the thread.
 */
#include "arch.h"
#include "dev/console.h"
#include "fs/ext2_ops.h"
#include "fs/pagecache.h"
#include "fs/pipe.h"
#include "fs/vfs.h"
#include "lib/errno.h"
#include "lib/klib.h"
#include "lib/printk.h"
#include "mem/kmalloc.h"
#include "proc/signal.h"
#include "proc/syscall.h"

#define AT_FDCWD (-100)
#define AT_SYMLINK_NOFOLLOW 0x100
#define AT_REMOVEDIR 0x200
#define AT_SYMLINK_FOLLOW 0x400
#define AT_EMPTY_PATH 0x1000
#define MAX_HOPS 40

struct fscall;

/* The loop of the header: route, attempt, follow symlinks; result. */
struct fs_walk {
    struct future base;
    struct fscall *fc;
    long result;
};

struct fscall {
    struct x2op op;
    struct x2run run;
    struct fs_walk walk;
    struct thread *th;                  /* the caller, or NULL (io_uring) */
    struct mm *mm;                      /* whose memory the user pointers name */
    struct fdtable *files;              /* where an fd is installed */
    int hops;
    bool fixed;                         /* op.fs given (an open file): no routing */
    long (*fallback)(struct thread *th, struct fscall *fc);
    long (*finish)(struct thread *th, struct fscall *fc, long r);
    struct file *f;                     /* reference dropped at the end */
    uint64_t u[4];                      /* user arguments finish needs */
    int flags;
    struct ext2_mount mnt;
    struct bc_sync sync;
    struct pc_flush pcf;                /* dirty mapped pages into their blocks first */
    struct ext2_fs *fsl[8];
    int nfs, i;
};

static void fscall_free(struct fscall *fc)
{
    pc_put(fc->op.pg0);
    file_put(fc->f);
    kfree(fc);
}

static bool two_paths(enum x2kind k) { return k == X2_RENAME || k == X2_LINK; }

/* A path the attempt rewrote at a symlink: normalise it again. */
static int renormalise(char *p)
{
    char tmp[X2_PATH_CAP];
    int r = path_resolve(NULL, p, tmp, sizeof tmp);
    if (!r)
        strlcpy(p, tmp, X2_PATH_CAP);
    return r;
}

static enum poll walk_poll(struct future *base, struct cx *cx)
{
    struct fs_walk *w = (struct fs_walk *)base;
    struct fscall *fc = w->fc;
    long r;
    ASYNC_BEGIN(w);
    for (;;) {
        if (!fc->fixed) {
            struct ext2_fs *fs = vfs_route(fc->op.path, &fc->op.rel, &fc->op.mnt);
            if (two_paths(fc->op.kind)) {
                struct ext2_fs *fs2 = vfs_route(fc->op.path2, &fc->op.rel2, &fc->op.mnt2);
                if (fs2 != fs) {
                    w->result = fs && fs2 ? -EXDEV : -EROFS;
                    break;
                }
            }
            if (!fs) {
                w->result = fc->fallback ? fc->fallback(fc->th, fc) : -EROFS;
                break;
            }
            fc->op.fs = fs;
        }
        x2run_init(&fc->run, fc->op.fs, x2_excl(&fc->op), x2_attempt, &fc->op);
        AWAIT(w, future_poll(&fc->run.base, cx));
        w->result = fc->run.result;
        if (w->result != -ESYMLINK)
            break;
        if (++fc->hops > MAX_HOPS) {
            w->result = -ELOOP;
            break;
        }
        if ((r = renormalise(fc->op.path)) || (two_paths(fc->op.kind) && (r = renormalise(fc->op.path2)))) {
            w->result = r;
            break;
        }
    }
    ASYNC_END(w);
}

static void walk_cancel(struct future *base)
{
    struct fs_walk *w = (struct fs_walk *)base;
    future_cancel(&w->fc->run.base);
}

static const struct future_ops walk_ops = { walk_poll, walk_cancel, "fs walk" };

static enum poll fscall_poll(struct future *base, struct cx *cx)
{
    struct syscall_wait *sc = (struct syscall_wait *)base;
    struct fscall *fc = sc->fsc;
    ASYNC_BEGIN(sc);
    AWAIT(sc, future_poll(&fc->walk.base, cx));
    sc->result = fc->walk.result;
    if (fc->finish)
        sc->result = fc->finish(sc->th, fc, sc->result);
    fscall_free(fc);
    sc->fsc = NULL;
    ASYNC_END(sc);
}

static void fscall_cancel(struct future *base)
{
    struct syscall_wait *sc = (struct syscall_wait *)base;
    if (!sc->fsc)
        return;
    future_cancel(&sc->fsc->walk.base);
    fscall_free(sc->fsc);
    sc->fsc = NULL;
}

static const struct future_ops fscall_ops = { fscall_poll, fscall_cancel, "fs call" };

/* th: the caller, or NULL (io_uring, which sets mm and files itself). */
static struct fscall *fscall_new(struct thread *th, enum x2kind kind)
{
    struct fscall *fc = kzalloc(sizeof *fc);
    if (fc) {
        fc->op.kind = kind;
        fc->run.base.resume = RESUME_DONE;
        fc->pcf.base.resume = RESUME_DONE;
        future_init(&fc->walk.base, &walk_ops);
        fc->walk.fc = fc;
        fc->th = th;
        if (th) {
            fc->mm = th->proc->mm;
            fc->files = th->proc->files;
        }
    }
    return fc;
}

static long fscall_start_ops(struct thread *th, struct fscall *fc, const struct future_ops *ops)
{
    sc_wait_init(th, ops);
    th->sc.fsc = fc;
    struct cx cx = { .task = th->task };
    if (ops->poll(&th->sc.base, &cx) == READY)
        return th->sc.result;
    return SYSCALL_WAIT;
}

static long fscall_start(struct thread *th, struct fscall *fc)
{
    return fscall_start_ops(th, fc, &fscall_ops);
}

/* ---- paths ------------------------------------------------------------------ */

/* The directory a dirfd names, for a relative path: its path. */
static int dirfd_path(struct fdtable *files, int dirfd, char *out, size_t cap)
{
    struct file *d = fd_get(files, dirfd);
    if (!d)
        return -EBADF;
    int r = 0;
    if (d->type == FT_DIR)
        strlcpy(out, d->ird.path, cap);
    else if (d->type == FT_EXT2 && (d->x2.mode & S_IFMT) == S_IFDIR)
        strlcpy(out, d->x2.path, cap);
    else
        r = -ENOTDIR;
    file_put(d);
    return r;
}

/* Copy in a user path (once) and make it absolute (dirfd-relative). */
static long path_at(struct mm *mm, struct fdtable *files, const char *cwd, int dirfd, uint64_t upath,
                    char *abs, size_t cap)
{
    char path[X2_PATH_CAP], base[128];
    long n = copyin_str(mm, path, upath, sizeof path);
    if (n < 0)
        return n;
    if (n == 0)
        return -ENOENT;
    if (path[0] != '/' && dirfd != AT_FDCWD) {
        int r = dirfd_path(files, dirfd, base, sizeof base);
        if (r)
            return r;
        cwd = base;
    }
    int r = path_resolve(cwd, path, abs, cap);
    /* "dir/" keeps its meaning: it must be a directory */
    if (!r && n > 1 && path[n - 1] == '/' && strlen(abs) + 2 < cap && strcmp(abs, "/"))
        strlcpy(abs + strlen(abs), "/.", 3);
    return r;
}

long fs_user_path(struct thread *th, int dirfd, uint64_t upath, char *abs, size_t cap)
{
    return path_at(th->proc->mm, th->proc->files, th->proc->cwd, dirfd, upath, abs, cap);
}

static long set_path_at(struct fscall *fc, const char *cwd, int dirfd, uint64_t upath, int which)
{
    char *dst = which == 1 ? fc->op.path : fc->op.path2;
    long r = path_at(fc->mm, fc->files, cwd, dirfd, upath, dst, X2_PATH_CAP);
    if (r)
        return r;
    /* a trailing "/." (from "dir/"): walk to the directory, then check it */
    size_t n = strlen(dst);
    if (n > 2 && !strcmp(dst + n - 2, "/.")) {
        dst[n - 2] = 0;
        fc->flags |= O_DIRECTORY;
    }
    return 0;
}

static long set_path(struct thread *th, struct fscall *fc, int dirfd, uint64_t upath, int which)
{
    return set_path_at(fc, th->proc->cwd, dirfd, upath, which);
}

static struct fscall *path_call(struct thread *th, enum x2kind kind, int dirfd, uint64_t upath, long *err)
{
    struct fscall *fc = fscall_new(th, kind);
    if (!fc) {
        *err = -ENOMEM;
        return NULL;
    }
    if ((*err = set_path(th, fc, dirfd, upath, 1))) {
        fscall_free(fc);
        return NULL;
    }
    return fc;
}

/* An open ext2 file's call: no routing.  th NULL: io_uring's (files given). */
static struct fscall *file_call_in(struct thread *th, struct fdtable *files, enum x2kind kind, int fd,
                                   long *err)
{
    struct file *f = fd_get(files, fd);
    if (!f) {
        *err = -EBADF;
        return NULL;
    }
    if (f->type != FT_EXT2) {
        file_put(f);
        *err = 1;                       /* not ext2: the caller's own path */
        return NULL;
    }
    struct fscall *fc = fscall_new(th, kind);
    if (!fc) {
        file_put(f);
        *err = -ENOMEM;
        return NULL;
    }
    fc->files = files;
    fc->f = f;
    fc->fixed = true;
    fc->op.fs = f->x2.fs;
    fc->op.ino = f->x2.ino;
    strlcpy(fc->op.path, f->x2.path, sizeof fc->op.path);
    return fc;
}

static struct fscall *file_call(struct thread *th, enum x2kind kind, int fd, long *err)
{
    return file_call_in(th, th->proc->files, kind, fd, err);
}

/* ---- open ------------------------------------------------------------------------ */

static long open_fallback(struct thread *th, struct fscall *fc)
{
    (void)th;                           /* NULL from io_uring */
    struct file *f;
    long r = file_open(fc->op.path, fc->op.flags, &f);
    if (r < 0)
        return r;
    r = fd_install(fc->files, f, 0, fc->op.flags & O_CLOEXEC);
    if (r < 0)
        file_put(f);
    return r;
}

/* An open that fails after its attempt took the open reference. */
static long open_unref(struct fscall *fc, long err)
{
    if (x2_open_unref(fc->op.fs, fc->op.ino))
        x2_evict_spawn(fc->op.fs, fc->op.ino);  /* unlinked meanwhile: its last close */
    return err;
}

static long open_finish(struct thread *th, struct fscall *fc, long r)
{
    (void)th;                           /* NULL from io_uring */
    /* not on ext2: r is the fallback's answer, an fd (0 too) or -errno */
    if (r || !fc->op.fs)
        return r;
    /* the attempt took the open reference (ext2_ops.c, open_ref): the
     * file owns it from here, or it is given back */
    if ((fc->flags & O_DIRECTORY) && fc->op.ftype != S_IFDIR)
        return open_unref(fc, -ENOTDIR);
    if (strlen(fc->op.path) >= sizeof ((struct file *)0)->x2.path)
        return open_unref(fc, -ENAMETOOLONG);
    struct file *f = file_alloc(FT_EXT2, fc->op.flags);
    if (!f)
        return open_unref(fc, -ENOMEM);
    f->x2.fs = fc->op.fs;
    f->x2.ino = fc->op.ino;
    f->x2.mode = fc->op.ftype;
    strlcpy(f->x2.path, fc->op.path, sizeof f->x2.path);
    r = fd_install(fc->files, f, 0, fc->op.flags & O_CLOEXEC);
    if (r < 0)
        file_put(f);
    return r;
}

SYS(openat)
{
    long err;
    int flags = (int)a[2];
    if ((flags & O_ACCMODE) == O_ACCMODE)
        return -EINVAL;
    struct fscall *fc = path_call(th, X2_OPEN, (int)a[0], a[1], &err);
    if (!fc)
        return err;
    fc->op.flags = flags | (fc->flags & O_DIRECTORY);
    fc->op.mode = (uint32_t)a[3];
    fc->fallback = open_fallback;
    fc->finish = open_finish;
    return fscall_start(th, fc);
}

/* ---- stat ------------------------------------------------------------------------ */

static long stat_fallback(struct thread *th, struct fscall *fc)
{
    long r = path_stat(fc->op.path, &fc->op.st);
    (void)th;
    if (!r && (fc->flags & O_DIRECTORY) && (fc->op.st.st_mode & S_IFMT) != S_IFDIR)
        r = -ENOTDIR;
    return r;
}

static long stat_out(struct thread *th, struct fscall *fc, long r)
{
    (void)th;                           /* NULL from io_uring */
    if (r)
        return r;
    if ((fc->flags & O_DIRECTORY) && (fc->op.st.st_mode & S_IFMT) != S_IFDIR)
        return -ENOTDIR;
    return copyout(fc->mm, fc->u[0], &fc->op.st, sizeof fc->op.st) ? -EFAULT : 0;
}

SYS(fstat)
{
    long err;
    struct fscall *fc = file_call(th, X2_FSTAT, (int)a[0], &err);
    if (!fc && err != 1)
        return err;
    if (!fc) {
        struct file *f = fd_get(th->proc->files, (int)a[0]);
        if (!f)
            return -EBADF;
        struct kstat st;
        int r = file_stat(f, &st);
        file_put(f);
        if (r == 0 && copyout(th->proc->mm, a[1], &st, sizeof st))
            r = -EFAULT;
        return r;
    }
    fc->u[0] = a[1];
    fc->finish = stat_out;
    return fscall_start(th, fc);
}

SYS(newfstatat)
{
    char path[2];
    long err;
    if ((a[3] & AT_EMPTY_PATH) && copyin_str(th->proc->mm, path, a[1], sizeof path) == 0) {
        uint64_t b[6] = { a[0], a[2] };
        return sys_fstat(th, b);
    }
    struct fscall *fc = path_call(th, X2_STAT, (int)a[0], a[1], &err);
    if (!fc)
        return err;
    fc->op.flags = (int)a[3] & AT_SYMLINK_NOFOLLOW;
    fc->u[0] = a[2];
    fc->fallback = stat_fallback;
    fc->finish = stat_out;
    return fscall_start(th, fc);
}

/* statx: the struct statx of Linux, from the same stat. */
struct kstatx_ts { int64_t tv_sec; uint32_t tv_nsec; int32_t pad; };
struct kstatx {
    uint32_t stx_mask, stx_blksize;
    uint64_t stx_attributes;
    uint32_t stx_nlink, stx_uid, stx_gid;
    uint16_t stx_mode, pad1;
    uint64_t stx_ino, stx_size, stx_blocks, stx_attributes_mask;
    struct kstatx_ts stx_atime, stx_btime, stx_ctime, stx_mtime;
    uint32_t stx_rdev_major, stx_rdev_minor, stx_dev_major, stx_dev_minor;
    uint64_t spare[14];
};
_Static_assert(sizeof(struct kstatx) == 256, "struct statx");

static long statx_out(struct thread *th, struct fscall *fc, long r)
{
    (void)th;                           /* NULL from io_uring */
    if (r)
        return r;
    struct kstat *st = &fc->op.st;
    struct kstatx x;
    memset(&x, 0, sizeof x);
    x.stx_mask = 0x7ff;                 /* STATX_BASIC_STATS */
    x.stx_blksize = (uint32_t)st->st_blksize;
    x.stx_nlink = st->st_nlink;
    x.stx_uid = st->st_uid;
    x.stx_gid = st->st_gid;
    x.stx_mode = (uint16_t)st->st_mode;
    x.stx_ino = st->st_ino;
    x.stx_size = (uint64_t)st->st_size;
    x.stx_blocks = (uint64_t)st->st_blocks;
    x.stx_atime.tv_sec = st->st_atime;
    x.stx_ctime.tv_sec = st->st_ctime;
    x.stx_mtime.tv_sec = st->st_mtime;
    x.stx_rdev_major = (uint32_t)(st->st_rdev >> 8);
    x.stx_rdev_minor = (uint32_t)(st->st_rdev & 0xff);
    x.stx_dev_major = (uint32_t)(st->st_dev >> 8);
    x.stx_dev_minor = (uint32_t)(st->st_dev & 0xff);
    return copyout(fc->mm, fc->u[0], &x, sizeof x) ? -EFAULT : 0;
}

SYS(statx)
{
    char path[2];
    long err;
    struct fscall *fc;
    if ((a[2] & AT_EMPTY_PATH) && copyin_str(th->proc->mm, path, a[1], sizeof path) == 0) {
        fc = file_call(th, X2_FSTAT, (int)a[0], &err);
        if (!fc && err != 1)
            return err;
        if (!fc) {                      /* not ext2: stat it here and convert */
            struct file *f = fd_get(th->proc->files, (int)a[0]);
            if (!f)
                return -EBADF;
            struct fscall tmp;
            memset(&tmp, 0, sizeof tmp);
            tmp.mm = th->proc->mm;
            tmp.u[0] = a[4];
            int r = file_stat(f, &tmp.op.st);
            file_put(f);
            return statx_out(th, &tmp, r);
        }
    } else {
        fc = path_call(th, X2_STAT, (int)a[0], a[1], &err);
        if (!fc)
            return err;
        fc->op.flags = (int)a[2] & AT_SYMLINK_NOFOLLOW;
        fc->fallback = stat_fallback;
    }
    fc->u[0] = a[4];
    fc->finish = statx_out;
    return fscall_start(th, fc);
}

/* ---- io_uring's OPENAT and STATX (src/uring/uring_ops.c) ------------------------------ */

/*
 * The same walk and finish as openat(2) and statx(2), for the address
 * space and file table of the submitter: the path is copied in (once)
 * and made absolute here, at submission; the walk, which may wait for
 * the disk, runs in the operation's future (fs_uring_poll).
 */
struct fscall *fs_uring_openat(struct mm *mm, struct fdtable *files, const char *cwd, int dirfd,
                               uint64_t upath, int flags, uint32_t mode, long *err)
{
    if ((flags & O_ACCMODE) == O_ACCMODE) {
        *err = -EINVAL;
        return NULL;
    }
    struct fscall *fc = fscall_new(NULL, X2_OPEN);
    if (!fc) {
        *err = -ENOMEM;
        return NULL;
    }
    fc->mm = mm;
    fc->files = files;
    if ((*err = set_path_at(fc, cwd, dirfd, upath, 1))) {
        fscall_free(fc);
        return NULL;
    }
    fc->op.flags = flags | (fc->flags & O_DIRECTORY);
    fc->op.mode = mode;
    fc->fallback = open_fallback;
    fc->finish = open_finish;
    return fc;
}

struct fscall *fs_uring_statx(struct mm *mm, struct fdtable *files, const char *cwd, int dirfd,
                              uint64_t upath, int flags, uint64_t ubuf, long *err)
{
    char path[2];
    struct fscall *fc;
    if ((flags & AT_EMPTY_PATH) && copyin_str(mm, path, upath, sizeof path) == 0) {
        fc = file_call_in(NULL, files, X2_FSTAT, dirfd, err);
        if (!fc && *err != 1)
            return NULL;
        if (!fc) {                      /* not ext2: stat it now; the walk is done */
            struct file *f = fd_get(files, dirfd);
            if (!f) {
                *err = -EBADF;
                return NULL;
            }
            fc = fscall_new(NULL, X2_FSTAT);
            if (!fc) {
                file_put(f);
                *err = -ENOMEM;
                return NULL;
            }
            fc->walk.result = file_stat(f, &fc->op.st);
            fc->walk.base.resume = RESUME_DONE;
            file_put(f);
        }
    } else {
        fc = fscall_new(NULL, X2_STAT);
        if (!fc) {
            *err = -ENOMEM;
            return NULL;
        }
        fc->files = files;
        fc->mm = mm;
        if ((*err = set_path_at(fc, cwd, dirfd, upath, 1))) {
            fscall_free(fc);
            return NULL;
        }
        fc->op.flags = flags & AT_SYMLINK_NOFOLLOW;
        fc->fallback = stat_fallback;
    }
    fc->mm = mm;
    fc->files = files;
    fc->u[0] = ubuf;
    fc->finish = statx_out;
    return fc;
}

/* Run the walk; when READY, *result is the call's (fc stays until
 * fs_uring_cancel, so that a copy-out can be run again). */
enum poll fs_uring_poll(struct fscall *fc, struct cx *cx, long *result)
{
    if (future_poll(&fc->walk.base, cx) == PENDING)
        return PENDING;
    *result = fs_uring_finish_again(fc);
    return READY;
}

long fs_uring_finish_again(struct fscall *fc)
{
    long r = fc->walk.result;
    return fc->finish ? fc->finish(NULL, fc, r) : r;
}

void fs_uring_cancel(struct fscall *fc)
{
    future_cancel(&fc->walk.base);
    fscall_free(fc);
}

/* ---- directories --------------------------------------------------------------------- */

static long create_fallback(struct thread *th, struct fscall *fc)
{
    (void)th;
    struct kstat st;
    if (path_stat(fc->op.path, &st) == 0)
        return -EEXIST;
    return fs_create_error(fc->op.path);
}

SYS(mkdirat)
{
    long err;
    struct fscall *fc = path_call(th, X2_MKDIR, (int)a[0], a[1], &err);
    if (!fc)
        return err;
    fc->op.mode = (uint32_t)a[2];
    fc->fallback = create_fallback;
    return fscall_start(th, fc);
}

static long remove_fallback(struct thread *th, struct fscall *fc)
{
    (void)th;
    struct kstat st;
    long r = path_stat(fc->op.path, &st);
    return r ? r : -EROFS;
}

SYS(unlinkat)
{
    long err;
    if (a[2] & ~(uint64_t)AT_REMOVEDIR)
        return -EINVAL;
    struct fscall *fc = path_call(th, (a[2] & AT_REMOVEDIR) ? X2_RMDIR : X2_UNLINK, (int)a[0], a[1], &err);
    if (!fc)
        return err;
    if (fc->flags & O_DIRECTORY && fc->op.kind == X2_UNLINK) {
        fscall_free(fc);
        return -ENOTDIR;
    }
    fc->fallback = remove_fallback;
    return fscall_start(th, fc);
}

/* A call that names two paths: (a[0], a[1]) and (a[2], a[3]). */
static long two_path_call(struct thread *th, int kind, uint64_t a[6], int flags)
{
    long err;
    struct fscall *fc = path_call(th, kind, (int)a[0], a[1], &err);
    if (!fc)
        return err;
    if ((err = set_path(th, fc, (int)a[2], a[3], 2))) {
        fscall_free(fc);
        return err;
    }
    fc->op.flags = flags;
    fc->fallback = remove_fallback;
    return fscall_start(th, fc);
}

SYS(renameat2) { return two_path_call(th, X2_RENAME, a, (int)a[4]); }

SYS(linkat) { return two_path_call(th, X2_LINK, a, (int)a[4] & AT_SYMLINK_FOLLOW); }

SYS(symlinkat)
{
    long err;
    struct fscall *fc = path_call(th, X2_SYMLINK, (int)a[1], a[2], &err);
    if (!fc)
        return err;
    long n = copyin_str(th->proc->mm, fc->op.link, a[0], sizeof fc->op.link);
    if (n <= 0) {
        fscall_free(fc);
        return n < 0 ? n : -ENOENT;
    }
    fc->fallback = create_fallback;
    return fscall_start(th, fc);
}

static long readlink_out(struct thread *th, struct fscall *fc, long r)
{
    if (r)
        return r;
    size_t n = MIN(fc->op.size, fc->u[1]);
    return copyout(th->proc->mm, fc->u[0], fc->op.link, n) ? -EFAULT : (long)n;
}

static long readlink_fallback(struct thread *th, struct fscall *fc)
{
    (void)th;
    struct kstat st;
    long r = path_stat(fc->op.path, &st);
    return r ? r : -EINVAL;
}

SYS(readlinkat)
{
    long err;
    if ((int64_t)a[3] <= 0)
        return -EINVAL;
    struct fscall *fc = path_call(th, X2_READLINK, (int)a[0], a[1], &err);
    if (!fc)
        return err;
    fc->u[0] = a[2];
    fc->u[1] = a[3];
    fc->fallback = readlink_fallback;
    fc->finish = readlink_out;
    return fscall_start(th, fc);
}

static long getdents_out(struct thread *th, struct fscall *fc, long r)
{
    (void)th;
    spin_lock(&fc->f->lock);
    fc->f->off = fc->op.pos;
    spin_unlock(&fc->f->lock);
    return fc->op.written ? (long)fc->op.written : r;
}

SYS(getdents64)
{
    long err;
    struct fscall *fc = file_call(th, X2_GETDENTS, (int)a[0], &err);
    if (!fc && err != 1)
        return err;
    if (!fc) {
        struct file *f = fd_get(th->proc->files, (int)a[0]);
        if (!f)
            return -EBADF;
        long r = file_getdents64(f, th->proc->mm, a[1], a[2]);
        file_put(f);
        return r;
    }
    fc->op.mm = th->proc->mm;
    fc->op.ubuf = a[1];
    fc->op.ulen = a[2];
    spin_lock(&fc->f->lock);
    fc->op.pos = fc->f->off;
    spin_unlock(&fc->f->lock);
    fc->finish = getdents_out;
    return fscall_start(th, fc);
}

/* ---- cwd -------------------------------------------------------------------------------- */

static long chdir_out(struct thread *th, struct fscall *fc, long r)
{
    if (r)
        return r;
    if ((fc->op.st.st_mode & S_IFMT) != S_IFDIR)
        return -ENOTDIR;
    if (strlen(fc->op.path) >= sizeof th->proc->cwd)
        return -ENAMETOOLONG;
    strlcpy(th->proc->cwd, fc->op.path, sizeof th->proc->cwd);
    return 0;
}

SYS(chdir)
{
    long err;
    struct fscall *fc = path_call(th, X2_STAT, AT_FDCWD, a[0], &err);
    if (!fc)
        return err;
    fc->fallback = stat_fallback;
    fc->finish = chdir_out;
    return fscall_start(th, fc);
}

SYS(fchdir)
{
    char p[128];
    int r = dirfd_path(th->proc->files, (int)a[0], p, sizeof p);
    if (r)
        return r;
    strlcpy(th->proc->cwd, p, sizeof th->proc->cwd);
    return 0;
}

/* ---- lseek ------------------------------------------------------------------------------ */

static long seek_out(struct thread *th, struct fscall *fc, long r)
{
    (void)th;
    if (r)
        return r;
    int64_t off = (int64_t)fc->u[0], base = (int64_t)fc->op.st.st_size;
    if (base + off < 0)
        return -EINVAL;
    spin_lock(&fc->f->lock);
    fc->f->off = (uint64_t)(base + off);
    spin_unlock(&fc->f->lock);
    return base + off;
}

SYS(lseek)
{
    struct file *f = fd_get(th->proc->files, (int)a[0]);
    if (!f)
        return -EBADF;
    long r = -ESPIPE;
    int64_t off = (int64_t)a[1];
    if (a[2] > 2) {
        r = -EINVAL;
    } else if (f->type == FT_EXT2 && a[2] == 2) {   /* SEEK_END: the size, from the inode */
        file_put(f);
        long err;
        struct fscall *fc = file_call(th, X2_FSTAT, (int)a[0], &err);
        if (!fc)
            return err == 1 ? -EBADF : err;
        fc->u[0] = a[1];
        fc->finish = seek_out;
        return fscall_start(th, fc);
    } else if (f->type == FT_INITRD || f->type == FT_PROC || f->type == FT_DIR || f->type == FT_EXT2) {
        int64_t size = f->type == FT_PROC ? (int64_t)f->proc.len : (int64_t)f->ird.size;
        spin_lock(&f->lock);
        int64_t base = a[2] == 0 ? 0 : a[2] == 1 ? (int64_t)f->off : size;
        if (base + off < 0)
            r = -EINVAL;
        else
            r = f->off = base + off;
        spin_unlock(&f->lock);
    }
    file_put(f);
    return r;
}

/* ---- attributes ---------------------------------------------------------------------------- */

SYS(truncate)
{
    long err;
    if ((int64_t)a[1] < 0)
        return -EINVAL;
    struct fscall *fc = path_call(th, X2_TRUNCATE, AT_FDCWD, a[0], &err);
    if (!fc)
        return err;
    fc->op.size = a[1];
    fc->fallback = remove_fallback;
    return fscall_start(th, fc);
}

SYS(ftruncate)
{
    long err;
    if ((int64_t)a[1] < 0)
        return -EINVAL;
    struct fscall *fc = file_call(th, X2_FTRUNCATE, (int)a[0], &err);
    if (!fc)
        return err == 1 ? -EINVAL : err;
    if (!file_can_write(fc->f)) {
        fscall_free(fc);
        return -EINVAL;
    }
    fc->op.size = a[1];
    return fscall_start(th, fc);
}

SYS(fchmod)
{
    long err;
    struct fscall *fc = file_call(th, X2_FCHMOD, (int)a[0], &err);
    if (!fc)
        return err == 1 ? -EROFS : err;
    fc->op.mode = (uint32_t)a[1];
    return fscall_start(th, fc);
}

SYS(fchmodat)
{
    long err;
    struct fscall *fc = path_call(th, X2_CHMOD, (int)a[0], a[1], &err);
    if (!fc)
        return err;
    fc->op.mode = (uint32_t)a[2];
    fc->fallback = remove_fallback;
    return fscall_start(th, fc);
}

#define UTIME_NOW ((1L << 30) - 1)
#define UTIME_OMIT ((1L << 30) - 2)

SYS(utimensat)
{
    long err;
    struct fscall *fc;
    if (a[1] == 0) {                    /* futimens: the fd itself */
        fc = file_call(th, X2_FUTIMES, (int)a[0], &err);
        if (!fc)
            return err == 1 ? -EROFS : err;
    } else {
        fc = path_call(th, X2_UTIMES, (int)a[0], a[1], &err);
        if (!fc)
            return err;
        fc->op.flags = (int)a[3] & AT_SYMLINK_NOFOLLOW;
        fc->fallback = remove_fallback;
    }
    fc->op.times[0] = fc->op.times[1] = UINT64_MAX;
    if (a[2]) {
        int64_t ts[4];
        if (copyin(th->proc->mm, ts, a[2], sizeof ts)) {
            fscall_free(fc);
            return -EFAULT;
        }
        for (int k = 0; k < 2; k++) {
            if (ts[2 * k + 1] == UTIME_NOW)
                continue;
            if (ts[2 * k + 1] == UTIME_OMIT)
                fc->op.times[k] = (uint64_t)-2;
            else if (ts[2 * k + 1] < 0 || ts[2 * k + 1] >= 1000000000 || ts[2 * k] < 0) {
                fscall_free(fc);
                return -EINVAL;
            } else
                fc->op.times[k] = (uint64_t)ts[2 * k];
        }
    }
    return fscall_start(th, fc);
}

static long access_fallback(struct thread *th, struct fscall *fc)
{
    (void)th;
    struct kstat st;
    return path_stat(fc->op.path, &st);
}

static long faccess(struct thread *th, uint64_t a[6], int flags)
{
    long err;
    if (a[2] & ~7UL)
        return -EINVAL;
    struct fscall *fc = path_call(th, X2_ACCESS, (int)a[0], a[1], &err);
    if (!fc)
        return err;
    fc->op.mode = (uint32_t)a[2];
    fc->op.flags = flags & AT_SYMLINK_NOFOLLOW;
    fc->fallback = access_fallback;
    return fscall_start(th, fc);
}

SYS(faccessat) { return faccess(th, a, 0); }
SYS(faccessat2) { return faccess(th, a, (int)a[3]); }

static long statfs_out(struct thread *th, struct fscall *fc, long r)
{
    if (r)
        return r;
    return copyout(th->proc->mm, fc->u[0], &fc->op.sfs, sizeof fc->op.sfs) ? -EFAULT : 0;
}

static long statfs_fallback(struct thread *th, struct fscall *fc)
{
    struct kstat st;
    long r = path_stat(fc->op.path, &st);
    if (r)
        return r;
    memset(&fc->op.sfs, 0, sizeof fc->op.sfs);
    fc->op.sfs.f_type = 0x858458f6;     /* RAMFS_MAGIC: the initrd */
    fc->op.sfs.f_bsize = fc->op.sfs.f_frsize = 4096;
    fc->op.sfs.f_namelen = 255;
    fc->op.sfs.f_flags = 1;             /* ST_RDONLY */
    return statfs_out(th, fc, 0);
}

SYS(statfs)
{
    long err;
    struct fscall *fc = path_call(th, X2_STATFS, AT_FDCWD, a[0], &err);
    if (!fc)
        return err;
    fc->u[0] = a[1];
    fc->fallback = statfs_fallback;
    fc->finish = statfs_out;
    return fscall_start(th, fc);
}

SYS(fstatfs)
{
    long err;
    struct fscall *fc = file_call(th, X2_STATFS, (int)a[0], &err);
    if (!fc && err != 1)
        return err;
    if (!fc) {
        fc = fscall_new(th, X2_STATFS);
        if (!fc)
            return -ENOMEM;
        strlcpy(fc->op.path, "/", sizeof fc->op.path);
        fc->u[0] = a[1];
        long r = statfs_fallback(th, fc);
        fscall_free(fc);
        return r;
    }
    fc->u[0] = a[1];
    fc->finish = statfs_out;
    return fscall_start(th, fc);
}

/* ---- exec -------------------------------------------------------------------------------------- */

/* An open file of inode ino, as openat makes one (exec's regions hold it),
 * with the open reference its X2_EXEC attempt took. */
struct file *x2_file_new(struct ext2_fs *fs, uint32_t ino, uint32_t ftype, const char *path,
                         int flags)
{
    struct file *f = file_alloc(FT_EXT2, flags);
    if (!f) {
        if (x2_open_unref(fs, ino))
            x2_evict_spawn(fs, ino);
        return NULL;
    }
    f->x2.fs = fs;
    f->x2.ino = ino;
    f->x2.mode = ftype;
    strlcpy(f->x2.path, path, sizeof f->x2.path);
    return f;
}

/* exec_load, and what a successful exec does to signals (signal.c) */
static long do_exec_load(struct thread *th, const char *path, uint64_t uargv, uint64_t uenvp,
                         const struct exec_file *xf)
{
    long r = exec_load(th, path, uargv, uenvp, xf);
    if (r == 0) {
        signal_exec(th->proc);
        th->proc->did_exec = true;
    }
    return r;
}

static long exec_fallback(struct thread *th, struct fscall *fc)
{
    return do_exec_load(th, fc->op.path, fc->u[0], fc->u[1], NULL);
}

/* An ext2 program: mapped from the page cache through an open file of
 * it, which its regions keep (and so the inode) as long as they live. */
static long exec_finish(struct thread *th, struct fscall *fc, long r)
{
    if (r || !fc->op.fs)
        return r;
    struct file *f = x2_file_new(fc->op.fs, fc->op.ino, fc->op.ftype, fc->op.path, O_RDONLY);
    if (!f)
        return -ENOMEM;
    struct exec_file xf = { f, fc->op.pg0, fc->op.size };
    r = do_exec_load(th, fc->op.path, fc->u[0], fc->u[1], &xf);
    file_put(f);
    return r;
}

long fs_execve(struct thread *th, uint64_t upath, uint64_t uargv, uint64_t uenvp)
{
    long err;
    struct fscall *fc = path_call(th, X2_EXEC, AT_FDCWD, upath, &err);
    if (!fc)
        return err;
    fc->u[0] = uargv;
    fc->u[1] = uenvp;
    fc->fallback = exec_fallback;
    fc->finish = exec_finish;
    return fscall_start(th, fc);
}

/* ---- sync, mount, umount, power-off ------------------------------------------------------------ */

/* A call that syncs fc->fsl[0..nfs) (or every disk when nfs is 0 and
 * all), marking them clean first if `clean` (umount, power-off). */
static enum poll sync_call_poll(struct future *base, struct cx *cx)
{
    struct syscall_wait *sc = (struct syscall_wait *)base;
    struct fscall *fc = sc->fsc;
    ASYNC_BEGIN(sc);
    if (fc->u[2] == 1) {                /* mount: read the file system first */
        ext2_mount_init(&fc->mnt, (struct blkdev *)(uintptr_t)fc->u[3]);
        AWAIT(sc, future_poll(&fc->mnt.base, cx));
        sc->result = fc->mnt.result;
        if (!sc->result) {
            sc->result = vfs_mount(fc->op.path, fc->mnt.fs);
            if (sc->result) {
                ext2_mark_clean(fc->mnt.fs, true);
                bc_sync_init(&fc->sync, fc->mnt.fs->dev);
                AWAIT(sc, future_poll(&fc->sync.base, cx));
                ext2_release(fc->mnt.fs);
            } else {
                bc_writeback_start();
            }
        }
    } else {
        for (fc->i = 0; fc->i < fc->nfs; fc->i++)
            if (fc->flags)
                ext2_mark_clean(fc->fsl[fc->i], true);
        if (fc->nfs == 0 && !fc->u[1]) {
            pc_flush_init(&fc->pcf, NULL, 0);
            AWAIT(sc, future_poll(&fc->pcf.base, cx));
            sc->result = fc->pcf.result;
            bc_sync_init(&fc->sync, NULL);
            AWAIT(sc, future_poll(&fc->sync.base, cx));
            if (fc->sync.result)
                sc->result = fc->sync.result;
        }
        for (fc->i = 0; fc->i < fc->nfs; fc->i++) {
            pc_flush_init(&fc->pcf, fc->fsl[fc->i], 0);
            AWAIT(sc, future_poll(&fc->pcf.base, cx));
            if (fc->pcf.result)
                sc->result = fc->pcf.result;
            bc_sync_init(&fc->sync, fc->fsl[fc->i]->dev);
            AWAIT(sc, future_poll(&fc->sync.base, cx));
            if (fc->sync.result)
                sc->result = fc->sync.result;
        }
        if (fc->u[2] == 2 && !sc->result)       /* umount */
            ext2_release(fc->fsl[0]);
        if (fc->u[2] == 3 || fc->u[2] == 4) {   /* power-off, restart */
            printk("pollux: file systems synced, %s\n", fc->u[2] == 3 ? "powering off" : "restarting");
            console_flush();
            if (fc->u[2] == 4)
                arch_reboot();
            arch_poweroff(0);
        }
    }
    fscall_free(fc);
    sc->fsc = NULL;
    ASYNC_END(sc);
}

static void sync_call_cancel(struct future *base)
{
    struct syscall_wait *sc = (struct syscall_wait *)base;
    if (!sc->fsc)
        return;
    future_cancel(&sc->fsc->mnt.base);
    future_cancel(&sc->fsc->pcf.base);
    future_cancel(&sc->fsc->sync.base);
    fscall_free(sc->fsc);
    sc->fsc = NULL;
}

static const struct future_ops sync_call_ops = { sync_call_poll, sync_call_cancel, "sync" };

static long start_sync(struct thread *th, struct fscall *fc)
{
    fc->mnt.base.resume = RESUME_DONE;
    fc->sync.base.resume = RESUME_DONE;
    return fscall_start_ops(th, fc, &sync_call_ops);
}

SYS(sync)
{
    (void)a;
    struct fscall *fc = fscall_new(th, X2_STATFS);
    if (!fc)
        return -ENOMEM;
    long r = start_sync(th, fc);
    return r == SYSCALL_WAIT ? r : 0;   /* sync(2) never fails */
}

static long sync_fd(struct thread *th, int fd)
{
    long err;
    struct fscall *fc = file_call(th, X2_FSTAT, fd, &err);
    if (!fc && err == 1) {              /* not ext2: nothing to write, or EINVAL as on Linux */
        struct file *f = fd_get(th->proc->files, fd);
        bool mem = f && (f->type == FT_INITRD || f->type == FT_DIR || f->type == FT_PROC);
        file_put(f);
        return mem ? 0 : -EINVAL;
    }
    if (!fc)
        return err;
    fc->fsl[0] = fc->op.fs;
    fc->nfs = 1;
    fc->u[1] = 1;
    return start_sync(th, fc);
}

SYS(fsync) { return sync_fd(th, (int)a[0]); }
SYS(fdatasync) { return sync_fd(th, (int)a[0]); }
SYS(syncfs) { return sync_fd(th, (int)a[0]); }

SYS(mount)
{
    char src[64], type[16];
    long n = copyin_str(th->proc->mm, src, a[0], sizeof src);
    if (n < 0)
        return n;
    if (a[2] && (n = copyin_str(th->proc->mm, type, a[2], sizeof type)) >= 0 && strcmp(type, "ext2"))
        return -ENODEV;
    if (n < 0)
        return n;
    struct blkdev *d = NULL;
    for (int i = 0; i < blk_count(); i++) {
        char name[16];
        snprintf(name, sizeof name, "/dev/%s", blk_get(i)->name);
        if (!strcmp(name, src))
            d = blk_get(i);
    }
    if (!d)
        return -ENOENT;
    if (vfs_dev_mounted(d))
        return -EBUSY;
    long err;
    struct fscall *fc = path_call(th, X2_STAT, AT_FDCWD, a[1], &err);
    if (!fc)
        return err;
    fc->u[2] = 1;
    fc->u[3] = (uintptr_t)d;
    return start_sync(th, fc);
}

SYS(umount2)
{
    long err;
    struct fscall *fc = path_call(th, X2_STAT, AT_FDCWD, a[0], &err);
    if (!fc)
        return err;
    int e;
    struct ext2_fs *fs = vfs_umount(fc->op.path, &e);
    if (!fs) {
        fscall_free(fc);
        return e;
    }
    fc->fsl[0] = fs;
    fc->nfs = 1;
    fc->flags = 1;                      /* mark it clean */
    fc->u[1] = 1;
    fc->u[2] = 2;
    return start_sync(th, fc);
}

/* reboot(2)'s power-off and restart (sys_reboot.c): every mounted file
 * system is marked clean and written back, the disks flushed, then the
 * machine stops.  A future like sync. */
long fs_shutdown(struct thread *th, bool restart)
{
    struct fscall *fc = fscall_new(th, X2_STATFS);
    if (!fc)
        return -ENOMEM;
    fc->nfs = vfs_mounted(fc->fsl, 8);
    fc->flags = 1;
    fc->u[2] = restart ? 4 : 3;
    return start_sync(th, fc);
}
