/*
 * coread - a coroutine thread blocks only when all its coroutines wait.
 *
 * Two coroutines in one thread: `reader` awaits a line from the console
 * (an io_uring READ of fd 0, which stays pending in the kernel), while
 * `ticker` computes a little and prints `coread: tick N` every ~100 ms
 * (an io_uring TIMEOUT) for as long as no line has arrived.  The ticks
 * keep coming although a read is pending: the thread waits in the kernel
 * only when both coroutines are pending.  When a line arrives:
 *
 *     coread: got <line>
 *     coread: ticks T, enters E, waits W, completions C
 */
#include <stdio.h>
#include <string.h>
#include "rt.h"

static bool got_line;

struct reader {
    struct future base;
    struct rt_op op;
    char buf[256];
};

static enum poll reader_poll(struct future *base, struct cx *cx)
{
    struct reader *r = (struct reader *)base;
    ASYNC_BEGIN(r);
    rt_read_init(&r->op, 0, r->buf, sizeof r->buf - 1);
    AWAIT(r, future_poll(&r->op.base, cx));
    {
        int n = r->op.res > 0 ? r->op.res : 0;
        while (n > 0 && (r->buf[n - 1] == '\n' || r->buf[n - 1] == '\r'))
            n--;
        r->buf[n] = 0;
        if (r->op.res < 0)
            printf("coread: read failed: %d\n", r->op.res);
        else
            printf("coread: got %s\n", r->buf);
        got_line = true;
    }
    ASYNC_END(r);
}

struct ticker {
    struct future base;
    struct rt_op nap;
    int ticks;
    uint64_t sum;
};

static enum poll ticker_poll(struct future *base, struct cx *cx)
{
    struct ticker *t = (struct ticker *)base;
    ASYNC_BEGIN(t);
    while (!got_line) {
        /* some computation between naps */
        for (int i = 0; i < 20000; i++)
            t->sum = t->sum * 6364136223846793005ULL + 1442695040888963407ULL + (uint64_t)i;
        printf("coread: tick %d\n", ++t->ticks);
        rt_sleep_init(&t->nap, 100 * 1000000ULL);
        AWAIT(t, future_poll(&t->nap.base, cx));
    }
    ASYNC_END(t);
}

static const struct future_ops reader_ops = { reader_poll, NULL, "reader" };
static const struct future_ops ticker_ops = { ticker_poll, NULL, "ticker" };

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (rt_init(64) < 0) {
        printf("coread: rt_init failed\n");
        return 1;
    }
    static struct reader r;
    static struct ticker t;
    future_init(&r.base, &reader_ops);
    future_init(&t.base, &ticker_ops);
    rt_spawn(&r.base, 1);
    rt_spawn(&t.base, 1);
    rt_run(1);
    struct rt_stats s;
    rt_get_stats(&s);
    printf("coread: ticks %d, enters %lu, waits %lu, completions %lu\n", t.ticks,
           (unsigned long)s.enters, (unsigned long)s.waits, (unsigned long)s.completed);
    return 0;
}
