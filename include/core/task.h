/*
 * task.h - a task: one future at the root, polled by a hart's executor.
 *
 * Lifecycle (state bits in task.state; numbers are transitions):
 *
 *        spawn (1)             pop (3)               READY (5)
 *   new ---------> QUEUED ----------------> RUNNING ----------> DONE
 *                    ^  ^                   |   |
 *                    |  |  wake while       |   | PENDING, no wake (4)
 *                    |  +-- RUNNING (6):    |   v
 *                    |      requeued after  |  idle  --- wake (2) ---> QUEUED
 *                    |      the poll        |
 *                    +----------------------+
 *
 *  (2) task_wake() sets QUEUED and, unless RUNNING, pushes the task on a
 *      hart's run queue.  A wake of a QUEUED task does nothing, so a task
 *      is never on two queues (no duplicated wake-up).
 *  (3) the executor clears QUEUED and sets RUNNING before polling, so a
 *      wake during the poll is remembered (6) and the task is pushed
 *      again after the poll: no lost wake-up, and never polled on two
 *      harts at once.
 *
 * Hart masks (task.hart_mask; sched_setaffinity for user threads,
 * task_pin for kernel tasks): a task whose mask excludes hart h is never
 * queued on h -- at start, on a wake (whatever wake= says) and when
 * requeued after a poll -- and h never steals it.  Tests and benchmarks
 * say "this runs on that hart" with task_pin, per task, instead of
 * switching stealing off for everyone.
 *
 * The task struct and its root future are one allocation; a task holds
 * no stack.  Wakers are task pointers.  A task is freed when it is DONE
 * and its last reference (the spawner's handle, if kept) is dropped.
 */
#pragma once
#include <stdatomic.h>
#include <stdint.h>
#include "core/future.h"

#define TASK_QUEUED  1u
#define TASK_RUNNING 2u
#define TASK_DONE    4u

#define TASK_NO_HART 0xffff
#define PRIO_DEFAULT 4          /* kernel tasks; the ceiling of user hints */

struct task {
    _Atomic uint32_t state;
    _Atomic uint32_t refs;
    struct task *next;          /* run-queue link */
    struct task *list_next, *list_prev;  /* the spawning hart's task list */
    uint32_t id;
    uint16_t hart;              /* owner: hart that polled it last */
    uint16_t list_hart;         /* whose task list holds it */
    uint8_t prio;               /* 0..7, higher runs first (sched.priority) */
    uint16_t hart_mask;         /* harts it may run on (bit = hart index); 0: any */
    uint32_t spurious;          /* chaos wakes that queued it (core/chaos.h) */
    const char *name;
    uint64_t polls;
    uint64_t instret;           /* instructions spent in its polls */
    struct waitq done;          /* joiners */
    void *owner;                /* e.g. the user thread; for ps */
    struct future *root;        /* the future right after this struct */
};

/*
 * Allocate a task with room for a root future of `size` bytes.  Returns
 * the future's storage (the caller initialises it), or NULL on no memory.
 */
void *task_alloc(size_t size, const char *name, struct task **out);
/* Make it runnable on `hart` (TASK_NO_HART: this hart).  Consumes nothing:
 * if `keep` the caller holds a reference and must task_put() it. */
void task_start(struct task *t, unsigned hart, bool keep);
/* May t run on hart index i?  (sched_setaffinity; 0 = no restriction.) */
static inline bool task_may_run_on(const struct task *t, unsigned i) {
    return !t->hart_mask || ((t->hart_mask >> i) & 1);
}
void task_put(struct task *t);
static inline void task_get(struct task *t) { atomic_fetch_add(&t->refs, 1); }
/*
 * Reusing a task's block for a new root future of the same size (io_uring
 * keeps finished operations' blocks): if the caller holds the only
 * reference (the task is DONE or was cancelled unstarted, and whoever
 * finished it has let go), reset it to what task_alloc returns and say
 * true; false while anyone else still holds it.
 */
bool task_renew(struct task *t, const char *name);
/* Pin t to `hart` (a one-hart mask; TASK_NO_HART: any hart).  Before
 * task_start, or by the task itself during its poll: it moves when it is
 * next queued. */
void task_pin(struct task *t, unsigned hart);
void task_cancel(struct task *t);   /* only for a task never started */

/*
 * Polling a task before it is started, on this hart, as the executor
 * would (io_uring polls an operation inside io_uring_enter, so one that
 * can complete at once never reaches a run queue):
 *   task_inline_begin: it is RUNNING from now on: a wake is remembered,
 *                      never queued (call it before anyone can wake it);
 *   task_poll_inline:  poll its root future once.  READY: the task is
 *                      DONE and its reference dropped (freed).  PENDING:
 *                      it becomes an ordinary started task, idle until a
 *                      wake, or queued now if it was woken meanwhile.
 * After PENDING the caller must not touch the task: it may be polled,
 * finished and freed on another hart at once.
 */
void task_inline_begin(struct task *t);
enum poll task_poll_inline(struct task *t);
/* Between the two, the caller may poll it with another task's waker
 * (cx): it stays RUNNING.  READY: DONE and its reference dropped, as in
 * task_poll_inline; PENDING: task_poll_inline must follow, which polls it
 * once more with its own waker (every future re-registers its waker on a
 * poll) before it lets it go. */
enum poll task_poll_for(struct task *t, struct cx *cx);

/* Awaiting a task's completion (needs a kept reference). */
struct task_join {
    struct future base;
    struct task *t;
    struct waiter w;
};
void task_join_init(struct task_join *j, struct task *t);
static inline bool task_done(struct task *t) {
    return atomic_load(&t->state) & TASK_DONE;
}

struct task *task_current(void);

/* For `tasks`: walk every live task (under the list locks). */
void task_for_each(void (*fn)(struct task *t, void *arg), void *arg);
uint64_t task_count(void);
