/*
 * latch.h - a countdown: the last of n arrivals wakes the waiters.
 * Used by the self-tests and benchmarks to await many tasks at once.
 */
#pragma once
#include <stdatomic.h>
#include "future.h"

struct latch {
    _Atomic long count;
    struct waitq wq;
};

static inline void latch_init(struct latch *l, long n)
{
    atomic_store(&l->count, n);
    waitq_init(&l->wq, "latch");
}

static inline void latch_arrive(struct latch *l)
{
    if (atomic_fetch_sub(&l->count, 1) == 1)
        waitq_wake_all(&l->wq);
}

static inline bool latch_done(struct latch *l) { return atomic_load(&l->count) <= 0; }
