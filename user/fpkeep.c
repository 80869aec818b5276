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
 * forever).  Prints "fpkeep: ok" lines and "fpkeep: done", or FAIL lines.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

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
	printf("fpkeep: done%s\n", failures ? " with failures" : "");
	return failures != 0;
}
