/*
 * fastcall - the system calls the kernel answers straight from the trap
 * (getpid, gettid, getuid, geteuid, getgid, getegid) behave as the normal
 * path does: right values in a forked child and in a second thread, every
 * register but a0 kept, a signal sent to a thread that does nothing but
 * these calls still runs its handler, and such a thread still gives up
 * its hart to another thread when its time slice ends.
 *
 * Prints "ok NAME" or "FAIL NAME: why" per case, then "fastcall: done".
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long raw0(long nr)
{
	register long a0 __asm__("a0");
	register long a7 __asm__("a7") = nr;
	__asm__ volatile("ecall" : "=r"(a0) : "r"(a7) : "memory");
	return a0;
}

static int failed;

static void check(const char *name, int ok, const char *why)
{
	if (ok) {
		printf("ok %s\n", name);
	} else {
		printf("FAIL %s: %s\n", name, why);
		failed = 1;
	}
}

/* Set a1..a6 and t0..t6 to known values around an ecall, then read them. */
static int registers_kept(void)
{
	uint64_t out[13];
	__asm__ volatile(
		"li a7, 172\n"
		"li a1, 0x1111\n li a2, 0x2222\n li a3, 0x3333\n li a4, 0x4444\n"
		"li a5, 0x5555\n li a6, 0x6666\n"
		"li t0, 0x7777\n li t1, 0x8888\n li t2, 0x9999\n li t3, 0xaaaa\n"
		"li t4, 0xbbbb\n li t5, 0xcccc\n li t6, 0xdddd\n"
		"ecall\n"
		"sd a1, 0(%0)\n sd a2, 8(%0)\n sd a3, 16(%0)\n sd a4, 24(%0)\n"
		"sd a5, 32(%0)\n sd a6, 40(%0)\n"
		"sd t0, 48(%0)\n sd t1, 56(%0)\n sd t2, 64(%0)\n sd t3, 72(%0)\n"
		"sd t4, 80(%0)\n sd t5, 88(%0)\n sd t6, 96(%0)\n"
		:
		: "r"(out)
		: "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "t0", "t1", "t2", "t3",
		  "t4", "t5", "t6", "memory");
	for (int i = 0; i < 13; i++)
		if (out[i] != 0x1111u * (uint64_t)(i + 1))
			return 0;
	return 1;
}

static _Atomic int tid2;
static void *second(void *arg)
{
	(void)arg;
	tid2 = (int)raw0(SYS_gettid);
	return NULL;
}

static _Atomic int got_signal;
static void on_usr1(int sig) { (void)sig; got_signal = 1; }

static void *spinner(void *arg)
{
	(void)arg;
	while (!got_signal)
		raw0(SYS_getpid);
	return NULL;
}

static _Atomic int other_ran;
static void *other(void *arg)
{
	(void)arg;
	other_ran = 1;
	return NULL;
}

int main(void)
{
	long pid = raw0(SYS_getpid);
	check("getpid_matches_glibc", pid == getpid(), "raw getpid differs");
	check("gettid_of_main_is_pid", raw0(SYS_gettid) == pid, "gettid != getpid");
	check("ids_are_root", raw0(SYS_getuid) == 0 && raw0(SYS_geteuid) == 0 &&
	      raw0(SYS_getgid) == 0 && raw0(SYS_getegid) == 0, "an id is not 0");
	check("registers_kept", registers_kept(), "a register changed across getpid");

	int fds[2];
	pipe(fds);
	pid_t child = fork();
	if (child == 0) {
		long mine = raw0(SYS_getpid);
		write(fds[1], &mine, sizeof mine);
		_exit(raw0(SYS_getppid) == pid ? 0 : 1);
	}
	long seen = 0;
	int st = 0;
	read(fds[0], &seen, sizeof seen);
	waitpid(child, &st, 0);
	check("child_getpid_is_fork_result", seen == child && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "child saw another pid");

	pthread_t t;
	pthread_create(&t, NULL, second, NULL);
	pthread_join(t, NULL);
	check("thread_gettid_is_its_own", tid2 > 0 && tid2 != pid, "second thread's tid");

	/* a thread looping on getpid: a signal must still reach it */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	pthread_create(&t, NULL, spinner, NULL);
	pthread_kill(t, SIGUSR1);
	pthread_join(t, NULL);
	check("signal_reaches_getpid_loop", got_signal, "handler did not run");

	/* pinned to one hart with a getpid loop: the slice still ends */
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	sched_setaffinity(0, sizeof one, &one);
	pthread_t o;
	pthread_create(&o, NULL, other, NULL);
	while (!other_ran)
		raw0(SYS_getpid);
	pthread_join(o, NULL);
	check("getpid_loop_yields_its_hart", other_ran, "other thread never ran");

	printf("fastcall: done\n");
	return failed;
}
