/*
 * ktest_waitq.c - self-test: wakes and cancels of the same waiters, from
 * every hart at once.
 *
 * One wait queue; on every hart a waker task wakes it (all, or the
 * oldest) in a loop.  Waiter tasks, spread over the harts, register on
 * it and then either give up (yield, unregister, finish: the task is
 * freed at once, as a cancelled system call's thread may be) or sleep
 * until a wake comes.  A wake that used a waiter's task after its owner
 * had unregistered would touch freed memory (with poisoning on, a clean
 * panic); a wake lost between register and unregister would leave a
 * sleeper asleep and the test timed out.  The count of finished waiters
 * must be exact.
 */
#include "core/executor.h"
#include "core/latch.h"
#include "lib/klib.h"

#define KTEST_WAITQ_SIZE 512      /* ktest.c allocates this much for the test */

#define WQ_WAITERS 3000
#define WQ_WAVE 300

struct wq_shared {
    struct waitq q;
    struct latch waiters_done, wakers_done;
    _Atomic bool stop;
    _Atomic long epoch;         /* bumped before every wake */
    _Atomic long cancelled, woken;
};

/* Register, then give up after a yield (cancel) or wait for a wake. */
struct wq_waiter {
    struct future base;
    struct wq_shared *s;
    struct waiter w;
    long seen;                  /* epoch before registering */
    bool cancel;
};

static enum poll wq_waiter_poll(struct future *base, struct cx *cx)
{
    struct wq_waiter *t = (struct wq_waiter *)base;
    ASYNC_BEGIN(t);
    t->seen = atomic_load(&t->s->epoch);
    if (t->cancel) {
        waitq_register(&t->s->q, &t->w, cx);
        YIELD(t, cx);           /* a waker may unlink us meanwhile */
        waitq_unregister(&t->s->q, &t->w);
        atomic_fetch_add(&t->s->cancelled, 1);
    } else {
        /* sleep until a wake after we looked; spurious polls re-wait */
        AWAIT_COND(t, cx, &t->s->q, &t->w, atomic_load(&t->s->epoch) != t->seen);
        atomic_fetch_add(&t->s->woken, 1);
    }
    latch_arrive(&t->s->waiters_done);
    ASYNC_END(t);               /* the task is freed right after */
}
static const struct future_ops wq_waiter_ops = { wq_waiter_poll, NULL, "wq_waiter" };

struct wq_waker {
    struct future base;
    struct wq_shared *s;
    unsigned long n;
};

static enum poll wq_waker_poll(struct future *base, struct cx *cx)
{
    struct wq_waker *k = (struct wq_waker *)base;
    ASYNC_BEGIN(k);
    for (k->n = 0; !atomic_load(&k->s->stop); k->n++) {
        atomic_fetch_add(&k->s->epoch, 1);
        if (k->n & 1)
            waitq_wake_one(&k->s->q);
        else
            waitq_wake_all(&k->s->q);
        YIELD(k, cx);
    }
    latch_arrive(&k->s->wakers_done);
    ASYNC_END(k);
}
static const struct future_ops wq_waker_ops = { wq_waker_poll, NULL, "wq_waker" };

struct t_waitq {
    struct future base;
    const char *fail;           /* struct ktest's layout (ktest.c) */
    struct wq_shared s;
    struct waiter w;
    int i;
};

enum poll ktest_waitq_poll(struct future *base, struct cx *cx)
{
    struct t_waitq *t = (struct t_waitq *)base;
    ASYNC_BEGIN(t);
    waitq_init(&t->s.q, "ktest.wq");
    latch_init(&t->s.waiters_done, WQ_WAITERS);
    latch_init(&t->s.wakers_done, nharts);
    atomic_store(&t->s.stop, false);
    atomic_store(&t->s.epoch, 0);
    atomic_store(&t->s.cancelled, 0);
    atomic_store(&t->s.woken, 0);
    for (t->i = 0; t->i < (int)nharts; t->i++) {
        struct task *task;
        struct wq_waker *k = task_alloc(sizeof *k, "wq_waker", &task);
        if (!k) {
            t->fail = "no memory";      /* (the latch then never opens: a timeout) */
            goto done;
        }
        future_init(&k->base, &wq_waker_ops);
        k->s = &t->s;
        task_start(task, t->i, false);
    }
    for (t->i = 0; t->i < WQ_WAITERS; t->i++) {
        struct task *task;
        struct wq_waiter *w = task_alloc(sizeof *w, "wq_waiter", &task);
        if (!w) {
            t->fail = "no memory";
            goto done;
        }
        future_init(&w->base, &wq_waiter_ops);
        w->s = &t->s;
        atomic_store(&w->w.linked, false);
        w->cancel = (t->i * 7) % 3 != 0;
        task_start(task, t->i % nharts, false);
        if (t->i % WQ_WAVE == WQ_WAVE - 1)
            YIELD(t, cx);
    }
    AWAIT_COND(t, cx, &t->s.waiters_done.wq, &t->w, latch_done(&t->s.waiters_done));
    atomic_store(&t->s.stop, true);
    AWAIT_COND(t, cx, &t->s.wakers_done.wq, &t->w, latch_done(&t->s.wakers_done));
    if (atomic_load(&t->s.cancelled) + atomic_load(&t->s.woken) != WQ_WAITERS)
        t->fail = "a waiter finished twice or not at all";
    else if (t->s.q.head)
        t->fail = "a finished waiter is still on the queue";
done:
    ASYNC_END(t);
}

_Static_assert(sizeof(struct t_waitq) <= KTEST_WAITQ_SIZE, "ktest.c reserves too little");
