/*
 * ktest.c - the kernel self-tests, run by `ktest` in the monitor or
 * bootargs `ktest` (which powers off with the result as exit status).
 *
 * Each test is a future run as its own task; the runner awaits it under
 * a timeout, so a lost wake-up shows up as a failed test, not a hang.
 */
#include "arch.h"
#include "dev/console.h"
#include "core/chaos.h"
#include "core/executor.h"
#include "lib/klib.h"
#include "mem/kmalloc.h"
#include "core/latch.h"
#include "instruments/monitor.h"
#include "mem/page_alloc.h"
#include "lib/printk.h"
#include "core/timer.h"

struct ktest {
    struct future base;
    const char *fail;           /* NULL: passed */
};

#define KTEST_FAIL(t, why) do { (t)->k.fail = (why); goto done; } while (0)

/* ---- 1. spawn 100,000 tasks across all harts ---------------------------- */

#define SPAWN_TOTAL 100000
#define SPAWN_WAVE 5000

struct counter_task {
    struct future base;
    struct latch *latch;
    _Atomic long *count;
};

static enum poll counter_poll(struct future *base, struct cx *cx)
{
    (void)cx;
    struct counter_task *c = (struct counter_task *)base;
    atomic_fetch_add(c->count, 1);
    latch_arrive(c->latch);
    return READY;
}
static const struct future_ops counter_ops = { counter_poll, NULL, "counter" };

struct t_spawn {
    struct ktest k;
    struct latch latch;
    struct waiter w;
    _Atomic long count;
    long spawned, wave_end;
};

static enum poll t_spawn_poll(struct future *base, struct cx *cx)
{
    struct t_spawn *t = (struct t_spawn *)base;
    ASYNC_BEGIN(&t->k);
    atomic_store(&t->count, 0);
    for (t->spawned = 0; t->spawned < SPAWN_TOTAL;) {
        latch_init(&t->latch, SPAWN_WAVE);
        for (t->wave_end = t->spawned + SPAWN_WAVE; t->spawned < t->wave_end; t->spawned++) {
            struct task *task;
            struct counter_task *c = task_alloc(sizeof *c, "counter", &task);
            if (!c)
                KTEST_FAIL(t, "task_alloc failed");
            future_init(&c->base, &counter_ops);
            c->latch = &t->latch;
            c->count = &t->count;
            task_start(task, t->spawned % nharts, false);
            if (t->spawned % 512 == 511)
                YIELD(&t->k, cx);       /* a long poll gives way */
        }
        AWAIT_COND(&t->k, cx, &t->latch.wq, &t->w, latch_done(&t->latch));
    }
    if (atomic_load(&t->count) != SPAWN_TOTAL)
        KTEST_FAIL(t, "count mismatch");
done:
    ASYNC_END(&t->k);
}

/* ---- 2. cross-hart wake storm ------------------------------------------- */

#define STORM_RECEIVERS 32
#define STORM_TOKENS 400        /* per sender per receiver */

struct receiver {
    struct future base;
    _Atomic long tokens;        /* sent, not yet taken */
    long taken, expected, polls;
    _Atomic int in_poll;
    _Atomic int *overlap;       /* set if polled on two harts at once */
    struct latch *latch;
};

static enum poll receiver_poll(struct future *base, struct cx *cx)
{
    (void)cx;
    struct receiver *r = (struct receiver *)base;
    if (atomic_exchange(&r->in_poll, 1))
        atomic_store(r->overlap, 1);
    r->polls++;
    r->taken += atomic_exchange(&r->tokens, 0);
    atomic_store(&r->in_poll, 0);
    if (r->taken < r->expected)
        return PENDING;
    latch_arrive(r->latch);
    return READY;
}
static const struct future_ops receiver_ops = { receiver_poll, NULL, "receiver" };

struct sender {
    struct future base;
    struct receiver **rx;
    struct task **rt;
    struct latch *latch;
    long i;
};

static enum poll sender_poll(struct future *base, struct cx *cx)
{
    struct sender *s = (struct sender *)base;
    ASYNC_BEGIN(s);
    for (s->i = 0; s->i < STORM_TOKENS * STORM_RECEIVERS; s->i++) {
        struct receiver *r = s->rx[s->i % STORM_RECEIVERS];
        atomic_fetch_add(&r->tokens, 1);
        task_wake(s->rt[s->i % STORM_RECEIVERS]);
        if (s->i % 64 == 63)
            YIELD(s, cx);
    }
    latch_arrive(s->latch);
    ASYNC_END(s);
}
static const struct future_ops sender_ops = { sender_poll, NULL, "sender" };

struct t_storm {
    struct ktest k;
    struct receiver *rx[STORM_RECEIVERS];
    struct task *rt[STORM_RECEIVERS];
    struct latch rx_done, tx_done;
    struct waiter w;
    _Atomic int overlap;
    int i;
};

static enum poll t_storm_poll(struct future *base, struct cx *cx)
{
    struct t_storm *t = (struct t_storm *)base;
    ASYNC_BEGIN(&t->k);
    latch_init(&t->rx_done, STORM_RECEIVERS);
    latch_init(&t->tx_done, nharts);
    for (t->i = 0; t->i < STORM_RECEIVERS; t->i++) {
        struct receiver *r = task_alloc(sizeof *r, "receiver", &t->rt[t->i]);
        if (!r)
            KTEST_FAIL(t, "no memory");
        future_init(&r->base, &receiver_ops);
        atomic_store(&r->tokens, 0);
        r->taken = r->polls = 0;
        r->expected = (long)STORM_TOKENS * nharts;
        atomic_store(&r->in_poll, 0);
        r->overlap = &t->overlap;
        r->latch = &t->rx_done;
        t->rx[t->i] = r;
        task_start(t->rt[t->i], t->i % nharts, true);
    }
    for (t->i = 0; t->i < (int)nharts; t->i++) {
        struct task *st;
        struct sender *s = task_alloc(sizeof *s, "sender", &st);
        if (!s)
            KTEST_FAIL(t, "no memory");
        future_init(&s->base, &sender_ops);
        s->rx = t->rx;
        s->rt = t->rt;
        s->latch = &t->tx_done;
        task_start(st, t->i, false);
    }
    AWAIT_COND(&t->k, cx, &t->tx_done.wq, &t->w, latch_done(&t->tx_done));
    AWAIT_COND(&t->k, cx, &t->rx_done.wq, &t->w, latch_done(&t->rx_done));
    for (t->i = 0; t->i < STORM_RECEIVERS; t->i++) {
        struct receiver *r = t->rx[t->i];
        if (r->taken != r->expected)
            KTEST_FAIL(t, "lost tokens");
        /* chaos wakes it spuriously on purpose: those polls are not duplicates */
        if (r->polls - (long)t->rt[t->i]->spurious > r->expected + 1)
            KTEST_FAIL(t, "more polls than wakes: a duplicated wake-up");
        task_put(t->rt[t->i]);
    }
    if (atomic_load(&t->overlap))
        KTEST_FAIL(t, "a task was polled on two harts at once");
done:
    ASYNC_END(&t->k);
}

/* ---- 3. join / select / timeout / cancel -------------------------------- */

/* A future that never completes unless `flag` is set: waits on wq. */
struct gate {
    struct future base;
    struct waitq *wq;
    struct waiter w;
    volatile bool *flag;
};

static enum poll gate_poll(struct future *base, struct cx *cx)
{
    struct gate *g = (struct gate *)base;
    ASYNC_BEGIN(g);
    AWAIT_COND(g, cx, g->wq, &g->w, *g->flag);
    ASYNC_END(g);
}
static void gate_cancel(struct future *base)
{
    struct gate *g = (struct gate *)base;
    waitq_unregister(g->wq, &g->w);
}
static const struct future_ops gate_ops = { gate_poll, gate_cancel, "gate" };

static void gate_init(struct gate *g, struct waitq *wq, volatile bool *flag)
{
    future_init(&g->base, &gate_ops);
    g->wq = wq;
    g->w.linked = false;
    g->flag = flag;
}

struct t_comb {
    struct ktest k;
    struct sleep a, b;
    struct join join;
    struct select sel;
    struct gate gate;
    struct timeout to;
    struct waitq wq;
    volatile bool flag;
    uint64_t t0;
    size_t sleepers;
};

static enum poll t_comb_poll(struct future *base, struct cx *cx)
{
    struct t_comb *t = (struct t_comb *)base;
    struct future *c[2];
    uint64_t el;
    ASYNC_BEGIN(&t->k);
    /* join waits for both */
    t->t0 = arch_time();
    sleep_init(&t->a, time_ms(10));
    sleep_init(&t->b, time_ms(30));
    c[0] = &t->a.base; c[1] = &t->b.base;
    join_init(&t->join, c, 2);
    AWAIT(&t->k, future_poll(&t->join.base, cx));
    if (arch_time() - t->t0 < time_ms(30))
        KTEST_FAIL(t, "join finished before its slower child");

    /* select takes the first and cancels the other's timer */
    t->sleepers = timer_pending();
    t->t0 = arch_time();
    sleep_init(&t->a, time_ms(500));
    sleep_init(&t->b, time_ms(10));
    c[0] = &t->a.base; c[1] = &t->b.base;
    select_init(&t->sel, c, 2);
    AWAIT(&t->k, future_poll(&t->sel.base, cx));
    el = arch_time() - t->t0;
    if (t->sel.winner != 1 || el < time_ms(10) || el >= time_ms(500))
        KTEST_FAIL(t, "select picked the wrong child");
    if (t->a.node.linked || timer_pending() != t->sleepers)
        KTEST_FAIL(t, "select left the loser's timer armed");

    /* timeout fires on a gate that never opens, and unregisters it */
    waitq_init(&t->wq, "ktest.gate");
    t->flag = false;
    gate_init(&t->gate, &t->wq, &t->flag);
    timeout_init(&t->to, &t->gate.base, time_ms(20));
    AWAIT(&t->k, future_poll(&t->to.d.base, cx));
    if (!t->to.d.timed_out)
        KTEST_FAIL(t, "timeout did not fire");
    if (t->wq.head || t->gate.w.linked)
        KTEST_FAIL(t, "timeout left a waker registered");

    /* timeout does not fire when the child is first */
    t->flag = false;
    gate_init(&t->gate, &t->wq, &t->flag);
    timeout_init(&t->to, &t->gate.base, time_ms(1000));
    sleep_init(&t->a, time_ms(5));
    c[0] = &t->to.d.base; c[1] = &t->a.base;
    join_init(&t->join, c, 2);
    /* open the gate once the short sleep is done (join polls both) */
    AWAIT(&t->k, (t->a.node.deadline <= arch_time() && !t->flag
                  ? (t->flag = true, waitq_wake_all(&t->wq), PENDING)
                  : future_poll(&t->join.base, cx)));
    if (t->to.d.timed_out || t->to.sleep.node.linked)
        KTEST_FAIL(t, "timeout fired although its child finished");

    /* cancel of a pending future unregisters it */
    t->flag = false;
    gate_init(&t->gate, &t->wq, &t->flag);
    if (future_poll(&t->gate.base, cx) != PENDING || !t->wq.head)
        KTEST_FAIL(t, "gate did not register");
    future_cancel(&t->gate.base);
    if (t->wq.head)
        KTEST_FAIL(t, "cancel left the waker registered");
done:
    ASYNC_END(&t->k);
}

/* ---- 4. timer ordering -------------------------------------------------- */

#define TIMER_N 300

struct sleeper {
    struct future base;
    struct sleep s;
    uint64_t first_poll;        /* due already at the first poll: no order to check */
    _Atomic long *order;
    long my_order;
    uint64_t woke_at;
    struct latch *latch;
};

static enum poll sleeper_poll(struct future *base, struct cx *cx)
{
    struct sleeper *z = (struct sleeper *)base;
    ASYNC_BEGIN(z);
    z->first_poll = arch_time();
    AWAIT(z, future_poll(&z->s.base, cx));
    z->woke_at = arch_time();
    z->my_order = atomic_fetch_add(z->order, 1);
    latch_arrive(z->latch);
    ASYNC_END(z);
}
static const struct future_ops sleeper_ops = { sleeper_poll, NULL, "sleeper" };

struct t_timer {
    struct ktest k;
    struct sleeper *z[TIMER_N];
    struct task *zt[TIMER_N];
    struct latch latch;
    struct waiter w;
    _Atomic long order;
    int i;
};

/* Deadline order is a property of one hart's heap, so this test pins
 * every sleeper to this hart. */
static enum poll t_timer_poll(struct future *base, struct cx *cx)
{
    struct t_timer *t = (struct t_timer *)base;
    ASYNC_BEGIN(&t->k);
    latch_init(&t->latch, TIMER_N);
    atomic_store(&t->order, 0);
    uint64_t now = arch_time(), seed = 12345;
    for (t->i = 0; t->i < TIMER_N; t->i++) {
        struct sleeper *z = task_alloc(sizeof *z, "sleeper", &t->zt[t->i]);
        if (!z)
            KTEST_FAIL(t, "no memory");
        future_init(&z->base, &sleeper_ops);
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        sleep_until_init(&z->s, now + time_ms(20) + (seed >> 33) % time_ms(60));
        z->order = &t->order;
        z->latch = &t->latch;
        t->z[t->i] = z;
        task_pin(t->zt[t->i], this_hart()->index);   /* all on this hart's heap */
        task_start(t->zt[t->i], TASK_NO_HART, true);
    }
    AWAIT_COND(&t->k, cx, &t->latch.wq, &t->w, latch_done(&t->latch));
    for (t->i = 0; t->i < TIMER_N; t->i++) {
        struct sleeper *a = t->z[t->i];
        if (a->woke_at < a->s.node.deadline)
            KTEST_FAIL(t, "a sleeper woke early");
        for (int j = 0; j < TIMER_N; j++) {
            struct sleeper *b = t->z[j];
            if (a->first_poll >= a->s.node.deadline || b->first_poll >= b->s.node.deadline)
                continue;       /* one never slept (a slow host): no order to check */
            if (chaos_on)
                continue;       /* chaos queues woken sleepers anywhere, in any order */
            if (a->s.node.deadline < b->s.node.deadline && a->my_order > b->my_order
                && a->woke_at > b->s.node.deadline)   /* both due at once: either order */
                KTEST_FAIL(t, "sleepers woke out of deadline order");
        }
    }
    for (t->i = 0; t->i < TIMER_N; t->i++)
        task_put(t->zt[t->i]);
done:
    ASYNC_END(&t->k);
}

/* ---- 5. allocator exhaustion and recovery ------------------------------- */

struct t_alloc { struct ktest k; };

static enum poll t_alloc_poll(struct future *base, struct cx *cx)
{
    (void)cx;
    struct t_alloc *t = (struct t_alloc *)base;
    struct page_stats p0, p1;
    struct kmalloc_stats k0, k1;
    void *list = NULL;
    long n = 0;
    page_get_stats(&p0);
    kmalloc_get_stats(&k0);
    /* pages until none are left; the pages hold the list */
    for (void *p; (p = page_alloc()) != NULL; n++) {
        *(void **)p = list;
        list = p;
    }
    if (n < (long)p0.free_pages / 2)
        t->k.fail = "ran out of pages far too early";
    if (kmalloc(64) != NULL && !t->k.fail)
        t->k.fail = "kmalloc succeeded with no pages left";
    while (list) {
        void *next = *(void **)list;
        page_free(list);
        list = next;
    }
    page_get_stats(&p1);
    /* >=, not ==: tasks of earlier tests may still be freeing on other harts */
    if (!t->k.fail && p1.free_pages < p0.free_pages)
        t->k.fail = "pages not all returned";
    /* objects until none are left */
    for (void *p; (p = kmalloc(512)) != NULL;) {
        *(void **)p = list;
        list = p;
    }
    while (list) {
        void *next = *(void **)list;
        kfree(list);
        list = next;
    }
    kmalloc_get_stats(&k1);
    page_get_stats(&p1);
    if (!t->k.fail && (k1.live_objects > k0.live_objects || p1.free_pages < p0.free_pages))
        t->k.fail = "kmalloc did not recover";
    base->resume = RESUME_DONE;
    return READY;
}

/* ---- 5b. pinned tasks stay on their hart, stealing on ----------------- */

#define PIN_N 16
#define PIN_YIELDS 40

struct pinned {
    struct future base;
    unsigned want;              /* the hart it is pinned to */
    int i;
    _Atomic long *strays;       /* polls that ran elsewhere */
    struct latch *latch;
};

static enum poll pinned_poll(struct future *base, struct cx *cx)
{
    struct pinned *p = (struct pinned *)base;
    ASYNC_BEGIN(p);
    /* each YIELD queues it again behind the others: a queue that idle
     * harts would steal from, were the tasks not pinned */
    for (p->i = 0; p->i < PIN_YIELDS; p->i++) {
        if (this_hart()->index != p->want)
            atomic_fetch_add(p->strays, 1);
        YIELD(p, cx);
    }
    latch_arrive(p->latch);
    ASYNC_END(p);
}
static const struct future_ops pinned_ops = { pinned_poll, NULL, "pinned" };

struct t_pin {
    struct ktest k;
    struct latch latch;
    struct waiter w;
    _Atomic long strays;
    int i;
};

static enum poll t_pin_poll(struct future *base, struct cx *cx)
{
    struct t_pin *t = (struct t_pin *)base;
    ASYNC_BEGIN(&t->k);
    atomic_store(&t->strays, 0);
    latch_init(&t->latch, PIN_N);
    for (t->i = 0; t->i < PIN_N; t->i++) {
        struct task *pt;
        struct pinned *p = task_alloc(sizeof *p, "pinned", &pt);
        if (!p)
            KTEST_FAIL(t, "no memory");
        future_init(&p->base, &pinned_ops);
        /* half on this hart, half on the next one */
        p->want = (this_hart()->index + (t->i & 1)) % nharts;
        p->strays = &t->strays;
        p->latch = &t->latch;
        task_pin(pt, p->want);
        task_start(pt, TASK_NO_HART, false);
    }
    AWAIT_COND(&t->k, cx, &t->latch.wq, &t->w, latch_done(&t->latch));
    if (atomic_load(&t->strays))
        KTEST_FAIL(t, "a pinned task was polled on another hart");
done:
    ASYNC_END(&t->k);
}

/* ---- 6, 7. address spaces and files (src/instruments/ktest_mm.c, src/instruments/ktest_files.c) --- */

const char *ktest_mm(void);
const char *ktest_files(void);

static enum poll t_mm_poll(struct future *base, struct cx *cx)
{
    (void)cx;
    ((struct ktest *)base)->fail = ktest_mm();
    base->resume = RESUME_DONE;
    return READY;
}

static enum poll t_files_poll(struct future *base, struct cx *cx)
{
    (void)cx;
    ((struct ktest *)base)->fail = ktest_files();
    base->resume = RESUME_DONE;
    return READY;
}

/* ---- 7b. ext2's locks (src/instruments/ktest_ext2lock.c) ------------------- */

const char *ktest_ext2_locks(void);

static enum poll t_ext2lock_poll(struct future *base, struct cx *cx)
{
    (void)cx;
    ((struct ktest *)base)->fail = ktest_ext2_locks();
    base->resume = RESUME_DONE;
    return READY;
}

/* ---- 8. wakes racing cancels (src/instruments/ktest_waitq.c) ---------------- */

enum poll ktest_waitq_poll(struct future *base, struct cx *cx);
struct t_waitq_room { struct ktest k; char room[512 - sizeof(struct ktest)]; };

/* ---- the runner ---------------------------------------------------------- */

struct ktest_case {
    const char *name;
    size_t size;
    enum poll (*poll)(struct future *, struct cx *);
    uint64_t timeout_ms;
};

enum poll ktest_blk_poll(struct future *base, struct cx *cx);   /* ktest_blk.c */
struct t_blk_size { char b[1024]; };

#define CASE(n, T, p, ms) { n, sizeof(struct T), p, ms }
static const struct ktest_case cases[] = {
    CASE("spawn_100k_tasks", t_spawn, t_spawn_poll, 60000),
    CASE("cross_hart_wake_storm", t_storm, t_storm_poll, 30000),
    CASE("join_select_timeout_cancel", t_comb, t_comb_poll, 10000),
    CASE("timer_ordering", t_timer, t_timer_poll, 10000),
    CASE("pinned_tasks_stay_on_their_hart", t_pin, t_pin_poll, 10000),
    CASE("alloc_exhaustion_recovery", t_alloc, t_alloc_poll, 30000),
    CASE("address_spaces", ktest, t_mm_poll, 30000),
    CASE("files_and_pipes", ktest, t_files_poll, 30000),
    CASE("ext2_inode_locks", ktest, t_ext2lock_poll, 10000),
    CASE("waitq_wake_vs_cancel", t_waitq_room, ktest_waitq_poll, 30000),
    CASE("disk_32_requests_in_flight", t_blk_size, ktest_blk_poll, 30000),
};

static struct future_ops case_ops[ARRAY_SIZE(cases)];

struct runner {
    struct future base;
    struct sleep settle;
    bool exit_after;
    int i, passed, failed;
    uint64_t t0;
    struct task *child;
    struct task_join join;
    struct timeout to;
};

static enum poll runner_poll(struct future *base, struct cx *cx)
{
    struct runner *r = (struct runner *)base;
    ASYNC_BEGIN(r);
    printk("ktest: running %d tests on %u harts\n", (int)ARRAY_SIZE(cases), nharts);
    for (r->i = 0; r->i < (int)ARRAY_SIZE(cases); r->i++) {
        /* let the previous test's tasks finish dying on the other harts */
        sleep_init(&r->settle, time_ms(20));
        AWAIT(r, future_poll(&r->settle.base, cx));
        const struct ktest_case *c = &cases[r->i];
        struct ktest *k = task_alloc(c->size, c->name, &r->child);
        if (!k) {
            printk("ktest: %s ... FAIL (no memory)\n", c->name);
            r->failed++;
            continue;
        }
        memset(k, 0, c->size);
        case_ops[r->i] = (struct future_ops){ c->poll, NULL, c->name };
        future_init(&k->base, &case_ops[r->i]);
        r->t0 = arch_time();
        task_start(r->child, TASK_NO_HART, true);
        task_join_init(&r->join, r->child);
        timeout_init(&r->to, &r->join.base, time_ms(c->timeout_ms));
        AWAIT(r, future_poll(&r->to.d.base, cx));
        if (r->to.d.timed_out) {
            /* the test task is stuck: a lost wake-up; leak it, report it */
            printk("ktest: %s ... FAIL (timed out after %lu ms)\n", cases[r->i].name,
                   cases[r->i].timeout_ms);
            r->failed++;
            continue;
        }
        k = (struct ktest *)r->child->root;
        if (k->fail) {
            printk("ktest: %s ... FAIL (%s)\n", cases[r->i].name, k->fail);
            r->failed++;
        } else {
            printk("ktest: %s ... ok (%lu ms)\n", cases[r->i].name,
                   (arch_time() - r->t0) * 1000 / arch_timebase());
            r->passed++;
        }
        task_put(r->child);
    }
    if (chaos_on) {
        uint64_t n, f = chaos_fingerprint(&n);
        printk("ktest: chaos seed %lu, %lu choices, fingerprint %016lx\n", chaos_seed(), n, f);
    }
    printk("ktest: %d passed, %d failed\n", r->passed, r->failed);
    if (r->exit_after) {
        console_flush();
        arch_poweroff(r->failed ? 1 : 0);
    }
    ASYNC_END(r);
}

static const struct future_ops runner_ops = { runner_poll, NULL, "ktest" };

struct task *ktest_spawn(bool exit_after)
{
    struct task *t;
    struct runner *r = task_alloc(sizeof *r, "ktest", &t);
    if (!r)
        return NULL;
    memset(r, 0, sizeof *r);
    future_init(&r->base, &runner_ops);
    r->exit_after = exit_after;
    task_start(t, TASK_NO_HART, true);
    return t;
}

void ktest_start(bool exit_after)
{
    struct task *t = ktest_spawn(exit_after);
    if (!t)
        panic("no memory for ktest");
    task_put(t);
}
