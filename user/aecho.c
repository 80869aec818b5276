/*
 * aecho - many concurrent coroutines echoing messages through pipes.
 *
 *     aecho [N [M]]      N echo coroutines (default 64), M messages each (16)
 *
 * Echo coroutine i owns a pipe: its writer coroutine sends M fixed-size
 * messages "aecho i=<i> m=<m> ..." into it, its reader coroutine reads
 * them back (whole messages, whatever pieces the pipe returns them in)
 * and checks every byte.  All of it is asynchronous (io_uring READ and
 * WRITE through the runtime), all pairs at once.
 *
 * A process has 64 file descriptors here, so the pairs are spread over
 * processes of at most PER_PROC pairs each (fork), each running its own
 * runtime; the parent adds up what they report.
 *
 *     aecho: N coroutines, M*N messages ok
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "rt.h"
#include "ulib.h"

#define MSG 32
#define PER_PROC 24

static int msgs = 16;

struct pair {
    int id, fd[2];
    long sent, received, bad;
};

struct writer {
    struct future base;
    struct pair *p;
    struct rt_op op;
    int m;
    char buf[MSG];
};

struct reader {
    struct future base;
    struct pair *p;
    struct rt_op op;
    int m, have;
    char buf[MSG];
};

static void make_msg(char *buf, int id, int m)
{
    memset(buf, '.', MSG);
    int n = snprintf(buf, MSG, "aecho i=%d m=%d ", id, m);
    buf[n] = '.';
    buf[MSG - 1] = '\n';
}

static enum poll writer_poll(struct future *base, struct cx *cx)
{
    struct writer *w = (struct writer *)base;
    ASYNC_BEGIN(w);
    for (w->m = 0; w->m < msgs; w->m++) {
        make_msg(w->buf, w->p->id, w->m);
        rt_write_init(&w->op, w->p->fd[1], w->buf, MSG);
        AWAIT(w, future_poll(&w->op.base, cx));
        if (w->op.res != MSG)
            w->p->bad++;
        else
            w->p->sent++;
    }
    ASYNC_END(w);
}

static enum poll reader_poll(struct future *base, struct cx *cx)
{
    struct reader *r = (struct reader *)base;
    ASYNC_BEGIN(r);
    for (r->m = 0; r->m < msgs; r->m++) {
        /* a message may come in pieces: read until it is whole */
        for (r->have = 0; r->have < MSG;) {
            rt_read_init(&r->op, r->p->fd[0], r->buf + r->have, MSG - r->have);
            AWAIT(r, future_poll(&r->op.base, cx));
            if (r->op.res <= 0) {
                r->p->bad++;
                goto out;
            }
            r->have += r->op.res;
        }
        {
            char want[MSG];
            make_msg(want, r->p->id, r->m);
            if (memcmp(want, r->buf, MSG) != 0)
                r->p->bad++;
            else
                r->p->received++;
        }
    }
out:
    ASYNC_END(r);
}

static const struct future_ops writer_ops = { writer_poll, NULL, "writer" };
static const struct future_ops reader_ops = { reader_poll, NULL, "reader" };

/* Run pairs [first, first + n) in this process; 0 if every message came back. */
static int run_pairs(int first, int n)
{
    if (rt_init(256) < 0) {
        printf("aecho: rt_init failed\n");
        return 1;
    }
    struct pair *p = calloc(n, sizeof *p);
    struct writer *w = calloc(n, sizeof *w);
    struct reader *r = calloc(n, sizeof *r);
    if (!p || !w || !r)
        u_die("aecho", "calloc", ENOMEM);
    for (int i = 0; i < n; i++) {
        p[i].id = first + i;
        if (pipe(p[i].fd) < 0)
            u_die("aecho", "pipe", errno);
        future_init(&w[i].base, &writer_ops);
        w[i].p = &p[i];
        future_init(&r[i].base, &reader_ops);
        r[i].p = &p[i];
        /* readers first: they all wait before anything is written */
        rt_spawn(&r[i].base, 1);
    }
    for (int i = 0; i < n; i++)
        rt_spawn(&w[i].base, 1);
    rt_run(1);
    long ok = 0, bad = 0;
    for (int i = 0; i < n; i++) {
        ok += p[i].received;
        bad += p[i].bad + (p[i].sent != msgs) + (p[i].received != msgs);
    }
    if (bad)
        printf("aecho: pairs %d..%d: %ld messages ok, %ld problems\n", first, first + n - 1, ok, bad);
    return bad != 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int n = argc > 1 ? (int)u_parse_ulong(argv[1]) : 64;
    if (argc > 2)
        msgs = (int)u_parse_ulong(argv[2]);
    if (n <= 0 || msgs <= 0) {
        fprintf(stderr, "usage: aecho [coroutines [messages]]\n");
        return 2;
    }
    int nproc = 0, failed = 0;
    pid_t pids[256];
    for (int first = 0; first < n && nproc < 256; first += PER_PROC) {
        int k = n - first < PER_PROC ? n - first : PER_PROC;
        if (n <= PER_PROC)
            return run_pairs(0, n) ? 1 : (printf("aecho: %d coroutines, %ld messages ok\n", n,
                                                 (long)n * msgs), 0);
        pid_t pid = fork();
        if (pid < 0)
            u_die("aecho", "fork", errno);
        if (pid == 0)
            _exit(run_pairs(first, k));
        pids[nproc++] = pid;
    }
    for (int i = 0; i < nproc; i++) {
        int st;
        if (waitpid(pids[i], &st, 0) != pids[i] || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            failed++;
    }
    if (failed) {
        printf("aecho: %d of %d processes failed\n", failed, nproc);
        return 1;
    }
    printf("aecho: %d coroutines, %ld messages ok (%d processes)\n", n, (long)n * msgs, nproc);
    return 0;
}
