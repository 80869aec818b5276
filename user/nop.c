/*
 * nop - exit(0) immediately.
 *
 * Built without any C library (-nostdlib -nostartfiles): the whole program
 * is the three instructions below, so `bench_exec` measures the kernel's
 * fork+exec+exit+wait path rather than glibc's start-up, and it makes a
 * good first program for bringing up exec. Its only system call is
 * exit_group (94).
 */
__asm__(".section .text._start,\"ax\",@progbits\n"
	".globl _start\n"
	"_start:\n"
	"	li a0, 0\n"
	"	li a7, 94\n" /* __NR_exit_group */
	"	ecall\n"
	"	j _start\n");
