/*
 * bench_syscall - cost of the smallest system call, in instructions.
 *
 * 15 rounds of 1000 getpid() calls made with a raw ecall; each round
 * counts retired instructions (rdinstret, which under QEMU -icount counts
 * guest instructions in user and kernel mode) and subtracts an identical
 * loop with a nop in place of the ecall. Prints the median:
 *   bench null_syscall <instructions per call> instructions
 */
#include <stdio.h>

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

int main(void)
{
	uint64_t v[ROUNDS];

	for (int r = 0; r < ROUNDS; r++) {
		uint64_t with = run(1), without = run(0);
		v[r] = with > without ? (with - without) / CALLS : 0;
	}
	printf("bench null_syscall %llu instructions\n",
	       (unsigned long long)u_median(v, ROUNDS));
	return 0;
}
