/*
 * bench_user.c - the user-space benchmarks for `make bench`: each
 * program in the list runs alone, one after the other, and prints its
 * own `bench ...` line (it reads rdinstret itself).
 */
#include "arch.h"
#include "dev/blk.h"
#include "machine.h"
#include "instruments/bench.h"
#include "core/executor.h"
#include "fs/initrd.h"
#include "lib/klib.h"
#include "mem/kmalloc.h"
#include "lib/printk.h"
#include "proc/proc.h"

static const char *const programs[] = {
    "/bin/bench_syscall", "/bin/bench_yield", "/bin/bench_pipe",
    "/bin/bench_fork", "/bin/bench_exec", "/bin/bench_uring", "/bin/bench_procmem",
    "/bin/bench_fs",            /* needs the bench disk (vda): skipped without one */
};

struct bench_user {
    struct future base;
    unsigned i;
    int pid;
    char arg[32];
    struct sleep nap;
};

/* bootargs benchprog=/bin/x[,arg]: only that program (one figure set,
 * quickly), with that one argument if given (bench_uring's parts, for
 * ci/insnprof.py).  True if `prog` is to run; *arg is its argument or "". */
static bool selected(const char *prog, char *arg, size_t n)
{
    arg[0] = 0;
    const char *want = bootarg_value("benchprog");
    if (!want)
        return true;
    size_t len = strlen(prog);
    if (strncmp(want, prog, len) || (want[len] && want[len] != ','))
        return false;
    if (want[len] == ',')
        strlcpy(arg, want + len + 1, n);
    return true;
}

static bool alive(int pid)
{
    spin_lock(&proc_lock);
    bool r = proc_find(pid) != NULL;
    spin_unlock(&proc_lock);
    return r;
}

static enum poll bench_user_poll(struct future *base, struct cx *cx)
{
    struct bench_user *b = (struct bench_user *)base;
    ASYNC_BEGIN(b);
    {
        /* a blocked thread holds its task and struct thread (one block),
         * nothing else: no kernel stack */
        void *probe = kmalloc(sizeof(struct task) + sizeof(struct thread));
        if (probe) {
            bench_report("kbytes_per_thread", ksize(probe), "bytes");
            kfree(probe);
        }
    }
    for (b->i = 0; b->i < ARRAY_SIZE(programs); b->i++) {
        if (!strcmp(programs[b->i], "/bin/bench_fs") && !blk_count())
            continue;
        if (!selected(programs[b->i], b->arg, sizeof b->arg))
            continue;
        const char *argv[2] = { programs[b->i], b->arg };
        b->pid = exec_spawn_argv(programs[b->i], b->arg[0] ? 2 : 1, argv);
        if (b->pid < 0) {
            printk("bench: cannot run %s (error %d)\n", programs[b->i], b->pid);
            continue;
        }
        while (alive(b->pid)) {
            sleep_init(&b->nap, time_ms(5));
            AWAIT(b, future_poll(&b->nap.base, cx));
        }
    }
    ASYNC_END(b);
}

static const struct future_ops bench_user_ops = { bench_user_poll, NULL, "bench_user" };

struct task *bench_user_spawn(void)
{
    const uint8_t *d;
    size_t n;
    if (initrd_lookup(programs[0], &d, &n) < 0)
        return NULL;
    struct task *t;
    struct bench_user *b = task_alloc(sizeof *b, "bench_user", &t);
    if (!b)
        return NULL;
    memset(b, 0, sizeof *b);
    future_init(&b->base, &bench_user_ops);
    task_start(t, TASK_NO_HART, true);
    return t;
}
