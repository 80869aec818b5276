/*
 * sys_mem.c - memory system calls: brk, mmap, munmap, mprotect, madvise.
 */
#include "errno.h"
#include "syscall.h"
#include "uring.h"

SYS(brk) { return mm_brk(th->proc->mm, a[0]); }
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
SYS(munmap) { return mm_munmap(th->proc->mm, a[0], a[1]); }
SYS(mprotect) { return mm_mprotect(th->proc->mm, a[0], a[1], (int)a[2]); }

/* MADV_DONTNEED drops the pages (the next touch reads zeroes); other
 * advice is accepted and ignored. */
SYS(madvise)
{
    if (a[0] % 4096)
        return -EINVAL;
    if (a[2] == 4 /* MADV_DONTNEED */)
        return mm_dontneed(th->proc->mm, a[0], a[1]);
    return 0;
}
