/*
 * prio - coroutine priorities, in the runtime and as a hint to the kernel.
 *
 * 1. The runtime: 8 CPU-bound coroutines at priority 1 compute and yield
 *    in a loop; one coroutine wakes every 10 ms (an io_uring TIMEOUT).
 *    Every low-priority step run after the sleeper's completion has been
 *    reaped but before the sleeper itself runs counts as lag.  With the
 *    sleeper at priority 7 the lag must be 0 (it is served first); with
 *    it at priority 1, for comparison, it waits its turn behind the 8.
 *
 *        prio: sleeper at 7: max lag L yields, max late U us over W wake-ups
 *        prio: sleeper at 1: max lag L yields, ...
 *
 * 2. The kernel: processes whose runtime publishes hint 7 (a ready
 *    coroutine at 7) and processes that publish only 1 compete for the
 *    harts for ~300 ms; each counts its work (printed, not asserted:
 *    hints are clamped by the process's ceiling, PRIO_DEFAULT, and the
 *    run queues are per hart, so with several harts the outcome depends
 *    on where the threads land; on one hart the hint-1 process starves).
 *
 *        prio: kernel: hint 7 processes did A steps, hint 1 processes B
 *        prio: high served first (max lag L yields) ok
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "rt.h"
#include "ulib.h"

#define NLOW 8
#define WAKEUPS 30

static uint64_t spin(uint64_t x, int n)
{
    for (int i = 0; i < n; i++)
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    return x;
}

/* ---- 1. the runtime ----------------------------------------------------- */

struct sleeper {
    struct future base;
    struct rt_op nap;
    int i;
    uint64_t due_ns;
    long lag, max_lag;
    uint64_t max_late_ns;
    bool stop;
};

struct low {
    struct future base;
    struct sleeper *s;
    uint64_t x;
};

static enum poll sleeper_poll(struct future *base, struct cx *cx)
{
    struct sleeper *s = (struct sleeper *)base;
    ASYNC_BEGIN(s);
    for (s->i = 0; s->i < WAKEUPS; s->i++) {
        rt_sleep_init(&s->nap, 10 * 1000000ULL);
        s->due_ns = u_now_ns() + 10 * 1000000ULL;
        s->lag = 0;
        AWAIT(s, future_poll(&s->nap.base, cx));
        {
            /* the lows counted their steps since our completion was reaped */
            uint64_t now = u_now_ns();
            if (s->lag > s->max_lag)
                s->max_lag = s->lag;
            if (now > s->due_ns && now - s->due_ns > s->max_late_ns)
                s->max_late_ns = now - s->due_ns;
        }
    }
    s->stop = true;
    ASYNC_END(s);
}

static enum poll low_poll(struct future *base, struct cx *cx)
{
    struct low *l = (struct low *)base;
    ASYNC_BEGIN(l);
    while (!l->s->stop) {
        /* the sleeper's completion is in: it is ready and we run instead */
        if (l->s->nap.done)
            l->s->lag++;
        l->x = spin(l->x, 2000);
        YIELD(l, cx);
    }
    ASYNC_END(l);
}

static const struct future_ops sleeper_ops = { sleeper_poll, NULL, "sleeper" };
static const struct future_ops low_ops = { low_poll, NULL, "low" };

/* One run in a child process (a fresh runtime); the result comes back
 * through a pipe. */
struct result { long max_lag; uint64_t max_late_ns; };

static struct result runtime_run(int sleeper_prio)
{
    int fd[2];
    struct result res = { -1, 0 };
    if (pipe(fd) < 0)
        u_die("prio", "pipe", errno);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        if (rt_init(64) < 0)
            _exit(1);
        static struct sleeper s;
        static struct low low[NLOW];
        future_init(&s.base, &sleeper_ops);
        for (int i = 0; i < NLOW; i++) {
            future_init(&low[i].base, &low_ops);
            low[i].s = &s;
            rt_spawn(&low[i].base, 1);
        }
        rt_spawn(&s.base, sleeper_prio);
        rt_run(1);
        struct result r = { s.max_lag, s.max_late_ns };
        if (write(fd[1], &r, sizeof r) != sizeof r)
            _exit(1);
        _exit(0);
    }
    close(fd[1]);
    if (read(fd[0], &res, sizeof res) != sizeof res)
        res.max_lag = -1;
    close(fd[0]);
    waitpid(pid, NULL, 0);
    return res;
}

/* ---- 2. the kernel --------------------------------------------------------- */

struct hog {
    struct future base;
    uint64_t until_ns, steps, x;
};

static enum poll hog_poll(struct future *base, struct cx *cx)
{
    struct hog *h = (struct hog *)base;
    ASYNC_BEGIN(h);
    while (u_now_ns() < h->until_ns) {
        h->x = spin(h->x, 5000);
        h->steps++;
        YIELD(h, cx);           /* stays ready: the hint stays published */
    }
    ASYNC_END(h);
}

static const struct future_ops hog_ops = { hog_poll, NULL, "hog" };

/* Processes per hint: as many as harts, so the two kinds compete. */
static int harts(void)
{
    static int n;
    if (n)
        return n;
    char buf[2048];
    FILE *f = fopen("/proc/harts", "r");
    while (f && fgets(buf, sizeof buf, f))
        n += buf[0] >= '0' && buf[0] <= '9';       /* one line per hart */
    if (f)
        fclose(f);
    if (n < 1 || n > 16)
        n = 2;
    return n;
}

static void kernel_run(uint64_t *hi_steps, uint64_t *lo_steps)
{
    int n = harts();
    int fd[2];
    if (pipe(fd) < 0)
        u_die("prio", "pipe", errno);
    uint64_t start = u_now_ns() + 50 * 1000000ULL, until = start + 300 * 1000000ULL;
    pid_t pids[32];
    for (int i = 0; i < 2 * n; i++) {
        int hint = i % 2 ? 1 : 7;
        pid_t pid = fork();
        if (pid == 0) {
            close(fd[0]);
            if (rt_init(16) < 0)
                _exit(1);
            while (u_now_ns() < start)          /* everybody starts together */
                u_nanosleep(0, 1000000);
            static struct hog h;
            future_init(&h.base, &hog_ops);
            h.until_ns = until;
            rt_spawn(&h.base, hint);
            rt_run(1);
            uint64_t msg[2] = { (uint64_t)hint, h.steps };
            if (write(fd[1], msg, sizeof msg) != sizeof msg)
                _exit(1);
            _exit(0);
        }
        pids[i] = pid;
    }
    close(fd[1]);
    *hi_steps = *lo_steps = 0;
    uint64_t msg[2];
    while (read(fd[0], msg, sizeof msg) == sizeof msg)
        *(msg[0] == 7 ? hi_steps : lo_steps) += msg[1];
    close(fd[0]);
    for (int i = 0; i < 2 * n; i++)
        waitpid(pids[i], NULL, 0);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct result hi = runtime_run(7), eq = runtime_run(1);
    printf("prio: sleeper at 7: max lag %ld yields, max late %lu us over %d wake-ups\n", hi.max_lag,
           (unsigned long)(hi.max_late_ns / 1000), WAKEUPS);
    printf("prio: sleeper at 1: max lag %ld yields, max late %lu us (for comparison)\n", eq.max_lag,
           (unsigned long)(eq.max_late_ns / 1000));
    uint64_t hs, ls;
    kernel_run(&hs, &ls);
    printf("prio: kernel: %d processes with hint 7 did %lu steps, %d with hint 1 did %lu\n", harts(),
           (unsigned long)hs, harts(), (unsigned long)ls);
    if (hi.max_lag < 0 || hi.max_lag > 1) {
        printf("prio: FAILED: the high-priority coroutine waited %ld yields\n", hi.max_lag);
        return 1;
    }
    printf("prio: high served first (max lag %ld yields) ok\n", hi.max_lag);
    return 0;
}
