/*
 * latch.h - a countdown: the last of n arrivals wakes the waiters.
 * Used by the self-tests and benchmarks to await many tasks at once.
 *
 * The count and the wake happen under the latch's own lock, and the
 * waiter reads the count under it too: once a waiter has seen zero, the
 * last arriver has let go of the latch, so the waiter may free it (the
 * latch usually lives in the waiter's future).
 */
#pragma once
#include "core/future.h"

struct latch {
    struct spinlock lock;
    long count;
    struct waitq wq;
};

static inline void latch_init(struct latch *l, long n)
{
    spin_init(&l->lock, "latch");
    l->count = n;
    waitq_init(&l->wq, "latch");
}

static inline void latch_arrive(struct latch *l)
{
    spin_lock(&l->lock);
    if (--l->count == 0)
        waitq_wake_all(&l->wq);
    spin_unlock(&l->lock);
}

static inline bool latch_done(struct latch *l)
{
    spin_lock(&l->lock);
    bool done = l->count <= 0;
    spin_unlock(&l->lock);
    return done;
}
