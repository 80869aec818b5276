/*
 * executor.c - one executor per hart, polling tasks off its run queue.
 *
 * Invariants (see the lifecycle in task.h):
 *  - a task is on at most one run queue, and only while QUEUED;
 *  - a task is polled by one hart at a time (RUNNING is set by the one
 *    hart that popped it);
 *  - the queue is drained in batches: a task woken during its own poll
 *    goes behind the tasks that were already queued;
 *  - a task with a hart mask (sched_setaffinity) is pushed only on a
 *    hart of its mask, stolen only by one, and polled only by one: a
 *    hart that pops a task whose mask changed meanwhile passes it on;
 *  - an idle hart masks interrupts, announces itself idle, checks its
 *    queue once more, then waits in wfi; a waker pushes first and looks
 *    at `idle` second (a fence between, on both sides), so either the
 *    idle hart sees the task or the waker sees the idle flag and sends
 *    an IPI.  No lost wake-up.
 */
#include "arch.h"
#include "core/executor.h"
#include "mem/kmalloc.h"
#include "lib/printk.h"
#include "instruments/trace.h"

struct sched_policy sched = { .steal = true, .wake_local = false, .priority = true };
_Static_assert(MAX_HARTS <= 16, "task.hart_mask has 16 bits");
static _Atomic uint64_t idle_mask;      /* bit i: hart i is idle */

void executor_init_hart(struct hart *h)
{
    spin_init(&h->runq.lock, "runq");
    for (int p = 0; p < PRIO_LEVELS; p++)
        h->runq.head[p] = h->runq.tail[p] = NULL;
    h->runq.mask = 0;
    atomic_store(&h->runq.len, 0);
    spin_init(&h->timer_lock, "timers");
    timer_heap_init(&h->timers);
    spin_init(&h->tasks_lock, "tasks");
    h->timer_armed = UINT64_MAX;
}

/* The first task of the highest non-empty level. */
static struct task *runq_pop(struct runq *q)
{
    spin_lock(&q->lock);
    struct task *t = NULL;
    if (q->mask) {
        int p = 31 - __builtin_clz(q->mask);
        t = q->head[p];
        q->head[p] = t->next;
        if (!q->head[p]) {
            q->tail[p] = NULL;
            q->mask &= ~(1u << p);
        }
        atomic_fetch_sub(&q->len, 1);
    }
    spin_unlock(&q->lock);
    return t;
}

/* The first task of the highest level that may run on hart `i`
 * (stealing: a pinned task stays where it is). */
static struct task *runq_pop_for(struct runq *q, unsigned i)
{
    spin_lock(&q->lock);
    struct task *t = NULL;
    for (uint32_t m = q->mask; m && !t; ) {
        int p = 31 - __builtin_clz(m);
        m &= ~(1u << p);
        struct task *prev = NULL;
        for (t = q->head[p]; t && !task_may_run_on(t, i); t = t->next)
            prev = t;
        if (!t)
            continue;
        if (prev)
            prev->next = t->next;
        else
            q->head[p] = t->next;
        if (q->tail[p] == t)
            q->tail[p] = prev;
        if (!q->head[p])
            q->mask &= ~(1u << p);
        atomic_fetch_sub(&q->len, 1);
    }
    spin_unlock(&q->lock);
    return t;
}

/* Where t goes when `h` would be chosen: h if t may run there, else its
 * last hart if allowed, else the first hart of its mask. */
static struct hart *hart_for(struct task *t, struct hart *h)
{
    if (task_may_run_on(t, h->index))
        return h;
    if (t->hart != TASK_NO_HART && task_may_run_on(t, t->hart))
        return &harts[t->hart];
    return &harts[__builtin_ctz(t->hart_mask)];
}

struct hart *task_hart_for(struct task *t, struct hart *h) { return hart_for(t, h); }

/* IPI hart i if it sleeps and nobody has woken it yet: taking its bit
 * out of idle_mask is the right to send the one IPI it needs. */
static bool wake_idle(struct hart *self, unsigned i)
{
    uint64_t bit = 1UL << i;
    if (!(atomic_fetch_and(&idle_mask, ~bit) & bit))
        return false;
    self->ipis_sent++;
    trace_event(TR_IPI_SEND, i, 0);
    arch_send_ipi(i);
    return true;
}

/* Wake some idle hart other than `self` so it can steal. */
static void kick_idle_hart(struct hart *self)
{
    uint64_t m;
    while ((m = atomic_load(&idle_mask) & ~(1UL << self->index)) != 0)
        if (wake_idle(self, __builtin_ctzl(m)))
            return;
}

void runq_push(struct hart *h, struct task *t)
{
    struct runq *q = &h->runq;
    int p = sched.priority ? t->prio % PRIO_LEVELS : 0;
    t->next = NULL;
    spin_lock(&q->lock);
    if (q->tail[p])
        q->tail[p]->next = t;
    else
        q->head[p] = t;
    q->tail[p] = t;
    q->mask |= 1u << p;
    uint32_t len = atomic_fetch_add(&q->len, 1) + 1;
    spin_unlock(&q->lock);

    atomic_thread_fence(memory_order_seq_cst);
    struct hart *self = this_hart();
    if (h != self) {
        if (atomic_load(&h->idle))
            wake_idle(self, h->index);
        else if (sched.priority && atomic_load(&h->user_mm) &&
                 t->prio > atomic_load(&h->current_prio))
            arch_send_ipi(h->index);    /* preempt its user thread (thread.c yields) */
    } else if (len > 1 && sched.steal && !t->hart_mask) {
        kick_idle_hart(self);
    }
}

void task_wake(struct task *t)
{
    uint32_t s = atomic_load(&t->state);
    do {
        if (s & (TASK_QUEUED | TASK_DONE))
            return;             /* already going to run, or gone */
    } while (!atomic_compare_exchange_weak(&t->state, &s, s | TASK_QUEUED));
    trace_event(TR_WAKE, t->id, 0);
    if (s & TASK_RUNNING)
        return;                 /* its executor requeues it after the poll */
    struct hart *h = this_hart();
    if (!sched.wake_local && t->hart != TASK_NO_HART)
        h = &harts[t->hart];
    runq_push(hart_for(t, h), t);
}

struct task *task_current(void) { return this_hart()->current; }

bool runq_has_higher(struct hart *h, unsigned prio)
{
    return sched.priority && (atomic_load_explicit((_Atomic uint32_t *)&h->runq.mask,
                                                    memory_order_relaxed) >> (prio + 1)) != 0;
}

void task_finish(struct task *t);   /* task.c */

static void poll_task(struct hart *h, struct task *t)
{
    if (!task_may_run_on(t, h->index)) {
        runq_push(hart_for(t, h), t);   /* its mask changed while it was queued */
        return;
    }
    atomic_store(&t->state, TASK_RUNNING);
    t->hart = h->index;
    h->current = t;
    atomic_store(&h->current_prio, t->prio);
    h->polls++;
    t->polls++;
    trace_event(TR_POLL_BEGIN, t->id, (uint64_t)t->name);
    uint64_t i0 = arch_instret();
    struct cx cx = { .task = t };
    enum poll r = future_poll(t->root, &cx);
    t->instret += arch_instret() - i0;
    trace_event(TR_POLL_END, t->id, r);
    h->current = NULL;
    if (r == READY) {
        task_finish(t);
        return;
    }
    uint32_t s = TASK_RUNNING;
    if (atomic_compare_exchange_strong(&t->state, &s, 0))
        return;                 /* (4) waits for a wake */
    atomic_store(&t->state, TASK_QUEUED);   /* (6) woken while running */
    runq_push(hart_for(t, sched.wake_local ? h : &harts[t->hart]), t);
}

static bool steal(struct hart *self)
{
    if (!sched.steal)
        return false;
    for (unsigned k = 1; k < nharts; k++) {
        struct hart *v = &harts[(self->index + k) % nharts];
        if (atomic_load(&v->runq.len) == 0)
            continue;
        struct task *t = runq_pop_for(&v->runq, self->index);
        if (t) {
            self->steals++;
            poll_task(self, t);
            return true;
        }
    }
    return false;
}

static void idle(struct hart *h)
{
    bool on = arch_irq_disable();
    atomic_store(&h->idle, true);
    atomic_fetch_or(&idle_mask, 1UL << h->index);
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load(&h->runq.len) == 0) {
        h->idle_entries++;
        trace_event(TR_IDLE_BEGIN, 0, 0);
        uint64_t t0 = arch_time();
        atomic_store(&h->idle_since, t0 ? t0 : 1);   /* for `harts` meanwhile */
        arch_wait_for_interrupt();
        atomic_store(&h->idle_since, 0);
        h->idle_time += arch_time() - t0;
        trace_event(TR_IDLE_END, 0, 0);
    }
    atomic_fetch_and(&idle_mask, ~(1UL << h->index));
    atomic_store(&h->idle, false);
    arch_irq_restore(on);       /* the interrupt that woke us is taken here */
}

/* Poll the first task of this hart's queue; false if it was empty.
 * (The host unit tests drive the executor with it.) */
bool executor_poll_one(void)
{
    struct hart *h = this_hart();
    struct task *t = runq_pop(&h->runq);
    if (!t)
        return false;
    poll_task(h, t);
    return true;
}

void executor_run(void)
{
    struct hart *h = this_hart();
    arch_irq_enable();
    for (;;) {
        uint32_t batch = atomic_load(&h->runq.len);
        if (batch == 0) {
            if (!steal(h))
                idle(h);
            continue;
        }
        while (batch--) {
            struct task *t = runq_pop(&h->runq);
            if (!t)
                break;
            poll_task(h, t);
        }
    }
}
