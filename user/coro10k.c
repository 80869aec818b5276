/*
 * coro10k - ten thousand coroutines in one thread.
 *
 *     coro10k [N [MAX_SLEEP_US]]     default 10000 coroutines, sleeps up to 20000 us
 *
 * Every coroutine sleeps a random 1/20..1 of MAX_SLEEP_US (an io_uring
 * TIMEOUT), then moves one byte through one of NPIPES shared pipes:
 * coroutines 2j and 2j+1 are a writer and a reader of pipe j % NPIPES,
 * so every read finds its byte sooner or later.  The last line is
 *
 *     coro10k: N done in T ms (I instructions)
 *
 * (I from rdinstret: every instruction the machine ran meanwhile.)
 * Memory: a coroutine is ~200 bytes here plus one kernel task per
 * operation in flight; the ring has 2048 entries so that all the sleeps
 * fit in flight at once (the kernel allows 4 x CQ entries).
 *
 * bench_uring includes this file with CORO10K_NO_MAIN to time the run.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "rt.h"
#include "ulib.h"

#define NPIPES 24

struct coro10k {
    struct future base;
    struct rt_op op;
    uint32_t sleep_us;
    int fd;
    bool writer;
    char byte;
};

static long coro10k_bad, coro10k_done;

static enum poll coro10k_poll(struct future *base, struct cx *cx)
{
    struct coro10k *c = (struct coro10k *)base;
    ASYNC_BEGIN(c);
    rt_sleep_init(&c->op, (uint64_t)c->sleep_us * 1000);
    AWAIT(c, future_poll(&c->op.base, cx));
    if (c->op.res != -ETIME)
        coro10k_bad++;
    if (c->writer)
        rt_write_init(&c->op, c->fd, &c->byte, 1);
    else
        rt_read_init(&c->op, c->fd, &c->byte, 1);
    AWAIT(c, future_poll(&c->op.base, cx));
    if (c->op.res != 1)
        coro10k_bad++;
    coro10k_done++;
    ASYNC_END(c);
}

static const struct future_ops coro10k_ops = { coro10k_poll, NULL, "coro10k" };

/* Run n coroutines; 0 when all did what they should.  *instr and *ns get
 * the instructions and nanoseconds from the first spawn to the end. */
static int coro10k_run(int n, uint32_t max_us, uint64_t *instr, uint64_t *ns)
{
    if (rt_init(2048) < 0)
        return -1;
    int fds[NPIPES][2];
    for (int i = 0; i < NPIPES; i++)
        if (pipe(fds[i]) < 0)
            return -1;
    struct coro10k *c = calloc(n, sizeof *c);
    if (!c)
        return -1;
    uint64_t t0 = u_now_ns(), i0 = u_rdinstret();
    uint32_t seed = 12345;
    for (int i = 0; i < n; i++) {
        seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;     /* xorshift32 */
        future_init(&c[i].base, &coro10k_ops);
        c[i].sleep_us = max_us / 20 + seed % (max_us - max_us / 20 + 1);
        c[i].writer = (i & 1) == 0;
        c[i].fd = fds[(i / 2) % NPIPES][c[i].writer ? 1 : 0];
        c[i].byte = 'a' + i % 26;
        if (!rt_spawn(&c[i].base, 1))
            return -1;
    }
    rt_run(1);
    *instr = u_rdinstret() - i0;
    *ns = u_now_ns() - t0;
    for (int i = 0; i < NPIPES; i++)
        close(fds[i][0]), close(fds[i][1]);
    free(c);
    return coro10k_bad || coro10k_done != n ? 1 : 0;
}

#ifndef CORO10K_NO_MAIN
int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int n = argc > 1 ? (int)u_parse_ulong(argv[1]) : 10000;
    long max_us = argc > 2 ? u_parse_ulong(argv[2]) : 20000;
    if (n <= 0 || max_us < 0) {
        fprintf(stderr, "usage: coro10k [coroutines [max_sleep_us]]\n");
        return 2;
    }
    uint64_t instr, ns;
    int r = coro10k_run(n, (uint32_t)max_us, &instr, &ns);
    if (r < 0) {
        printf("coro10k: set-up failed: %s\n", strerror(errno));
        return 1;
    }
    struct rt_stats s;
    rt_get_stats(&s);
    printf("coro10k: %ld ok, %ld bad; enters %lu, waits %lu, completions %lu\n", coro10k_done,
           coro10k_bad, (unsigned long)s.enters, (unsigned long)s.waits, (unsigned long)s.completed);
    if (r) {
        printf("coro10k: FAILED\n");
        return 1;
    }
    printf("coro10k: %d done in %lu ms (%lu instructions)\n", n, (unsigned long)(ns / 1000000),
           (unsigned long)instr);
    return 0;
}
#endif
