/*
 * sys_poll.c - ppoll and pselect6: wait until one of several files is
 * ready, or a deadline passes, as one future.
 *
 * The call copies the user's fds (pollfd array or fd_sets) once into a
 * poll set (kmalloc'd: its size is the caller's), holding a reference to
 * each file.  Each poll of the future: compute every entry's readiness;
 * if none, register the entry's waiters on its file's queues (in for
 * reading, out for writing: both ends of a pipe announce hang-ups on the
 * queue their own end waits on) and compute again (the lost-wakeup rule);
 * then poll the deadline.  Registration is idempotent, so spurious polls
 * are harmless.  Finishing or cancelling unregisters every waiter, stops
 * the deadline, drops the files and frees the set.
 *
 * Linux semantics: a negative fd is ignored (revents 0); an fd that is
 * not open gives POLLNVAL in ppoll and -EBADF in pselect6; POLLERR and
 * POLLHUP are reported whether asked for or not; the timeout is written
 * back as the time that remained.  The signal mask is checked for its
 * size and otherwise not applied (no handler interrupts a wait here).
 */
#include "arch.h"
#include "lib/errno.h"
#include "lib/klib.h"
#include "mem/kmalloc.h"
#include "mem/mm.h"
#include "core/waitq.h"
#include "core/timer.h"
#include "fs/file.h"
#include "proc/syscall.h"

#define POLL_MAX_FDS 1024       /* Linux's default RLIMIT_NOFILE */
#define SIGSET_BYTES 8

/* Linux's select(2) sets (fs/select.c). */
#define SELECT_IN  (POLL_IN_MASK | POLL_HUP | POLL_ERR)
#define SELECT_OUT (POLL_OUT_MASK | POLL_ERR)
#define SELECT_EX  POLL_PRI

struct poll_entry {
    struct file *f;             /* NULL: ignored (fd < 0) or not open */
    int fd;
    uint16_t events, revents;
    struct waitq *qin, *qout;   /* registered on, while waiting */
    struct waiter win, wout;
};

struct poll_set {
    struct thread *th;
    bool select;                /* results as fd_sets (pselect6) */
    bool has_deadline;
    unsigned n;
    uint64_t ufds;              /* ppoll: the pollfd array */
    uint64_t usets[3];          /* pselect6: in, out, except (0: none) */
    uint64_t asked[3];          /* pselect6: the fds asked for in each set */
    uint64_t utimeout;          /* 0: none (wait for ever) */
    uint64_t deadline;          /* arch_time() ticks */
    struct sleep timeout;
    struct poll_entry e[];
};

static bool ready_at_once(struct poll_set *s);
static long finish(struct poll_set *s, bool timed_out);

/* Readiness of every entry; the number with something to report. */
static int scan(struct poll_set *s)
{
    int n = 0;
    for (unsigned i = 0; i < s->n; i++) {
        struct poll_entry *e = &s->e[i];
        if (!e->f) {
            e->revents = e->fd < 0 ? 0 : POLL_NVAL;
        } else {
            unsigned m = file_poll_events(e->f);
            e->revents = m & (e->events | POLL_ERR | POLL_HUP);
        }
        n += e->revents != 0;
    }
    return n;
}

static void unregister_all(struct poll_set *s)
{
    for (unsigned i = 0; i < s->n; i++) {
        struct poll_entry *e = &s->e[i];
        if (e->qin)
            waitq_unregister(e->qin, &e->win);
        if (e->qout)
            waitq_unregister(e->qout, &e->wout);
    }
}

static void register_all(struct poll_set *s, struct cx *cx)
{
    for (unsigned i = 0; i < s->n; i++) {
        struct poll_entry *e = &s->e[i];
        if (e->qin)
            waitq_register(e->qin, &e->win, cx);
        if (e->qout)
            waitq_register(e->qout, &e->wout, cx);
    }
}

static void set_free(struct poll_set *s)
{
    unregister_all(s);
    future_cancel(&s->timeout.base);
    for (unsigned i = 0; i < s->n; i++)
        if (s->e[i].f)
            file_put(s->e[i].f);
    kfree(s);
}

static enum poll poll_wait_poll(struct future *base, struct cx *cx)
{
    struct syscall_wait *sc = (struct syscall_wait *)base;
    struct poll_set *s = sc->poll;
    if (scan(s) == 0) {
        register_all(s, cx);
        if (scan(s) == 0) {
            if (!s->has_deadline || future_poll(&s->timeout.base, cx) == PENDING)
                return PENDING;
            sc->result = finish(s, true);
            sc->poll = NULL;
            base->resume = RESUME_DONE;
            return READY;
        }
    }
    sc->result = finish(s, false);
    sc->poll = NULL;
    base->resume = RESUME_DONE;
    return READY;
}

static void poll_wait_cancel(struct future *base)
{
    struct syscall_wait *sc = (struct syscall_wait *)base;
    if (sc->poll)
        set_free(sc->poll);
    sc->poll = NULL;
}

static const struct future_ops poll_wait_ops = { poll_wait_poll, poll_wait_cancel, "poll" };

/* Write the remaining time back (Linux does; a read-only timespec is not
 * an error) */
static void write_back_timeout(struct poll_set *s)
{
    if (!s->utimeout)
        return;
    uint64_t now = arch_time(), tb = arch_timebase();
    uint64_t left = s->deadline > now ? s->deadline - now : 0;
    int64_t ts[2] = { (int64_t)(left / tb), (int64_t)((left % tb) * 1000000000ULL / tb) };
    (void)copyout(s->th->proc->mm, s->utimeout, ts, sizeof ts);
}

/* Copy the results out, free the set: the call's result. */
static long finish(struct poll_set *s, bool timed_out)
{
    struct mm *mm = s->th->proc->mm;
    long r = 0;
    if (timed_out)
        for (unsigned i = 0; i < s->n; i++)
            s->e[i].revents = 0;
    if (!s->select) {
        for (unsigned i = 0; i < s->n && r >= 0; i++) {
            r += s->e[i].revents != 0;
            if (copyout(mm, s->ufds + 8 * i + 6, &s->e[i].revents, 2))
                r = -EFAULT;
        }
    } else {
        uint64_t bits[3] = { 0, 0, 0 };
        static const unsigned want[3] = { SELECT_IN, SELECT_OUT, SELECT_EX };
        for (unsigned i = 0; i < s->n; i++)
            for (unsigned k = 0; k < 3; k++)
                if ((s->asked[k] >> s->e[i].fd & 1) && (s->e[i].revents & want[k])) {
                    bits[k] |= 1ULL << s->e[i].fd;
                    r++;
                }
        for (unsigned k = 0; k < 3 && r >= 0; k++)
            if (s->usets[k] && copyout(mm, s->usets[k], &bits[k], 8))
                r = -EFAULT;
    }
    write_back_timeout(s);
    set_free(s);
    return r;
}

/* Read the timeout (a struct timespec) into s: 0 or -errno. */
static int read_timeout(struct poll_set *s, uint64_t uts)
{
    s->utimeout = uts;
    if (!uts)
        return 0;
    int64_t ts[2];
    if (copyin(s->th->proc->mm, ts, uts, sizeof ts))
        return -EFAULT;
    uint64_t ticks;
    if (ticks_of_timespec(ts, &ticks) < 0)
        return -EINVAL;
    s->deadline = deadline_after(ticks);
    s->has_deadline = true;
    return 0;
}

static struct poll_set *set_alloc(struct thread *th, unsigned n)
{
    struct poll_set *s = kzalloc(sizeof *s + n * sizeof(struct poll_entry));
    if (s) {
        s->th = th;
        s->timeout.base.resume = RESUME_DONE;   /* no timer until start() arms one */
    }
    return s;
}

/* Fill entry i for fd with events; false: the fd is not open. */
static bool entry_init(struct poll_set *s, unsigned i, int fd, unsigned events)
{
    struct poll_entry *e = &s->e[i];
    e->fd = fd;
    e->events = (uint16_t)events;
    s->n = i + 1;
    if (fd < 0)
        return true;
    e->f = fd_get(s->th->proc->files, fd);
    if (!e->f)
        return false;
    bool rd = e->f->type == FT_PIPE_READ || (events & (POLL_IN_MASK | POLL_PRI));
    bool wr = e->f->type == FT_PIPE_WRITE || (events & POLL_OUT_MASK);
    e->qin = rd ? file_poll_queue(e->f, false) : NULL;
    e->qout = wr ? file_poll_queue(e->f, true) : NULL;
    return true;
}

/* Answer now, or make th->sc wait on the set. */
static long start(struct thread *th, struct poll_set *s)
{
    if (scan(s) > 0 || ready_at_once(s))
        return finish(s, false);
    sc_wait_init(th, &poll_wait_ops);
    th->sc.poll = s;
    if (s->has_deadline)
        sleep_until_init(&s->timeout, s->deadline);
    return SYSCALL_WAIT;
}

/* A zero timeout (or one already past): report what there is.  With
 * nothing that can become ready the call waits for its timeout, or for
 * ever, as on Linux. */
static bool ready_at_once(struct poll_set *s)
{
    return s->has_deadline && s->deadline <= arch_time();
}

static int sigmask_check(uint64_t umask, uint64_t size)
{
    return umask && size != SIGSET_BYTES ? -EINVAL : 0;
}

/* ppoll(fds, nfds, timeout, sigmask, sigsetsize) */
SYS(ppoll)
{
    uint64_t nfds = a[1];
    if (nfds > POLL_MAX_FDS)
        return -EINVAL;
    if (sigmask_check(a[3], a[4]))
        return -EINVAL;
    struct poll_set *s = set_alloc(th, (unsigned)nfds);
    if (!s)
        return -ENOMEM;
    s->ufds = a[0];
    int r = read_timeout(s, a[2]);
    for (unsigned i = 0; i < nfds && r == 0; i++) {
        struct { int32_t fd; int16_t events, revents; } pfd;
        if (copyin(th->proc->mm, &pfd, a[0] + 8 * i, sizeof pfd))
            r = -EFAULT;
        else
            (void)entry_init(s, i, pfd.fd, (uint16_t)pfd.events);
    }
    if (r) {
        set_free(s);
        return r;
    }
    return start(th, s);
}

/* pselect6(nfds, readfds, writefds, exceptfds, timeout, {sigmask, size}) */
SYS(pselect6)
{
    int64_t nfds = (int64_t)a[0];
    if (nfds < 0 || (int)nfds != nfds)
        return -EINVAL;
    if (nfds > NOFILE_MAX)
        nfds = NOFILE_MAX;      /* as Linux: no fd above the largest table */
    if (a[5]) {
        uint64_t sig[2];
        if (copyin(th->proc->mm, sig, a[5], sizeof sig))
            return -EFAULT;
        if (sigmask_check(sig[0], sig[1]))
            return -EINVAL;
    }
    uint64_t bits[3] = { 0, 0, 0 };
    uint64_t valid = nfds >= 64 ? ~0ULL : (1ULL << nfds) - 1;
    for (unsigned k = 0; k < 3; k++)
        if (a[1 + k] && nfds > 0) {
            if (copyin(th->proc->mm, &bits[k], a[1 + k], 8))
                return -EFAULT;
            bits[k] &= valid;
        }
    uint64_t any = bits[0] | bits[1] | bits[2];
    struct poll_set *s = set_alloc(th, (unsigned)__builtin_popcountll(any));
    if (!s)
        return -ENOMEM;
    s->select = true;
    for (unsigned k = 0; k < 3; k++) {
        s->usets[k] = nfds > 0 ? a[1 + k] : 0;
        s->asked[k] = bits[k];
    }
    int r = read_timeout(s, a[4]);
    unsigned i = 0;
    for (int fd = 0; fd < nfds && r == 0; fd++) {
        if (!(any >> fd & 1))
            continue;
        unsigned ev = (bits[0] >> fd & 1 ? SELECT_IN : 0) | (bits[1] >> fd & 1 ? SELECT_OUT : 0) |
                      (bits[2] >> fd & 1 ? SELECT_EX : 0);
        if (!entry_init(s, i++, fd, ev))
            r = -EBADF;
    }
    if (r) {
        set_free(s);
        return r;
    }
    return start(th, s);
}
