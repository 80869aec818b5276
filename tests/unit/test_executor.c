// SOURCES: src/core/executor.c src/core/task.c src/core/waitq.c src/core/combinators.c src/core/chaos.c src/mem/kmalloc.c src/mem/page_alloc.c src/core/timer_heap.c
/*
 * test_executor.c - the executor's run queue and task states, and the
 * join/select combinators, on the host: one hart, the arch layer stubbed.
 */
#include <stdlib.h>
#include <string.h>
#include "core/chaos.h"
#include "core/executor.h"
#include "mem/kmalloc.h"
#include "mem/page_alloc.h"
#include "instruments/trace.h"
#include "unit.h"

/* ---- the arch layer, for one host "hart" ---------------------------- */
struct hart harts[MAX_HARTS];
unsigned nharts = 1;
volatile bool trace_on;
void trace_record(enum trace_kind k, uint32_t a, uint64_t b) { (void)k; (void)a; (void)b; }
struct hart *arch_this_hart(void) { return &harts[0]; }
bool arch_irq_disable(void) { return false; }
void arch_irq_restore(bool on) { (void)on; }
void arch_irq_enable(void) {}
void arch_wait_for_interrupt(void) { abort(); }     /* never idle in these tests */
uint64_t arch_time(void) { return 0; }
uint64_t arch_timebase(void) { return 10000000; }
uint64_t arch_instret(void) { return 0; }
int printk(const char *fmt, ...) { (void)fmt; return 0; }
static int ipis;
void arch_send_ipi(unsigned i) { (void)i; ipis++; }

/* ---- a future that records its polls and finishes after n of them --- */
static int order[512], norder;

struct probe {
    struct future base;
    int id, polls_left, wake_self;
    struct task *me;
};

static enum poll probe_poll(struct future *base, struct cx *cx)
{
    struct probe *p = (struct probe *)base;
    order[norder++] = p->id;
    if (p->wake_self) {
        p->wake_self--;
        task_wake(cx->task);            /* a wake during its own poll */
    }
    return --p->polls_left <= 0 ? READY : PENDING;
}
static const struct future_ops probe_ops = { probe_poll, NULL, "probe" };

static struct task *spawn(int id, int polls, int prio)
{
    struct task *t;
    struct probe *p = task_alloc(sizeof *p, "probe", &t);
    if (!p)
        abort();                        /* 4 MiB of pages: cannot happen */
    future_init(&p->base, &probe_ops);
    p->id = id;
    p->polls_left = polls;
    p->wake_self = 0;
    p->me = t;
    t->prio = prio;
    return t;
}

static void drain(void) { while (executor_poll_one()) ; }

static void setup(void)   /* (also resets the poll log) */
{
    static void *mem;
    if (!mem) {
        mem = aligned_alloc(4096, 4 << 20);
        page_alloc_init((uintptr_t)mem, (uintptr_t)mem + (4 << 20));
        executor_init_hart(&harts[0]);
    }
    norder = 0;
    sched.priority = true;
}

static void fifo_order(void)
{
    setup();
    for (int i = 0; i < 5; i++)
        task_start(spawn(i, 1, PRIO_DEFAULT), TASK_NO_HART, false);
    drain();
    CHECK(norder == 5);
    for (int i = 0; i < 5; i++)
        CHECK(order[i] == i);
}

static void wake_of_a_queued_task_is_not_duplicated(void)
{
    setup();
    struct task *t = spawn(7, 1, PRIO_DEFAULT);
    task_start(t, TASK_NO_HART, true);
    task_wake(t);
    task_wake(t);
    CHECK(atomic_load(&harts[0].runq.len) == 1);
    drain();
    CHECK(norder == 1 && task_done(t));
    task_wake(t);                       /* a finished task ignores wakes */
    CHECK(atomic_load(&harts[0].runq.len) == 0);
    task_put(t);
}

static void wake_during_poll_requeues_behind_the_others(void)
{
    setup();
    struct task *a = spawn(1, 2, PRIO_DEFAULT);
    ((struct probe *)a->root)->wake_self = 1;
    task_start(a, TASK_NO_HART, false);
    task_start(spawn(2, 1, PRIO_DEFAULT), TASK_NO_HART, false);
    drain();
    /* a's self-wake during its first poll puts it behind 2: no lost wake,
     * no starvation of the other task */
    CHECK(norder == 3 && order[0] == 1 && order[1] == 2 && order[2] == 1);
}

static void pending_task_without_wake_is_not_polled_again(void)
{
    setup();
    struct task *t = spawn(3, 2, PRIO_DEFAULT);
    task_start(t, TASK_NO_HART, true);
    drain();
    CHECK(norder == 1 && !task_done(t));
    task_wake(t);
    drain();
    CHECK(norder == 2 && task_done(t));
    task_put(t);
}

static void higher_priority_runs_first(void)
{
    setup();
    task_start(spawn(1, 1, 1), TASK_NO_HART, false);
    task_start(spawn(2, 1, 6), TASK_NO_HART, false);
    task_start(spawn(3, 1, 4), TASK_NO_HART, false);
    CHECK(runq_has_higher(&harts[0], 4));
    drain();
    CHECK(order[0] == 2 && order[1] == 3 && order[2] == 1);
}

static void fifo_policy_ignores_priority(void)
{
    setup();
    sched.priority = false;
    task_start(spawn(1, 1, 1), TASK_NO_HART, false);
    task_start(spawn(2, 1, 6), TASK_NO_HART, false);
    drain();
    CHECK(order[0] == 1 && order[1] == 2);
    sched.priority = true;
}

/* ---- combinators --------------------------------------------------------- */

struct flag { struct future base; bool *set; int cancelled; };
static enum poll flag_poll(struct future *base, struct cx *cx)
{
    (void)cx;
    struct flag *f = (struct flag *)base;
    if (!*f->set)
        return PENDING;
    base->resume = RESUME_DONE;
    return READY;
}
static void flag_cancel(struct future *base) { ((struct flag *)base)->cancelled++; }
static const struct future_ops flag_ops = { flag_poll, flag_cancel, "flag" };

static void flag_init(struct flag *f, bool *set)
{
    future_init(&f->base, &flag_ops);
    f->set = set;
    f->cancelled = 0;
}

static void join_waits_for_every_child(void)
{
    bool a = false, b = false;
    struct flag fa, fb;
    flag_init(&fa, &a);
    flag_init(&fb, &b);
    struct future *c[2] = { &fa.base, &fb.base };
    struct join j;
    join_init(&j, c, 2);
    struct cx cx = { 0 };
    CHECK(future_poll(&j.base, &cx) == PENDING);
    a = true;
    CHECK(future_poll(&j.base, &cx) == PENDING);
    b = true;
    CHECK(future_poll(&j.base, &cx) == READY);
    CHECK(fa.cancelled == 0 && fb.cancelled == 0);
}

static void select_takes_the_first_and_cancels_the_rest(void)
{
    bool a = false, b = false;
    struct flag fa, fb;
    flag_init(&fa, &a);
    flag_init(&fb, &b);
    struct future *c[2] = { &fa.base, &fb.base };
    struct select s;
    select_init(&s, c, 2);
    struct cx cx = { 0 };
    CHECK(future_poll(&s.base, &cx) == PENDING);
    b = true;
    CHECK(future_poll(&s.base, &cx) == READY);
    CHECK(s.winner == 1 && fa.cancelled == 1 && fb.cancelled == 0);
}

static void cancel_of_a_join_cancels_pending_children(void)
{
    bool a = true, b = false;
    struct flag fa, fb;
    flag_init(&fa, &a);
    flag_init(&fb, &b);
    struct future *c[2] = { &fa.base, &fb.base };
    struct join j;
    join_init(&j, c, 2);
    struct cx cx = { 0 };
    CHECK(future_poll(&j.base, &cx) == PENDING);
    future_cancel(&j.base);
    CHECK(fb.cancelled == 1);           /* fa finished: nothing to release */
    CHECK(fa.cancelled == 0);
}

static void no_memory_left_behind(void)
{
    setup();
    struct kmalloc_stats k0, k1;
    kmalloc_get_stats(&k0);
    for (int i = 0; i < 200; i++)
        task_start(spawn(i % 60, 1, i % 8), TASK_NO_HART, false);
    drain();
    kmalloc_get_stats(&k1);
    CHECK(k1.live_objects == k0.live_objects);
}

/* chaos=SEED: the order is shuffled, the same seed shuffles the same way,
 * and every task still runs exactly once. */
static void chaos_run(uint64_t seed, int *out)
{
    setup();
    chaos_init(seed);
    for (int i = 0; i < 20; i++)
        task_start(spawn(i, 1, PRIO_DEFAULT), TASK_NO_HART, false);
    drain();
    chaos_on = false;
    memcpy(out, order, sizeof(int) * 20);
}

static void chaos_order_is_random_but_repeats_with_its_seed(void)
{
    int a[20], b[20], c[20], seen[20] = { 0 };
    chaos_run(5, a);
    CHECK(norder == 20);
    chaos_run(5, b);
    chaos_run(6, c);
    int identity = 1;
    for (int i = 0; i < 20; i++) {
        CHECK(a[i] >= 0 && a[i] < 20 && !seen[a[i]]++);
        identity &= a[i] == i;
    }
    CHECK(!identity);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(a, c, sizeof a) != 0);
}

/* Chaos polls pending tasks nobody woke; each such poll is counted. */
static void chaos_polls_pending_tasks_spuriously(void)
{
    setup();
    chaos_init(11);
    struct task *t[64];
    for (int i = 0; i < 64; i++) {
        t[i] = spawn(i, 2, PRIO_DEFAULT);       /* READY only if polled twice */
        task_start(t[i], TASK_NO_HART, true);
    }
    drain();
    chaos_unpark_all(&harts[0]);
    drain();
    chaos_on = false;
    int twice = 0;
    for (int i = 0; i < 64; i++) {
        CHECK(task_done(t[i]) == (t[i]->spurious > 0));
        twice += task_done(t[i]);
        if (!task_done(t[i]))
            future_cancel(t[i]->root);
        task_put(t[i]);
    }
    CHECK(twice > 0 && twice < 64);
    CHECK(norder == 64 + twice);
    /* the unfinished ones are never polled again: release them */
    for (int i = 0; i < 64; i++)
        if (!task_done(t[i]))
            task_put(t[i]);
}

int main(void)
{
    static const struct unit_test tests[] = {
        TEST(fifo_order),
        TEST(wake_of_a_queued_task_is_not_duplicated),
        TEST(wake_during_poll_requeues_behind_the_others),
        TEST(pending_task_without_wake_is_not_polled_again),
        TEST(higher_priority_runs_first),
        TEST(fifo_policy_ignores_priority),
        TEST(join_waits_for_every_child),
        TEST(select_takes_the_first_and_cancels_the_rest),
        TEST(cancel_of_a_join_cancels_pending_children),
        TEST(chaos_order_is_random_but_repeats_with_its_seed),
        TEST(chaos_polls_pending_tasks_spuriously),
        TEST(no_memory_left_behind),
    };
    return RUN_TESTS(tests);
}
