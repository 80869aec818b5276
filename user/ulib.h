/*
 * ulib.h - small helpers shared by the Pollux user programs.
 *
 * The user programs are ordinary static Linux riscv64 programs linked with
 * glibc; these helpers only cover what glibc does not: uniform error
 * messages, raw system calls (to see the kernel's exact return value), the
 * instruction counter for benchmarks, and two test hooks that let the same
 * binaries run on a development host under qemu-riscv64:
 *
 *   POLLUX_BIN=dir              where the programs live (default "/bin")
 *   POLLUX_EXEC_WRAPPER=path    run every exec'd program as
 *                               "path -0 argv0 program args..." (set it to
 *                               qemu-riscv64: qemu-user cannot execve a
 *                               riscv64 binary on an x86 host by itself)
 *
 * Neither variable is set on Pollux, where the hooks cost nothing.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* "prog: what: strerror(err)\n" on stderr, in a single write(). */
void u_warn(const char *prog, const char *what, int err);
/* u_warn() then exit(1). */
__attribute__((noreturn)) void u_die(const char *prog, const char *what, int err);
/* "prog: message\n" on stderr, printf-style. */
void u_errf(const char *prog, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Write all n bytes (retrying short writes and EINTR). 0 or -1/errno. */
int u_write_all(int fd, const void *buf, size_t n);

/* Directory holding the programs: $POLLUX_BIN or "/bin". */
const char *u_bindir(void);
/* bindir + "/" + prog into buf (truncated to n bytes). Returns buf. */
char *u_binpath(char *buf, size_t n, const char *prog);

/*
 * execve() honouring POLLUX_EXEC_WRAPPER (see above). Without the
 * variable this is exactly execve(). Returns -1 with errno set on failure.
 */
int u_execve(const char *path, char *const argv[], char *const envp[]);

/*
 * Sleep with the nanosleep system call itself (glibc's nanosleep() uses
 * clock_nanosleep), continuing after EINTR. Returns 0 or -errno.
 */
long u_nanosleep(long sec, long nsec);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t u_now_ns(void);

/* Parse a non-negative decimal integer; -1 if s is not one. */
long u_parse_ulong(const char *s);

/*
 * Raw system call: returns the kernel's value unchanged (a negative errno
 * on failure), bypassing glibc's wrappers and errno.
 */
#if defined(__riscv)
static inline long u_syscall6(long nr, long a0, long a1, long a2, long a3,
			      long a4, long a5)
{
	register long r_a0 __asm__("a0") = a0;
	register long r_a1 __asm__("a1") = a1;
	register long r_a2 __asm__("a2") = a2;
	register long r_a3 __asm__("a3") = a3;
	register long r_a4 __asm__("a4") = a4;
	register long r_a5 __asm__("a5") = a5;
	register long r_a7 __asm__("a7") = nr;
	__asm__ volatile("ecall"
			 : "+r"(r_a0)
			 : "r"(r_a1), "r"(r_a2), "r"(r_a3), "r"(r_a4),
			   "r"(r_a5), "r"(r_a7)
			 : "memory");
	return r_a0;
}
#else
/*
 * Native build on a Linux development host (e.g. "cc -D_GNU_SOURCE
 * badcalls.c ulib.c"), to check expected results against real Linux.
 */
#include <errno.h>
#include <unistd.h>
static inline long u_syscall6(long nr, long a0, long a1, long a2, long a3,
			      long a4, long a5)
{
	long r = syscall(nr, a0, a1, a2, a3, a4, a5);
	return r == -1 ? -errno : r;
}
#endif
#define u_syscall0(n) u_syscall6((n), 0, 0, 0, 0, 0, 0)
#define u_syscall1(n, a) u_syscall6((n), (long)(a), 0, 0, 0, 0, 0)
#define u_syscall2(n, a, b) u_syscall6((n), (long)(a), (long)(b), 0, 0, 0, 0)
#define u_syscall3(n, a, b, c) \
	u_syscall6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define u_syscall4(n, a, b, c, d) \
	u_syscall6((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define u_syscall5(n, a, b, c, d, e) \
	u_syscall6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

/* Retired-instruction counter (meaningful on Pollux under QEMU -icount). */
static inline uint64_t u_rdinstret(void)
{
	uint64_t v = 0;
#if defined(__riscv)
	__asm__ volatile("rdinstret %0" : "=r"(v));
#endif
	return v;
}

/*
 * Attributes for a thread with a small (64 KiB) stack. glibc's default is
 * RLIMIT_STACK (8 MiB of address space per thread), which a kernel without
 * demand paging would have to back with real memory.
 */
#include <pthread.h>
pthread_attr_t *u_small_stack(void);

/*
 * Pin the calling thread to the hart it runs on (sched_setaffinity); the
 * threads and processes it creates afterwards inherit the pin.  For the
 * benchmarks that mean "one hart": their figures are then the same
 * operation at every hart count.  Returns the hart, or -errno.
 */
int u_pin_here(void);

/* Median of n values (sorts the array in place). */
uint64_t u_median(uint64_t *v, size_t n);
