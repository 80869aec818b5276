/*
 * futex.c - FUTEX_WAIT / FUTEX_WAKE.  Waiters are keyed by (address
 * space, user address) in a small hash of buckets; each waiter lives in
 * the waiting thread's syscall future, so a wait allocates nothing and a
 * cancelled wait (the process is killed) just unlinks itself.
 */
#include "arch.h"
#include "lib/errno.h"
#include "core/executor.h"
#include "proc/syscall.h"

#define BUCKETS 64
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAKE_BITSET 10
#define FUTEX_CMD_MASK 0x7f     /* without PRIVATE (128) and CLOCK_REALTIME (256) */

static struct bucket {
    struct spinlock lock;
    struct syscall_wait *head;
} buckets[BUCKETS];

static struct bucket *bucket_of(struct mm *mm, uint64_t uaddr)
{
    uint64_t h = ((uint64_t)mm >> 6) ^ (uaddr >> 2);
    return &buckets[(h ^ (h >> 17)) % BUCKETS];
}

static void unlink_locked(struct bucket *b, struct syscall_wait *sc)
{
    if (!sc->futex.linked)
        return;
    if (sc->futex.prev)
        sc->futex.prev->futex.next = sc->futex.next;
    else
        b->head = sc->futex.next;
    if (sc->futex.next)
        sc->futex.next->futex.prev = sc->futex.prev;
    sc->futex.linked = false;
}

long futex_wake(struct mm *mm, uint64_t uaddr, int n)
{
    struct bucket *b = bucket_of(mm, uaddr);
    long woken = 0;
    spin_lock(&b->lock);
    for (struct syscall_wait *sc = b->head, *next; sc && woken < n; sc = next) {
        next = sc->futex.next;
        if (sc->futex.mm != mm || sc->futex.uaddr != uaddr)
            continue;
        unlink_locked(b, sc);
        sc->futex.woken = true;
        task_wake(sc->th->task);
        woken++;
    }
    spin_unlock(&b->lock);
    return woken;
}

static enum poll futex_wait_poll(struct future *base, struct cx *cx)
{
    struct syscall_wait *sc = (struct syscall_wait *)base;
    struct bucket *b = bucket_of(sc->futex.mm, sc->futex.uaddr);
    spin_lock(&b->lock);
    bool woken = sc->futex.woken;
    spin_unlock(&b->lock);
    if (woken) {
        sc->result = 0;
        if (sc->futex.has_timeout)
            future_cancel(&sc->futex.timeout.base);
        base->resume = RESUME_DONE;
        return READY;
    }
    if (sc->futex.has_timeout && future_poll(&sc->futex.timeout.base, cx) == READY) {
        /* The clock ran out, but a FUTEX_WAKE may have counted us since
         * the check above: that wake, not the timeout, is our result (the
         * waker told its caller it woke us). */
        spin_lock(&b->lock);
        woken = sc->futex.woken;
        unlink_locked(b, sc);
        spin_unlock(&b->lock);
        sc->result = woken ? 0 : -ETIMEDOUT;
        base->resume = RESUME_DONE;
        return READY;
    }
    return PENDING;
}

static void futex_wait_cancel(struct future *base)
{
    struct syscall_wait *sc = (struct syscall_wait *)base;
    struct bucket *b = bucket_of(sc->futex.mm, sc->futex.uaddr);
    spin_lock(&b->lock);
    unlink_locked(b, sc);
    spin_unlock(&b->lock);
    if (sc->futex.has_timeout)
        future_cancel(&sc->futex.timeout.base);
}

static const struct future_ops futex_wait_ops = { futex_wait_poll, futex_wait_cancel, "futex_wait" };

SYS(futex)
{
    uint64_t uaddr = a[0], utimeout = a[3];
    int op = (int)a[1] & FUTEX_CMD_MASK;
    uint32_t val = (uint32_t)a[2];
    struct mm *mm = th->proc->mm;
    if (uaddr % 4)
        return -EINVAL;
    if (op == FUTEX_WAKE || op == FUTEX_WAKE_BITSET)
        return futex_wake(mm, uaddr, (int)val > 0 ? (int)val : 0);
    if (op != FUTEX_WAIT && op != FUTEX_WAIT_BITSET)
        return -ENOSYS;

    struct syscall_wait *sc = &th->sc;
    sc_wait_init(th, &futex_wait_ops);
    sc->futex.mm = mm;
    sc->futex.uaddr = uaddr;
    sc->futex.woken = false;
    sc->futex.has_timeout = false;
    if (utimeout) {
        int64_t ts[2];
        if (copyin(mm, ts, utimeout, sizeof ts))
            return -EFAULT;
        uint64_t ticks;
        if (ticks_of_timespec(ts, &ticks) < 0)
            return -EINVAL;
        if (op == FUTEX_WAIT_BITSET) {          /* absolute deadline */
            uint64_t now = arch_time() + time_ticks_of_clock((int)a[1] & 256);
            ticks = ticks > now ? ticks - now : 0;
        }
        sleep_init(&sc->futex.timeout, ticks);
        sc->futex.has_timeout = true;
        sc->restart = SC_RESTART_NEVER;         /* Linux: a timed wait is not restarted */
    }
    /* compare and enqueue under the bucket lock: a FUTEX_WAKE after the
     * user's store cannot slip in between */
    struct bucket *b = bucket_of(mm, uaddr);
    uint32_t cur;
    spin_lock(&b->lock);
    if (copyin(mm, &cur, uaddr, 4)) {
        spin_unlock(&b->lock);
        return -EFAULT;
    }
    if (cur != val) {
        spin_unlock(&b->lock);
        return -EAGAIN;
    }
    sc->futex.prev = NULL;
    sc->futex.next = b->head;
    if (b->head)
        b->head->futex.prev = sc;
    b->head = sc;
    sc->futex.linked = true;
    spin_unlock(&b->lock);
    return SYSCALL_WAIT;
}
