/*
 * sys_time.c - time system calls.  CLOCK_MONOTONIC counts from boot;
 * CLOCK_REALTIME adds a fixed epoch (there is no real-time clock driver
 * yet).  nanosleep awaits a sleep future on the hart's timer heap.
 */
#include "arch.h"
#include "lib/errno.h"
#include "lib/klib.h"
#include "proc/syscall.h"

#define REALTIME_EPOCH 1764115200ULL    /* 2025-11-26 00:00:00 UTC */

uint64_t time_ticks_of_clock(int realtime)
{
    return realtime ? REALTIME_EPOCH * arch_timebase() : 0;
}

static void ticks_to_ts(uint64_t t, int64_t ts[2])
{
    uint64_t tb = arch_timebase();
    ts[0] = t / tb;
    ts[1] = (t % tb) * 1000000000ULL / tb;
}

SYS(clock_gettime)
{
    int clk = (int)a[0];
    int64_t ts[2];
    if (clk < 0 || clk > 11)
        return -EINVAL;
    uint64_t now = arch_time();
    if (clk == 0 || clk == 8 || clk == 11)      /* REALTIME, *_ALARM, TAI */
        now += REALTIME_EPOCH * arch_timebase();
    else if (clk == 2 || clk == 3)              /* process / thread CPU time */
        now = th->proc->utime;
    ticks_to_ts(now, ts);
    return copyout(th->proc->mm, a[1], ts, sizeof ts) ? -EFAULT : 0;
}

SYS(gettimeofday)
{
    if (a[0]) {
        int64_t ts[2];
        ticks_to_ts(arch_time() + REALTIME_EPOCH * arch_timebase(), ts);
        int64_t tv[2] = { ts[0], ts[1] / 1000 };
        if (copyout(th->proc->mm, a[0], tv, sizeof tv))
            return -EFAULT;
    }
    if (a[1]) {
        int32_t tz[2] = { 0, 0 };
        if (copyout(th->proc->mm, a[1], tz, sizeof tz))
            return -EFAULT;
    }
    return 0;
}

SYS(times)
{
    uint64_t hz = arch_timebase() / 100;        /* clock ticks: 100 per second */
    struct proc *p = th->proc;
    if (a[0]) {
        int64_t t[4] = { p->utime / hz, p->stime / hz, p->cutime / hz, p->cstime / hz };
        if (copyout(p->mm, a[0], t, sizeof t))
            return -EFAULT;
    }
    return arch_time() / hz;
}

SYS(uname)
{
    char u[6][65];
    memset(u, 0, sizeof u);
    strlcpy(u[0], "Pollux", 65);
    strlcpy(u[1], "pollux", 65);
    strlcpy(u[2], "0.1", 65);
    strlcpy(u[3], "everything is polled", 65);
    strlcpy(u[4], "riscv64", 65);
    strlcpy(u[5], "(none)", 65);
    return copyout(th->proc->mm, a[0], u, sizeof u) ? -EFAULT : 0;
}

SYS(getrandom)
{
    uint8_t buf[64];
    size_t n = a[1] < sizeof buf ? a[1] : sizeof buf;
    uint64_t x = arch_instret() * 0x9e3779b97f4a7c15ULL ^ arch_time();
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        buf[i] = x;
    }
    return copyout(th->proc->mm, a[0], buf, n) ? -EFAULT : (long)n;
}

/* ---- nanosleep: a sleep future on this hart's timer heap ------------------- */

static enum poll nanosleep_poll(struct future *base, struct cx *cx)
{
    struct syscall_wait *sc = (struct syscall_wait *)base;
    if (future_poll(&sc->sleep.base, cx) == PENDING)
        return PENDING;
    sc->result = 0;
    base->resume = RESUME_DONE;
    return READY;
}

/* Interrupted by a signal: cancelled, and Linux reports the time left. */
static void nanosleep_cancel(struct future *base)
{
    struct syscall_wait *sc = (struct syscall_wait *)base;
    future_cancel(&sc->sleep.base);
    if (sc->urem) {
        uint64_t now = arch_time(), end = sc->sleep.node.deadline;
        int64_t ts[2];
        ticks_to_ts(end > now ? end - now : 0, ts);
        (void)copyout(sc->th->proc->mm, sc->urem, ts, sizeof ts);
    }
}

static const struct future_ops nanosleep_ops = { nanosleep_poll, nanosleep_cancel, "nanosleep" };

static long sleep_for(struct thread *th, uint64_t uts, bool absolute, int clk, uint64_t urem)
{
    int64_t ts[2];
    uint64_t ticks, deadline;
    if (copyin(th->proc->mm, ts, uts, sizeof ts))
        return -EFAULT;
    if (ticks_of_timespec(ts, &ticks) < 0)
        return -EINVAL;
    if (!absolute) {
        deadline = deadline_after(ticks);
    } else {
        /* a time before the clock's origin (the real-time epoch) is past */
        uint64_t origin = time_ticks_of_clock(clk == 0);
        deadline = ticks > origin ? ticks - origin : 0;
    }
    sc_wait_init(th, &nanosleep_ops);
    th->sc.restart = SC_RESTART_NEVER;      /* Linux: EINTR after a handler, SA_RESTART or not */
    th->sc.urem = absolute ? 0 : urem;
    sleep_until_init(&th->sc.sleep, deadline);
    return SYSCALL_WAIT;
}

SYS(nanosleep) { return sleep_for(th, a[0], false, 1, a[1]); }

SYS(clock_nanosleep)
{
    if (a[0] != 0 && a[0] != 1)
        return -EINVAL;
    return sleep_for(th, a[2], a[1] & 1 /* TIMER_ABSTIME */, (int)a[0], a[3]);
}
