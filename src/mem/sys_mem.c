/*
 * sys_mem.c - memory system calls: brk, mmap, munmap, mprotect, madvise,
 * msync.
 */
#include "fs/pagecache.h"
#include "fs/pipe.h"
#include "lib/errno.h"
#include "mem/kmalloc.h"
#include "proc/syscall.h"
#include "uring/uring.h"

/* ---- after removing memory, a TLB shootdown if other harts run this mm -- */

static enum poll shootdown_wait_poll(struct future *base, struct cx *cx)
{
    struct syscall_wait *sc = (struct syscall_wait *)base;
    if (future_poll(&sc->shootdown.base, cx) == PENDING)
        return PENDING;
    base->resume = RESUME_DONE;
    return READY;               /* sc->result was set before the wait */
}

static void shootdown_wait_cancel(struct future *base)
{
    future_cancel(&((struct syscall_wait *)base)->shootdown.base);
}

static const struct future_ops shootdown_wait_ops = {
    shootdown_wait_poll, shootdown_wait_cancel, "munmap",
};

/*
 * Return `result` now, or once every other hart that runs this address
 * space has dropped its stale translations of what the call removed or
 * narrowed (since generation gen0): as Linux, munmap, mprotect, madvise,
 * brk and mmap(MAP_FIXED) return only when no thread can still reach the
 * old mapping.  The frames are freed then (or at once if no other hart
 * runs it: mm.c decided that already).
 */
static long after_unmap(struct thread *th, uint64_t gen0, long result)
{
    struct mm *mm = th->proc->mm;
    if (atomic_load(&mm->gen) == gen0)
        return result;          /* nothing was removed or narrowed */
    sc_wait_init(th, &shootdown_wait_ops);
    th->sc.result = result;
    if (!shootdown_start(&th->sc.shootdown, mm))
        return result;
    return SYSCALL_WAIT;
}

static uint64_t gen_now(struct thread *th) { return atomic_load(&th->proc->mm->gen); }

SYS(brk)
{
    uint64_t gen0 = gen_now(th);
    return after_unmap(th, gen0, mm_brk(th->proc->mm, a[0]));
}
#define MAP_SHARED 0x01
#define MAP_ANONYMOUS 0x20

/* mmap of an ext2 regular file: through the page cache (mm_map_file).
 * The region holds a reference on the open file (so on its inode). */
static long mmap_ext2(struct thread *th, struct file *f, uint64_t a[6])
{
    int acc = f->flags & O_ACCMODE;
    bool shared = (a[3] & 3) == MAP_SHARED;
    if ((f->x2.mode & 0170000) != S_IFREG)
        return -ENODEV;
    if (a[5] & 4095)
        return -EINVAL;
    if (acc == O_WRONLY || (shared && (a[2] & PROT_WRITE) && acc != O_RDWR))
        return -EACCES;
    if (shared)
        pc_writeback_start();
    return mm_map_file(th->proc->mm, a[0], a[1], (uint32_t)a[2], (int)a[3], f->x2.fs,
                       f->x2.ino, a[5] / 4096, a[1], &pc_file_vma_ops, f);
}

SYS(mmap)
{
    uint64_t gen0 = gen_now(th);
    if (!(a[3] & MAP_ANONYMOUS)) {      /* io_uring rings and ext2 files */
        struct file *f = fd_get(th->proc->files, (int)a[4]);
        if (!f)
            return -EBADF;
        long r = -ENODEV;
        bool ext2 = f->type == FT_EXT2;
        if (f->type == FT_URING)
            r = (a[3] & 3) == 1 /* MAP_SHARED */ ? uring_mmap(f->uring, th->proc->mm, a[1], a[5], (int)a[2])
                                                : -EINVAL;
        else if (ext2)
            r = mmap_ext2(th, f, a);
        file_put(f);
        return ext2 ? after_unmap(th, gen0, r) : r;     /* MAP_FIXED may replace */   /* MAP_FIXED may replace */
    }
    /* MAP_FIXED over a mapping removes it first */
    return after_unmap(th, gen0, mm_mmap(th->proc->mm, a[0], a[1], (int)a[2], (int)a[3],
                                         (int)a[4], a[5]));
}

SYS(munmap)
{
    uint64_t gen0 = gen_now(th);
    return after_unmap(th, gen0, mm_munmap(th->proc->mm, a[0], a[1]));
}

SYS(mprotect)
{
    uint64_t gen0 = gen_now(th);
    return after_unmap(th, gen0, mm_mprotect(th->proc->mm, a[0], a[1], (int)a[2]));
}

/* MADV_DONTNEED drops the pages (the next touch reads zeroes); other
 * advice is accepted and ignored. */
SYS(madvise)
{
    if (a[0] % 4096)
        return -EINVAL;
    if (a[2] == 4 /* MADV_DONTNEED */) {
        uint64_t gen0 = gen_now(th);
        return after_unmap(th, gen0, mm_dontneed(th->proc->mm, a[0], a[1]));
    }
    return 0;
}

/* ---- msync: a MAP_SHARED file region's dirty pages to the disk ---------- */

struct msync_call {
    struct ext2_fs *fs;         /* the one file system mapped (NULL: several) */
    uint32_t ino;               /* the one file (0: several) */
    int n;
    struct pc_fsync fsync;
};

static void msync_note(struct ext2_fs *fs, uint32_t ino, void *arg)
{
    struct msync_call *m = arg;
    if (m->n++ == 0) {
        m->fs = fs;
        m->ino = ino;
    } else {
        if (m->fs != fs)
            m->fs = NULL;
        if (m->ino != ino)
            m->ino = 0;
    }
}

static enum poll msync_poll(struct future *base, struct cx *cx)
{
    struct syscall_wait *sc = (struct syscall_wait *)base;
    struct msync_call *m = sc->msync;
    ASYNC_BEGIN(sc);
    pc_fsync_init(&m->fsync, m->fs, m->fs ? m->ino : 0);
    AWAIT(sc, future_poll(&m->fsync.base, cx));
    sc->result = m->fsync.result;
    kfree(m);
    sc->msync = NULL;
    ASYNC_END(sc);
}

static void msync_cancel(struct future *base)
{
    struct syscall_wait *sc = (struct syscall_wait *)base;
    if (!sc->msync)
        return;
    future_cancel(&sc->msync->fsync.base);
    kfree(sc->msync);
    sc->msync = NULL;
}

static const struct future_ops msync_ops = { msync_poll, msync_cancel, "msync" };

#define MS_ASYNC 1
#define MS_INVALIDATE 2
#define MS_SYNC 4

SYS(msync)
{
    if ((a[2] & ~(uint64_t)(MS_ASYNC | MS_INVALIDATE | MS_SYNC)) ||
        ((a[2] & MS_ASYNC) && (a[2] & MS_SYNC)))
        return -EINVAL;
    struct msync_call *m = kzalloc(sizeof *m);
    if (!m)
        return -ENOMEM;
    m->fsync.base.resume = RESUME_DONE;
    long r = mm_shared_files(th->proc->mm, a[0], a[1], msync_note, m);
    if (r || m->n == 0) {
        kfree(m);
        return r;
    }
    sc_wait_init(th, &msync_ops);
    th->sc.msync = m;
    return SYSCALL_WAIT;
}
