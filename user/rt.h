/*
 * rt.h - Pollux's user-space coroutine runtime over io_uring.
 *
 * Coroutines are futures written in the kernel's own notation
 * (include/core/future.h: ASYNC_BEGIN / AWAIT / ASYNC_END), run by a runtime
 * executor in one or more worker threads.  Asynchronous calls go through
 * the worker's io_uring: a coroutine fills a submission whose user_data
 * names its operation slot, returns PENDING, and the runtime submits the
 * batch with at most one io_uring_enter per scheduling round.  A worker
 * enters the kernel to *wait* only when none of its coroutines is ready.
 *
 * Priorities: each coroutine has one (0..7, higher first).  The runtime
 * runs the highest ready level first and publishes that level in the
 * ring's control word (sq_off.resv1, when the kernel sets
 * IORING_FEAT_POLLUX_PRIO: include/uring/uring_abi.h) as a hint the kernel
 * clamps.  On Linux there is no such word and the hint is not published.
 *
 * Migration: rt_run(n) starts n workers over one shared ready queue; a
 * worker with nothing to do blocks on its ring and is woken with an
 * IORING_OP_MSG_RING when a coroutine becomes ready, so a coroutine woken
 * while its last worker is busy runs on an idle one.
 */
#pragma once
#define POLLUX_USER 1
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/io_uring.h>
#include "../include/core/future.h"

#define RT_PRIOS 8

/* A coroutine: the runtime's task. */
struct task {
    struct future *fut;
    struct task *next;                  /* ready-queue link */
    _Atomic uint32_t state;             /* RT_QUEUED | RT_RUNNING | RT_DONE */
    uint8_t prio;
    int last_worker, last_cpu;          /* where it ran last (migration) */
    struct task *joiner;                /* the one coroutine awaiting it */
    uint64_t id;
};

/* An asynchronous operation: one submission, one completion. */
struct rt_op {
    struct future base;
    struct io_uring_sqe sqe;            /* what to submit (user_data set by the runtime) */
    int32_t res;                        /* the completion's result */
    uint32_t slot;
    bool submitted, done;
    struct task *waiter;
    struct __kernel_timespec ts;        /* TIMEOUT's argument lives here */
};

/* Set up the runtime for this process: ring size per worker. */
int rt_init(unsigned entries);
/* Run until every coroutine has finished, on `workers` threads. */
void rt_run(int workers);
/* Start a coroutine (its future must stay valid until it finishes). */
struct task *rt_spawn(struct future *f, int prio);
/* Await a coroutine's completion. */
struct rt_join { struct future base; struct task *t; };
void rt_join_init(struct rt_join *j, struct task *t);

void rt_nop_init(struct rt_op *op);
void rt_read_init(struct rt_op *op, int fd, void *buf, uint32_t len);
void rt_write_init(struct rt_op *op, int fd, const void *buf, uint32_t len);
void rt_sleep_init(struct rt_op *op, uint64_t ns);          /* IORING_OP_TIMEOUT */
void rt_poll_init(struct rt_op *op, int fd, uint32_t events);
/* An op awaited with a deadline: select(op, sleep); timed_out says which. */
struct rt_timeout { struct deadline d; struct rt_op sleep; };   /* d.timed_out */
void rt_timeout_init(struct rt_timeout *t, struct future *child, uint64_t ns);

struct task *rt_current(void);
int rt_worker_index(void);
int rt_cpu(void);                                            /* getcpu() */

struct rt_stats { uint64_t enters, waits, submitted, completed, polls, steals, wakes_sent; };
void rt_get_stats(struct rt_stats *s);
