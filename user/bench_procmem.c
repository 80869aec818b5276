/*
 * bench_procmem - all the memory one blocked process costs.
 *
 * Reads the free page count, forks N children of this static glibc
 * program that each block in read() on a pipe, waits until every child
 * has said it is about to read, reads the free page count again and
 * prints
 *   bench kbytes_per_process <bytes per child> bytes
 * (the unit is bytes, like kbytes_per_idle_task; the name says what is
 * measured).  The free page count covers everything a child holds:
 * user pages it has copied on write, page tables, kernel stacks if any,
 * and the slab pages under its kernel objects.  Then it closes the pipe
 * (every read returns 0) and reaps the children.
 *
 * The counters: /proc/mem on Pollux ("pages: T total, F free, ..." and
 * "kmalloc: O objects, B bytes live, S slab pages"), sysinfo()'s freeram
 * on Linux (Pollux has no sysinfo; Linux's /proc may not be mounted).  On Pollux it also prints, for the record, how much
 * of the figure is kmalloc'ed kernel objects, and the split of the pages
 * ("page tables: P pages" in /proc/mem):
 *   bench_procmem: per child X bytes kmalloc live, Y slab pages per 100
 *   bench_procmem: per 100 children P page-table pages, S slab pages, U other pages ...
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ulib.h"

#define N 200

struct mem {
	long free_bytes;   /* free memory, whole pages */
	long kmalloc_live; /* -1 when the kernel does not say (Linux) */
	long slab_pages;
	long pt_pages;     /* page-table pages; -1 when the kernel does not say */
};

static int read_file(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = 0;
	ssize_t r;
	while (len < n - 1 && (r = read(fd, buf + len, n - 1 - len)) > 0)
		len += r;
	close(fd);
	buf[len] = 0;
	return 0;
}

static void mem_now(struct mem *m)
{
	char buf[4096];
	unsigned long total, free_pages, objs, live, slabs;

	m->kmalloc_live = m->slab_pages = m->pt_pages = -1;
	if (read_file("/proc/mem", buf, sizeof buf) == 0 &&
	    sscanf(buf, "pages: %lu total, %lu free", &total, &free_pages) == 2) {
		m->free_bytes = (long)free_pages * 4096;
		char *k = strstr(buf, "kmalloc:");
		if (k && sscanf(k, "kmalloc: %lu objects, %lu bytes live, %lu slab pages",
				&objs, &live, &slabs) == 3) {
			m->kmalloc_live = live;
			m->slab_pages = slabs;
		}
		char *t = strstr(buf, "page tables:");
		if (t && sscanf(t, "page tables: %lu pages", &objs) == 1)
			m->pt_pages = objs;
		return;
	}
	/* Linux: sysinfo(2) needs no mounted /proc (bench-linux's /init
	 * mounts none); freeram counts free pages, like /proc/mem */
	struct sysinfo si;
	if (sysinfo(&si) == 0) {
		m->free_bytes = (long)si.freeram * (long)si.mem_unit;
		return;
	}
	u_die("bench_procmem", "no /proc/mem and no sysinfo", errno);
}

int main(void)
{
	int block[2], ready[2];
	pid_t pids[N];
	struct mem before, after;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (pipe2(block, O_CLOEXEC) < 0 || pipe2(ready, O_CLOEXEC) < 0)
		u_die("bench_procmem", "pipe2", errno);
	mem_now(&before);
	for (int i = 0; i < N; i++) {
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
		if (pid < 0)
			u_die("bench_procmem", "fork", errno);
		pids[i] = pid;
	}
	/* every child has written its byte, so it is in (or one step from)
	 * read(); a short sleep lets the last ones get there */
	for (int got = 0; got < N;) {
		char b[64];
		ssize_t r = read(ready[0], b, sizeof b < (size_t)(N - got) ? sizeof b : (size_t)(N - got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			u_die("bench_procmem", "read ready", r < 0 ? errno : EPIPE);
		got += r;
	}
	u_nanosleep(0, 20 * 1000 * 1000);
	mem_now(&after);

	printf("bench kbytes_per_process %ld bytes\n", (before.free_bytes - after.free_bytes) / N);
	if (before.kmalloc_live >= 0)
		printf("bench_procmem: per child %ld bytes kmalloc live, %ld slab pages per 100\n",
		       (after.kmalloc_live - before.kmalloc_live) / N,
		       (after.slab_pages - before.slab_pages) * 100 / N);
	if (before.pt_pages >= 0) {
		long pages = (before.free_bytes - after.free_bytes) / 4096;
		long pt = after.pt_pages - before.pt_pages;
		long slab = after.slab_pages - before.slab_pages;
		printf("bench_procmem: per 100 children %ld page-table pages, %ld slab pages, "
		       "%ld other pages (mostly user pages the children copied)\n",
		       pt * 100 / N, slab * 100 / N, (pages - pt - slab) * 100 / N);
	}

	close(block[1]); /* every child's read returns 0 */
	for (int i = 0; i < N; i++) {
		int st;
		if (waitpid(pids[i], &st, 0) != pids[i])
			u_die("bench_procmem", "waitpid", errno);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			u_errf("bench_procmem", "child %d ended with status 0x%x", pids[i], st);
	}
	return 0;
}
