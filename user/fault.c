/*
 * fault MODE - commit a fault that the kernel must kill us for.
 *
 *   null           store to address 0                        (SIGSEGV)
 *   kaddr          load from kernel address 0xffffffc000000000 (SIGSEGV)
 *   illegal        execute the all-zero (illegal) instruction (SIGILL)
 *   misaligned     misaligned 8-byte load (hardware or kernel may allow it),
 *                  then a misaligned amoadd.w, which never is  (SIGBUS)
 *   stackoverflow  unbounded recursion, 4 KiB per frame        (SIGSEGV)
 *   wx             store to our own text                      (SIGSEGV)
 *   nx             jump into a non-executable stack buffer    (SIGSEGV)
 *
 * Prints "fault: MODE" first; "fault: survived" (exit 1) means the kernel
 * let the fault pass, which is a failure.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ulib.h"

/* Hide a constant from the optimizer (GCC turns *(int *)0 into a trap). */
static void *opaque(uintptr_t v)
{
	__asm__ volatile("" : "+r"(v));
	return (void *)v;
}

static volatile int never = -1;

static int recurse(int depth)
{
	volatile char frame[4096];

	if (depth == never)
		return 0;

	frame[0] = (char)depth;
	frame[sizeof frame - 1] = (char)depth;
	return recurse(depth + 1) + frame[0] + frame[sizeof frame - 1];
}

int main(int argc, char **argv)
{
	const char *mode = argc == 2 ? argv[1] : "";

	setvbuf(stdout, NULL, _IONBF, 0);
	printf("fault: %s\n", mode);
	if (!strcmp(mode, "null")) {
		*(volatile int *)opaque(0) = 1;
	} else if (!strcmp(mode, "kaddr")) {
		(void)*(volatile long *)opaque(0xffffffc000000000UL);
	} else if (!strcmp(mode, "illegal")) {
		__asm__ volatile(".4byte 0x00000000");
	} else if (!strcmp(mode, "misaligned")) {
		static uint64_t words[4];
		char *base = opaque((uintptr_t)words);
		uint64_t v;
		__asm__ volatile("ld %0, 0(%1)" : "=r"(v) : "r"(base + 1) : "memory");
		printf("fault: misaligned ld allowed (%lu), trying amoadd.w\n",
		       (unsigned long)v);
		__asm__ volatile("amoadd.w %0, %2, (%1)"
				 : "=r"(v)
				 : "r"(base + 2), "r"(1L)
				 : "memory");
	} else if (!strcmp(mode, "stackoverflow")) {
		printf("fault: %d\n", recurse(0));
	} else if (!strcmp(mode, "wx")) {
		*(volatile uint32_t *)opaque((uintptr_t)main) = 0x00000013; /* nop */
	} else if (!strcmp(mode, "nx")) {
		uint16_t code[2] = { 0x8082, 0x8082 }; /* c.ret */
		void (*fn)(void) = (void (*)(void))opaque((uintptr_t)code);
		__asm__ volatile("fence.i" ::: "memory");
		fn();
	} else {
		u_errf("fault", "usage: fault null|kaddr|illegal|misaligned|"
				"stackoverflow|wx|nx");
		return 2;
	}
	printf("fault: survived\n");
	return 1;
}
