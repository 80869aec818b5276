/*
 * sys_uring.c - io_uring_setup and io_uring_enter.  Entering submits
 * (polling each operation once: uring.c) and returns at once; only with
 * IORING_ENTER_GETEVENTS does the thread wait, on the ring's completion
 * queue, for min_complete completions.
 */
#include "lib/errno.h"
#include "proc/syscall.h"
#include "uring/uring.h"

SYS(io_uring_setup)
{
    /* The first ring a thread sets up carries its priority hint.  The
     * reference is taken before the fd exists: by the time we could look
     * the fd up, another thread may have closed it and opened something
     * else under that number. */
    struct uring *ring = NULL;
    long fd = uring_setup((uint32_t)a[0], th->proc->mm, a[1], th->proc->files,
                          th->prio_ring ? NULL : &ring);
    if (fd >= 0 && ring)
        th->prio_ring = ring;
    return fd;
}

static enum poll enter_poll(struct future *base, struct cx *cx)
{
    struct syscall_wait *sc = (struct syscall_wait *)base;
    if (future_poll(&sc->uring.wait.base, cx) == PENDING)
        return PENDING;
    sc->result = sc->uring.submitted;
    file_put(sc->uring.f);
    base->resume = RESUME_DONE;
    return READY;
}

static void enter_cancel(struct future *base)
{
    struct syscall_wait *sc = (struct syscall_wait *)base;
    future_cancel(&sc->uring.wait.base);
    file_put(sc->uring.f);
}

static const struct future_ops enter_ops = { enter_poll, enter_cancel, "io_uring_enter" };

SYS(io_uring_enter)
{
    struct file *f = fd_get(th->proc->files, (int)a[0]);
    if (!f)
        return -EBADF;
    if (f->type != FT_URING) {
        file_put(f);
        return -EOPNOTSUPP;
    }
    bool must_wait;
    sc_wait_init(th, &enter_ops);
    long r = uring_enter(f->uring, th->proc->mm, th->proc->files, th->proc->cwd, th->proc, (uint32_t)a[1],
                         (uint32_t)a[2], (uint32_t)a[3], &th->sc.uring.wait, &must_wait);
    if (r < 0 || !must_wait) {
        file_put(f);
        return r;
    }
    th->sc.uring.f = f;
    th->sc.uring.submitted = r;
    th->sc.restart = SC_RESTART_NEVER;      /* Linux: -EINTR, never restarted ... */
    th->sc.result = r;                      /* ... unless it submitted: then the count */
    return SYSCALL_WAIT;
}

SYS(io_uring_register) { (void)th; (void)a; return -EINVAL; }
