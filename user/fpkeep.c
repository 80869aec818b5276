/*
 * fpkeep - FP registers survive thread switches, including the lazy ones.
 *
 * Two threads pinned to one hart each put their own values in fs0/fs1
 * and the rounding mode in fcsr, then switch with sched_yield many more
 * times than the kernel restores FP state eagerly after a thread's last
 * FP write (after that a thread enters user mode with FP off, and its next
 * FP instruction traps to bring its registers back).  Each then checks
 * its own values.  Last, a truly illegal instruction in a thread whose FP
 * state is lazy still raises SIGILL (it must not be taken for an FP one
 * forever).  A forked child starts with its parent's FP registers (fs0
 * is callee-saved: a value the compiler keeps there across fork() must
 * be there in the child).  Two threads that move between harts
 * (sched_setaffinity while their values sit in fs0/fs1) keep their own
 * values on every hart.  Prints "fpkeep: ok" lines and "fpkeep: done",
 * or FAIL lines.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ulib.h"

#define SWITCHES 200

static volatile int turn;
static int failures;

/* fs0/fs1 <- a/b and frm <- rm, in asm: nothing else touches them. */
static void fp_set(uint64_t a, uint64_t b, unsigned rm)
{
	__asm__ volatile("fmv.d.x fs0, %0\n fmv.d.x fs1, %1\n fsrm %2"
			 : : "r"(a), "r"(b), "r"(rm) : "fs0", "fs1");
}

static void fp_get(uint64_t *a, uint64_t *b, unsigned *rm)
{
	uint64_t x, y;
	unsigned r;
	__asm__ volatile("fmv.x.d %0, fs0\n fmv.x.d %1, fs1\n frrm %2"
			 : "=r"(x), "=r"(y), "=r"(r));
	*a = x;
	*b = y;
	*rm = r;
}

/* Hand the turn to the other thread SWITCHES times, with raw ecalls (no
 * library code that might use FP meanwhile). */
static void ping(int me)
{
	for (int i = 0; i < SWITCHES; i++) {
		while (turn != me)
			u_syscall0(SYS_sched_yield);
		turn = !me;
	}
}

static void check(const char *who, uint64_t a, uint64_t b, unsigned rm)
{
	uint64_t x, y;
	unsigned r;
	fp_get(&x, &y, &r);
	if (x != a || y != b || r != rm) {
		printf("fpkeep: FAIL %s: fs0 %llx fs1 %llx frm %u, want %llx %llx %u\n", who,
		       (unsigned long long)x, (unsigned long long)y, r,
		       (unsigned long long)a, (unsigned long long)b, rm);
		failures++;
	} else {
		printf("fpkeep: ok %s\n", who);
	}
}

static void *partner(void *arg)
{
	(void)arg;
	fp_set(0x1111222233334444ULL, 0x5555666677778888ULL, 1);   /* RTZ */
	ping(1);
	check("partner", 0x1111222233334444ULL, 0x5555666677778888ULL, 1);
	return NULL;
}

static sigjmp_buf back;

static void on_sigill(int sig)
{
	(void)sig;
	siglongjmp(back, 1);
}

/* Fork with raw system calls (no library code between fp_set and the
 * child's check); the child reports through its exit status. */
static void fork_keeps_fp(void)
{
	fp_set(0x0f0f0f0f12345678ULL, 0x7777111122223333ULL, 3);   /* RUP */
	long pid = u_syscall5(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	if (pid == 0) {
		uint64_t x, y;
		unsigned r;
		fp_get(&x, &y, &r);
		u_syscall1(SYS_exit, x == 0x0f0f0f0f12345678ULL && y == 0x7777111122223333ULL &&
				     r == 3 ? 0 : 1);
	}
	int st = -1;
	if (pid < 0 || waitpid((int)pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		printf("fpkeep: FAIL fork: the child's FP registers differ (status %#x)\n", st);
		failures++;
	} else {
		printf("fpkeep: ok fork\n");
	}
}

static long ncpu;

/* Move to hart (i % ncpu) while our values sit in fs0/fs1, then check. */
static int migrate_checking(uint64_t a, uint64_t b, int start)
{
	int bad = 0;
	fp_set(a, b, 4);
	for (int i = 0; i < 60; i++) {
		unsigned long mask = 1UL << ((start + i) % ncpu);
		u_syscall3(SYS_sched_setaffinity, 0, sizeof mask, &mask);
		if (i % 3 == 0)
			u_syscall0(SYS_sched_yield);
		uint64_t x, y;
		unsigned r;
		fp_get(&x, &y, &r);
		if (x != a || y != b || r != 4)
			bad++;
		/* dirty the registers with the same values: each hart saves them */
		fp_set(a, b, 4);
	}
	return bad;
}

static void *mover(void *arg)
{
	(void)arg;
	return (void *)(long)migrate_checking(0x2222333344445555ULL, 0x6666777788889999ULL, 1);
}

static void migration_keeps_fp(void)
{
	pthread_t t;
	if (pthread_create(&t, u_small_stack(), mover, NULL))
		u_die("fpkeep", "pthread_create", 1);
	int bad = migrate_checking(0x0aaa0bbb0ccc0dddULL, 0x0eee0fff01110222ULL, 0);
	void *tb = NULL;
	pthread_join(t, &tb);
	if (bad || tb) {
		printf("fpkeep: FAIL migrate: %d and %ld checks found other values\n", bad, (long)tb);
		failures++;
	} else {
		printf("fpkeep: ok migrate\n");
	}
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (u_pin_here() < 0)
		u_die("fpkeep", "sched_setaffinity", 1);
	pthread_t t;
	fp_set(0x0123456789abcdefULL, 0xfedcba9876543210ULL, 2);   /* RDN */
	if (pthread_create(&t, u_small_stack(), partner, NULL))
		u_die("fpkeep", "pthread_create", 1);
	ping(0);
	pthread_join(t, NULL);
	check("main", 0x0123456789abcdefULL, 0xfedcba9876543210ULL, 2);

	/* yield many times without FP, so that main's FP state goes lazy,
	 * then execute an illegal instruction */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigill;
	sigaction(SIGILL, &sa, NULL);
	if (sigsetjmp(back, 1) == 0) {
		for (int i = 0; i < SWITCHES; i++)
			u_syscall0(SYS_sched_yield);
		__asm__ volatile(".word 0");    /* an illegal instruction */
		printf("fpkeep: FAIL no SIGILL\n");
		failures++;
	} else {
		printf("fpkeep: ok SIGILL\n");
	}
	fork_keeps_fp();
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 1 || ncpu > 64)
		ncpu = 1;
	migration_keeps_fp();
	printf("fpkeep: done%s\n", failures ? " with failures" : "");
	return failures != 0;
}
