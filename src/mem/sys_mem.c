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

/* Return `result` now, or once the other harts have dropped stale
 * translations of what was just unmapped. */
static long after_unmap(struct thread *th, long result)
{
    struct mm *mm = th->proc->mm;
    if (result < 0 || atomic_load(&mm->refs) < 2)
        return result;
    sc_wait_init(th, &shootdown_wait_ops);
    th->sc.result = result;
    if (!shootdown_start(&th->sc.shootdown, mm))
        return result;
    return SYSCALL_WAIT;
}

SYS(brk)
{
    struct mm *mm = th->proc->mm;
    uint64_t before = mm->brk;
    long r = mm_brk(mm, a[0]);
    return (uint64_t)r < before ? after_unmap(th, r) : r;
}
#define MAP_ANONYMOUS 0x20

SYS(mmap)
{
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
    return mm_mmap(th->proc->mm, a[0], a[1], (int)a[2], (int)a[3], (int)a[4], a[5]);
}
SYS(munmap) { return after_unmap(th, mm_munmap(th->proc->mm, a[0], a[1])); }
SYS(mprotect) { return after_unmap(th, mm_mprotect(th->proc->mm, a[0], a[1], (int)a[2])); }

/* MADV_DONTNEED drops the pages (the next touch reads zeroes); other
 * advice is accepted and ignored. */
SYS(madvise)
{
    if (a[0] % 4096)
        return -EINVAL;
    if (a[2] == 4 /* MADV_DONTNEED */)
        return after_unmap(th, mm_dontneed(th->proc->mm, a[0], a[1]));
    return 0;
}
