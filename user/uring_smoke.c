/* uring_smoke - the smallest io_uring round trips: NOPs, then the
 * runtime with two coroutines (one sleeping, one writing). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "rt.h"

struct hello { struct future base; struct rt_op op; struct rt_op nap; int i; const char *who; };

static enum poll hello_poll(struct future *base, struct cx *cx)
{
    struct hello *h = (struct hello *)base;
    ASYNC_BEGIN(h);
    for (h->i = 0; h->i < 3; h->i++) {
        rt_sleep_init(&h->nap, 10 * 1000000ULL);
        AWAIT(h, future_poll(&h->nap.base, cx));
        rt_write_init(&h->op, 1, h->who, strlen(h->who));
        AWAIT(h, future_poll(&h->op.base, cx));
    }
    ASYNC_END(h);
}

static const struct future_ops hello_ops = { hello_poll, NULL, "hello" };

int main(void)
{
    if (rt_init(64) < 0) {
        perror("rt_init");
        return 1;
    }
    struct hello a, b;
    future_init(&a.base, &hello_ops);
    a.who = "coroutine a\n";
    future_init(&b.base, &hello_ops);
    b.who = "coroutine b\n";
    rt_spawn(&a.base, 1);
    rt_spawn(&b.base, 1);
    rt_run(1);
    struct rt_stats s;
    rt_get_stats(&s);
    printf("uring_smoke: ok enters=%lu waits=%lu completed=%lu\n", s.enters, s.waits, s.completed);
    return 0;
}
