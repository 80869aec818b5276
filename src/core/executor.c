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
 *  - in chaos mode (core/chaos.h) the choices below marked "chaos" are
 *    taken from a seeded generator instead; none of them may break the
 *    invariants above (hart masks included), only change the order and
 *    the place things happen in.
 */
#include "arch.h"
#include "core/chaos.h"
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

/* The highest non-empty level of a runq mask: a table, because the
 * kernel is built without Zbb and __builtin_clz is a libgcc call of
 * ~22 instructions, paid at every pop. */
_Static_assert(PRIO_LEVELS <= 8, "top_level's table covers 8 levels");
static const uint8_t top_level_of[256] = {
#define T4(n) n, n, n, n
#define T16(n) T4(n), T4(n), T4(n), T4(n)
#define T64(n) T16(n), T16(n), T16(n), T16(n)
    0, 0, 1, 1, T4(2), T4(3), T4(3), T16(4), T16(5), T16(5), T64(6), T64(7), T64(7),
#undef T64
#undef T16
#undef T4
};

static inline int top_level(uint32_t mask) { return top_level_of[mask & 0xff]; }

/* Take t (after prev, NULL if first) off level p of q.  Under q->lock. */
static void runq_unlink(struct runq *q, int p, struct task *prev, struct task *t)
{
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

/* chaos: a task among the first few of a level that is usually the
 * highest non-empty one, sometimes any non-empty one.  Under q->lock.
 * (A task whose hart mask excludes this hart is passed on by poll_task.) */
static CHAOS_COLD struct task *runq_pop_chaos(struct runq *q)
{
    struct hart *h = this_hart();
    int p = top_level(q->mask);
    if (chaos_one_in(h, 4)) {
        uint32_t m = q->mask;
        for (unsigned k = chaos_rand(h, __builtin_popcount(m)); k; k--)
            m &= m - 1;
        p = __builtin_ctz(m);
    }
    struct task *prev = NULL, *t = q->head[p];
    for (unsigned k = chaos_rand(h, 8); k && t->next; k--) {
        prev = t;
        t = t->next;
    }
    runq_unlink(q, p, prev, t);
    return t;
}

/* The first task of the highest non-empty level. */
static struct task *runq_pop(struct runq *q)
{
    spin_lock(&q->lock);
    struct task *t = NULL;
    if (__builtin_expect(chaos_on, 0) && q->mask) {
        t = runq_pop_chaos(q);
    } else if (q->mask) {
        int p = top_level(q->mask);
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
        int p = top_level(m);
        m &= ~(1u << p);
        struct task *prev = NULL;
        for (t = q->head[p]; t && !task_may_run_on(t, i); t = t->next)
            prev = t;
        if (!t)
            continue;
        runq_unlink(q, p, prev, t);
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

/* After a push on h: wake h if it sleeps or preempt its user thread
 * (another hart), or let an idle hart steal (ours, with work to share).
 * Out of line: a push on our own hart with nobody to kick skips it. */
static __attribute__((noinline)) void push_notify(struct hart *self, struct hart *h,
                                                  struct task *t)
{
    /* the push, then the idle flags */
    atomic_thread_fence(memory_order_seq_cst);
    if (h != self) {
        if (atomic_load(&h->idle))
            wake_idle(self, h->index);
        else if (sched.priority && atomic_load(&h->user_mm) &&
                 t->prio > atomic_load(&h->current_prio))
            arch_send_ipi(h->index);    /* preempt its user thread (thread.c yields) */
    } else {
        kick_idle_hart(self);
    }
}

/* Append t at the tail of its level; q->lock held, q->len not counted. */
static inline void enqueue_locked(struct runq *q, struct task *t)
{
    int p = sched.priority ? t->prio % PRIO_LEVELS : 0;
    t->next = NULL;
    if (q->tail[p])
        q->tail[p]->next = t;
    else
        q->head[p] = t;
    q->tail[p] = t;
    q->mask |= 1u << p;
}

void runq_push(struct hart *h, struct task *t)
{
    struct runq *q = &h->runq;
    spin_lock(&q->lock);
    enqueue_locked(q, t);
    uint32_t len = atomic_fetch_add(&q->len, 1) + 1;
    spin_unlock(&q->lock);

    struct hart *self = this_hart();
    if (h != self || (len > 1 && sched.steal && !t->hart_mask && nharts > 1))
        push_notify(self, h, t);
}

/* Where a woken (or requeued) task goes: the hart that polled it last
 * (the waking hart under wake=local), within its hart mask. */
static inline struct hart *wake_target(struct hart *self, struct task *t)
{
    if (!sched.wake_local && t->hart != TASK_NO_HART)
        self = &harts[t->hart];
    return hart_for(t, self);
}

/* chaos: half the time any hart of its mask */
static CHAOS_COLD struct hart *wake_target_chaos(struct hart *self, struct task *t)
{
    if (chaos_one_in(self, 2))
        return hart_for(t, chaos_pick_hart(self));
    return wake_target(self, t);
}

static inline struct hart *wake_place(struct hart *self, struct task *t)
{
    if (__builtin_expect(chaos_on, 0))
        return wake_target_chaos(self, t);
    return wake_target(self, t);
}

/* (2) Set QUEUED; false if it was QUEUED or DONE already.  *was: the
 * state before (RUNNING: its executor requeues it after the poll). */
static inline bool mark_queued(struct task *t, uint32_t *was)
{
    uint32_t s = atomic_load(&t->state);
    do {
        if (s & (TASK_QUEUED | TASK_DONE))
            return false;       /* already going to run, or gone */
    } while (!atomic_compare_exchange_weak(&t->state, &s, s | TASK_QUEUED));
    trace_event(TR_WAKE, t->id, 0);
    *was = s;
    return true;
}

/* chaos: a slow waker (chaos_delay), queueing anywhere */
static CHAOS_COLD bool wake_chaos(struct task *t)
{
    uint32_t was;
    chaos_delay(this_hart());
#ifdef POLLUX_POISON
    kmalloc_check_live(t, "task_wake (after a chaos delay)");
#endif
    if (!mark_queued(t, &was))
        return false;
    if (!(was & TASK_RUNNING))
        runq_push(wake_target_chaos(this_hart(), t), t);
    return true;
}

static inline bool wake(struct task *t)
{
    uint32_t was;
#ifdef POLLUX_POISON
    kmalloc_check_live(t, "task_wake");     /* debug kernel: a wake of a freed task */
#endif
    if (__builtin_expect(chaos_on, 0))
        return wake_chaos(t);
    if (!mark_queued(t, &was))
        return false;
    if (!(was & TASK_RUNNING))
        runq_push(wake_target(this_hart(), t), t);
    return true;
}

void task_wake(struct task *t)
{
    wake(t);
}

bool task_wake_spurious(struct task *t)
{
    if (!wake(t))
        return false;
    __atomic_fetch_add(&t->spurious, 1, __ATOMIC_RELAXED);
    return true;
}

struct task *task_current(void) { return this_hart()->current; }

bool runq_has_higher(struct hart *h, unsigned prio)
{
    return sched.priority && (atomic_load_explicit((_Atomic uint32_t *)&h->runq.mask,
                                                    memory_order_relaxed) >> (prio + 1)) != 0;
}

void task_finish(struct task *t);   /* task.c */

/* (6) t was woken while it was being polled: queue it again. */
static inline void requeue(struct hart *h, struct task *t)
{
    atomic_store(&t->state, TASK_QUEUED);
    runq_push(wake_place(h, t), t);
}

/* The end of poll_task (PENDING) in chaos mode.  Once t is idle another
 * hart may wake, finish and free it at any moment: chaos keeps its own
 * reference while it meddles. */
static CHAOS_COLD void poll_end_chaos(struct hart *h, struct task *t)
{
    uint32_t s = TASK_RUNNING;
    atomic_fetch_add(&t->refs, 1);
    if (atomic_compare_exchange_strong(&t->state, &s, 0))
        chaos_after_poll(h, t);     /* spurious wakes, extra IPIs */
    else
        requeue(h, t);
    task_put(t);
}

/* Poll t.  Returns t if it was woken during the poll and goes back on
 * this hart's queue: the caller pushes it (executor_run together with its
 * next pop, under one lock); NULL otherwise.  Inlined into executor_run's
 * loop (a call and its frame were a sixth of a thread switch); poll_task
 * is the same for the others. */
static inline __attribute__((always_inline)) struct task *poll_task_inline(struct hart *h,
                                                                          struct task *t)
{
    if (!task_may_run_on(t, h->index)) {
        runq_push(hart_for(t, h), t);   /* its mask changed while it was queued */
        return NULL;
    }
    atomic_store(&t->state, TASK_RUNNING);
    t->hart = h->index;
    h->current = t;
    /* a hint for runq_push on other harts (whether to preempt us) */
    atomic_store_explicit(&h->current_prio, t->prio, memory_order_relaxed);
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
        return NULL;
    }
    if (__builtin_expect(chaos_on, 0)) {
        poll_end_chaos(h, t);
        return NULL;
    }
    uint32_t s = TASK_RUNNING;
    if (atomic_compare_exchange_strong(&t->state, &s, 0))
        return NULL;            /* (4) waits for a wake */
    /* (6) woken during the poll (a yield, or a wake from elsewhere) */
    atomic_store(&t->state, TASK_QUEUED);
    /* wake_target(h, t), knowing that t->hart is h: h, unless its mask
     * changed during the poll (sched_setaffinity) */
    if (task_may_run_on(t, h->index))
        return t;
    runq_push(hart_for(t, h), t);
    return NULL;
}

static __attribute__((noinline)) struct task *poll_task(struct hart *h, struct task *t)
{
    return poll_task_inline(h, t);
}

/* Put t (QUEUED, from poll_task) back on h's queue and take the first
 * task there, under one lock: what runq_push and runq_pop would do. */
static struct task *runq_push_pop(struct hart *h, struct task *t)
{
    struct runq *q = &h->runq;
    spin_lock(&q->lock);
    enqueue_locked(q, t);
    uint32_t len = atomic_load_explicit(&q->len, memory_order_relaxed) + 1;  /* with t */
    int top = top_level(q->mask);
    struct task *n = q->head[top];
    q->head[top] = n->next;
    if (!q->head[top]) {
        q->tail[top] = NULL;
        q->mask &= ~(1u << top);
    }
    spin_unlock(&q->lock);      /* (len itself did not change) */
    if (len > 1 && sched.steal && !t->hart_mask && nharts > 1)
        push_notify(h, h, t);   /* as runq_push: others may steal */
    return n;
}

/* chaos: maybe not steal at all, else look at the others from a random one */
/* Take and poll the first task that may run here from another hart's
 * queue, trying the harts from index `first` on. */
static bool steal_from(struct hart *self, unsigned first)
{
    for (unsigned k = first; k < first + nharts; k++) {
        struct hart *v = &harts[k % nharts];
        if (v == self || atomic_load(&v->runq.len) == 0)
            continue;
        struct task *t = runq_pop_for(&v->runq, self->index);
        if (t) {
            self->steals++;
            if ((t = poll_task(self, t)) != NULL)
                runq_push(self, t);
            return true;
        }
    }
    return false;
}

static CHAOS_COLD bool steal_chaos(struct hart *self)
{
    if (chaos_one_in(self, 4))
        return false;
    return steal_from(self, chaos_rand(self, nharts));
}

static bool steal(struct hart *self)
{
    if (!sched.steal)
        return false;
    if (__builtin_expect(chaos_on, 0))
        return steal_chaos(self);
    return steal_from(self, self->index + 1);
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
    if ((t = poll_task(h, t)) != NULL)
        runq_push(h, t);
    return true;
}

/* chaos, between batches: wake the tasks parked during the last batch
 * (so a parked task never keeps memory for long: /proc/mem stays honest);
 * sometimes steal although there is work here.  True if the loop should
 * look at its queue again. */
static CHAOS_COLD bool run_chaos(struct hart *h, uint32_t batch)
{
    bool unparked = chaos_unpark_all(h);
    if (batch == 0)
        return unparked;
    return chaos_one_in(h, 16) && steal(h);
}

void executor_run(void)
{
    struct hart *h = this_hart();
    arch_irq_enable();
    /* A task woken during its poll (poll_task returned it) goes back on
     * the queue together with the next pop, as the last of the batch it
     * joins: the order is that of a push after its poll. */
    struct task *again = NULL;
    for (;;) {
        /* (relaxed: the batch's size is a hint; the pops are under the
         * lock, and idle() looks again with a fence) */
        uint32_t batch = atomic_load_explicit(&h->runq.len, memory_order_relaxed) +
                         (again != NULL);
        if (__builtin_expect(chaos_on, 0) && run_chaos(h, batch))
            continue;
        if (batch == 0) {
            if (!steal(h))
                idle(h);
            continue;
        }
        while (batch--) {
            struct task *t = again ? runq_push_pop(h, again) : runq_pop(&h->runq);
            again = NULL;
            if (!t)
                break;
            again = poll_task_inline(h, t);
        }
    }
}
