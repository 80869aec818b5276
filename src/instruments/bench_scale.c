/*
 * bench_scale.c - the scaling experiment (bootargs `bench scale`, run by
 * `make bench-plot` on 1, 2, 4 and 8 harts, with and without -icount).
 *
 * Every hart gets its own, independent share of each workload:
 *   pingpong  one ping-pong pair per hart, both tasks pinned to it
 *             (SCALE_PINGS rounds each way: an operation is one wake+poll)
 *   fork      /bin/scale fork N ITERS: one process per hart, pinned
 *   coro      /bin/scale coro N ITERS: one coroutine runtime per hart, pinned
 * so with perfect scaling the cost per operation summed over all harts
 * stays flat as N grows, and throughput grows with N.
 *
 * For each workload it prints the per-hart counters that show each hart
 * did its share, then the whole:
 *   scale <kind> hart=<i> polls=<polls on hart i during the workload>
 *   scale <kind> harts=<N> ops=<total> ns=<guest clock> insns=<rdinstret>
 * (the user workloads print their own lines too, see user/scale.c).
 * Under -icount, QEMU 7.2's rdinstret is one virtual clock for the whole
 * machine, so `insns` is the instructions of all harts together; without
 * -icount it is host time-stamp ticks and only `ns` (wall-clock time, as
 * the guest clock follows the host's) is meaningful.
 *
 * Each hart's own instruction count comes from outside: ci/hartinsn.c, a
 * QEMU plugin, counts per vCPU and records the counts whenever a hart
 * executes bench_scale_mark(), which this file calls at the start and
 * the end of every workload.
 */
#include "arch.h"
#include "dev/console.h"
#include "core/executor.h"
#include "core/latch.h"
#include "core/timer.h"
#include "fs/initrd.h"
#include "instruments/bench.h"
#include "instruments/pingpong.h"
#include "lib/klib.h"
#include "lib/printk.h"
#include "machine.h"
#include "proc/proc.h"

#define SCALE_PINGS 20000
#define SCALE_FORKS "150"
#define SCALE_NOPS "4000"

struct bench_scale {
    struct future base;
    struct latch pair[MAX_HARTS];
    struct waiter w;
    struct sleep nap;
    uint64_t t0, i0, polls0[MAX_HARTS];
    unsigned i;
    int pid;
    char nbuf[8];
};

/* The plugin's marker (ci/hartinsn.c finds it with nm): never inlined. */
__attribute__((noinline, used)) void bench_scale_mark(void)
{
    __asm__ volatile("nop");
}

static void begin(struct bench_scale *b)
{
    bench_scale_mark();
    for (unsigned i = 0; i < nharts; i++)
        b->polls0[i] = harts[i].polls;
    b->t0 = arch_time();
    b->i0 = arch_instret();
}

static void end(struct bench_scale *b, const char *kind, uint64_t ops)
{
    uint64_t insns = arch_instret() - b->i0;
    uint64_t ns = (arch_time() - b->t0) * 1000000000ULL / arch_timebase();
    bench_scale_mark();
    for (unsigned i = 0; i < nharts; i++)
        printk("scale %s hart=%u polls=%lu\n", kind, i, harts[i].polls - b->polls0[i]);
    printk("scale %s harts=%u ops=%lu ns=%lu insns=%lu\n", kind, nharts, ops, ns, insns);
}

static bool alive(int pid)
{
    spin_lock(&proc_lock);
    bool r = proc_find(pid) != NULL;
    spin_unlock(&proc_lock);
    return r;
}

static int spawn_scale(struct bench_scale *b, const char *kind, const char *iters)
{
    snprintf(b->nbuf, sizeof b->nbuf, "%u", nharts);
    const char *argv[] = { "/bin/scale", kind, b->nbuf, iters };
    return exec_spawn_argv(argv[0], 4, argv);
}

static enum poll bench_scale_poll(struct future *base, struct cx *cx)
{
    struct bench_scale *b = (struct bench_scale *)base;
    ASYNC_BEGIN(b);
    b->t0 = arch_time();
    while (harts_online() < nharts && arch_time() - b->t0 < time_ms(1000)) {
        sleep_init(&b->nap, time_ms(1));
        AWAIT(b, future_poll(&b->nap.base, cx));
    }
    printk("bench: %u harts online\n", harts_online());

    /* N pairs, pair i pinned to hart i, all started before any is awaited */
    begin(b);
    for (b->i = 0; b->i < nharts; b->i++)
        if (!pingpong_start(SCALE_PINGS, b->i, b->i, true, &b->pair[b->i]))
            panic("bench scale: no memory");
    for (b->i = 0; b->i < nharts; b->i++)
        AWAIT_COND(b, cx, &b->pair[b->i].wq, &b->w, latch_done(&b->pair[b->i]));
    end(b, "pingpong", 2UL * SCALE_PINGS * nharts);

    /* the user-space workloads, when the initrd has /bin/scale */
    {
        const uint8_t *d;
        size_t n;
        if (initrd_lookup("/bin/scale", &d, &n) < 0) {
            printk("bench: no /bin/scale in the initrd: kernel workload only\n");
            goto out;
        }
    }
    begin(b);
    b->pid = spawn_scale(b, "fork", SCALE_FORKS);
    while (b->pid > 0 && alive(b->pid)) {
        sleep_init(&b->nap, time_ms(5));
        AWAIT(b, future_poll(&b->nap.base, cx));
    }
    bench_scale_mark();
    for (unsigned i = 0; i < nharts; i++)
        printk("scale fork hart=%u polls=%lu\n", i, harts[i].polls - b->polls0[i]);

    begin(b);
    b->pid = spawn_scale(b, "coro", SCALE_NOPS);
    while (b->pid > 0 && alive(b->pid)) {
        sleep_init(&b->nap, time_ms(5));
        AWAIT(b, future_poll(&b->nap.base, cx));
    }
    bench_scale_mark();
    for (unsigned i = 0; i < nharts; i++)
        printk("scale coro hart=%u polls=%lu\n", i, harts[i].polls - b->polls0[i]);
out:
    printk("bench: done\n");
    console_flush();
    arch_poweroff(0);
    ASYNC_END(b);
}

static const struct future_ops bench_scale_ops = { bench_scale_poll, NULL, "bench_scale" };

void bench_scale_start(void)
{
    struct task *t;
    struct bench_scale *b = task_alloc(sizeof *b, "bench_scale", &t);
    if (!b)
        panic("no memory for bench scale");
    memset(b, 0, sizeof *b);
    future_init(&b->base, &bench_scale_ops);
    task_start(t, TASK_NO_HART, false);
}
