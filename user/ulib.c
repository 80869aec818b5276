/*
 * ulib.c - helpers shared by the Pollux user programs (see ulib.h).
 */
#include "ulib.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void u_warn(const char *prog, const char *what, int err)
{
	char buf[512];
	int n = snprintf(buf, sizeof buf, "%s: %s: %s\n", prog, what,
			 strerror(err));
	if (n < 0)
		return;
	if ((size_t)n >= sizeof buf) {
		n = sizeof buf - 1;
		buf[n - 1] = '\n';
	}
	(void)u_write_all(2, buf, n);
}

void u_die(const char *prog, const char *what, int err)
{
	u_warn(prog, what, err);
	exit(1);
}

void u_errf(const char *prog, const char *fmt, ...)
{
	char buf[512];
	size_t n;
	va_list ap;

	snprintf(buf, sizeof buf, "%s: ", prog);
	n = strlen(buf);
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
	va_end(ap);
	n = strlen(buf);
	buf[n++] = '\n';
	(void)u_write_all(2, buf, n);
}

int u_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

const char *u_bindir(void)
{
	const char *d = getenv("POLLUX_BIN");
	return d && *d ? d : "/bin";
}

char *u_binpath(char *buf, size_t n, const char *prog)
{
	snprintf(buf, n, "%s/%s", u_bindir(), prog);
	return buf;
}

int u_execve(const char *path, char *const argv[], char *const envp[])
{
	const char *wrap = getenv("POLLUX_EXEC_WRAPPER");
	size_t argc = 0;

	if (!wrap || !*wrap)
		return execve(path, argv, envp);

	/* Host testing only: report missing programs like execve() would. */
	if (access(path, X_OK) < 0)
		return -1;
	while (argv && argv[argc])
		argc++;
	char **nargv = calloc(argc + 5, sizeof *nargv);
	if (!nargv)
		return -1;
	nargv[0] = (char *)wrap;
	nargv[1] = "-0";
	nargv[2] = argc ? argv[0] : (char *)path;
	nargv[3] = (char *)path;
	for (size_t i = 1; i < argc; i++)
		nargv[3 + i] = argv[i];
	execve(wrap, nargv, envp);
	int e = errno;
	free(nargv);
	errno = e;
	return -1;
}

long u_nanosleep(long sec, long nsec)
{
	struct timespec ts = { sec, nsec };
	long r;

	while ((r = u_syscall2(SYS_nanosleep, &ts, &ts)) == -EINTR)
		;
	return r;
}

uint64_t u_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

long u_parse_ulong(const char *s)
{
	long v = 0;

	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (0x7fffffffffffffffL - 9) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

pthread_attr_t *u_small_stack(void)
{
	static pthread_attr_t attr;
	static int done;

	if (!done) {
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 64 * 1024);
		done = 1;
	}
	return &attr;
}

int u_pin_here(void)
{
	uint64_t mask;
	unsigned int cpu = 0;

	u_syscall3(SYS_getcpu, &cpu, 0, 0);
	mask = 1ULL << cpu;
	long r = u_syscall3(SYS_sched_setaffinity, 0, sizeof mask, &mask);
	return r < 0 ? (int)r : (int)cpu;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

uint64_t u_median(uint64_t *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof *v, cmp_u64);
	return v[n / 2];
}
