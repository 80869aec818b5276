/*
 * waitq.h - kernel wait queues: the wakers live in the object waited on
 * (a pipe, the console, a ring, a task's completion), and a waiter lives
 * inside the future that waits, so registering allocates nothing and
 * cancel can always unlink it.
 */
#pragma once
#include <stdbool.h>
#include "core/future.h"
#include "core/spinlock.h"


/*
 * One registration of one future's task on one wait queue.
 *
 * `linked` is written only under the queue's lock and is the last thing a
 * waker writes to the waiter (a release store, after it has woken the
 * task).  So once an unregister sees it false (an acquire load, no lock),
 * no waker touches the waiter or its task any more, and the future that
 * owns them may finish and be freed at once.
 */
struct waiter {
    struct task *task;
    struct waiter *next, *prev;
    _Atomic bool linked;
};

struct waitq {
    struct spinlock lock;
    struct waiter *head;
};

#define WAITQ_INIT(n) { .lock = SPINLOCK_INIT(n), .head = NULL }

void waitq_init(struct waitq *q, const char *name);
/* Link w (if not linked) so the next wake of q wakes cx->task. */
void waitq_register(struct waitq *q, struct waiter *w, struct cx *cx);
/* Unlink w if it is linked.  Used by cancel. */
void waitq_unregister(struct waitq *q, struct waiter *w);
/* Wake and unlink every waiter / the oldest waiter.  Any context. */
void waitq_wake_all(struct waitq *q);
bool waitq_wake_one(struct waitq *q);

/*
 * Wait until `cond` holds, registering on `q` with waiter `w` before the
 * final check (the lost-wakeup rule).  Expands to an AWAIT point.
 */
#define AWAIT_COND(f, cx, q, w, cond)                                         \
    do {                                                                      \
        (f)->base.resume = __LINE__;                                         \
        /* fallthrough */                                                    \
    case __LINE__:                                                           \
        if (!(cond)) {                                                       \
            waitq_register((q), (w), (cx));                                  \
            if (!(cond))                                                     \
                return PENDING;                                              \
        }                                                                     \
        waitq_unregister((q), (w));                                          \
    } while (0)

