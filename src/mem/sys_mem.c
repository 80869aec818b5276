/*
 * sys_mem.c - memory system calls: brk, mmap, munmap, mprotect, madvise.
 */
#include "lib/errno.h"
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
#define MAP_ANONYMOUS 0x20

SYS(mmap)
{
    uint64_t gen0 = gen_now(th);
    if (!(a[3] & MAP_ANONYMOUS)) {      /* only io_uring rings map a file */
        struct file *f = fd_get(th->proc->files, (int)a[4]);
        if (!f)
            return -EBADF;
        long r = -ENODEV;
        if (f->type == FT_URING)
            r = (a[3] & 3) == 1 /* MAP_SHARED */ ? uring_mmap(f->uring, th->proc->mm, a[1], a[5], (int)a[2])
                                                : -EINVAL;
        file_put(f);
        return r;
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
