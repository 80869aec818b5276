/*
 * pingpong.c - two tasks passing a ball: each wake is one task_wake of
 * the peer, each catch one poll (see pingpong.h).
 */
#include "core/executor.h"
#include "instruments/pingpong.h"

struct pinger {
    struct future base;
    struct pinger *peer;
    struct task *peer_task;
    _Atomic long ball;          /* > 0: my turn */
    long rounds;
    bool serve;
    struct latch *latch;
};

/* Wait for the ball and take it. */
#define CATCH(p)                                                              \
    do {                                                                      \
        while (atomic_load(&(p)->ball) == 0)                                  \
            SUSPEND(p);         /* the peer's task_wake brings us back */     \
        atomic_store(&(p)->ball, 0);                                          \
    } while (0)

/* The server throws then catches, the receiver catches then throws, each
 * `rounds` times: the receiver's last throw is caught by a server that is
 * still waiting for it, and nobody throws at a task that has finished
 * (its memory may already be another task's). */
static enum poll pinger_poll(struct future *base, struct cx *cx)
{
    (void)cx;
    struct pinger *p = (struct pinger *)base;
    ASYNC_BEGIN(p);
    while (p->rounds > 0) {
        if (!p->serve)
            CATCH(p);
        p->rounds--;
        atomic_store(&p->peer->ball, 1);
        task_wake(p->peer_task);
        if (p->serve)
            CATCH(p);
    }
    latch_arrive(p->latch);
    ASYNC_END(p);
}

static const struct future_ops pinger_ops = { pinger_poll, NULL, "pinger" };

bool pingpong_start(long rounds, unsigned hart_a, unsigned hart_b, bool pin, struct latch *done)
{
    struct task *ta, *tb;
    struct pinger *a = task_alloc(sizeof *a, "ping", &ta);
    if (!a)
        return false;
    struct pinger *b = task_alloc(sizeof *b, "pong", &tb);
    if (!b) {
        task_cancel(ta);
        return false;
    }
    future_init(&a->base, &pinger_ops);
    future_init(&b->base, &pinger_ops);
    a->peer = b; a->peer_task = tb;
    b->peer = a; b->peer_task = ta;
    atomic_store(&a->ball, 0);
    atomic_store(&b->ball, 0);
    a->rounds = b->rounds = rounds;
    a->serve = true;
    b->serve = false;
    a->latch = b->latch = done;
    latch_init(done, 2);
    if (pin) {
        task_pin(ta, hart_a);
        task_pin(tb, hart_b);
    }
    task_start(tb, hart_b, false);
    task_start(ta, hart_a, false);
    return true;
}
