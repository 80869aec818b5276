/*
 * bench_syscall - cost of the smallest system call, in instructions.
 *
 * 15 rounds of 1000 getpid() calls made with a raw ecall; each round
 * counts retired instructions (rdinstret, which under QEMU -icount counts
 * guest instructions in user and kernel mode) and subtracts an identical
 * loop with a nop in place of the ecall. Prints the median:
 *   bench null_syscall <instructions per call> instructions
 *
 * Then the same for a signal round trip: tgkill to ourselves, the kernel
 * writes the signal frame, the (empty) handler runs and returns through
 * rt_sigreturn:
 *   bench signal_roundtrip <instructions per signal> instructions
 */
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ulib.h"

#define ROUNDS 15
#define CALLS 1000

static uint64_t run(int with_ecall)
{
	uint64_t t0, t1;
	long n = CALLS;

	if (with_ecall) {
		t0 = u_rdinstret();
		__asm__ volatile("1: li a7, 172\n" /* __NR_getpid */
				 "   ecall\n"
				 "   addi %0, %0, -1\n"
				 "   bnez %0, 1b\n"
				 : "+r"(n)
				 :
				 : "a0", "a7", "memory");
		t1 = u_rdinstret();
	} else {
		t0 = u_rdinstret();
		__asm__ volatile("1: li a7, 172\n"
				 "   nop\n"
				 "   addi %0, %0, -1\n"
				 "   bnez %0, 1b\n"
				 : "+r"(n)
				 :
				 : "a0", "a7", "memory");
		t1 = u_rdinstret();
	}
	return t1 - t0;
}

static void empty_handler(int sig) { (void)sig; }

/* `CALLS` signals sent to ourselves with a raw tgkill, or nops. */
static uint64_t run_signal(int with_ecall, long pid, long tid)
{
	uint64_t t0, t1;
	long n = CALLS;

	t0 = u_rdinstret();
	for (long i = 0; i < n; i++) {
		register long a0 __asm__("a0") = pid, a1 __asm__("a1") = tid;
		register long a2 __asm__("a2") = SIGUSR1, a7 __asm__("a7") = SYS_tgkill;
		if (with_ecall)
			__asm__ volatile("ecall" : "+r"(a0) : "r"(a1), "r"(a2), "r"(a7) : "memory");
		else
			__asm__ volatile("nop" : "+r"(a0) : "r"(a1), "r"(a2), "r"(a7) : "memory");
	}
	t1 = u_rdinstret();
	return t1 - t0;
}

int main(void)
{
	uint64_t v[ROUNDS];

	for (int r = 0; r < ROUNDS; r++) {
		uint64_t with = run(1), without = run(0);
		v[r] = with > without ? (with - without) / CALLS : 0;
	}
	printf("bench null_syscall %llu instructions\n",
	       (unsigned long long)u_median(v, ROUNDS));

	struct sigaction sa = { .sa_handler = empty_handler };
	sigaction(SIGUSR1, &sa, NULL);
	long pid = getpid(), tid = syscall(SYS_gettid);
	for (int r = 0; r < ROUNDS; r++) {
		uint64_t with = run_signal(1, pid, tid), without = run_signal(0, pid, tid);
		v[r] = with > without ? (with - without) / CALLS : 0;
	}
	printf("bench signal_roundtrip %llu instructions\n",
	       (unsigned long long)u_median(v, ROUNDS));
	return 0;
}
