/*
 * badcalls - system calls with bad arguments must fail cleanly.
 *
 * Each case makes one raw system call (no glibc wrapper, so the kernel's
 * exact return value is seen) with a bad argument: NULL, a kernel address,
 * an unmapped user address, a buffer straddling the end of a mapping into
 * an unmapped page, a huge or negative length, a bad fd, bad flags. The
 * expected results are what Linux returns. Per case it prints
 *   badcalls: <call> -> <ret> [ERRNAME]
 * and on a mismatch
 *   badcalls: FAIL <call> expected <X> got <Y>
 * and at the end "badcalls: all N ok" or "badcalls: F of N failed".
 *
 * Pipe cases use a fresh pipe holding 64 bytes (rp = read end, wp = write
 * end). Cases that could replace the process (execve) or create one
 * (clone) run in a child, so a kernel bug cannot derail the test.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "ulib.h"

#define KADDR 0xffffffc000000000UL /* start of the kernel half on Sv39 */
#define ANY_OK LONG_MIN            /* expect success: any non-error value */
#define AT_FDCWD_ (-100)

static int total, failed;
static int rp = -1, wp = -1;
static char buf[4096];

static const char *errname(long e)
{
	static const char *names[] = {
		[EPERM] = "EPERM",     [ENOENT] = "ENOENT",   [ESRCH] = "ESRCH",
		[EINTR] = "EINTR",     [EIO] = "EIO",         [E2BIG] = "E2BIG",
		[ENOEXEC] = "ENOEXEC", [EBADF] = "EBADF",     [ECHILD] = "ECHILD",
		[EAGAIN] = "EAGAIN",   [ENOMEM] = "ENOMEM",   [EACCES] = "EACCES",
		[EFAULT] = "EFAULT",   [EEXIST] = "EEXIST",   [ENOTDIR] = "ENOTDIR",
		[EISDIR] = "EISDIR",   [EINVAL] = "EINVAL",   [EMFILE] = "EMFILE",
		[ENOTTY] = "ENOTTY",   [ESPIPE] = "ESPIPE",   [EPIPE] = "EPIPE",
		[ERANGE] = "ERANGE",   [ENAMETOOLONG] = "ENAMETOOLONG",
		[ENOSYS] = "ENOSYS",   [ELOOP] = "ELOOP",
	};
	if (e > 0 && e < (long)ARRAY_SIZE(names) && names[e])
		return names[e];
	return "?";
}

static void describe(char *out, size_t n, long v)
{
	if (v == ANY_OK)
		snprintf(out, n, "success");
	else if (v < 0 && v > -4096)
		snprintf(out, n, "%ld %s", v, errname(-v));
	else
		snprintf(out, n, "%ld", v);
}

static void check(const char *name, long ret, long expect)
{
	char got[64], want[64];
	int ok = expect == ANY_OK ? !(ret < 0 && ret > -4096) : ret == expect;

	total++;
	describe(got, sizeof got, ret);
	describe(want, sizeof want, expect);
	printf("badcalls: %s -> %s\n", name, got);
	if (!ok) {
		failed++;
		printf("badcalls: FAIL %s expected %s got %s\n", name, want, got);
	}
}

/* A fresh pipe with 64 bytes in it, for one case. */
static void pipe_open(void)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		u_die("badcalls", "pipe2", errno);
	rp = p[0];
	wp = p[1];
	memset(buf, 'x', 64);
	if (write(wp, buf, 64) != 64)
		u_die("badcalls", "write", errno);
}

static void pipe_close(void)
{
	close(rp);
	close(wp);
}

#define T(name, expect, call)                \
	do {                                 \
		pipe_open();                 \
		check(name, (call), expect); \
		pipe_close();                \
	} while (0)

#define S1(n, a) u_syscall1(SYS_##n, a)
#define S2(n, a, b) u_syscall2(SYS_##n, a, b)
#define S3(n, a, b, c) u_syscall3(SYS_##n, a, b, c)
#define S4(n, a, b, c, d) u_syscall4(SYS_##n, a, b, c, d)
#define S6(n, a, b, c, d, e, f) u_syscall6(SYS_##n, (long)(a), (long)(b), \
					   (long)(c), (long)(d), (long)(e), (long)(f))

/*
 * A string with no NUL before the unmapped page. Refilled on every use:
 * the cases writing to "straddle" buffers store their first bytes there.
 */
static char *last_page;
static char *noterm(void)
{
	memset(last_page + 4096 - 16, 'a', 16);
	return last_page + 4096 - 16;
}

/* Run execve(path, argv, envp) in a child; its result comes back. */
static long exec_in_child(const char *path, char *const *argv, char *const *envp)
{
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		long r = S3(execve, path, argv, envp);
		_exit(r < 0 && r > -255 ? (int)-r : 255);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -99999;
	if (!WIFEXITED(st))
		return -99998;
	/* 0 means the program really ran (nop exits 0). */
	return WEXITSTATUS(st) == 0 ? 0 : -(long)WEXITSTATUS(st);
}

/* Raw clone with bad flags; a child created by mistake exits at once. */
static long bad_clone(unsigned long flags)
{
	long r = u_syscall5(SYS_clone, flags, 0, 0, 0, 0);

	if (r == 0)
		u_syscall1(SYS_exit, 0);
	if (r > 0)
		waitpid((pid_t)r, NULL, __WALL);
	return r;
}

int main(void)
{
	char sh[256], nop[256], longpath[5000];
	char *argv_ok[] = { "nop", NULL };
	char *argv_kaddr[] = { (char *)KADDR, NULL };
	char *envp_ok[] = { NULL };
	struct iovec iov;
	struct timespec ts;
	int st, fds[2];

	setvbuf(stdout, NULL, _IOLBF, 0);
	u_binpath(sh, sizeof sh, "sh");
	u_binpath(nop, sizeof nop, "nop");
	longpath[0] = '/';
	memset(longpath + 1, 'a', sizeof longpath - 2);
	longpath[sizeof longpath - 1] = '\0';

	/* Two pages; the second is unmapped again. */
	char *two = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (two == MAP_FAILED)
		u_die("badcalls", "mmap", errno);
	if (munmap(two + 4096, 4096) < 0)
		u_die("badcalls", "munmap", errno);
	char *unmapped = two + 4096;
	char *straddle = two + 4096 - 4;   /* 4 mapped bytes, then a hole */
	char *straddle64 = two + 4096 - 64; /* 64 mapped bytes */
	last_page = two;

	/* read */
	T("read(-1, buf, 8)", -EBADF, S3(read, -1, buf, 8));
	T("read(9999, buf, 8)", -EBADF, S3(read, 9999, buf, 8));
	T("read(wp, buf, 8)", -EBADF, S3(read, wp, buf, 8));
	T("read(rp, NULL, 8)", -EFAULT, S3(read, rp, NULL, 8));
	T("read(rp, kaddr, 8)", -EFAULT, S3(read, rp, KADDR, 8));
	T("read(rp, unmapped, 8)", -EFAULT, S3(read, rp, unmapped, 8));
	T("read(rp, straddle, 10)", -EFAULT, S3(read, rp, straddle, 10));
	T("read(rp, buf, -1)", -EFAULT, S3(read, rp, buf, -1L));
	T("read(rp, buf, 1<<60)", -EFAULT, S3(read, rp, buf, 1L << 60));
	T("read(rp, NULL, 0)", 0, S3(read, rp, NULL, 0));

	/* write */
	T("write(-1, buf, 8)", -EBADF, S3(write, -1, buf, 8));
	T("write(9999, buf, 8)", -EBADF, S3(write, 9999, buf, 8));
	T("write(rp, buf, 8)", -EBADF, S3(write, rp, buf, 8));
	T("write(wp, NULL, 8)", -EFAULT, S3(write, wp, NULL, 8));
	T("write(wp, kaddr, 8)", -EFAULT, S3(write, wp, KADDR, 8));
	T("write(wp, unmapped, 8)", -EFAULT, S3(write, wp, unmapped, 8));
	T("write(wp, straddle, 10)", -EFAULT, S3(write, wp, straddle, 10));
	T("write(wp, buf, -1)", -EFAULT, S3(write, wp, buf, -1L));
	T("write(wp, buf, 1<<60)", -EFAULT, S3(write, wp, buf, 1L << 60));
	T("write(wp, NULL, 0)", 0, S3(write, wp, NULL, 0));

	/* readv */
	iov.iov_base = buf;
	iov.iov_len = 8;
	T("readv(-1, iov, 1)", -EBADF, S3(readv, -1, &iov, 1));
	T("readv(rp, NULL, 1)", -EFAULT, S3(readv, rp, NULL, 1));
	T("readv(rp, kaddr, 1)", -EFAULT, S3(readv, rp, KADDR, 1));
	T("readv(rp, iov, -1)", -EINVAL, S3(readv, rp, &iov, -1));
	T("readv(rp, iov, 1025)", -EINVAL, S3(readv, rp, &iov, 1025));
	iov.iov_base = NULL;
	T("readv(rp, {NULL, 8}, 1)", -EFAULT, S3(readv, rp, &iov, 1));
	iov.iov_base = (void *)KADDR;
	T("readv(rp, {kaddr, 8}, 1)", -EFAULT, S3(readv, rp, &iov, 1));
	iov.iov_base = buf;
	iov.iov_len = (size_t)-1;
	T("readv(rp, {buf, -1}, 1)", -EINVAL, S3(readv, rp, &iov, 1));

	/* writev */
	iov.iov_base = buf;
	iov.iov_len = 8;
	T("writev(9999, iov, 1)", -EBADF, S3(writev, 9999, &iov, 1));
	T("writev(wp, NULL, 1)", -EFAULT, S3(writev, wp, NULL, 1));
	T("writev(wp, iov, -1)", -EINVAL, S3(writev, wp, &iov, -1));
	iov.iov_base = NULL;
	T("writev(wp, {NULL, 8}, 1)", -EFAULT, S3(writev, wp, &iov, 1));
	iov.iov_base = unmapped;
	T("writev(wp, {unmapped, 8}, 1)", -EFAULT, S3(writev, wp, &iov, 1));
	iov.iov_base = buf;
	iov.iov_len = (size_t)-1;
	T("writev(wp, {buf, -1}, 1)", -EINVAL, S3(writev, wp, &iov, 1));

	/* openat */
	T("openat(NULL)", -EFAULT, S4(openat, AT_FDCWD_, NULL, O_RDONLY, 0));
	T("openat(kaddr)", -EFAULT, S4(openat, AT_FDCWD_, KADDR, O_RDONLY, 0));
	T("openat(unmapped)", -EFAULT, S4(openat, AT_FDCWD_, unmapped, O_RDONLY, 0));
	T("openat(unterminated string)", -EFAULT,
	  S4(openat, AT_FDCWD_, noterm(), O_RDONLY, 0));
	T("openat(\"/nonexistent/file\")", -ENOENT,
	  S4(openat, AT_FDCWD_, "/nonexistent/file", O_RDONLY, 0));
	T("openat(\"\")", -ENOENT, S4(openat, AT_FDCWD_, "", O_RDONLY, 0));
	T("openat(9999, \"relative\")", -EBADF,
	  S4(openat, 9999, "relative", O_RDONLY, 0));
	T("openat(\"/\", O_WRONLY)", -EISDIR, S4(openat, AT_FDCWD_, "/", O_WRONLY, 0));
	T("openat(\"/bin/sh\", O_DIRECTORY)", -ENOTDIR,
	  S4(openat, AT_FDCWD_, sh, O_RDONLY | O_DIRECTORY, 0));
	T("openat(\"/bin/sh/x\")", -ENOTDIR,
	  S4(openat, AT_FDCWD_, strcat(strcpy(buf + 100, sh), "/x"), O_RDONLY, 0));
	T("openat(5000-byte path)", -ENAMETOOLONG,
	  S4(openat, AT_FDCWD_, longpath, O_RDONLY, 0));

	/* pipe2 */
	T("pipe2(NULL, 0)", -EFAULT, S2(pipe2, NULL, 0));
	T("pipe2(kaddr, 0)", -EFAULT, S2(pipe2, KADDR, 0));
	T("pipe2(straddle, 0)", -EFAULT, S2(pipe2, straddle, 0));
	T("pipe2(fds, O_WRONLY)", -EINVAL, S2(pipe2, fds, O_WRONLY));
	T("pipe2(fds, 0x10000000)", -EINVAL, S2(pipe2, fds, 0x10000000));

	/* fstat */
	T("fstat(-1, buf)", -EBADF, S2(fstat, -1, buf));
	T("fstat(9999, buf)", -EBADF, S2(fstat, 9999, buf));
	T("fstat(rp, NULL)", -EFAULT, S2(fstat, rp, NULL));
	T("fstat(rp, kaddr)", -EFAULT, S2(fstat, rp, KADDR));
	T("fstat(rp, unmapped)", -EFAULT, S2(fstat, rp, unmapped));
	T("fstat(rp, straddle)", -EFAULT, S2(fstat, rp, straddle64));

	/* getcwd (the raw call: size 0 is ERANGE, glibc's wrapper says EINVAL) */
	T("getcwd(NULL, 100)", -EFAULT, S2(getcwd, NULL, 100));
	T("getcwd(kaddr, 100)", -EFAULT, S2(getcwd, KADDR, 100));
	T("getcwd(buf, 0)", -ERANGE, S2(getcwd, buf, 0));
	T("getcwd(buf, 1)", -ERANGE, S2(getcwd, buf, 1));

	/* chdir */
	T("chdir(NULL)", -EFAULT, S1(chdir, NULL));
	T("chdir(kaddr)", -EFAULT, S1(chdir, KADDR));
	T("chdir(unterminated string)", -EFAULT, S1(chdir, noterm()));
	T("chdir(\"/nonexistent\")", -ENOENT, S1(chdir, "/nonexistent"));
	T("chdir(\"\")", -ENOENT, S1(chdir, ""));
	T("chdir(\"/bin/sh\")", -ENOTDIR, S1(chdir, sh));

	/* clock_gettime */
	T("clock_gettime(MONOTONIC, NULL)", -EFAULT,
	  S2(clock_gettime, CLOCK_MONOTONIC, NULL));
	T("clock_gettime(MONOTONIC, kaddr)", -EFAULT,
	  S2(clock_gettime, CLOCK_MONOTONIC, KADDR));
	T("clock_gettime(MONOTONIC, straddle)", -EFAULT,
	  S2(clock_gettime, CLOCK_MONOTONIC, straddle));
	T("clock_gettime(12345, buf)", -EINVAL, S2(clock_gettime, 12345, buf));

	/* uname */
	T("uname(NULL)", -EFAULT, S1(uname, NULL));
	T("uname(kaddr)", -EFAULT, S1(uname, KADDR));
	T("uname(straddle)", -EFAULT, S1(uname, straddle64));

	/* wait4 */
	T("wait4(-1) without children", -ECHILD, S4(wait4, -1, &st, 0, NULL));
	T("wait4(-1, options=0x1000000)", -EINVAL,
	  S4(wait4, -1, &st, 0x1000000, NULL));
	T("wait4(99999)", -ECHILD, S4(wait4, 99999, &st, 0, NULL));
	{
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		/* Linux reaps the child, then fails to store the status. */
		T("wait4(child, kaddr)", -EFAULT, S4(wait4, pid, KADDR, 0, NULL));
		T("wait4(child) again", -ECHILD, S4(wait4, pid, &st, 0, NULL));
	}

	/* execve, each in a child */
	T("execve(NULL)", -EFAULT, exec_in_child(NULL, argv_ok, envp_ok));
	T("execve(kaddr)", -EFAULT, exec_in_child((char *)KADDR, argv_ok, envp_ok));
	T("execve(\"/nonexistent\")", -ENOENT,
	  exec_in_child("/nonexistent", argv_ok, envp_ok));
	T("execve(\"/\")", -EACCES, exec_in_child("/", argv_ok, envp_ok));
	T("execve(nop, argv=kaddr)", -EFAULT,
	  exec_in_child(nop, (char **)KADDR, envp_ok));
	T("execve(nop, argv={kaddr})", -EFAULT, exec_in_child(nop, argv_kaddr, envp_ok));
	T("execve(nop, envp=kaddr)", -EFAULT,
	  exec_in_child(nop, argv_ok, (char **)KADDR));
	T("execve(nop, envp={kaddr})", -EFAULT, exec_in_child(nop, argv_ok, argv_kaddr));

	/* nanosleep */
	T("nanosleep(NULL)", -EFAULT, S2(nanosleep, NULL, NULL));
	T("nanosleep(kaddr)", -EFAULT, S2(nanosleep, KADDR, NULL));
	ts = (struct timespec){ 0, 1000000000 };
	T("nanosleep({0, 1000000000})", -EINVAL, S2(nanosleep, &ts, NULL));
	ts = (struct timespec){ -1, 0 };
	T("nanosleep({-1, 0})", -EINVAL, S2(nanosleep, &ts, NULL));
	ts = (struct timespec){ 0, -1 };
	T("nanosleep({0, -1})", -EINVAL, S2(nanosleep, &ts, NULL));
	ts = (struct timespec){ 0, 1000 };
	T("nanosleep({0, 1000}, rem=kaddr)", 0, S2(nanosleep, &ts, KADDR));

	/* times, gettimeofday */
	T("times(NULL)", ANY_OK, S1(times, NULL));
	T("times(kaddr)", -EFAULT, S1(times, KADDR));
	T("gettimeofday(NULL, NULL)", 0, S2(gettimeofday, NULL, NULL));
	T("gettimeofday(kaddr, NULL)", -EFAULT, S2(gettimeofday, KADDR, NULL));
	T("gettimeofday(tv, kaddr)", -EFAULT, S2(gettimeofday, buf, KADDR));

	/* clone with inconsistent flags */
	T("clone(CLONE_SIGHAND without CLONE_VM)", -EINVAL,
	  bad_clone(CLONE_SIGHAND | SIGCHLD));
	T("clone(CLONE_THREAD without CLONE_SIGHAND)", -EINVAL,
	  bad_clone(CLONE_THREAD | CLONE_VM | SIGCHLD));
	T("clone(CLONE_NEWNS|CLONE_FS)", -EINVAL, bad_clone(CLONE_NEWNS | CLONE_FS));

	/* fd calls */
	T("close(-1)", -EBADF, S1(close, -1));
	T("close(9999)", -EBADF, S1(close, 9999));
	T("dup(-1)", -EBADF, S1(dup, -1));
	T("dup3(rp, rp, 0)", -EINVAL, S3(dup3, rp, rp, 0));
	T("dup3(rp, 100, 0x1)", -EINVAL, S3(dup3, rp, 100, 1));
	T("ioctl(9999, TCGETS)", -EBADF, S3(ioctl, 9999, TCGETS, buf));
	T("ioctl(rp, TCGETS)", -ENOTTY, S3(ioctl, rp, TCGETS, buf));

	/* getdents64 */
	{
		int dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		T("getdents64(-1)", -EBADF, S3(getdents64, -1, buf, sizeof buf));
		T("getdents64(pipe)", -ENOTDIR, S3(getdents64, rp, buf, sizeof buf));
		T("getdents64(\"/\", buf, 1)", -EINVAL, S3(getdents64, dfd, buf, 1));
		T("getdents64(\"/\", NULL, 4096)", -EFAULT,
		  S3(getdents64, dfd, NULL, 4096));
		close(dfd);
	}

	/* memory */
	T("mmap(len 0)", -EINVAL, S6(mmap, NULL, 0, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	T("mmap(neither SHARED nor PRIVATE)", -EINVAL,
	  S6(mmap, NULL, 4096, PROT_READ | PROT_WRITE, MAP_ANONYMOUS, -1, 0));
	T("mmap(fd 9999)", -EBADF,
	  S6(mmap, NULL, 4096, PROT_READ, MAP_PRIVATE, 9999, 0));
	T("munmap(unaligned)", -EINVAL, S2(munmap, two + 1, 4096));

	/* futex */
	{
		static int word;
		T("futex(NULL, WAIT)", -EFAULT, S4(futex, NULL, 0 /* FUTEX_WAIT */, 0, NULL));
		T("futex(&word, WAIT, 1) with word 0", -EAGAIN,
		  S4(futex, &word, 0, 1, NULL));
		T("futex(unaligned, WAIT)", -EINVAL,
		  S4(futex, (char *)&word + 1, 0, 0, NULL));
		T("futex(&word, op 99)", -ENOSYS, S4(futex, &word, 99, 0, NULL));
	}

	/* signals */
	T("kill(0x7ffffff0, 0)", -ESRCH, S2(kill, 0x7ffffff0, 0));
	T("kill(self, 999)", -EINVAL, S2(kill, getpid(), 999));

	/* a system call that does not exist */
	T("syscall 999", -ENOSYS, u_syscall0(999));

	if (failed)
		printf("badcalls: %d of %d failed\n", failed, total);
	else
		printf("badcalls: all %d ok\n", total);
	return failed != 0;
}
