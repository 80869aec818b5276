/*
 * migrate - one set of coroutines over several runtime workers (threads,
 * one per hart): a coroutine woken while its worker is busy runs on an
 * idle worker, on another hart.
 *
 *     migrate [WORKERS]      default 2 (boot with several harts: SMP=4)
 *
 * The proof: coroutine `waiter` notes its hart and worker, starts a
 * CPU-bound coroutine `hog` on that same worker (the hog gives up at once
 * if another worker picked it up: then the attempt is repeated) and
 * sleeps 40 ms.  The hog computes in 5 ms steps, yielding between them,
 * so its worker reaps the sleep's completion between two steps, wakes the
 * waiter and goes on with the hog, which is first in the queue; the
 * wake-up message (IORING_OP_MSG_RING) has an idle worker, blocked in the
 * kernel, pick the waiter up:
 *
 *     migrate: coroutine resumed on hart X after hart Y (worker B after A)
 *
 * Then 64 coroutines sleep, compute and move bytes through pipes on all
 * the workers, and the last line is `migrate: ok`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "rt.h"
#include "ulib.h"

#define ATTEMPTS 20

static bool verbose;
#define CHUNK_NS (5 * 1000000ULL)

static uint64_t spin_for(uint64_t ns)
{
    uint64_t end = u_now_ns() + ns, x = 1;
    do
        for (int i = 0; i < 2000; i++)
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    while (u_now_ns() < end);
    return x;
}

/* ---- the proof ----------------------------------------------------------- */

struct hog {
    struct future base;
    int target;
    bool stop, on_target;
    long chunks;
    uint64_t x;
};

static enum poll hog_poll(struct future *base, struct cx *cx)
{
    struct hog *h = (struct hog *)base;
    ASYNC_BEGIN(h);
    if (rt_worker_index() != h->target)
        goto out;               /* another worker took it: no use */
    h->on_target = true;
    while (!h->stop) {
        h->x += spin_for(CHUNK_NS);
        h->chunks++;
        YIELD(h, cx);
    }
out:
    ASYNC_END(h);
}

struct waiter {
    struct future base;
    struct rt_op nap;
    struct rt_join join;
    struct hog hogs[ATTEMPTS];
    int attempt, cpu0, cpu1, w0, w1;
    bool proved;
};

static const struct future_ops hog_ops = { hog_poll, NULL, "hog" };

static enum poll waiter_poll(struct future *base, struct cx *cx)
{
    struct waiter *w = (struct waiter *)base;
    ASYNC_BEGIN(w);
    for (w->attempt = 0; w->attempt < ATTEMPTS && !w->proved; w->attempt++) {
        {
            struct hog *h = &w->hogs[w->attempt];
            w->cpu0 = rt_cpu();
            w->w0 = rt_worker_index();
            future_init(&h->base, &hog_ops);
            h->target = w->w0;
            rt_join_init(&w->join, rt_spawn(&h->base, 1));
        }
        rt_sleep_init(&w->nap, 40 * 1000000ULL);
        AWAIT(w, future_poll(&w->nap.base, cx));
        w->cpu1 = rt_cpu();
        w->w1 = rt_worker_index();
        {
            struct hog *h = &w->hogs[w->attempt];
            /* proved: the hog kept the old worker busy and we run elsewhere */
            w->proved = h->on_target && !h->stop && w->w1 != w->w0 && w->cpu1 != w->cpu0;
            if (verbose)
                printf("migrate: attempt %d: hart %d -> %d, worker %d -> %d, hog on target %d chunks %ld\n",
                       w->attempt, w->cpu0, w->cpu1, w->w0, w->w1, h->on_target, h->chunks);
            h->stop = true;
        }
        AWAIT(w, future_poll(&w->join.base, cx));
    }
    ASYNC_END(w);
}

static const struct future_ops waiter_ops = { waiter_poll, NULL, "waiter" };

/* ---- a shared set ------------------------------------------------------------ */

#define NSET 64

static int set_fds[8][2];
static long set_done, set_bad, set_moved;

struct member {
    struct future base;
    struct rt_op op;
    int i, round, last_worker;
    char c;
};

static enum poll member_poll(struct future *base, struct cx *cx)
{
    struct member *m = (struct member *)base;
    ASYNC_BEGIN(m);
    m->last_worker = rt_worker_index();
    for (m->round = 0; m->round < 4; m->round++) {
        rt_sleep_init(&m->op, (1 + m->i % 7) * 1000000ULL);
        AWAIT(m, future_poll(&m->op.base, cx));
        spin_for(200000);
        m->c = (char)m->i;
        /* even members write, odd ones read: pipe (i / 2) % 8 */
        if (m->i & 1)
            rt_read_init(&m->op, set_fds[(m->i / 2) % 8][0], &m->c, 1);
        else
            rt_write_init(&m->op, set_fds[(m->i / 2) % 8][1], &m->c, 1);
        AWAIT(m, future_poll(&m->op.base, cx));
        if (m->op.res != 1)
            __atomic_fetch_add(&set_bad, 1, __ATOMIC_RELAXED);
        if (rt_worker_index() != m->last_worker)
            __atomic_fetch_add(&set_moved, 1, __ATOMIC_RELAXED);
        m->last_worker = rt_worker_index();
    }
    __atomic_fetch_add(&set_done, 1, __ATOMIC_RELAXED);
    ASYNC_END(m);
}

static const struct future_ops member_ops = { member_poll, NULL, "member" };

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int n = argc > 1 ? (int)u_parse_ulong(argv[1]) : 2;
    verbose = argc > 2 && strcmp(argv[2], "-v") == 0;
    if (n < 2 || n > 16) {
        fprintf(stderr, "usage: migrate [workers 2..16]\n");
        return 2;
    }
    if (rt_init(64) < 0) {
        printf("migrate: rt_init failed\n");
        return 1;
    }
    static struct waiter w;
    future_init(&w.base, &waiter_ops);
    rt_spawn(&w.base, 1);
    rt_run(n);
    if (!w.proved) {
        printf("migrate: FAILED: no resumption on another hart in %d attempts (last: hart %d -> %d, worker %d -> %d)\n",
               ATTEMPTS, w.cpu0, w.cpu1, w.w0, w.w1);
        return 1;
    }
    printf("migrate: coroutine resumed on hart %d after hart %d (worker %d after %d; attempts: %d)\n", w.cpu1,
           w.cpu0, w.w1, w.w0, w.attempt);

    /* the shared set, on the same workers */
    for (int i = 0; i < 8; i++)
        if (pipe(set_fds[i]) < 0)
            u_die("migrate", "pipe", errno);
    static struct member m[NSET];
    for (int i = 0; i < NSET; i++) {
        future_init(&m[i].base, &member_ops);
        m[i].i = i;
        rt_spawn(&m[i].base, 1 + i % 3);
    }
    rt_run(n);
    struct rt_stats s;
    rt_get_stats(&s);
    printf("migrate: %ld of %d coroutines done on %d workers, %ld resumed on another worker, %ld bad; "
           "polls %lu, steals %lu, wake-ups sent %lu\n", set_done, NSET, n, set_moved, set_bad,
           (unsigned long)s.polls, (unsigned long)s.steals, (unsigned long)s.wakes_sent);
    if (set_done != NSET || set_bad) {
        printf("migrate: FAILED\n");
        return 1;
    }
    printf("migrate: ok\n");
    return 0;
}
