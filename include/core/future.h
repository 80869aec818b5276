/*
 * future.h - the future protocol.  Every kernel path that can wait is
 * written to it, and so is the user runtime.
 *
 * A future is a struct that begins with `struct future` and holds its
 * own state.  Polling it runs it until it must wait or finishes:
 *
 *     enum poll poll(struct future *self, struct cx *cx);
 *
 *  - READY:   done; the result is in the future's own fields.
 *  - PENDING: it registered the waker in cx (cx->task) with whatever it
 *             waits on, *before* its last check of the condition (the
 *             lost-wakeup rule), and will be polled again after a wake.
 *
 * Locals that live across an await are fields.  A parent embeds its
 * child's struct by value, so an await allocates nothing; only spawning
 * a task allocates.
 *
 * Notation: a poll function is a resumable function written top to
 * bottom, protothread style (a switch on the saved resume point):
 *
 *     static enum poll echo_poll(struct future *base, struct cx *cx) {
 *         struct echo *f = (struct echo *)base;
 *         ASYNC_BEGIN(f);
 *         for (;;) {
 *             console_read_init(&f->rd, f->buf, sizeof f->buf);
 *             AWAIT(f, console_read_poll(&f->rd.base, cx));
 *             ...
 *         }
 *         ASYNC_END(f);
 *     }
 *
 * Rules of the notation: no `switch` statement of your own may span an
 * AWAIT (use if/else); C locals do not survive an AWAIT.
 *
 * The same header serves the user-space coroutine runtime (user/rt.c,
 * built with -DPOLLUX_USER), so kernel futures and user coroutines read
 * alike.
 *
 * Cancellation: future_cancel() calls ops->cancel, which unregisters
 * every waker the future holds (its own and its children's) and
 * releases what it owns.  A future that holds nothing has cancel NULL.
 * Cancelling a finished or never-polled future is harmless.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum poll { PENDING = 0, READY = 1 };

struct task;
struct future;

/* The context of one poll: whom to wake.  A waker is the task pointer. */
struct cx {
    struct task *task;
};

struct future_ops {
    enum poll (*poll)(struct future *self, struct cx *cx);
    void (*cancel)(struct future *self);
    const char *name;
};

struct future {
    const struct future_ops *ops;
    uint16_t resume;     /* resume point: 0 = start, RESUME_DONE = finished */
};

#define RESUME_DONE 0xffff

static inline void future_init(struct future *f, const struct future_ops *ops)
{
    f->ops = ops;
    f->resume = 0;
}

static inline enum poll future_poll(struct future *f, struct cx *cx)
{
    if (f->resume == RESUME_DONE)
        return READY;
    return f->ops->poll(f, cx);
}

static inline void future_cancel(struct future *f)
{
    if (f->resume != RESUME_DONE && f->ops->cancel)
        f->ops->cancel(f);
    f->resume = RESUME_DONE;
}

/* ---- the resumable-function notation ---------------------------------- */

#define ASYNC_BEGIN(f)                                                        \
    switch ((f)->base.resume) {                                              \
    case RESUME_DONE: return READY;                                          \
    case 0:

/* Poll `expr` (a poll of a child); return PENDING from here until READY. */
#define AWAIT(f, expr)                                                        \
    do {                                                                      \
        (f)->base.resume = __LINE__;                                         \
        /* fallthrough */                                                    \
    case __LINE__:                                                           \
        if ((expr) == PENDING)                                               \
            return PENDING;                                                  \
    } while (0)

/* Give way: be polled again after every task already queued here. */
#define YIELD(f, cx)                                                          \
    do {                                                                      \
        (f)->base.resume = __LINE__;                                         \
        task_wake((cx)->task);                                               \
        return PENDING;                                                       \
    case __LINE__:;                                                          \
    } while (0)

/* Suspend without waking anyone: whoever registered us wakes us. */
#define SUSPEND(f)                                                            \
    do {                                                                      \
        (f)->base.resume = __LINE__;                                         \
        return PENDING;                                                       \
    case __LINE__:;                                                          \
    } while (0)

#define ASYNC_END(f)                                                          \
    }                                                                         \
    (f)->base.resume = RESUME_DONE;                                          \
    return READY

/* ---- combinators (src/core/combinators.c; kernel and user runtime) --------- */

#define JOIN_MAX 8

/* Completes when every child has completed. */
struct join {
    struct future base;
    struct future *child[JOIN_MAX];
    uint8_t n;
    uint8_t done_mask;
};
void join_init(struct join *j, struct future **children, int n);

/* Completes when the first child completes (`winner`); cancels the rest. */
struct select {
    struct future base;
    struct future *child[JOIN_MAX];
    uint8_t n;
    int8_t winner;
};
void select_init(struct select *s, struct future **children, int n);

/* Run `child` against a timer future: whichever finishes first wins, the
 * other is cancelled; timed_out says it was the timer.  The kernel's
 * struct timeout (timer.h) and the runtime's rt_timeout embed one with
 * their own timer (a sleep, an io_uring TIMEOUT). */
struct deadline {
    struct future base;
    struct select sel;
    bool timed_out;
};
void deadline_init(struct deadline *d, struct future *child, struct future *timer);

/* Wake a task: src/core/executor.c in the kernel, user/rt.c in the runtime. */
void task_wake(struct task *t);

#ifndef POLLUX_USER
#include "core/waitq.h"      /* kernel wait queues */
#endif
