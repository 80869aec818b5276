/*
 * timer.h - sleeping and deadlines.  Each hart keeps a timer heap of
 * the sleep futures registered on it and programs its timer for the
 * earliest; the timer interrupt wakes the expired ones' tasks.
 */
#pragma once
#include <stdint.h>
#include "core/future.h"
#include "core/timer_heap.h"

struct sleep {
    struct future base;
    struct timer_node node;
    struct task *task;
    uint16_t hart;              /* whose heap holds node */
    bool inserted;              /* ever put on a heap: leaving must take its lock */
};

void sleep_until_init(struct sleep *s, uint64_t deadline);   /* arch_time() ticks */
void sleep_init(struct sleep *s, uint64_t ticks);            /* from now */

/* Run `child` with a deadline: timed_out tells which came first.  The
 * loser is cancelled. */
struct timeout {
    struct deadline d;          /* d.timed_out: which came first */
    struct sleep sleep;
};
void timeout_init(struct timeout *t, struct future *child, uint64_t ticks);

/* Timer interrupt top half (trap.c).  Also re-arms. */
void timer_interrupt(void);
/* Program this hart's timer: earliest sleeper or user time slice. */
void timer_rearm(void);
size_t timer_pending(void);     /* sleepers on all harts */
