/*
 * scale - the user-space workloads of the scaling experiment (bootargs
 * `bench scale`, run by src/instruments/bench_scale.c for make bench-plot):
 * N independent workers, worker i pinned to hart i with
 * sched_setaffinity, each doing ITERS operations of one kind:
 *
 *   scale fork N ITERS   fork() + child _exit(0) + wait4(), in a loop
 *   scale coro N ITERS   one coroutine awaiting ITERS io_uring NOPs, one
 *                        after the other, under the worker's own runtime
 *
 * Every worker prints what it did and where:
 *   scale <kind> hart=<i> ops=<ITERS> strays=<ops it saw run elsewhere>
 * then the parent, from the moment all workers are pinned and released
 * together until the last has been reaped:
 *   scale <kind> harts=<N> ops=<N*ITERS> ns=<guest clock> insns=<rdinstret>
 * (rdinstret counts the whole machine's instructions under QEMU -icount,
 * the host's time-stamp counter without it: bench_plot.py uses insns only
 * from -icount runs, ns only from runs without it.)
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rt.h"
#include "ulib.h"

#define MAX_N 16

static int cpu_now(void)
{
	unsigned cpu = 0;
	u_syscall3(168, &cpu, NULL, NULL);      /* getcpu */
	return (int)cpu;
}

static long fork_loop(long iters, int hart)
{
	long strays = 0;
	for (long i = 0; i < iters; i++) {
		int st;
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		if (pid < 0)
			u_die("scale", "fork", errno);
		if (wait4(pid, &st, 0, NULL) != pid)
			u_die("scale", "wait4", errno);
		strays += cpu_now() != hart;
	}
	return strays;
}

/* ---- one coroutine awaiting NOPs ----------------------------------- */

struct nopper {
	struct future base;
	struct rt_op op;
	long i, iters, strays;
	int hart;
};

static enum poll nopper_poll(struct future *base, struct cx *cx)
{
	struct nopper *n = (struct nopper *)base;
	ASYNC_BEGIN(n);
	for (n->i = 0; n->i < n->iters; n->i++) {
		rt_nop_init(&n->op);
		AWAIT(n, future_poll(&n->op.base, cx));
		if (n->op.res != 0)
			u_die("scale", "NOP failed", -n->op.res);
		n->strays += rt_cpu() != n->hart;
	}
	ASYNC_END(n);
}

static const struct future_ops nopper_ops = { nopper_poll, NULL, "nopper" };

static long coro_loop(long iters, int hart)
{
	static struct nopper n;
	if (rt_init(64) < 0)
		u_die("scale", "rt_init", errno);
	future_init(&n.base, &nopper_ops);
	n.iters = iters;
	n.hart = hart;
	rt_spawn(&n.base, 4);
	rt_run(1);
	return n.strays;
}

static void pin(int hart)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(hart, &set);
	if (sched_setaffinity(0, sizeof set, &set) < 0)
		u_die("scale", "sched_setaffinity", errno);
	if (cpu_now() != hart)
		u_errf("scale", "pinned to hart %d but running on %d\n", hart, cpu_now());
}

int main(int argc, char **argv)
{
	if (argc != 4 || (strcmp(argv[1], "fork") && strcmp(argv[1], "coro"))) {
		fprintf(stderr, "usage: scale fork|coro N ITERS\n");
		return 2;
	}
	const char *kind = argv[1];
	int n = (int)u_parse_ulong(argv[2]);
	long iters = u_parse_ulong(argv[3]);
	if (n < 1 || n > MAX_N || iters < 1) {
		fprintf(stderr, "scale: N must be 1..%d, ITERS >= 1\n", MAX_N);
		return 2;
	}
	int go[2];
	if (pipe(go) < 0)
		u_die("scale", "pipe", errno);
	pid_t pids[MAX_N];
	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			u_die("scale", "fork", errno);
		if (pids[i] == 0) {
			char c;
			close(go[1]);
			pin(i);
			if (read(go[0], &c, 1) != 0)        /* released when the parent closes it */
				u_die("scale", "read", EIO);
			long strays = !strcmp(kind, "fork") ? fork_loop(iters, i) : coro_loop(iters, i);
			printf("scale %s hart=%d ops=%ld strays=%ld\n", kind, cpu_now(), iters, strays);
			fflush(stdout);
			_exit(0);
		}
	}
	close(go[0]);
	/* let every worker reach its read: one yield each way is not enough
	 * on a loaded host, so sleep briefly (before the clock starts) */
	usleep(20000);
	uint64_t t0 = u_now_ns(), i0 = u_rdinstret();
	close(go[1]);
	for (int i = 0; i < n; i++) {
		int st;
		if (waitpid(pids[i], &st, 0) != pids[i] || !WIFEXITED(st) || WEXITSTATUS(st))
			u_die("scale", "a worker failed", EIO);
	}
	uint64_t i1 = u_rdinstret(), t1 = u_now_ns();
	printf("scale %s harts=%d ops=%ld ns=%llu insns=%llu\n", kind, n, n * iters,
	       (unsigned long long)(t1 - t0), (unsigned long long)(i1 - i0));
	return 0;
}
