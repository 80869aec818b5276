/*
 * bench.c - the kernel's own benchmarks, run by bootargs `bench` under
 * QEMU -icount shift=0.  Each prints `bench <name> <value> <unit>`.
 *
 * Under -icount, `time` advances one tick per 100 instructions executed
 * by the whole machine, so ticks * 100 counts instructions on every hart
 * together (idle harts in wfi execute none); `instret` counts this
 * hart's alone.
 */
#include "arch.h"
#include "instruments/bench.h"
#include "dev/console.h"
#include "core/executor.h"
#include "lib/klib.h"
#include "mem/kmalloc.h"
#include "core/latch.h"
#include "instruments/pingpong.h"
#include "lib/printk.h"
#include "core/timer.h"
#include "machine.h"

#define SPAWN_N 20000
#define PINGS 2000
#define IDLE_N 1000

static uint64_t machine_instructions(void) { return arch_time() * 100; }

void bench_report(const char *name, uint64_t value, const char *unit)
{
    printk("bench %s %lu %s\n", name, value, unit);
}

/* ---- spawn + complete ---------------------------------------------------- */

struct nop_task { struct future base; struct latch *latch; };
static enum poll nop_poll(struct future *base, struct cx *cx)
{
    (void)cx;
    latch_arrive(((struct nop_task *)base)->latch);
    return READY;
}
static const struct future_ops nop_ops = { nop_poll, NULL, "nop" };

/* ---- idle tasks ------------------------------------------------------------ */

struct idler { struct future base; struct waitq *wq; struct waiter w; volatile bool *go; struct latch *latch; };
static enum poll idler_poll(struct future *base, struct cx *cx)
{
    struct idler *d = (struct idler *)base;
    ASYNC_BEGIN(d);
    AWAIT_COND(d, cx, d->wq, &d->w, *d->go);
    latch_arrive(d->latch);
    ASYNC_END(d);
}
static const struct future_ops idler_ops = { idler_poll, NULL, "idler" };

struct bench {
    struct future base;
    struct latch latch;
    struct waiter w;
    uint64_t t0;
    long i;
    int phase;
    struct waitq wq;
    volatile bool go;
    size_t bytes0;
    struct task *user;          /* user-space benchmarks, when present */
    struct task_join join;
    struct sleep nap;
};

/* The pair is pinned, so the cross-hart figure crosses harts whatever
 * the stealing policy (an idle waker would otherwise steal the peer
 * back) -- except under wake=local, whose very question is what happens
 * when a woken task follows its waker. */
static bool start_pair(struct bench *b, unsigned hart_a, unsigned hart_b)
{
    b->t0 = machine_instructions();
    return pingpong_start(PINGS, hart_a, hart_b, !sched.wake_local, &b->latch);
}

static enum poll bench_poll(struct future *base, struct cx *cx)
{
    struct bench *b = (struct bench *)base;
    struct kmalloc_stats ks;
    ASYNC_BEGIN(b);
    /* let the other harts come up and settle in wfi */
    /* let the other harts come up: sleep, don't spin (under -icount a
     * spinning hart starves the others of instructions) */
    b->t0 = arch_time();
    while (harts_online() < nharts && arch_time() - b->t0 < time_ms(1000)) {
        sleep_init(&b->nap, time_ms(1));
        AWAIT(b, future_poll(&b->nap.base, cx));
    }
    printk("bench: %u harts online\n", harts_online());

    /* spawn + complete: SPAWN_N no-op tasks from this hart */
    latch_init(&b->latch, SPAWN_N);
    b->t0 = machine_instructions();
    for (b->i = 0; b->i < SPAWN_N; b->i++) {
        struct task *t;
        struct nop_task *n = task_alloc(sizeof *n, "nop", &t);
        if (!n)
            break;
        future_init(&n->base, &nop_ops);
        n->latch = &b->latch;
        task_start(t, TASK_NO_HART, false);
    }
    AWAIT_COND(b, cx, &b->latch.wq, &b->w, latch_done(&b->latch));
    bench_report("task_spawn", (machine_instructions() - b->t0) / SPAWN_N, "instructions");
    for (unsigned i = 0; i < nharts; i++)
        printk("bench: after task_spawn, hart %u has polled %lu tasks (%lu stolen), %lu IPIs in\n",
               i, harts[i].polls, harts[i].steals, harts[i].ipis_recv);

    /* wake-to-poll, same hart: half a ping-pong round trip */
    if (!start_pair(b, this_hart()->index, this_hart()->index))
        goto out;
    AWAIT_COND(b, cx, &b->latch.wq, &b->w, latch_done(&b->latch));
    bench_report("wake_same_hart", (machine_instructions() - b->t0) / (2 * PINGS), "instructions");

    if (nharts > 1) {
        unsigned me = this_hart()->index;
        if (!start_pair(b, me, (me + 1) % nharts))
            goto out;
        AWAIT_COND(b, cx, &b->latch.wq, &b->w, latch_done(&b->latch));
        bench_report("wake_cross_hart", (machine_instructions() - b->t0) / (2 * PINGS), "instructions");
    }

    /* kernel bytes per idle task */
    waitq_init(&b->wq, "bench.idle");
    b->go = false;
    latch_init(&b->latch, IDLE_N);
    kmalloc_get_stats(&ks);
    b->bytes0 = ks.live_bytes;
    for (b->i = 0; b->i < IDLE_N; b->i++) {
        struct task *t;
        struct idler *d = task_alloc(sizeof *d, "idler", &t);
        if (!d)
            break;
        future_init(&d->base, &idler_ops);
        d->wq = &b->wq; d->w.linked = false; d->go = &b->go; d->latch = &b->latch;
        task_start(t, TASK_NO_HART, false);
    }
    YIELD(b, cx);               /* every idler polled once and waiting */
    kmalloc_get_stats(&ks);
    bench_report("kbytes_per_idle_task", (ks.live_bytes - b->bytes0) / IDLE_N, "bytes");
    b->go = true;
    waitq_wake_all(&b->wq);
    AWAIT_COND(b, cx, &b->latch.wq, &b->w, latch_done(&b->latch));

    /* user-space figures, when there is a user space */
    b->user = bench_user_spawn();
    if (b->user) {
        task_join_init(&b->join, b->user);
        AWAIT(b, future_poll(&b->join.base, cx));
        task_put(b->user);
    }
out:
    printk("bench: done\n");
    console_flush();
    arch_poweroff(0);
    ASYNC_END(b);
}

static const struct future_ops bench_ops = { bench_poll, NULL, "bench" };

__attribute__((weak)) struct task *bench_user_spawn(void) { return NULL; }

void bench_start(void)
{
    if (bootarg_has("scale")) {
        bench_scale_start();
        return;
    }
    struct task *t;
    struct bench *b = task_alloc(sizeof *b, "bench", &t);
    if (!b)
        panic("no memory for bench");
    memset(b, 0, sizeof *b);
    future_init(&b->base, &bench_ops);
    task_start(t, TASK_NO_HART, false);
}
