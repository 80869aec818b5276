/*
 * bench_uring - io_uring and coroutine-runtime costs, in instructions
 * (rdinstret; meaningful under QEMU -icount, as `make bench` runs it:
 * it then counts the instructions of every hart, and host time while
 * every hart idles, so nothing here waits on a clock).  Every figure is
 * the median of several rounds.
 *
 *   bench uring_nop_b1  N instructions    per NOP, batches of 1
 *   bench uring_nop_b8  N instructions    per NOP, batches of 8
 *   bench uring_nop_b64 N instructions    per NOP, batches of 64
 *       (fill the SQEs, one io_uring_enter(n, n, GETEVENTS) per batch,
 *        reap the n completions: submission to completion reaped)
 *   bench coro_switch N instructions      per switch: two coroutines
 *                                          yielding to each other
 *   bench coro10k N instructions          a whole run of coro10k: 10000
 *                                          coroutines, each a TIMEOUT (of
 *                                          0: nothing idles, see below) and
 *                                          a byte through a pipe
 *   bench uring_pipe_pingpong N instructions   per round trip: a coroutine
 *       in the parent and one in a forked child, each under its own
 *       runtime, one byte each way through two pipes
 *
 * Every part runs pinned to the hart the program starts on (u_pin_here):
 * the figures are one-hart figures at every hart count.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rt.h"
#include "ulib.h"
#include "uring_raw.h"

#define CORO10K_NO_MAIN
#include "coro10k.c"

#define ROUNDS 15
#define NOPS 2048

/* ---- NOPs, raw ----------------------------------------------------------- */

/* As an efficient runtime (or liburing) submits: the SQ array maps slot i
 * to SQE i once and for all (set in bench_nops), the SQEs were zeroed
 * once, and a NOP sets what io_uring_prep_nop would change. */
static uint64_t nop_round(struct uring *r, int batch)
{
    uint64_t t0 = u_rdinstret();
    for (int k = 0; k < NOPS / batch; k++) {
        uint32_t tail = r->tail;
        if (tail - atomic_load_explicit(r->sq_head, memory_order_acquire) + batch > r->sq_entries)
            u_die("bench_uring", "SQ ring full", EIO);
        for (int i = 0; i < batch; i++, tail++) {
            struct io_uring_sqe *s = &r->sqes[tail & r->sq_mask];
            s->opcode = IORING_OP_NOP;
            s->flags = 0;
            s->user_data = i;
        }
        r->tail = tail;
        if (uring_enter(r, batch, batch, IORING_ENTER_GETEVENTS) != batch)
            u_die("bench_uring", "io_uring_enter", EIO);
        uint32_t head = *r->cq_head, ctail = atomic_load_explicit(r->cq_tail, memory_order_acquire);
        if (ctail - head < (uint32_t)batch)
            u_die("bench_uring", "completions missing", EIO);
        for (; head != ctail; head++)
            if (r->cqes[head & r->cq_mask].res != 0)
                u_die("bench_uring", "NOP failed", EIO);
        atomic_store_explicit(r->cq_head, head, memory_order_release);
    }
    return (u_rdinstret() - t0) / NOPS;
}

static void bench_nops(void)
{
    struct uring r;
    if (uring_open(&r, 64, NULL) < 0)
        u_die("bench_uring", "io_uring_setup", EIO);
    memset(r.sqes, 0, r.sq_entries * sizeof *r.sqes);
    for (uint32_t i = 0; i < r.sq_entries; i++)
        r.sq_array[i] = i;
    static const int batches[] = { 1, 8, 64 };
    for (unsigned b = 0; b < ARRAY_SIZE(batches); b++) {
        uint64_t v[ROUNDS];
        nop_round(&r, batches[b]);          /* warm up */
        for (int i = 0; i < ROUNDS; i++)
            v[i] = nop_round(&r, batches[b]);
        printf("bench uring_nop_b%d %llu instructions\n", batches[b], (unsigned long long)u_median(v, ROUNDS));
    }
    uring_close(&r);
}

/* ---- coroutine switches ------------------------------------------------------ */

#define SWITCHES 2000

struct yielder { struct future base; int i; };

static enum poll yielder_poll(struct future *base, struct cx *cx)
{
    struct yielder *y = (struct yielder *)base;
    ASYNC_BEGIN(y);
    for (y->i = 0; y->i < SWITCHES; y->i++)
        YIELD(y, cx);
    ASYNC_END(y);
}

static const struct future_ops yielder_ops = { yielder_poll, NULL, "yielder" };

static void bench_switch(void)
{
    uint64_t v[ROUNDS];
    for (int round = -1; round < ROUNDS; round++) {
        static struct yielder a, b;
        future_init(&a.base, &yielder_ops);
        future_init(&b.base, &yielder_ops);
        uint64_t t0 = u_rdinstret();
        rt_spawn(&a.base, 1);
        rt_spawn(&b.base, 1);
        rt_run(1);
        if (round >= 0)
            v[round] = (u_rdinstret() - t0) / (2 * SWITCHES);
    }
    printf("bench coro_switch %llu instructions\n", (unsigned long long)u_median(v, ROUNDS));
}

/* ---- coro10k: each round in a fresh child (a fresh runtime) ------------------- */

#define CORO10K_ROUNDS 3

static void bench_coro10k(void)
{
    uint64_t v[CORO10K_ROUNDS];
    for (int round = 0; round < CORO10K_ROUNDS; round++) {
        int fd[2];
        if (pipe(fd) < 0)
            u_die("bench_uring", "pipe", errno);
        pid_t pid = fork();
        if (pid < 0)
            u_die("bench_uring", "fork", errno);
        if (pid == 0) {
            uint64_t instr = 0, ns;
            /* sleeps of 0 (TIMEOUTs expired at once): under -icount a
             * machine with every hart idle counts host time, and the
             * figure would not repeat */
            if (coro10k_run(10000, 0, &instr, &ns) != 0)
                instr = 0;
            if (write(fd[1], &instr, sizeof instr) != sizeof instr)
                _exit(1);
            _exit(0);
        }
        close(fd[1]);
        if (read(fd[0], &v[round], sizeof v[round]) != sizeof v[round] || v[round] == 0)
            u_die("bench_uring", "coro10k run failed", EIO);
        close(fd[0]);
        waitpid(pid, NULL, 0);
    }
    printf("bench coro10k %llu instructions\n", (unsigned long long)u_median(v, CORO10K_ROUNDS));
}

/* ---- pipe ping-pong between two runtimes --------------------------------------- */

#define TRIPS 200

struct pinger {
    struct future base;
    struct rt_op op;
    int out, in, round, i;
    bool echo;              /* the child: read then write, until EOF */
    char c;
    uint64_t t0, v[ROUNDS];
};

static enum poll pinger_poll(struct future *base, struct cx *cx)
{
    struct pinger *p = (struct pinger *)base;
    ASYNC_BEGIN(p);
    if (p->echo) {
        for (;;) {
            rt_read_init(&p->op, p->in, &p->c, 1);
            AWAIT(p, future_poll(&p->op.base, cx));
            if (p->op.res != 1)
                break;
            rt_write_init(&p->op, p->out, &p->c, 1);
            AWAIT(p, future_poll(&p->op.base, cx));
        }
    } else {
        for (p->round = -1; p->round < ROUNDS; p->round++) {
            p->t0 = u_rdinstret();
            for (p->i = 0; p->i < TRIPS; p->i++) {
                rt_write_init(&p->op, p->out, &p->c, 1);
                AWAIT(p, future_poll(&p->op.base, cx));
                rt_read_init(&p->op, p->in, &p->c, 1);
                AWAIT(p, future_poll(&p->op.base, cx));
                if (p->op.res != 1)
                    u_die("bench_uring", "ping-pong read", EIO);
            }
            if (p->round >= 0)
                p->v[p->round] = (u_rdinstret() - p->t0) / TRIPS;
        }
    }
    ASYNC_END(p);
}

static const struct future_ops pinger_ops = { pinger_poll, NULL, "pinger" };

static void bench_pingpong(void)
{
    int down[2], up[2];
    if (pipe(down) < 0 || pipe(up) < 0)
        u_die("bench_uring", "pipe", errno);
    static struct pinger p;
    future_init(&p.base, &pinger_ops);
    pid_t pid = fork();             /* before either has a runtime */
    if (pid < 0)
        u_die("bench_uring", "fork", errno);
    if (pid == 0) {
        close(down[1]);
        close(up[0]);
        p.echo = true;
        p.in = down[0];
        p.out = up[1];
        if (rt_init(16) < 0)
            _exit(1);
        rt_spawn(&p.base, 1);
        rt_run(1);
        _exit(0);
    }
    close(down[0]);
    close(up[1]);
    p.in = up[0];
    p.out = down[1];
    p.c = 'x';
    if (rt_init(16) < 0)
        u_die("bench_uring", "rt_init", EIO);
    rt_spawn(&p.base, 1);
    rt_run(1);
    close(down[1]);
    waitpid(pid, NULL, 0);
    printf("bench uring_pipe_pingpong %llu instructions\n", (unsigned long long)u_median(p.v, ROUNDS));
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    u_pin_here();   /* one hart: the forked child and the workers inherit it */
    const char *only = argc > 1 ? argv[1] : NULL;
    if (!only || !strcmp(only, "nop"))
        bench_nops();
    if (!only || !strcmp(only, "coro10k"))
        bench_coro10k();
    if (!only || !strcmp(only, "pingpong"))
        bench_pingpong();
    if (!only || !strcmp(only, "switch")) {
        if (rt_init(16) < 0)
            u_die("bench_uring", "rt_init", EIO);
        bench_switch();
    }
    if (only && !strcmp(only, "idle")) {
        /* does the counter run while every hart idles? */
        uint64_t t0 = u_rdinstret();
        u_nanosleep(0, 10000000);
        printf("bench_uring: a 10 ms sleep counts %llu instructions\n", (unsigned long long)(u_rdinstret() - t0));
    }
    return 0;
}
