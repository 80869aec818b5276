/*
 * sigtest - signals as real programs use them: a table of small cases.
 *
 *   sigtest            run every case (each in its own child process)
 *   sigtest NAME       run one case
 *   sigtest ttyread [restart]   SIGINT handler, then read the console:
 *                      prints "ttyread: reading", then what read returned
 *   sigtest storm N    two processes send each other N signals while both
 *                      wait in system calls; prints "storm: N ok"
 *
 * Each case prints "ok NAME" or "FAIL NAME: why".  Everything is plain
 * glibc: sigaction, sigprocmask, siglongjmp, abort, alarm, timers,
 * pthreads, waitpid with WUNTRACED/WCONTINUED.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ulib.h"
#include "uring_raw.h"

static const char *cur;
#define CHECK(c) do { if (!(c)) { printf("FAIL %s: %s (line %d, errno %d)\n", cur, #c, __LINE__, errno); fflush(stdout); _exit(1); } } while (0)

static volatile sig_atomic_t hits, last_sig, last_code, last_pid, last_val, last_status;
static volatile long handler_tid;
static volatile uintptr_t handler_sp;

static void on_sig(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	hits++;
	last_sig = sig;
	last_code = si->si_code;
	last_pid = si->si_pid;
	last_val = si->si_value.sival_int;
	last_status = si->si_status;
	handler_tid = syscall(SYS_gettid);
	int local;
	handler_sp = (uintptr_t)&local;
}

static void handle(int sig, int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sig;
	sa.sa_flags = SA_SIGINFO | flags;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(sig, &sa, NULL) == 0);
}

static void block(int how, int sig)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	CHECK(sigprocmask(how, &s, NULL) == 0);
}

static void arm_ms(long ms)
{
	struct itimerval it = { { 0, 0 }, { ms / 1000, (ms % 1000) * 1000 } };
	CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
}

/* pause() is ppoll in glibc; sigsuspend waits the same way. */
static void wait_signal(void)
{
	sigset_t none;
	sigemptyset(&none);
	sigsuspend(&none);
}

/* ---- handlers, masks, frames ---------------------------------------------- */

static void t_handler(void)
{
	handle(SIGUSR1, 0);
	CHECK(raise(SIGUSR1) == 0);
	CHECK(hits == 1 && last_sig == SIGUSR1 && last_code == SI_TKILL && last_pid == getpid());
	CHECK(kill(getpid(), SIGUSR1) == 0);
	CHECK(hits == 2 && last_code == SI_USER);
}

static void t_mask(void)
{
	handle(SIGUSR1, 0);
	block(SIG_BLOCK, SIGUSR1);
	raise(SIGUSR1);
	CHECK(hits == 0);
	sigset_t p;
	CHECK(sigpending(&p) == 0 && sigismember(&p, SIGUSR1));
	block(SIG_UNBLOCK, SIGUSR1);
	CHECK(hits == 1);
	CHECK(sigpending(&p) == 0 && !sigismember(&p, SIGUSR1));
}

static void t_ignore(void)
{
	signal(SIGUSR1, SIG_IGN);
	raise(SIGUSR1);
	block(SIG_BLOCK, SIGUSR2);
	signal(SIGUSR2, SIG_DFL);
	raise(SIGUSR2);
	sigset_t p;
	CHECK(sigpending(&p) == 0 && sigismember(&p, SIGUSR2));
	signal(SIGUSR2, SIG_IGN);                   /* ignoring drops it */
	CHECK(sigpending(&p) == 0 && !sigismember(&p, SIGUSR2));
	block(SIG_UNBLOCK, SIGUSR2);
}

static sigjmp_buf jb;
static void jump_out(int sig) { siglongjmp(jb, sig); }

static void t_siglongjmp(void)
{
	signal(SIGUSR1, jump_out);
	int r = sigsetjmp(jb, 1);
	if (r == 0) {
		raise(SIGUSR1);
		CHECK(!"handler returned");
	}
	CHECK(r == SIGUSR1);
	sigset_t cur_mask;
	sigprocmask(SIG_BLOCK, NULL, &cur_mask);
	CHECK(!sigismember(&cur_mask, SIGUSR1));    /* the mask came back */
}

static void t_abort(void)
{
	pid_t c = fork();
	if (c == 0)
		abort();
	int st;
	CHECK(waitpid(c, &st, 0) == c && WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	c = fork();
	if (c == 0) {
		signal(SIGABRT, jump_out);
		if (sigsetjmp(jb, 1) == 0)
			abort();
		_exit(42);                              /* a handler may leave abort */
	}
	CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 42);
}

static void fp_clobber(int sig)
{
	(void)sig;
	volatile double x = 3.25;
	for (int i = 0; i < 10; i++)
		x = x * 1.5 + 0.125;
	register double fa0 __asm__("fa0") = x;
	__asm__ volatile("" : : "f"(fa0));
	hits++;
}

static void t_fpregs(void)
{
	signal(SIGUSR1, fp_clobber);
	double out;
	long pid = getpid(), tid = syscall(SYS_gettid);
	register double fa0 __asm__("fa0") = 42.5;
	register long a0 __asm__("a0") = pid, a1 __asm__("a1") = tid, a2 __asm__("a2") = SIGUSR1;
	register long a7 __asm__("a7") = SYS_tgkill;
	__asm__ volatile("ecall" : "+r"(a0), "+f"(fa0) : "r"(a1), "r"(a2), "r"(a7) : "memory");
	out = fa0;
	CHECK(hits == 1);
	CHECK(out == 42.5);                         /* the frame's FP state came back */
}

static void t_altstack(void)
{
	static char alt[16384];
	stack_t ss = { .ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0 };
	CHECK(sigaltstack(&ss, NULL) == 0);
	handle(SIGUSR1, SA_ONSTACK);
	raise(SIGUSR1);
	CHECK(hits == 1 && handler_sp >= (uintptr_t)alt && handler_sp < (uintptr_t)alt + sizeof alt);
	stack_t old;
	CHECK(sigaltstack(NULL, &old) == 0 && old.ss_sp == alt && old.ss_flags == 0);
	ss.ss_size = 100;
	CHECK(sigaltstack(&ss, NULL) == -1 && errno == ENOMEM);
}

static void t_resethand(void)
{
	handle(SIGUSR1, SA_RESETHAND);
	raise(SIGUSR1);
	struct sigaction sa;
	CHECK(sigaction(SIGUSR1, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL && hits == 1);
}

/* ---- interrupted system calls --------------------------------------------- */

static int wpipe = -1;
static void alarm_write(int sig)
{
	(void)sig;
	hits++;
	if (wpipe >= 0)
		(void)!write(wpipe, "x", 1);
}

static void t_eintr_pipe(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	handle(SIGALRM, 0);
	arm_ms(30);
	char c;
	CHECK(read(p[0], &c, 1) == -1 && errno == EINTR && hits == 1);
}

static void t_restart_pipe(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	wpipe = p[1];
	struct sigaction sa = { .sa_handler = alarm_write, .sa_flags = SA_RESTART };
	sigaction(SIGALRM, &sa, NULL);
	arm_ms(30);
	char c;
	CHECK(read(p[0], &c, 1) == 1 && c == 'x' && hits == 1);   /* restarted, then data */
}

static void t_partial_write(void)
{
	/* A write bigger than the pipe, interrupted when the pipe is full,
	 * returns what it wrote (SA_RESTART or not), as Linux does. */
	int p[2];
	CHECK(pipe(p) == 0);
	handle(SIGALRM, 0);
	arm_ms(30);
	static char big[65536 + 4096];
	ssize_t n = write(p[1], big, sizeof big);
	CHECK(hits == 1 && n > 0 && n < (ssize_t)sizeof big);
}

static void t_nanosleep_rem(void)
{
	handle(SIGALRM, SA_RESTART);                /* nanosleep is never restarted */
	arm_ms(50);
	struct timespec req = { 3, 0 }, rem = { 0, 0 };
	long r = u_syscall2(SYS_nanosleep, &req, &rem);
	CHECK(r == -EINTR && hits == 1);
	CHECK(rem.tv_sec >= 1 && rem.tv_sec <= 3);
}

static void t_futex_eintr(void)
{
	static int word;
	handle(SIGALRM, 0);
	arm_ms(30);
	long r = u_syscall6(SYS_futex, (long)&word, 0 /* FUTEX_WAIT */, 0, 0, 0, 0);
	CHECK(r == -EINTR && hits == 1);
}

static void t_wait4_eintr(void)
{
	pid_t c = fork();
	if (c == 0) {
		wait_signal();
		_exit(0);
	}
	handle(SIGALRM, 0);
	arm_ms(30);
	int st;
	CHECK(waitpid(c, &st, 0) == -1 && errno == EINTR && hits == 1);
	kill(c, SIGKILL);
	CHECK(waitpid(c, &st, 0) == c && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

static void t_sigsuspend(void)
{
	handle(SIGUSR1, 0);
	block(SIG_BLOCK, SIGUSR1);
	pid_t c = fork();
	if (c == 0) {
		kill(getppid(), SIGUSR1);
		_exit(0);
	}
	sigset_t none;
	sigemptyset(&none);
	CHECK(sigsuspend(&none) == -1 && errno == EINTR && hits == 1 && last_pid == c);
	sigset_t now;
	sigprocmask(SIG_BLOCK, NULL, &now);
	CHECK(sigismember(&now, SIGUSR1));          /* the old mask is back */
	waitpid(c, NULL, 0);
}

static void t_sigtimedwait(void)
{
	block(SIG_BLOCK, SIGRTMIN);
	union sigval v;
	for (int i = 1; i <= 3; i++) {
		v.sival_int = i;
		CHECK(sigqueue(getpid(), SIGRTMIN, v) == 0);   /* real-time signals queue */
	}
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGRTMIN);
	siginfo_t si;
	for (int i = 1; i <= 3; i++) {
		CHECK(sigwaitinfo(&s, &si) == SIGRTMIN);
		CHECK(si.si_value.sival_int == i && si.si_code == SI_QUEUE);
	}
	struct timespec zero = { 0, 0 }, short_ts = { 0, 20000000 };
	CHECK(sigtimedwait(&s, &si, &zero) == -1 && errno == EAGAIN);
	CHECK(sigtimedwait(&s, &si, &short_ts) == -1 && errno == EAGAIN);
	pid_t c = fork();
	if (c == 0) {
		usleep(20000);
		v.sival_int = 77;
		sigqueue(getppid(), SIGRTMIN, v);
		_exit(0);
	}
	CHECK(sigwaitinfo(&s, &si) == SIGRTMIN && si.si_value.sival_int == 77 && si.si_pid == c);
	waitpid(c, NULL, 0);
}

static void t_uring_eintr(void)
{
	struct uring r;
	CHECK(uring_open(&r, 8, NULL) == 0);
	handle(SIGALRM, SA_RESTART);                /* io_uring_enter is never restarted */
	arm_ms(30);
	long n = uring_enter(&r, 0, 1, IORING_ENTER_GETEVENTS);
	CHECK(n == -EINTR && hits == 1);
	/* interrupted after submitting: the count submitted, as Linux */
	struct io_uring_sqe *sq = uring_sqe(&r);
	sq->opcode = IORING_OP_NOP;
	sq->user_data = 1;
	arm_ms(30);
	n = uring_enter(&r, 1, 2, IORING_ENTER_GETEVENTS);
	CHECK(n == 1 && hits == 2);
	uring_close(&r);
}

static void t_ttin_background(void)
{
	/* A background process reading the console is stopped by SIGTTIN,
	 * or gets EIO if it ignores SIGTTIN. */
	pid_t c = fork();
	if (c == 0) {
		setpgid(0, 0);
		signal(SIGTTIN, SIG_DFL);
		char b[8];
		(void)!read(0, b, sizeof b);
		_exit(9);
	}
	int st;
	CHECK(waitpid(c, &st, WUNTRACED) == c && WIFSTOPPED(st) && WSTOPSIG(st) == SIGTTIN);
	kill(c, SIGKILL);
	waitpid(c, &st, 0);
	c = fork();
	if (c == 0) {
		setpgid(0, 0);
		signal(SIGTTIN, SIG_IGN);
		char b[8];
		_exit(read(0, b, sizeof b) == -1 && errno == EIO ? 0 : 1);
	}
	CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* ---- faults ----------------------------------------------------------------- */

static volatile uintptr_t fault_addr;
static volatile int *volatile bad16 = (int *)16, *volatile bad32 = (int *)32;
static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	fault_addr = (uintptr_t)si->si_addr;
	siglongjmp(jb, sig);
}

static void t_segv_handler(void)
{
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO };
	sigaction(SIGSEGV, &sa, NULL);
	if (sigsetjmp(jb, 1) == 0) {
		*bad16 = 1;
		CHECK(!"no fault");
	}
	CHECK(fault_addr == 16);
}

static void segv_again(int sig) { (void)sig; *bad32 = 1; }

static void t_segv_in_handler(void)
{
	pid_t c = fork();
	if (c == 0) {
		signal(SIGSEGV, segv_again);
		*bad16 = 1;
		_exit(0);
	}
	int st;
	CHECK(waitpid(c, &st, 0) == c && WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
}

/* ---- default actions, SIGCHLD, wait4 ------------------------------------------ */

static void t_stop_cont(void)
{
	signal(SIGTSTP, SIG_DFL);                   /* the shell hands it down ignored */
	pid_t c = fork();
	if (c == 0) {
		for (;;)
			wait_signal();
	}
	int st;
	CHECK(kill(c, SIGSTOP) == 0);
	CHECK(waitpid(c, &st, WUNTRACED) == c && WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP);
	CHECK(waitpid(c, &st, WNOHANG | WUNTRACED) == 0);        /* reported once */
	CHECK(kill(c, SIGCONT) == 0);
	CHECK(waitpid(c, &st, WCONTINUED) == c && WIFCONTINUED(st));
	CHECK(kill(c, SIGTSTP) == 0);
	CHECK(waitpid(c, &st, WUNTRACED) == c && WIFSTOPPED(st) && WSTOPSIG(st) == SIGTSTP);
	CHECK(kill(c, SIGTERM) == 0);               /* pending while stopped? TERM ends it */
	CHECK(waitpid(c, &st, 0) == c && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
}

static void t_sigchld(void)
{
	handle(SIGCHLD, 0);
	block(SIG_BLOCK, SIGCHLD);
	pid_t c = fork();
	if (c == 0)
		_exit(3);
	sigset_t none;
	sigemptyset(&none);
	while (!hits)
		sigsuspend(&none);
	CHECK(last_sig == SIGCHLD && last_code == CLD_EXITED && last_pid == c && last_status == 3);
	int st;
	CHECK(waitpid(c, &st, 0) == c && WEXITSTATUS(st) == 3);
}

static void t_sigchld_ignored(void)
{
	signal(SIGCHLD, SIG_IGN);                   /* children leave no zombies */
	pid_t c = fork();
	if (c == 0)
		_exit(3);
	CHECK(waitpid(-1, NULL, 0) == -1 && errno == ECHILD);
	CHECK(kill(c, 0) == -1 && errno == ESRCH);
}

static void t_sigpipe(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	close(p[0]);
	pid_t c = fork();
	if (c == 0) {
		(void)!write(p[1], "x", 1);
		_exit(0);
	}
	int st;
	CHECK(waitpid(c, &st, 0) == c && WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE);
	signal(SIGPIPE, SIG_IGN);
	CHECK(write(p[1], "x", 1) == -1 && errno == EPIPE);
}

static void t_default_term(void)
{
	pid_t c = fork();
	if (c == 0) {
		wait_signal();
		_exit(0);
	}
	usleep(10000);
	kill(c, SIGUSR2);
	int st;
	CHECK(waitpid(c, &st, 0) == c && WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR2);
}

/* ---- timers ---------------------------------------------------------------- */

static void t_itimer(void)
{
	handle(SIGALRM, 0);
	block(SIG_BLOCK, SIGALRM);
	struct itimerval it = { { 0, 20000 }, { 0, 20000 } }, now;
	CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
	CHECK(getitimer(ITIMER_REAL, &now) == 0 && now.it_interval.tv_usec == 20000);
	sigset_t none;
	sigemptyset(&none);
	while (hits < 3)
		sigsuspend(&none);
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	CHECK(setitimer(ITIMER_REAL, &off, NULL) == 0);
	CHECK(getitimer(ITIMER_REAL, &now) == 0 && now.it_value.tv_sec == 0 && now.it_value.tv_usec == 0);
	CHECK(alarm(5) == 0 && alarm(0) >= 4);
}

static void t_posix_timer(void)
{
	block(SIG_BLOCK, SIGRTMIN + 1);
	struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN + 1 };
	ev.sigev_value.sival_int = 7;
	timer_t t;
	CHECK(timer_create(CLOCK_MONOTONIC, &ev, &t) == 0);
	struct itimerspec its = { { 0, 0 }, { 0, 30000000 } };
	CHECK(timer_settime(t, 0, &its, NULL) == 0);
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGRTMIN + 1);
	siginfo_t si;
	CHECK(sigwaitinfo(&s, &si) == SIGRTMIN + 1 && si.si_code == SI_TIMER && si.si_value.sival_int == 7);
	CHECK(timer_delete(t) == 0);
}

/* ---- threads ------------------------------------------------------------------- */

static atomic_int ready;

static void *thread_unblocks(void *arg)
{
	(void)arg;
	block(SIG_UNBLOCK, SIGUSR1);
	ready = 1;
	while (!hits)
		usleep(1000);
	return NULL;
}

static void t_process_signal_to_thread(void)
{
	handle(SIGUSR1, 0);
	block(SIG_BLOCK, SIGUSR1);
	pthread_t t;
	CHECK(pthread_create(&t, u_small_stack(), thread_unblocks, NULL) == 0);
	while (!ready)
		usleep(1000);
	CHECK(kill(getpid(), SIGUSR1) == 0);        /* process-directed */
	pthread_join(t, NULL);
	CHECK(hits == 1 && handler_tid != getpid());
}

static int exit_pipe[2];
static void *reader(void *arg)
{
	(void)arg;
	char c;
	(void)!read(exit_pipe[0], &c, 1);
	return NULL;
}

static void t_exit_group_threads(void)
{
	pid_t c = fork();
	if (c == 0) {
		CHECK(pipe(exit_pipe) == 0);
		pthread_t t[3];
		for (int i = 0; i < 3; i++)
			pthread_create(&t[i], u_small_stack(), reader, NULL);
		usleep(20000);
		exit(5);                                /* ends the readers too */
	}
	int st;
	CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 5);
	c = fork();
	if (c == 0) {
		CHECK(pipe(exit_pipe) == 0);
		pthread_t t[3];
		for (int i = 0; i < 3; i++)
			pthread_create(&t[i], u_small_stack(), reader, NULL);
		for (;;)
			wait_signal();
	}
	usleep(30000);
	kill(c, SIGTERM);
	CHECK(waitpid(c, &st, 0) == c && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
}

/* Two threads exit() at the same moment, after the main thread: the
 * status must be theirs. */
static atomic_int go;
static void *exit_now(void *arg)
{
	(void)arg;
	while (!go)
		;
	u_syscall1(SYS_exit, 7);
	return NULL;
}

static void t_exit_race(void)
{
	for (int round = 0; round < 40; round++) {
		pid_t c = fork();
		if (c == 0) {
			pthread_t t[2];
			for (int i = 0; i < 2; i++)
				pthread_create(&t[i], u_small_stack(), exit_now, NULL);
			go = 1;
			u_syscall1(SYS_exit, 7);
		}
		int st;
		CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st));
		if (WEXITSTATUS(st) != 7) {
			printf("FAIL %s: round %d: status %d\n", cur, round, WEXITSTATUS(st));
			_exit(1);
		}
	}
}

/* ---- init, groups, the terminal --------------------------------------------------- */

static void t_init_unkillable(void)
{
	CHECK(kill(1, SIGKILL) == 0);
	CHECK(kill(1, SIGTERM) == 0);
	CHECK(kill(1, SIGSTOP) == 0);
	usleep(50000);
	CHECK(kill(1, 0) == 0);                     /* still there */
	char buf[512];
	int fd = open("/proc/ps", O_RDONLY);
	CHECK(fd >= 0);
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	CHECK(strstr(buf, "\n1 ") && !strstr(buf, "\n1   0    1   Z"));
	CHECK(!strstr(buf, "\n1   0    1   T"));
}

static void t_pgrp_rules(void)
{
	pid_t fg = tcgetpgrp(0);
	CHECK(fg > 0);
	CHECK(setpgid(0, 424242) == -1 && errno == EPERM);          /* no such group */
	int bogus = 424242;
	CHECK(ioctl(0, TIOCSPGRP, &bogus) == -1 && errno == EPERM);
	CHECK(tcgetpgrp(0) == fg);
	CHECK(setpgid(1, 1) == -1 && errno == ESRCH);               /* not our child */
	pid_t c = fork();
	if (c == 0) {
		CHECK(setsid() == getpid());
		CHECK(getsid(0) == getpid());
		pid_t me = getpid();
		/* another session: the console is not our terminal */
		_exit(ioctl(0, TIOCSPGRP, &me) == -1 && errno == ENOTTY ? 0 : 1);
	}
	int st;
	CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(tcgetpgrp(0) == fg);
	c = fork();
	if (c == 0) {
		execl("/bin/sleep", "sleep", "5", (char *)NULL);
		_exit(1);
	}
	usleep(100000);
	CHECK(setpgid(c, c) == -1 && errno == EACCES);              /* it has exec'd */
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	CHECK(setpgid(0, 0) == 0 && getpgrp() == getpid());
	CHECK(setsid() == -1 && errno == EPERM);                    /* a group leader */
}

static void t_ttou_background(void)
{
	/* A background process taking the terminal gets SIGTTOU (stops). */
	pid_t fg = tcgetpgrp(0);
	pid_t c = fork();
	if (c == 0) {
		setpgid(0, 0);
		signal(SIGTTOU, SIG_DFL);
		pid_t me = getpid();
		ioctl(0, TIOCSPGRP, &me);
		_exit(9);
	}
	int st;
	CHECK(waitpid(c, &st, WUNTRACED) == c && WIFSTOPPED(st) && WSTOPSIG(st) == SIGTTOU);
	CHECK(tcgetpgrp(0) == fg);
	kill(c, SIGKILL);
	waitpid(c, &st, 0);
}

/* ---- actions across fork and execve ---------------------------------------------- */

static int action_is(int sig, uintptr_t h, int flags)
{
	struct sigaction o;
	if (sigaction(sig, NULL, &o) != 0)
		return 0;
	return (uintptr_t)o.sa_handler == h && (o.sa_flags & (SA_SIGINFO | SA_RESTART)) == flags;
}

/* A fork's child starts with its parent's actions; a change on either
 * side afterwards is that side's own; execve keeps only ignoring. */
static void t_fork_actions(void)
{
	handle(SIGUSR1, SA_RESTART);
	signal(SIGUSR2, SIG_IGN);
	pid_t c = fork();
	if (c == 0) {
		CHECK(action_is(SIGUSR1, (uintptr_t)on_sig, SA_SIGINFO | SA_RESTART));
		CHECK(action_is(SIGUSR2, (uintptr_t)SIG_IGN, SA_RESTART));   /* glibc's signal() */
		signal(SIGUSR1, SIG_DFL);
		handle(SIGTERM, 0);
		raise(SIGUSR2);
		CHECK(action_is(SIGUSR1, (uintptr_t)SIG_DFL, SA_RESTART));
		char *argv[] = { "sigtest", "exec_actions", NULL };
		execv("/bin/sigtest", argv);
		_exit(4);
	}
	CHECK(action_is(SIGTERM, (uintptr_t)SIG_DFL, 0));
	int st;
	CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(action_is(SIGUSR1, (uintptr_t)on_sig, SA_SIGINFO | SA_RESTART));
	CHECK(action_is(SIGTERM, (uintptr_t)SIG_DFL, 0));
	raise(SIGUSR1);
	CHECK(hits == 1);
}

/* run by t_fork_actions's child after execve */
static int exec_actions(void)
{
	cur = "exec_actions";
	CHECK(action_is(SIGUSR2, (uintptr_t)SIG_IGN, 0));
	CHECK(action_is(SIGTERM, (uintptr_t)SIG_DFL, 0));
	CHECK(action_is(SIGUSR1, (uintptr_t)SIG_DFL, 0));
	raise(SIGUSR2);                             /* still ignored */
	return 0;
}

/* ---- the table ----------------------------------------------------------------- */

static const struct { const char *name; void (*fn)(void); } cases[] = {
	{ "handler", t_handler }, { "mask", t_mask }, { "ignore", t_ignore },
	{ "siglongjmp", t_siglongjmp }, { "abort", t_abort }, { "fpregs", t_fpregs },
	{ "altstack", t_altstack }, { "resethand", t_resethand },
	{ "eintr_pipe", t_eintr_pipe }, { "restart_pipe", t_restart_pipe },
	{ "partial_write", t_partial_write }, { "nanosleep_rem", t_nanosleep_rem }, { "futex_eintr", t_futex_eintr },
	{ "wait4_eintr", t_wait4_eintr }, { "sigsuspend", t_sigsuspend },
	{ "sigtimedwait", t_sigtimedwait }, { "segv_handler", t_segv_handler },
	{ "segv_in_handler", t_segv_in_handler }, { "stop_cont", t_stop_cont },
	{ "sigchld", t_sigchld }, { "sigchld_ignored", t_sigchld_ignored }, { "sigpipe", t_sigpipe }, { "default_term", t_default_term },
	{ "itimer", t_itimer }, { "posix_timer", t_posix_timer },
	{ "process_signal_to_thread", t_process_signal_to_thread },
	{ "exit_group_threads", t_exit_group_threads }, { "exit_race", t_exit_race },
	{ "init_unkillable", t_init_unkillable }, { "pgrp_rules", t_pgrp_rules },
	{ "ttou_background", t_ttou_background }, { "ttin_background", t_ttin_background },
	{ "uring_eintr", t_uring_eintr }, { "fork_actions", t_fork_actions },
};

static int run_case(int i)
{
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		cur = cases[i].name;
		cases[i].fn();
		printf("ok %s\n", cur);
		fflush(stdout);
		_exit(0);
	}
	int st;
	if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		if (WIFSIGNALED(st))
			printf("FAIL %s: killed by signal %d\n", cases[i].name, WTERMSIG(st));
		return 1;
	}
	return 0;
}

/* ---- interactive: ^C during a console read -------------------------------------- */

static int ttyread(int restart)
{
	handle(SIGINT, restart ? SA_RESTART : 0);
	printf("ttyread: reading\n");
	fflush(stdout);
	char buf[64];
	ssize_t n = read(0, buf, sizeof buf - 1);
	int e = errno;
	if (n < 0) {
		printf("ttyread: handler %d, read -1 %s\n", (int)hits, e == EINTR ? "EINTR" : strerror(e));
	} else {
		buf[n] = 0;
		if (n && buf[n - 1] == '\n')
			buf[n - 1] = 0;
		printf("ttyread: handler %d, read %zd '%s'\n", (int)hits, n, buf);
	}
	return 0;
}

/* ---- the storm ----------------------------------------------------------------- */

static volatile sig_atomic_t got;
static void on_ping(int sig) { (void)sig; got++; }
static void on_noise(int sig) { (void)sig; }

static int spipe[2];
static void *noise_reader(void *arg)
{
	(void)arg;
	char c;
	block(SIG_BLOCK, SIGUSR1);          /* pings go to the main thread */
	for (;;)
		if (read(spipe[0], &c, 1) == 1 && c == 'q')
			return NULL;
}

/* One side of a strict ping-pong: each ping (SIGUSR1) is awaited in
 * sigsuspend and answered; every ping comes with a SIGUSR2 whose
 * SA_RESTART handler interrupts whichever thread takes it - often the
 * second thread, waiting in read. */
static void storm_side(pid_t peer, int n, int first)
{
	struct sigaction sa = { .sa_handler = on_ping };
	sigaction(SIGUSR1, &sa, NULL);
	struct sigaction sn = { .sa_handler = on_noise, .sa_flags = SA_RESTART };
	sigaction(SIGUSR2, &sn, NULL);
	pthread_t t;
	pthread_create(&t, u_small_stack(), noise_reader, NULL);
	block(SIG_UNBLOCK, SIGUSR2);
	sigset_t none;
	sigemptyset(&none);
	for (int i = 0; i < n; i++) {
		if (first) {
			kill(peer, SIGUSR2);
			kill(peer, SIGUSR1);
		}
		while (got <= i)
			sigsuspend(&none);
		if (!first) {
			kill(peer, SIGUSR2);
			kill(peer, SIGUSR1);
		}
	}
	(void)!write(spipe[1], "q", 1);
	pthread_join(t, NULL);
}

static int storm(int n)
{
	block(SIG_BLOCK, SIGUSR1);
	block(SIG_BLOCK, SIGUSR2);
	if (pipe(spipe) < 0)
		return 1;
	pid_t parent = getpid();
	pid_t c = fork();
	if (c == 0) {
		if (pipe(spipe) < 0)
			_exit(1);
		storm_side(parent, n, 0);
		_exit(0);
	}
	storm_side(c, n, 1);
	int st;
	if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st))
		return printf("storm: child failed\n"), 1;
	printf("storm: %d ok\n", n);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "ttyread"))
		return ttyread(argc > 2);
	if (argc > 1 && !strcmp(argv[1], "exec_actions"))
		return exec_actions();
	if (argc > 1 && !strcmp(argv[1], "storm"))
		return storm(argc > 2 ? atoi(argv[2]) : 1000);
	int fails = 0, ran = 0;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		if (argc > 1 && strcmp(argv[1], cases[i].name))
			continue;
		fails += run_case((int)i);
		ran++;
	}
	if (!ran)
		return printf("sigtest: no case %s\n", argv[1]), 2;
	if (!fails)
		printf("sigtest: all %d ok\n", ran);
	return fails != 0;
}
