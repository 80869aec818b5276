/*
 * systest - correct use of every system call the kernel must support.
 *
 * Runs a table of small tests and prints "systest: PASS name" or
 * "systest: FAIL name: reason" for each, then "systest: all ok" or
 * "systest: N failed". Covers: getpid/getppid/gettid, set_tid_address,
 * brk, mmap/mprotect/munmap (anonymous), nanosleep, clock_gettime,
 * gettimeofday, times, uname, sched_yield, read/write/readv/writev,
 * openat/close/dup/dup3/pipe2/fstat/newfstatat/getcwd/chdir, getdents64,
 * ioctl(TCGETS) on fd 0, wait4 of a child that exits with 7, kill of a
 * child with SIGTERM and SIGKILL, execve of /bin/echo (argv) and of
 * systest itself (argv, envp and auxv, and an empty environment), futex
 * WAIT/WAKE between threads, sched_setaffinity/getaffinity (a pinned thread
 * and its new thread stay on their hart), ppoll and pselect6 on pipes and
 * the console.
 *
 * "systest --exec-child ARG" is the program side of the execve test;
 * "systest --poll-stdin" waits for a console line with poll().
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "ulib.h"

/* The fstat system call itself (glibc's fstat() uses newfstatat). */
static int sys_fstat(int fd, struct stat *st)
{
	long r = u_syscall2(SYS_fstat, fd, st);

	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return 0;
}

static char why[256];
static int nfailed;

/* Record a failure reason; returns -1 so tests can "return fail(...)". */
__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	return -1;
}

#define CHECK(cond, ...)                     \
	do {                                 \
		if (!(cond))                 \
			return fail(__VA_ARGS__); \
	} while (0)

/* ---- process ids -------------------------------------------------------- */

static int t_ids(void)
{
	pid_t pid = getpid(), tid = gettid(), ppid = getppid();

	CHECK(pid > 0, "getpid() = %d", pid);
	CHECK(tid == pid, "gettid() = %d, getpid() = %d", tid, pid);
	CHECK(ppid >= 0 && ppid != pid, "getppid() = %d", ppid);
	return 0;
}

static int t_set_tid_address(void)
{
	static int word;
	long r = u_syscall1(SYS_set_tid_address, &word);

	CHECK(r == gettid(), "set_tid_address returned %ld", r);
	return 0;
}

/* ---- memory ------------------------------------------------------------- */

static int t_brk(void)
{
	long cur = u_syscall1(SYS_brk, 0);
	CHECK(cur > 0, "brk(0) = %ld", cur);
	long grown = u_syscall1(SYS_brk, cur + 3 * 4096);
	CHECK(grown == cur + 3 * 4096, "brk(+12K) = %ld (was %ld)", grown, cur);
	memset((void *)cur, 0x5a, 3 * 4096);
	CHECK(((char *)cur)[3 * 4096 - 1] == 0x5a, "new heap not writable");
	long back = u_syscall1(SYS_brk, cur);
	CHECK(back == cur, "brk(shrink) = %ld", back);
	return 0;
}

static int t_mmap(void)
{
	size_t len = 5 * 4096;
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED, "mmap: %s", strerror(errno));
	CHECK(((uintptr_t)p & 4095) == 0, "mmap returned unaligned %p", p);
	for (size_t i = 0; i < len; i++)
		CHECK(p[i] == 0, "anonymous memory not zero at %zu", i);
	for (size_t i = 0; i < len; i += 4096)
		p[i] = (unsigned char)(i >> 12) + 1;
	for (size_t i = 0; i < len; i += 4096)
		CHECK(p[i] == (unsigned char)(i >> 12) + 1, "readback at %zu", i);
	CHECK(mprotect(p, 4096, PROT_READ) == 0, "mprotect: %s", strerror(errno));
	CHECK(p[0] == 1, "readback after mprotect");
	CHECK(munmap(p + 4096, 4096) == 0, "munmap middle: %s", strerror(errno));
	CHECK(munmap(p, len) == 0, "munmap: %s", strerror(errno));
	return 0;
}

/* ---- time ----------------------------------------------------------------- */

static int t_clock_gettime(void)
{
	struct timespec a, b, rt;

	CHECK(u_syscall2(SYS_clock_gettime, CLOCK_MONOTONIC, &a) == 0, "MONOTONIC");
	CHECK(u_syscall2(SYS_clock_gettime, CLOCK_MONOTONIC, &b) == 0, "MONOTONIC");
	CHECK(u_syscall2(SYS_clock_gettime, CLOCK_REALTIME, &rt) == 0, "REALTIME");
	CHECK(a.tv_nsec >= 0 && a.tv_nsec < 1000000000, "tv_nsec %ld", a.tv_nsec);
	CHECK(b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec >= a.tv_nsec),
	      "MONOTONIC went backwards");
	return 0;
}

static int t_nanosleep(void)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 }, rem;
	uint64_t t0 = u_now_ns();
	long r = u_syscall2(SYS_nanosleep, &ts, &rem);
	uint64_t dt = u_now_ns() - t0;

	CHECK(r == 0, "nanosleep returned %ld", r);
	CHECK(dt >= 20 * 1000 * 1000, "slept only %llu ns", (unsigned long long)dt);
	CHECK(dt < 2000ULL * 1000 * 1000, "slept %llu ns for 20 ms",
	      (unsigned long long)dt);
	return 0;
}

static int t_gettimeofday(void)
{
	struct timeval tv;
	struct timespec rt;

	CHECK(u_syscall2(SYS_gettimeofday, &tv, NULL) == 0, "gettimeofday failed");
	u_syscall2(SYS_clock_gettime, CLOCK_REALTIME, &rt);
	CHECK(tv.tv_usec >= 0 && tv.tv_usec < 1000000, "tv_usec %ld", tv.tv_usec);
	long diff = (long)rt.tv_sec - (long)tv.tv_sec;
	CHECK(diff >= 0 && diff <= 1, "differs from CLOCK_REALTIME by %ld s", diff);
	return 0;
}

static int t_times(void)
{
	struct tms t;
	long a, b;

	memset(&t, 0xff, sizeof t);
	a = u_syscall1(SYS_times, &t);
	CHECK(!(a < 0 && a > -4096), "times returned %ld", a);
	CHECK(t.tms_utime >= 0 && t.tms_stime >= 0 && t.tms_cutime >= 0 &&
	      t.tms_cstime >= 0, "struct tms not filled in");
	b = u_syscall1(SYS_times, NULL);
	CHECK(b >= a, "times went backwards (%ld then %ld)", a, b);
	return 0;
}

/* ---- misc --------------------------------------------------------------- */

static int t_uname(void)
{
	struct utsname u;

	memset(&u, 0, sizeof u);
	CHECK(u_syscall1(SYS_uname, &u) == 0, "uname failed");
	CHECK(u.sysname[0] && u.release[0] && u.version[0], "empty fields");
	CHECK(!strcmp(u.machine, "riscv64"), "machine \"%s\"", u.machine);
	printf("systest: uname: %s %s %s %s\n", u.sysname, u.nodename,
	       u.release, u.machine);
	return 0;
}

static int t_sched_yield(void)
{
	for (int i = 0; i < 10; i++)
		CHECK(u_syscall0(SYS_sched_yield) == 0, "sched_yield failed");
	return 0;
}

/* ---- files ---------------------------------------------------------------- */

static int t_pipe_rw(void)
{
	int p[2];
	char buf[64];
	char a[] = "one", b[] = "two", c[] = "three";
	struct iovec out[3] = { { a, 3 }, { b, 3 }, { c, 5 } };
	char x[4], y[7];
	struct iovec in[2] = { { x, 4 }, { y, 7 } };

	CHECK(pipe2(p, O_CLOEXEC) == 0, "pipe2: %s", strerror(errno));
	CHECK(write(p[1], "hello", 5) == 5, "write: %s", strerror(errno));
	CHECK(read(p[0], buf, sizeof buf) == 5 && !memcmp(buf, "hello", 5), "read");
	CHECK(writev(p[1], out, 3) == 11, "writev: %s", strerror(errno));
	CHECK(readv(p[0], in, 2) == 11, "readv: %s", strerror(errno));
	CHECK(!memcmp(x, "onet", 4) && !memcmp(y, "wothree", 7), "readv data");
	close(p[1]);
	CHECK(read(p[0], buf, sizeof buf) == 0, "no EOF after close of write end");
	close(p[0]);
	return 0;
}

static int t_fds(void)
{
	int p[2], d, d3;
	struct stat st;

	CHECK(pipe2(p, 0) == 0, "pipe2: %s", strerror(errno));
	CHECK(sys_fstat(p[0], &st) == 0 && S_ISFIFO(st.st_mode), "fstat(pipe) not FIFO");
	d = dup(p[1]);
	CHECK(d >= 0 && d != p[0] && d != p[1], "dup = %d", d);
	close(d);
	CHECK(dup(p[1]) == d, "dup did not reuse the lowest free fd %d", d);
	d3 = dup3(p[1], 50, O_CLOEXEC);
	CHECK(d3 == 50, "dup3 = %d: %s", d3, strerror(errno));
	CHECK(write(50, "z", 1) == 1, "write via dup3 fd");
	char c;
	CHECK(read(p[0], &c, 1) == 1 && c == 'z', "read back");
	CHECK(close(50) == 0 && close(d) == 0, "close");
	CHECK(close(50) < 0 && errno == EBADF, "double close did not fail");
	close(p[0]);
	close(p[1]);
	return 0;
}

static int t_open_fstat(void)
{
	char path[256];
	struct stat st;
	unsigned char hdr[4];
	int fd = open(u_binpath(path, sizeof path, "echo"), O_RDONLY | O_CLOEXEC);

	CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
	CHECK(sys_fstat(fd, &st) == 0, "fstat: %s", strerror(errno));
	CHECK(S_ISREG(st.st_mode) && st.st_size > 64, "%s: mode %o size %lld", path,
	      st.st_mode, (long long)st.st_size);
	CHECK(read(fd, hdr, 4) == 4 && !memcmp(hdr, "\177ELF", 4), "not ELF");
	close(fd);
	fd = open(u_bindir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(fd >= 0, "open dir: %s", strerror(errno));
	CHECK(sys_fstat(fd, &st) == 0 && S_ISDIR(st.st_mode), "fstat(dir) not dir");
	close(fd);
	return 0;
}

/* glibc's fstat() and stat() are newfstatat(fd, "", AT_EMPTY_PATH) and
 * newfstatat(AT_FDCWD, path, 0); stdio uses the former on stdout. */
static int t_newfstatat(void)
{
	char path[256];
	struct stat a, b;
	int fd = open(u_binpath(path, sizeof path, "echo"), O_RDONLY | O_CLOEXEC);

	CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
	CHECK(fstat(fd, &a) == 0, "newfstatat(fd, \"\", AT_EMPTY_PATH): %s",
	      strerror(errno));
	close(fd);
	CHECK(stat(path, &b) == 0, "newfstatat(AT_FDCWD, path): %s", strerror(errno));
	CHECK(S_ISREG(a.st_mode) && a.st_size == b.st_size && a.st_ino == b.st_ino,
	      "fstat and stat disagree");
	CHECK(stat(u_bindir(), &b) == 0 && S_ISDIR(b.st_mode), "stat(bin dir)");
	CHECK(stat("/nonexistent", &b) < 0 && errno == ENOENT, "stat(/nonexistent)");
	return 0;
}

static int t_cwd(void)
{
	char old[4096], now[4096], want[4096];

	CHECK(getcwd(old, sizeof old), "getcwd: %s", strerror(errno));
	CHECK(chdir(u_bindir()) == 0, "chdir: %s", strerror(errno));
	CHECK(getcwd(now, sizeof now), "getcwd: %s", strerror(errno));
	/* The raw call returns the length including the NUL. */
	long r = u_syscall2(SYS_getcwd, want, sizeof want);
	CHECK(r == (long)strlen(now) + 1, "getcwd returned %ld for \"%s\"", r, now);
	CHECK(chdir("..") == 0 && chdir(u_bindir()) == 0, "chdir ..");
	int fd = open("echo", O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0, "relative open after chdir: %s", strerror(errno));
	close(fd);
	CHECK(chdir(old) == 0, "chdir back: %s", strerror(errno));
	if (!strcmp(u_bindir(), "/bin"))
		CHECK(!strcmp(now, "/bin"), "getcwd = \"%s\"", now);
	return 0;
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static int t_getdents(void)
{
	static char buf[1024]; /* small: forces several calls */
	int fd = open(u_bindir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int found_sh = 0, found_echo = 0, n = 0;

	CHECK(fd >= 0, "open %s: %s", u_bindir(), strerror(errno));
	for (;;) {
		long len = u_syscall3(SYS_getdents64, fd, buf, sizeof buf);
		CHECK(len >= 0, "getdents64 returned %ld", len);
		if (len == 0)
			break;
		for (long off = 0; off < len;) {
			struct linux_dirent64 *d = (void *)(buf + off);
			CHECK(d->d_reclen >= offsetof(struct linux_dirent64, d_name) + 2 &&
			      off + d->d_reclen <= len &&
			      d->d_reclen % 8 == 0, "bad d_reclen %u", d->d_reclen);
			if (!strcmp(d->d_name, "sh"))
				found_sh = 1;
			if (!strcmp(d->d_name, "echo"))
				found_echo = 1;
			n++;
			off += d->d_reclen;
		}
	}
	close(fd);
	CHECK(found_sh && found_echo, "sh/echo not listed (%d entries)", n);
	return 0;
}

static int t_tcgets(void)
{
	struct stat st;
	struct termios t;
	long r = u_syscall3(SYS_ioctl, 0, TCGETS, &t);

	if (sys_fstat(0, &st) == 0 && !S_ISCHR(st.st_mode)) {
		printf("systest: note: fd 0 is not a terminal, TCGETS -> %ld\n", r);
		CHECK(r == -ENOTTY, "TCGETS on a non-terminal returned %ld", r);
		return 0;
	}
	CHECK(r == 0, "TCGETS on the console returned %ld", r);
	return 0;
}

/* ---- processes ------------------------------------------------------------ */

static int t_wait_exit7(void)
{
	int st;
	struct rusage ru;
	pid_t pid = fork();

	if (pid == 0)
		_exit(7);
	CHECK(pid > 0, "fork: %s", strerror(errno));
	pid_t w = wait4(pid, &st, 0, &ru);
	CHECK(w == pid, "wait4 returned %d", w);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7, "status 0x%x, want exit 7", st);
	CHECK(wait4(pid, &st, WNOHANG, NULL) < 0 && errno == ECHILD,
	      "child could be waited for twice");
	return 0;
}

static int kill_child(int sig)
{
	int st, p[2];
	char c;

	CHECK(pipe2(p, O_CLOEXEC) == 0, "pipe2");
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		write(p[1], "r", 1); /* running */
		for (;;)
			u_nanosleep(1000, 0);
	}
	CHECK(pid > 0, "fork: %s", strerror(errno));
	close(p[1]);
	CHECK(read(p[0], &c, 1) == 1, "child did not start");
	close(p[0]);
	CHECK(kill(pid, sig) == 0, "kill: %s", strerror(errno));
	CHECK(wait4(pid, &st, 0, NULL) == pid, "wait4: %s", strerror(errno));
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == sig, "status 0x%x, want signal %d",
	      st, sig);
	return 0;
}

static int t_kill_term(void) { return kill_child(SIGTERM); }
static int t_kill_kill(void) { return kill_child(SIGKILL); }

/* Run argv with stdout into a pipe; collect the output. */
static int run_capture(const char *path, char **argv, char **envp, char *out,
		       size_t n, int *status)
{
	int p[2];
	size_t len = 0;

	if (pipe2(p, O_CLOEXEC) < 0)
		return fail("pipe2: %s", strerror(errno));
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		u_execve(path, argv, envp);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		ssize_t r = read(p[0], out + len, n - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	out[len] = '\0';
	close(p[0]);
	if (pid < 0 || wait4(pid, status, 0, NULL) != pid)
		return fail("fork/wait4: %s", strerror(errno));
	return 0;
}

static int t_execve_echo(void)
{
	char path[256], out[256];
	char *argv[] = { "echo", "hello", "two words", "", "end", NULL };
	char *envp[] = { "X=1", NULL };
	int st;

	if (run_capture(u_binpath(path, sizeof path, "echo"), argv, envp, out,
			sizeof out, &st) < 0)
		return -1;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "echo status 0x%x", st);
	CHECK(!strcmp(out, "hello two words  end\n"), "echo printed \"%s\"", out);
	return 0;
}

static int t_execve_auxv(void)
{
	char path[256], out[512];
	char *argv[] = { "systest", "--exec-child", "arg one", NULL };
	char *envp[] = { "SYSTEST_A=alpha", "SYSTEST_B=beta gamma", NULL };
	int st;

	if (run_capture(u_binpath(path, sizeof path, "systest"), argv, envp, out,
			sizeof out, &st) < 0)
		return -1;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status 0x%x: %s", st, out);
	CHECK(!strcmp(out, "exec-child ok\n"), "child said \"%s\"", out);
	return 0;
}

/* An empty environment: the stack still holds envp's terminating null, so
 * glibc's start-up finds the aux vector where it belongs. */
static int t_execve_empty_env(void)
{
	char path[256], out[512];
	char *argv[] = { "systest", "--exec-child-noenv", NULL };
	char *envp[] = { NULL };
	int st;

	if (run_capture(u_binpath(path, sizeof path, "systest"), argv, envp, out,
			sizeof out, &st) < 0)
		return -1;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status 0x%x: %s", st, out);
	CHECK(!strcmp(out, "exec-child-noenv ok\n"), "child said \"%s\"", out);
	return 0;
}

extern char **environ;

/* The exec'd side of t_execve_empty_env. */
static int exec_child_noenv(int argc, char **argv)
{
	if (argc != 2 || argv[2] != NULL)
		return printf("argv wrong (argc %d)\n", argc), 1;
	if (environ[0] != NULL)
		return printf("environment not empty: %s\n", environ[0]), 1;
	if (getauxval(AT_PAGESZ) != 4096 || !getauxval(AT_RANDOM))
		return printf("aux vector wrong\n"), 1;
	printf("exec-child-noenv ok\n");
	return 0;
}

/* The exec'd side of t_execve_auxv: check argv, envp and the aux vector. */
static int exec_child(int argc, char **argv)
{
	const char *e;
	unsigned long v;

	if (argc != 3 || strcmp(argv[2], "arg one") != 0)
		return printf("argv wrong (argc %d)\n", argc), 1;
	if (!(e = getenv("SYSTEST_A")) || strcmp(e, "alpha") != 0 ||
	    !(e = getenv("SYSTEST_B")) || strcmp(e, "beta gamma") != 0)
		return printf("envp wrong\n"), 1;
	if ((v = getauxval(AT_PAGESZ)) != 4096)
		return printf("AT_PAGESZ %lu\n", v), 1;
	if (!getauxval(AT_PHDR) || getauxval(AT_PHENT) != 56 || !getauxval(AT_PHNUM))
		return printf("AT_PHDR/PHENT/PHNUM missing\n"), 1;
	if (!getauxval(AT_ENTRY) || !getauxval(AT_RANDOM))
		return printf("AT_ENTRY/AT_RANDOM missing\n"), 1;
	printf("exec-child ok\n");
	return 0;
}

/* ---- futex ---------------------------------------------------------------- */

static int futex_word;
static volatile int waiter_ready, waiter_woken;

static void *futex_waker(void *arg)
{
	(void)arg;
	while (!waiter_ready)
		sched_yield();
	/* Give the main thread time to really block in FUTEX_WAIT. */
	u_nanosleep(0, 20 * 1000 * 1000);
	__atomic_store_n(&futex_word, 1, __ATOMIC_SEQ_CST);
	long n = u_syscall3(SYS_futex, &futex_word, 1 /* FUTEX_WAKE */, 1);
	return (void *)n;
}

static int t_futex(void)
{
	pthread_t t;
	void *woken;
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	/* Wrong value: EAGAIN at once. Timeout: ETIMEDOUT. */
	long r = u_syscall4(SYS_futex, &futex_word, 0 /* FUTEX_WAIT */, 1, NULL);
	CHECK(r == -EAGAIN, "WAIT with stale value returned %ld", r);
	r = u_syscall4(SYS_futex, &futex_word, 0, 0, &ts);
	CHECK(r == -ETIMEDOUT, "WAIT with 10 ms timeout returned %ld", r);

	CHECK(pthread_create(&t, u_small_stack(), futex_waker, NULL) == 0, "pthread_create");
	waiter_ready = 1;
	while (__atomic_load_n(&futex_word, __ATOMIC_SEQ_CST) == 0) {
		r = u_syscall4(SYS_futex, &futex_word, 0, 0, NULL);
		CHECK(r == 0 || r == -EAGAIN || r == -EINTR, "WAIT returned %ld", r);
	}
	CHECK(pthread_join(t, &woken) == 0, "pthread_join");
	CHECK((long)woken <= 1 && (long)woken >= 0, "WAKE returned %ld", (long)woken);
	return 0;
}



/* ---- sched_setaffinity / sched_getaffinity -------------------------------- */

static volatile int pinned_ok;

/* A thread of a pinned thread: inherits the mask, never runs elsewhere. */
static void *pinned_thread(void *arg)
{
	int want = (int)(long)arg, ok = 1;

	for (int i = 0; i < 200; i++) {
		if (sched_getcpu() != want)
			ok = 0;
		sched_yield();
	}
	pinned_ok = ok;
	return NULL;
}

static int t_sched_affinity(void)
{
	cpu_set_t all, one, got;
	pthread_t t;

	CHECK(sched_getaffinity(0, sizeof all, &all) == 0, "getaffinity: %s", strerror(errno));
	int n = CPU_COUNT(&all);
	CHECK(n >= 1 && CPU_ISSET(0, &all), "%d harts in the mask", n);
	long r = u_syscall3(SYS_sched_getaffinity, 0, 4, &got);
	CHECK(r == -EINVAL, "getaffinity with 4 bytes: %ld", r);
	r = u_syscall3(SYS_sched_getaffinity, 0, 8, &got);
	CHECK(r == 8, "getaffinity with 8 bytes: %ld", r);
	CHECK(u_syscall3(SYS_sched_getaffinity, 99999, 8, &got) == -ESRCH, "no such thread");
	CPU_ZERO(&one);
	CPU_SET(60, &one);
	CHECK(sched_setaffinity(0, sizeof one, &one) < 0 && errno == EINVAL, "hart 60 accepted");
	if (n < 2)
		return 0;
	int last = -1;
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &all))
			last = i;
	/* pinned to the last hart: runs there at once and stays, with a thread */
	CPU_ZERO(&one);
	CPU_SET(last, &one);
	CHECK(sched_setaffinity(0, sizeof one, &one) == 0, "setaffinity: %s", strerror(errno));
	CHECK(sched_getcpu() == last, "on hart %d, pinned to %d", sched_getcpu(), last);
	CHECK(sched_getaffinity(0, sizeof got, &got) == 0 && CPU_EQUAL(&got, &one), "mask read back");
	pinned_ok = 0;
	CHECK(pthread_create(&t, u_small_stack(), pinned_thread, (void *)(long)last) == 0, "pthread_create");
	for (int i = 0; i < 200; i++) {
		CHECK(sched_getcpu() == last, "moved to hart %d", sched_getcpu());
		sched_yield();
	}
	pthread_join(t, NULL);
	CHECK(pinned_ok, "the new thread ran off hart %d", last);
	/* hart 0, then everything again */
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	CHECK(sched_setaffinity(0, sizeof one, &one) == 0 && sched_getcpu() == 0, "hart 0");
	CHECK(sched_setaffinity(0, sizeof all, &all) == 0, "back to all");
	return 0;
}

/* ---- ppoll and pselect6 --------------------------------------------------- */

static int late_fd;

/* Write one byte to late_fd after 20 ms. */
static void *late_writer(void *arg)
{
	(void)arg;
	u_nanosleep(0, 20 * 1000 * 1000);
	return (void *)(long)write(late_fd, "x", 1);
}

static int t_ppoll_pipe(void)
{
	int p[2];
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	pthread_t t;

	CHECK(pipe2(p, 0) == 0, "pipe2: %s", strerror(errno));
	/* empty: the 10 ms timeout expires, nothing reported, time used up */
	struct pollfd f[3] = { { p[0], POLLIN, 0 }, { -1, POLLIN, 0 }, { 77, POLLIN, 0 } };
	long r = u_syscall5(SYS_ppoll, f, 1, &ts, NULL, 8);
	CHECK(r == 0 && f[0].revents == 0, "empty pipe: %ld revents %#x", r, f[0].revents);
	CHECK(ts.tv_sec == 0 && ts.tv_nsec == 0, "remaining %ld.%09ld", (long)ts.tv_sec, ts.tv_nsec);
	/* a negative fd is ignored, one that is not open is POLLNVAL */
	ts.tv_nsec = 0;
	r = u_syscall5(SYS_ppoll, f, 3, &ts, NULL, 8);
	CHECK(r == 1 && f[1].revents == 0 && f[2].revents == POLLNVAL, "nval: %ld %#x %#x", r,
	      f[1].revents, f[2].revents);
	/* woken by a write from another thread, no timeout */
	late_fd = p[1];
	CHECK(pthread_create(&t, u_small_stack(), late_writer, NULL) == 0, "pthread_create");
	r = u_syscall5(SYS_ppoll, f, 1, NULL, NULL, 8);
	CHECK(r == 1 && f[0].revents == POLLIN, "late write: %ld revents %#x", r, f[0].revents);
	pthread_join(t, NULL);
	/* the write end has room */
	struct pollfd w = { p[1], POLLOUT, 0 };
	r = u_syscall5(SYS_ppoll, &w, 1, NULL, NULL, 8);
	CHECK(r == 1 && w.revents == POLLOUT, "write end: %ld revents %#x", r, w.revents);
	/* the last writer goes: POLLHUP (and POLLIN while a byte is left) */
	close(p[1]);
	r = u_syscall5(SYS_ppoll, f, 1, NULL, NULL, 8);
	CHECK(r == 1 && f[0].revents == (POLLIN | POLLHUP), "hang-up: %ld revents %#x", r, f[0].revents);
	/* a bad sigset size */
	r = u_syscall5(SYS_ppoll, f, 1, NULL, &ts, 3);
	CHECK(r == -EINVAL, "sigsetsize 3: %ld", r);
	close(p[0]);
	/* no reader: POLLERR on the write end, asked for or not */
	CHECK(pipe2(p, 0) == 0, "pipe2");
	close(p[0]);
	w.fd = p[1];
	r = u_syscall5(SYS_ppoll, &w, 1, NULL, NULL, 8);
	CHECK(r == 1 && (w.revents & POLLERR), "no reader: %ld revents %#x", r, w.revents);
	close(p[1]);
	/* glibc's poll() is ppoll */
	struct pollfd out = { 1, POLLOUT, 0 };
	CHECK(poll(&out, 1, -1) == 1 && out.revents == POLLOUT, "console POLLOUT %#x", out.revents);
	return 0;
}

static int t_pselect6_pipe(void)
{
	int p[2];
	fd_set rd, wr;
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	pthread_t t;

	CHECK(pipe2(p, 0) == 0, "pipe2: %s", strerror(errno));
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	long r = u_syscall6(SYS_pselect6, p[0] + 1, (long)&rd, (long)NULL, (long)NULL, (long)&ts, (long)NULL);
	CHECK(r == 0 && !FD_ISSET(p[0], &rd), "empty pipe: %ld", r);
	/* both ends, the write end ready at once */
	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_SET(p[0], &rd);
	FD_SET(p[1], &wr);
	r = u_syscall6(SYS_pselect6, p[1] + 1, (long)&rd, (long)&wr, (long)NULL, (long)NULL, (long)NULL);
	CHECK(r == 1 && !FD_ISSET(p[0], &rd) && FD_ISSET(p[1], &wr), "write end: %ld", r);
	/* woken by a late write, with a long timeout that is then partly left */
	late_fd = p[1];
	CHECK(pthread_create(&t, u_small_stack(), late_writer, NULL) == 0, "pthread_create");
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	ts.tv_sec = 10;
	ts.tv_nsec = 0;
	r = u_syscall6(SYS_pselect6, p[0] + 1, (long)&rd, (long)NULL, (long)NULL, (long)&ts, (long)NULL);
	CHECK(r == 1 && FD_ISSET(p[0], &rd), "late write: %ld", r);
	CHECK(ts.tv_sec >= 1 && ts.tv_sec < 10, "remaining %ld s", (long)ts.tv_sec);
	pthread_join(t, NULL);
	/* an fd that is not open: EBADF */
	FD_ZERO(&rd);
	FD_SET(40, &rd);
	r = u_syscall6(SYS_pselect6, 41, (long)&rd, (long)NULL, (long)NULL, (long)NULL, (long)NULL);
	CHECK(r == -EBADF, "fd 40: %ld", r);
	/* glibc's select() is pselect6 */
	FD_ZERO(&wr);
	FD_SET(1, &wr);
	struct timeval tv = { 1, 0 };
	CHECK(select(2, NULL, &wr, NULL, &tv) == 1 && FD_ISSET(1, &wr), "console writable");
	close(p[0]);
	close(p[1]);
	return 0;
}

/* systest --poll-stdin: wait for a line on the console with poll(), then
 * read it (the console test types it once "waiting" is printed). */
static int poll_stdin(void)
{
	struct pollfd f = { 0, POLLIN, 0 };
	char line[128];

	printf("poll-stdin: waiting\n");
	int r = poll(&f, 1, -1);
	ssize_t n = read(0, line, sizeof line - 1);
	line[n > 0 ? n : 0] = '\0';
	printf("poll-stdin: poll %d revents %#x read \"%s\"\n", r, f.revents, strtok(line, "\n"));
	return 0;
}

/* ---- driver --------------------------------------------------------------- */

static const struct {
	const char *name;
	int (*fn)(void);
} tests[] = {
	{ "getpid_getppid_gettid", t_ids },
	{ "set_tid_address", t_set_tid_address },
	{ "brk", t_brk },
	{ "mmap_munmap", t_mmap },
	{ "clock_gettime", t_clock_gettime },
	{ "nanosleep", t_nanosleep },
	{ "gettimeofday", t_gettimeofday },
	{ "times", t_times },
	{ "uname", t_uname },
	{ "sched_yield", t_sched_yield },
	{ "pipe_read_write_readv_writev", t_pipe_rw },
	{ "dup_dup3_close_fstat", t_fds },
	{ "openat_fstat", t_open_fstat },
	{ "newfstatat", t_newfstatat },
	{ "getcwd_chdir", t_cwd },
	{ "getdents64", t_getdents },
	{ "ioctl_tcgets", t_tcgets },
	{ "wait4_exit7", t_wait_exit7 },
	{ "kill_sigterm", t_kill_term },
	{ "kill_sigkill", t_kill_kill },
	{ "execve_echo", t_execve_echo },
	{ "execve_argv_envp_auxv", t_execve_auxv },
	{ "execve_empty_environment", t_execve_empty_env },
	{ "futex_wait_wake", t_futex },
	{ "sched_affinity", t_sched_affinity },
	{ "ppoll_pipe", t_ppoll_pipe },
	{ "pselect6_pipe", t_pselect6_pipe },
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && !strcmp(argv[1], "--exec-child"))
		return exec_child(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "--poll-stdin"))
		return poll_stdin();
	if (argc >= 2 && !strcmp(argv[1], "--exec-child-noenv"))
		return exec_child_noenv(argc, argv);

	for (size_t i = 0; i < ARRAY_SIZE(tests); i++) {
		why[0] = '\0';
		if (tests[i].fn() == 0) {
			printf("systest: PASS %s\n", tests[i].name);
		} else {
			printf("systest: FAIL %s: %s\n", tests[i].name, why);
			nfailed++;
		}
	}
	if (nfailed)
		printf("systest: %d failed\n", nfailed);
	else
		printf("systest: all ok\n");
	return nfailed != 0;
}
