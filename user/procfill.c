/*
 * procfill - how many forked children, each blocked in read() on a pipe,
 * fit in this machine's memory.
 *
 * Forks children one at a time; each closes its copy of the pipe's write
 * end, says "ready" on a second pipe and blocks in read().  The parent
 * waits for that byte before the next fork, so every child counted holds
 * all it will hold while it waits (the pages it copied on write, its page
 * tables, its kernel objects).  It stops when fork fails or a child dies
 * before it is ready (no memory for a page it writes), then prints
 *
 *   procfill: N children blocked in read, F KiB free before, stopped by: WHY
 *   procfill: P children per 128 MiB
 *
 * (P = N * 128 MiB / F, what 128 MiB of free memory holds), releases the
 * children (closing the pipe: every read returns 0), reaps them all and
 * prints "procfill: reaped N".  The free figure comes from /proc/mem on
 * Pollux and sysinfo() elsewhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ulib.h"

#define MAX 20000

static long free_kib(void)
{
	char buf[512];
	unsigned long total, pages;
	int fd = open("/proc/mem", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t r = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (r > 0) {
			buf[r] = 0;
			if (sscanf(buf, "pages: %lu total, %lu free", &total, &pages) == 2)
				return (long)pages * 4;
		}
	}
	struct sysinfo si;
	if (sysinfo(&si) == 0)
		return (long)(si.freeram / 1024 * si.mem_unit);
	return -1;
}

/* Wait for child pid's "ready" byte: 1, or 0 if it died first. */
static int wait_ready(int rfd, pid_t pid)
{
	for (;;) {
		struct pollfd pfd = { .fd = rfd, .events = POLLIN };
		int r = poll(&pfd, 1, 100);
		if (r < 0 && errno != EINTR)
			u_die("procfill", "poll", errno);
		if (r > 0) {
			char c;
			if (read(rfd, &c, 1) == 1)
				return 1;
		}
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid)
			return 0;
	}
}

int main(void)
{
	int block[2], ready[2];
	const char *why = "the limit";
	long n = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (pipe2(block, O_CLOEXEC) < 0 || pipe2(ready, O_CLOEXEC) < 0)
		u_die("procfill", "setup", errno);
	long before = free_kib();
	while (n < MAX) {
		pid_t pid = fork();
		if (pid == 0) {
			char c = 'r';
			close(block[1]);
			if (write(ready[1], &c, 1) != 1)
				_exit(1);
			while (read(block[0], &c, 1) < 0 && errno == EINTR)
				;
			_exit(0);
		}
		if (pid < 0) {
			why = errno == ENOMEM ? "fork: out of memory" : strerror(errno);
			break;
		}
		if (!wait_ready(ready[0], pid)) {
			why = "a child died before it was ready";
			break;
		}
		n++;
	}
	long after = free_kib();
	printf("procfill: %ld children blocked in read, %ld KiB free before, stopped by: %s\n",
	       n, before, why);
	printf("procfill: %ld KiB free when it stopped\n", after);
	if (before > 0)
		printf("procfill: %ld children per 128 MiB\n", n * 128 * 1024 / before);

	close(block[1]);
	long reaped = 0;
	for (long i = 0; i < n; i++) {
		int st;
		if (wait4(-1, &st, 0, NULL) < 0)
			u_die("procfill", "wait4", errno);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			reaped++;
	}
	printf("procfill: reaped %ld\n", reaped);
	return reaped == n ? 0 : 1;
}
