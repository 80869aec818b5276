/*
 * rt.c - the user-space coroutine runtime (see rt.h).
 *
 * Coroutine lifecycle, as the kernel's tasks (include/core/task.h):
 * task_wake sets QUEUED and pushes it on the shared ready queue unless it
 * is RUNNING (then the worker that polls it requeues it afterwards), so a
 * coroutine is never queued twice nor polled by two workers at once.
 *
 * Operation slots: user_data is (generation << 32 | slot index), so a
 * completion for an operation whose coroutine was cancelled finds the
 * slot reused or empty and is dropped, never delivered to the wrong one.
 */

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "rt.h"
#include "../include/uring/uring_abi.h"

#define RT_QUEUED 1u
#define RT_RUNNING 2u
#define RT_DONE 4u
#define MAX_WORKERS 16
#define MAX_SLOTS 65536

struct worker {
    int index;
    int ring_fd;
    unsigned entries;
    _Atomic uint32_t *sq_head, *sq_tail, *sq_array, *cq_head, *cq_tail, *ctl;
    uint32_t sq_mask, cq_mask;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
    uint32_t sq_local_tail;             /* SQEs filled, not yet published */
    uint32_t to_submit;
    _Atomic int idle;                   /* blocked (or about to) in io_uring_enter */
    struct rt_stats stats;
};

static struct worker workers[MAX_WORKERS];
static int nworkers = 1;
static unsigned ring_entries = 64;
static __thread struct worker *self;
static __thread struct task *current;

/* The shared ready queue: a FIFO per priority, under a tiny spinlock. */
static struct {
    _Atomic int lock;
    struct task *head[RT_PRIOS], *tail[RT_PRIOS];
    uint32_t mask;
    long len;
} rq;
static _Atomic long live;               /* coroutines not yet finished */

static struct { uint32_t gen; struct rt_op *op; } slots[MAX_SLOTS];
static uint32_t free_slots[MAX_SLOTS];
static int nfree = -1;
static _Atomic int slot_lock;

/* The highest set bit of a priority mask (0 for none): a table, because
 * __builtin_clz is a ~22-instruction libgcc call on rv64gc without Zbb,
 * and the ready queue asks at every pop. */
_Static_assert(RT_PRIOS <= 8, "top_prio's table covers 8 levels");
static const uint8_t top_prio[256] = {
#define T4(n) n, n, n, n
#define T16(n) T4(n), T4(n), T4(n), T4(n)
#define T64(n) T16(n), T16(n), T16(n), T16(n)
    0, 0, 1, 1, T4(2), T4(3), T4(3), T16(4), T16(5), T16(5), T64(6), T64(7), T64(7),
#undef T64
#undef T16
#undef T4
};

static void lock(_Atomic int *l) { while (atomic_exchange_explicit(l, 1, memory_order_acquire)) sched_yield(); }
static void unlock(_Atomic int *l) { atomic_store_explicit(l, 0, memory_order_release); }

static long sys_enter(int fd, unsigned submit, unsigned min, unsigned flags)
{
    return syscall(__NR_io_uring_enter, fd, submit, min, flags, NULL, 0);
}

/* ---- rings --------------------------------------------------------------- */

static int ring_open(struct worker *w)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    int fd = syscall(__NR_io_uring_setup, ring_entries, &p);
    if (fd < 0)
        return -errno;
    size_t ring_len = uring_ring_bytes(&p);
    char *ring = mmap(NULL, ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, IORING_OFF_SQ_RING);
    void *sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                      MAP_SHARED, fd, IORING_OFF_SQES);
    if (ring == MAP_FAILED || sqes == MAP_FAILED)
        return -errno;
    w->ring_fd = fd;
    w->entries = p.sq_entries;
    w->sq_head = (void *)(ring + p.sq_off.head);
    w->sq_tail = (void *)(ring + p.sq_off.tail);
    w->sq_array = (void *)(ring + p.sq_off.array);
    w->sq_mask = *(uint32_t *)(ring + p.sq_off.ring_mask);
    w->cq_head = (void *)(ring + p.cq_off.head);
    w->cq_tail = (void *)(ring + p.cq_off.tail);
    w->cq_mask = *(uint32_t *)(ring + p.cq_off.ring_mask);
    w->cqes = (void *)(ring + p.cq_off.cqes);
    uint32_t ctl = uring_prio_word_offset(&p);  /* none on Linux: priorities stay in the runtime */
    w->ctl = ctl ? (void *)(ring + ctl) : NULL;
    w->sqes = sqes;
    w->sq_local_tail = atomic_load(w->sq_tail);
    w->to_submit = 0;
    return 0;
}

static long flush_enter(struct worker *w, unsigned min_complete);

/* Publish the filled SQEs and enter the kernel once for all of them. */
static inline long flush(struct worker *w, unsigned min_complete)
{
    if (w->to_submit == 0 && min_complete == 0)
        return 0;       /* every filled SQE was submitted: the tail is published */
    return flush_enter(w, min_complete);
}

static long flush_enter(struct worker *w, unsigned min_complete)
{
    unsigned n = w->to_submit;
    atomic_store_explicit(w->sq_tail, w->sq_local_tail, memory_order_release);
    w->stats.enters++;
    if (min_complete)
        w->stats.waits++;
    long r;
    do {
        r = sys_enter(w->ring_fd, n, min_complete, min_complete ? IORING_ENTER_GETEVENTS : 0);
    } while (r < 0 && errno == EINTR);
    if (r > 0) {
        w->to_submit -= r < (long)n ? r : n;
        w->stats.submitted += r;
    } else if (r < 0 && errno == EBUSY) {
        /* too much in flight: reap before submitting more */
    }
    return r;
}

static struct io_uring_sqe *sqe_get(struct worker *w)
{
    uint32_t head = atomic_load_explicit(w->sq_head, memory_order_acquire);
    if (w->sq_local_tail - head >= w->entries) {
        flush(w, 0);            /* full: hand what we have to the kernel */
        head = atomic_load_explicit(w->sq_head, memory_order_acquire);
        if (w->sq_local_tail - head >= w->entries)
            return NULL;
    }
    uint32_t i = w->sq_local_tail & w->sq_mask;
    w->sq_array[i] = i;
    w->sq_local_tail++;
    w->to_submit++;
    return &w->sqes[i];
}

/* ---- the ready queue ------------------------------------------------------ */

/* Under rq.lock. */
static inline void rq_push_locked(struct task *t)
{
    int p = t->prio % RT_PRIOS;
    t->next = NULL;
    if (rq.tail[p])
        rq.tail[p]->next = t;
    else
        rq.head[p] = t;
    rq.tail[p] = t;
    rq.mask |= 1u << p;
    rq.len++;
}

/* Under rq.lock: the first task of the highest non-empty level. */
static inline struct task *rq_pop_locked(void)
{
    struct task *t = NULL;
    if (rq.mask) {
        int p = top_prio[rq.mask];
        t = rq.head[p];
        rq.head[p] = t->next;
        if (!rq.head[p]) {
            rq.tail[p] = NULL;
            rq.mask &= ~(1u << p);
        }
        rq.len--;
    }
    return t;
}

static inline void rq_push(struct task *t)
{
    lock(&rq.lock);
    rq_push_locked(t);
    unlock(&rq.lock);
}

static inline struct task *rq_pop(void)
{
    lock(&rq.lock);
    struct task *t = rq_pop_locked();
    unlock(&rq.lock);
    return t;
}

/* Requeue t and take the next task, in one critical section. */
static inline struct task *rq_push_pop(struct task *t)
{
    lock(&rq.lock);
    rq_push_locked(t);
    t = rq_pop_locked();
    unlock(&rq.lock);
    return t;
}

static int rq_top_prio(void)
{
    uint32_t m = atomic_load_explicit((_Atomic uint32_t *)&rq.mask, memory_order_relaxed);
    return top_prio[m];
}

/* A coroutine became ready: if a worker sleeps in the kernel, wake it. */
static void kick_idle_worker(void)
{
    /* the push before us, then the idle flags: pairs with the fence in
     * worker_loop's idle path (one of the two sees the other) */
    atomic_thread_fence(memory_order_seq_cst);
    for (int i = 0; i < nworkers; i++) {
        struct worker *w = &workers[i];
        if (w == self || !atomic_load(&w->idle))
            continue;
        int one = 1;
        if (!atomic_compare_exchange_strong(&w->idle, &one, 0))
            continue;
        struct io_uring_sqe *s = self ? sqe_get(self) : NULL;
        if (!s)
            return;
        memset(s, 0, sizeof *s);
        s->opcode = IORING_OP_MSG_RING;
        s->fd = w->ring_fd;
        s->len = 0;
        s->off = 0;             /* user_data 0 in the target: "wake up" */
        s->user_data = 0;
        self->stats.wakes_sent++;
        flush(self, 0);
        return;
    }
}

void task_wake(struct task *t)
{
    if (t == current) {
        /* a coroutine waking itself (a yield): it is RUNNING here, so
         * QUEUED makes run_one requeue it after the poll */
        atomic_fetch_or(&t->state, RT_QUEUED);
        return;
    }
    uint32_t s = atomic_load(&t->state);
    do {
        if (s & (RT_QUEUED | RT_DONE))
            return;
    } while (!atomic_compare_exchange_weak(&t->state, &s, s | RT_QUEUED));
    if (s & RT_RUNNING)
        return;                 /* its worker requeues it after the poll */
    rq_push(t);
    if (nworkers > 1)
        kick_idle_worker();
}

struct task *rt_current(void) { return current; }
int rt_worker_index(void) { return self ? self->index : 0; }

int rt_cpu(void)
{
    unsigned cpu = 0;
    syscall(__NR_getcpu, &cpu, NULL, NULL);
    return cpu;
}

struct task *rt_spawn(struct future *f, int prio)
{
    static _Atomic uint64_t ids;
    struct task *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->fut = f;
    t->prio = prio < 0 ? 0 : prio >= RT_PRIOS ? RT_PRIOS - 1 : prio;
    t->id = ++ids;
    t->last_worker = -1;
    atomic_fetch_add(&live, 1);
    atomic_store(&t->state, RT_QUEUED);
    rq_push(t);
    if (nworkers > 1 && self)
        kick_idle_worker();
    return t;
}

/* ---- joining ----------------------------------------------------------------- */

static enum poll join_poll(struct future *base, struct cx *cx)
{
    struct rt_join *j = (struct rt_join *)base;
    if (atomic_load(&j->t->state) & RT_DONE) {
        base->resume = RESUME_DONE;
        return READY;
    }
    j->t->joiner = cx->task;
    if (atomic_load(&j->t->state) & RT_DONE) {     /* the lost-wakeup rule */
        base->resume = RESUME_DONE;
        return READY;
    }
    return PENDING;
}

static const struct future_ops join_ops = { join_poll, NULL, "rt_join" };

void rt_join_init(struct rt_join *j, struct task *t)
{
    future_init(&j->base, &join_ops);
    j->t = t;
}

/* ---- operations ------------------------------------------------------------------ */

static uint32_t slot_alloc(struct rt_op *op)
{
    lock(&slot_lock);
    if (nfree < 0) {
        for (int i = 0; i < MAX_SLOTS - 1; i++)
            free_slots[i] = MAX_SLOTS - 1 - i;      /* slot 0 is never used: user_data 0 = wake */
        nfree = MAX_SLOTS - 1;
    }
    uint32_t s = nfree ? free_slots[--nfree] : 0;
    if (s)
        slots[s].op = op;
    unlock(&slot_lock);
    return s;
}

static void slot_free(uint32_t s)
{
    lock(&slot_lock);
    slots[s].op = NULL;
    slots[s].gen++;
    free_slots[nfree++] = s;
    unlock(&slot_lock);
}

static enum poll op_poll(struct future *base, struct cx *cx)
{
    struct rt_op *op = (struct rt_op *)base;
    if (op->done) {
        base->resume = RESUME_DONE;
        return READY;
    }
    op->waiter = cx->task;
    if (op->submitted)
        return PENDING;
    struct io_uring_sqe *s = sqe_get(self);
    uint32_t slot = s ? slot_alloc(op) : 0;
    if (!slot) {
        if (s) {                /* no slot: turn the SQE into a no-op (no stale link flag) */
            memset(s, 0, sizeof *s);
            s->opcode = IORING_OP_NOP;
        }
        task_wake(cx->task);    /* try again next round */
        return PENDING;
    }
    op->sqe.user_data = (uint64_t)slots[slot].gen << 32 | slot;
    memcpy(s, &op->sqe, sizeof *s);
    op->slot = slot;
    op->submitted = true;
    return PENDING;
}

/* A cancelled operation: let the kernel drop it, and forget the slot's
 * owner so the completion, when it comes, is discarded. */
static void op_cancel(struct future *base)
{
    struct rt_op *op = (struct rt_op *)base;
    if (!op->submitted || op->done)
        return;
    lock(&slot_lock);
    slots[op->slot].op = NULL;
    unlock(&slot_lock);
    struct io_uring_sqe *s = self ? sqe_get(self) : NULL;
    if (s) {
        memset(s, 0, sizeof *s);
        s->opcode = IORING_OP_ASYNC_CANCEL;
        s->addr = op->sqe.user_data;
        s->user_data = 0;
    }
    op->submitted = false;
}

static const struct future_ops op_ops = { op_poll, op_cancel, "rt_op" };

static void op_init(struct rt_op *op, uint8_t opcode)
{
    memset(op, 0, sizeof *op);
    future_init(&op->base, &op_ops);
    op->sqe.opcode = opcode;
}

void rt_nop_init(struct rt_op *op) { op_init(op, IORING_OP_NOP); }

void rt_read_init(struct rt_op *op, int fd, void *buf, uint32_t len)
{
    op_init(op, IORING_OP_READ);
    op->sqe.fd = fd;
    op->sqe.addr = (uint64_t)buf;
    op->sqe.len = len;
    op->sqe.off = (uint64_t)-1;
}

void rt_write_init(struct rt_op *op, int fd, const void *buf, uint32_t len)
{
    op_init(op, IORING_OP_WRITE);
    op->sqe.fd = fd;
    op->sqe.addr = (uint64_t)buf;
    op->sqe.len = len;
    op->sqe.off = (uint64_t)-1;
}

void rt_sleep_init(struct rt_op *op, uint64_t ns)
{
    op_init(op, IORING_OP_TIMEOUT);
    op->ts.tv_sec = ns / 1000000000ULL;
    op->ts.tv_nsec = ns % 1000000000ULL;
    op->sqe.addr = (uint64_t)&op->ts;
    op->sqe.len = 1;
}

void rt_poll_init(struct rt_op *op, int fd, uint32_t events)
{
    op_init(op, IORING_OP_POLL_ADD);
    op->sqe.fd = fd;
    op->sqe.poll32_events = events;
}

void rt_timeout_init(struct rt_timeout *t, struct future *child, uint64_t ns)
{
    rt_sleep_init(&t->sleep, ns);
    deadline_init(&t->d, child, &t->sleep.base);
}

/* ---- the worker loop ---------------------------------------------------------------- */

/* Deliver every completion in this worker's ring; no system call. */
static void reap_some(struct worker *w);

static inline void reap(struct worker *w)
{
    if (atomic_load_explicit(w->cq_head, memory_order_relaxed) !=
        atomic_load_explicit(w->cq_tail, memory_order_acquire))
        reap_some(w);
}

static void reap_some(struct worker *w)
{
    uint32_t head = atomic_load_explicit(w->cq_head, memory_order_relaxed);
    uint32_t tail = atomic_load_explicit(w->cq_tail, memory_order_acquire);
    for (; head != tail; head++) {
        struct io_uring_cqe *c = &w->cqes[head & w->cq_mask];
        uint32_t s = (uint32_t)c->user_data, gen = c->user_data >> 32;
        if (s == 0 || s >= MAX_SLOTS)
            continue;           /* a wake-up message or an untracked op */
        lock(&slot_lock);
        struct rt_op *op = slots[s].gen == gen ? slots[s].op : NULL;
        unlock(&slot_lock);
        w->stats.completed++;
        if (op) {
            op->res = c->res;
            op->done = true;
            op->submitted = false;
        }
        slot_free(s);
        if (op && op->waiter)
            task_wake(op->waiter);
    }
    atomic_store_explicit(w->cq_head, head, memory_order_release);
}

/* Poll t once.  True if it was woken during the poll: the caller puts
 * it back on the queue (it is QUEUED). */
static inline bool run_one(struct worker *w, struct task *t)
{
    atomic_store(&t->state, RT_RUNNING);
    if (t->last_worker >= 0 && t->last_worker != w->index)
        w->stats.steals++;
    t->last_worker = w->index;
    current = t;
    struct cx cx = { .task = t };
    w->stats.polls++;
    enum poll r = future_poll(t->fut, &cx);
    current = NULL;
    if (r == READY) {
        atomic_store(&t->state, RT_DONE);
        struct task *j = t->joiner;
        if (j)
            task_wake(j);
        atomic_fetch_sub(&live, 1);
        return false;
    }
    uint32_t s = RT_RUNNING;
    /* (a relaxed look first: the CAS decides) */
    if (atomic_load_explicit(&t->state, memory_order_relaxed) == RT_RUNNING &&
        atomic_compare_exchange_strong(&t->state, &s, 0))
        return false;
    /* woken during the poll (QUEUED is set): back on the queue, behind
     * the ones already there */
    atomic_store(&t->state, RT_QUEUED);
    return true;
}

static void *worker_loop(void *arg)
{
    struct worker *w = arg;
    self = w;
    /* a worker thread sets its own ring up: the kernel takes a thread's
     * priority hint from the first ring that thread created */
    if (w->ring_fd < 0 && ring_open(w) < 0)
        return NULL;
    for (;;) {
        /* one round: every coroutine ready now, highest priority first */
        long batch = rq.len;
        struct task *t = batch > 0 ? rq_pop() : NULL;
        while (t) {
            bool again = run_one(w, t);
            if (--batch > 0) {
                t = again ? rq_push_pop(t) : rq_pop();
            } else {
                if (again)
                    rq_push(t);
                t = NULL;
            }
        }
        reap(w);
        if (w->ctl)
            atomic_store_explicit(w->ctl, rq_top_prio(), memory_order_relaxed);
        if (rq.len > 0) {
            flush(w, 0);        /* submit the round's batch, keep running */
            continue;
        }
        if (atomic_load(&live) == 0) {
            flush(w, 0);
            break;
        }
        /* nothing ready: block until a completion (or a wake message) */
        atomic_store(&w->idle, 1);
        atomic_thread_fence(memory_order_seq_cst);
        /* raced with a wake, or the last coroutine finished on another
         * worker after we looked (it only wakes workers already idle):
         * don't sleep */
        if (atomic_load_explicit((_Atomic long *)&rq.len, memory_order_relaxed) > 0 ||
            atomic_load(&live) == 0) {
            atomic_store(&w->idle, 0);
            continue;
        }
        flush(w, 1);
        atomic_store(&w->idle, 0);
        reap(w);
    }
    /* the others may be asleep: wake them so they see live == 0 */
    for (int i = 0; i < nworkers; i++)
        if (&workers[i] != w && atomic_load(&workers[i].idle)) {
            struct io_uring_sqe *s = sqe_get(w);
            if (!s)
                break;
            memset(s, 0, sizeof *s);
            s->opcode = IORING_OP_MSG_RING;
            s->fd = workers[i].ring_fd;
            flush(w, 0);
        }
    return NULL;
}

int rt_init(unsigned entries)
{
    ring_entries = entries ? entries : 64;
    int r = ring_open(&workers[0]);
    if (r < 0)
        return r;
    workers[0].index = 0;
    self = &workers[0];
    return 0;
}

void rt_run(int n)
{
    if (n < 1)
        n = 1;
    if (n > MAX_WORKERS)
        n = MAX_WORKERS;
    for (int i = 1; i < n; i++) {
        workers[i].index = i;
        workers[i].ring_fd = -1;        /* opened by the worker itself */
        atomic_store(&workers[i].idle, 0);
    }
    nworkers = n;
    pthread_t tids[MAX_WORKERS];
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    for (int i = 1; i < n; i++)
        pthread_create(&tids[i], &attr, worker_loop, &workers[i]);
    worker_loop(&workers[0]);
    for (int i = 1; i < n; i++)
        pthread_join(tids[i], NULL);
}

void rt_get_stats(struct rt_stats *s)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < nworkers; i++) {
        s->enters += workers[i].stats.enters;
        s->waits += workers[i].stats.waits;
        s->submitted += workers[i].stats.submitted;
        s->completed += workers[i].stats.completed;
        s->polls += workers[i].stats.polls;
        s->steals += workers[i].stats.steals;
        s->wakes_sent += workers[i].stats.wakes_sent;
    }
}
