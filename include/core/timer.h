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

/*
 * The one conversion from a user's struct timespec {sec, nsec} to timer
 * ticks (nanosleep, clock_nanosleep, futex and io_uring timeouts all use
 * it).  Negative seconds or nanoseconds, or nanoseconds >= 10^9, are
 * -EINVAL; a huge value saturates at TICKS_FOREVER (thousands of years)
 * instead of wrapping to a short sleep.  0 or -EINVAL.
 */
#define TICKS_FOREVER (1ULL << 62)
int ticks_of_timespec(const int64_t ts[2], uint64_t *ticks);
/* now + ticks, saturating at TICKS_FOREVER past now (never wraps). */
uint64_t deadline_after(uint64_t ticks);
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
