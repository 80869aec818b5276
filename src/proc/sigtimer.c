/*
 * sigtimer.c - timers that send signals: ITIMER_REAL (alarm, setitimer)
 * and timer_create with SIGEV_SIGNAL / SIGEV_THREAD_ID / SIGEV_NONE.
 *
 * Each timer is a kernel task whose root future is the timer:
 *
 *     loop { await sleep until deadline (or a change); send the signal;
 *            deadline += interval, or disarm }
 *
 * Setting a timer changes its fields under proc_lock, bumps `gen` and
 * wakes the task, which starts a new sleep.  The process's list holds
 * every timer; when the process dies (sigtimer_proc_exit_locked) each
 * timer loses its `proc` and is woken, and the task cancels its sleep
 * and finishes, freeing itself.  Nothing else ever frees a timer, so a
 * pointer found on the list under proc_lock is always valid.
 */
#include "arch.h"
#include "lib/errno.h"
#include "core/executor.h"
#include "lib/klib.h"
#include "mem/kmalloc.h"
#include "proc/syscall.h"

struct sigtimer {
    struct future base;
    struct sleep sleep;
    struct task *task;
    struct proc *proc;          /* NULL once the process is gone */
    struct sigtimer *next;      /* proc->sig.timers */
    int id, sig, tid, notify;   /* tid: SIGEV_THREAD_ID target */
    uint64_t value;             /* sigev_value */
    uint64_t deadline, interval;/* ticks; deadline 0 = disarmed */
    uint64_t gen, slept_gen;    /* changed by settime; what the sleep is for */
    int overrun, last_overrun;
    bool sleeping, deleted;
};

#define SIGEV_SIGNAL 0
#define SIGEV_NONE 1
#define SIGEV_THREAD_ID 4

static void fire_locked(struct sigtimer *t, uint64_t now)
{
    struct proc *p = t->proc;
    if (t->interval) {
        uint64_t late = now - t->deadline;
        uint64_t skipped = late / t->interval;
        t->overrun += skipped;
        t->deadline += (skipped + 1) * t->interval;
    } else {
        t->deadline = 0;
    }
    t->gen++;
    if (t->notify == SIGEV_NONE)
        return;
    struct ksiginfo k = { .signo = t->sig, .code = t->id ? SI_TIMER : SI_KERNEL,
                          .pid = t->id, .value = t->value, .overrun = t->overrun };
    t->last_overrun = t->overrun;
    t->overrun = 0;
    if (t->notify == SIGEV_THREAD_ID) {
        for (struct thread *th = p->threads; th; th = th->sibling)
            if (th->tid == t->tid) {
                signal_send_thread_locked(th, t->sig, &k);
                return;
            }
    }
    signal_send_proc_locked(p, t->sig, &k);
}

static enum poll sigtimer_poll(struct future *base, struct cx *cx)
{
    struct sigtimer *t = (struct sigtimer *)base;
    for (;;) {
        spin_lock(&proc_lock);
        if (!t->proc || t->deleted) {
            spin_unlock(&proc_lock);
            if (t->sleeping)
                future_cancel(&t->sleep.base);
            base->resume = RESUME_DONE;
            return READY;
        }
        bool changed = t->gen != t->slept_gen || !t->sleeping;
        uint64_t deadline = t->deadline;
        t->slept_gen = t->gen;
        spin_unlock(&proc_lock);
        if (changed) {
            if (t->sleeping)
                future_cancel(&t->sleep.base);
            t->sleeping = false;
            if (!deadline)
                return PENDING;         /* disarmed: a set or the exit wakes us */
            sleep_until_init(&t->sleep, deadline);
            t->sleeping = true;
        }
        if (future_poll(&t->sleep.base, cx) == PENDING)
            return PENDING;
        t->sleeping = false;
        spin_lock(&proc_lock);
        if (t->proc && !t->deleted && t->gen == t->slept_gen && t->deadline)
            fire_locked(t, arch_time());
        spin_unlock(&proc_lock);
    }
}

static const struct future_ops sigtimer_ops = { sigtimer_poll, NULL, "sigtimer" };

static struct sigtimer *sigtimer_new(struct proc *p, int sig)
{
    struct task *task;
    struct sigtimer *t = task_alloc(sizeof *t, "sigtimer", &task);
    if (!t)
        return NULL;
    memset(t, 0, sizeof *t);
    future_init(&t->base, &sigtimer_ops);
    t->task = task;
    t->proc = p;
    t->sig = sig;
    t->notify = SIGEV_SIGNAL;
    return t;
}

/* Under proc_lock: the process is gone; every timer task winds down. */
void sigtimer_proc_exit_locked(struct proc *p)
{
    struct sigtimer *list[2] = { p->sig.itimer, p->sig.timers };
    for (int i = 0; i < 2; i++)
        for (struct sigtimer *t = list[i], *next; t; t = next) {
            next = t->next;
            t->proc = NULL;
            task_wake(t->task);
        }
    p->sig.itimer = p->sig.timers = NULL;
}

/* ---- time conversions ---------------------------------------------------- */

/* ts already checked (non-negative, ns < 10^9): saturates at TICKS_FOREVER */
static uint64_t ts_to_ticks(const int64_t ts[2])
{
    uint64_t ticks = TICKS_FOREVER;
    (void)ticks_of_timespec(ts, &ticks);
    return ticks;
}

static void ticks_to_ts(uint64_t t, int64_t ts[2], uint64_t unit)
{
    uint64_t tb = arch_timebase();
    ts[0] = t / tb;
    ts[1] = (t % tb) * unit / tb;
}

/* Read what a timer has left: (interval, value) in ticks. */
static void timer_left_locked(struct sigtimer *t, uint64_t out[2])
{
    uint64_t now = arch_time();
    out[0] = t ? t->interval : 0;
    out[1] = t && t->deadline ? (t->deadline > now ? t->deadline - now : 1) : 0;
}

/* Arm (deadline 0: disarm) under proc_lock and wake the task. */
static void timer_set_locked(struct sigtimer *t, uint64_t deadline, uint64_t interval)
{
    t->deadline = deadline;
    t->interval = interval;
    t->overrun = 0;
    t->gen++;
    task_wake(t->task);
}

/* ---- ITIMER_REAL -------------------------------------------------------- */

/* Set the process's real timer; `old` gets (interval, value) ticks. */
static int itimer_set(struct proc *p, uint64_t value, uint64_t interval, uint64_t old[2])
{
    struct sigtimer *fresh = NULL;
    spin_lock(&proc_lock);
    bool need = !p->sig.itimer && value;
    spin_unlock(&proc_lock);
    if (need && !(fresh = sigtimer_new(p, SIGALRM)))
        return -ENOMEM;
    spin_lock(&proc_lock);
    struct sigtimer *t = p->sig.itimer;
    timer_left_locked(t, old);
    if (!t && fresh) {
        t = p->sig.itimer = fresh;
        fresh = NULL;
        task_start(t->task, TASK_NO_HART, false);
    }
    if (t)
        timer_set_locked(t, value ? arch_time() + value : 0, value ? interval : 0);
    spin_unlock(&proc_lock);
    if (fresh)
        task_cancel(fresh->task);       /* lost a race with another setter */
    return 0;
}

SYS(setitimer)
{
    if (a[0] != 0)                      /* ITIMER_REAL only */
        return -EINVAL;
    int64_t v[4] = { 0, 0, 0, 0 };      /* it_interval, it_value as timevals */
    if (a[1] && copyin(th->proc->mm, v, a[1], sizeof v))
        return -EFAULT;
    for (int i = 0; i < 4; i++)
        if (v[i] < 0 || (i % 2 && v[i] >= 1000000))
            return -EINVAL;
    int64_t iv[2] = { v[0], v[1] * 1000 }, vv[2] = { v[2], v[3] * 1000 };
    uint64_t old[2];
    int r = itimer_set(th->proc, ts_to_ticks(vv), ts_to_ticks(iv), old);
    if (r < 0)
        return r;
    if (a[2]) {
        int64_t o[4];
        ticks_to_ts(old[0], o, 1000000);
        ticks_to_ts(old[1], o + 2, 1000000);
        if (copyout(th->proc->mm, a[2], o, sizeof o))
            return -EFAULT;
    }
    return 0;
}

SYS(getitimer)
{
    if (a[0] != 0)
        return -EINVAL;
    uint64_t left[2];
    spin_lock(&proc_lock);
    timer_left_locked(th->proc->sig.itimer, left);
    spin_unlock(&proc_lock);
    int64_t o[4];
    ticks_to_ts(left[0], o, 1000000);
    ticks_to_ts(left[1], o + 2, 1000000);
    return copyout(th->proc->mm, a[1], o, sizeof o) ? -EFAULT : 0;
}

/* alarm(2) is setitimer in glibc; kept for completeness of the table. */

/* ---- POSIX timers ---------------------------------------------------------- */

static struct sigtimer *timer_find_locked(struct proc *p, int id)
{
    for (struct sigtimer *t = p->sig.timers; t; t = t->next)
        if (t->id == id)
            return t;
    return NULL;
}

SYS(timer_create)
{
    int clk = (int)a[0];
    if (clk != 0 && clk != 1)           /* CLOCK_REALTIME, CLOCK_MONOTONIC */
        return -EINVAL;
    struct { uint64_t value; int signo, notify; int tid; int pad[11]; } ev;
    if (a[1]) {
        if (copyin(th->proc->mm, &ev, a[1], sizeof ev))
            return -EFAULT;
    } else {
        ev.signo = SIGALRM;
        ev.notify = SIGEV_SIGNAL;
    }
    if (ev.notify != SIGEV_SIGNAL && ev.notify != SIGEV_NONE && ev.notify != SIGEV_THREAD_ID)
        return -EINVAL;
    if (ev.notify != SIGEV_NONE && (ev.signo < 1 || ev.signo > NSIG_K))
        return -EINVAL;
    struct sigtimer *t = sigtimer_new(th->proc, ev.signo);
    if (!t)
        return -EAGAIN;
    t->notify = ev.notify;
    t->tid = ev.tid;
    spin_lock(&proc_lock);
    int id = ++th->proc->sig.next_timer_id;
    t->id = id;
    if (!a[1])
        t->value = id;
    else
        t->value = ev.value;
    if (ev.notify == SIGEV_THREAD_ID) {
        bool ok = false;
        for (struct thread *x = th->proc->threads; x; x = x->sibling)
            ok |= x->tid == ev.tid;
        if (!ok) {
            spin_unlock(&proc_lock);
            task_cancel(t->task);
            return -EINVAL;
        }
    }
    t->next = th->proc->sig.timers;
    th->proc->sig.timers = t;
    task_start(t->task, TASK_NO_HART, false);
    spin_unlock(&proc_lock);
    if (copyout(th->proc->mm, a[2], &id, sizeof id)) {
        spin_lock(&proc_lock);
        for (struct sigtimer **pp = &th->proc->sig.timers; *pp; pp = &(*pp)->next)
            if (*pp == t) {
                *pp = t->next;
                t->deleted = true;
                task_wake(t->task);
                break;
            }
        spin_unlock(&proc_lock);
        return -EFAULT;
    }
    return 0;
}

SYS(timer_settime)
{
    int64_t v[4];                       /* itimerspec: it_interval, it_value */
    if (copyin(th->proc->mm, v, a[2], sizeof v))
        return -EFAULT;
    for (int i = 0; i < 4; i++)
        if (v[i] < 0 || (i % 2 && v[i] >= 1000000000))
            return -EINVAL;
    uint64_t interval = ts_to_ticks(v), value = ts_to_ticks(v + 2);
    uint64_t old[2];
    spin_lock(&proc_lock);
    struct sigtimer *t = timer_find_locked(th->proc, (int)a[0]);
    if (!t) {
        spin_unlock(&proc_lock);
        return -EINVAL;
    }
    timer_left_locked(t, old);
    uint64_t deadline = 0;
    if (value) {
        if (a[1] & 1) {                 /* TIMER_ABSTIME */
            uint64_t base = time_ticks_of_clock(0);
            deadline = value > base ? value - base : 1;
        } else {
            deadline = arch_time() + value;
        }
    }
    timer_set_locked(t, deadline, value ? interval : 0);
    spin_unlock(&proc_lock);
    if (a[3]) {
        int64_t o[4];
        ticks_to_ts(old[0], o, 1000000000);
        ticks_to_ts(old[1], o + 2, 1000000000);
        if (copyout(th->proc->mm, a[3], o, sizeof o))
            return -EFAULT;
    }
    return 0;
}

SYS(timer_gettime)
{
    uint64_t left[2];
    spin_lock(&proc_lock);
    struct sigtimer *t = timer_find_locked(th->proc, (int)a[0]);
    if (t)
        timer_left_locked(t, left);
    spin_unlock(&proc_lock);
    if (!t)
        return -EINVAL;
    int64_t o[4];
    ticks_to_ts(left[0], o, 1000000000);
    ticks_to_ts(left[1], o + 2, 1000000000);
    return copyout(th->proc->mm, a[1], o, sizeof o) ? -EFAULT : 0;
}

SYS(timer_getoverrun)
{
    spin_lock(&proc_lock);
    struct sigtimer *t = timer_find_locked(th->proc, (int)a[0]);
    int r = t ? t->last_overrun : -EINVAL;
    spin_unlock(&proc_lock);
    return r;
}

SYS(timer_delete)
{
    spin_lock(&proc_lock);
    int r = -EINVAL;
    for (struct sigtimer **pp = &th->proc->sig.timers; *pp; pp = &(*pp)->next)
        if ((*pp)->id == (int)a[0]) {
            struct sigtimer *t = *pp;
            *pp = t->next;
            t->deleted = true;
            task_wake(t->task);
            r = 0;
            break;
        }
    spin_unlock(&proc_lock);
    return r;
}
