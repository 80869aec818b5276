/*
 * cowtest - copy-on-write fork, seen from user space.
 *
 *   cowtest basic            -> "cowtest: basic ok"
 *     A parent and its child share pages of every kind (data, bss, heap,
 *     stack, anonymous mmap) after fork; each writes them in turn and
 *     checks that it sees its own values and never the other's.  The
 *     child also reads from a pipe into a shared page (the kernel's write
 *     must copy it too), and a three-generation chain (parent, child,
 *     grandchild) writes one page in every order.
 *
 *   cowtest share            -> "cowtest: share ok"
 *     A child forked from a process with 4 MiB of written heap costs far
 *     less than 4 MiB of free memory (/proc/mem): the pages are shared
 *     until someone writes them.  Then the child writes all of them and
 *     the copies show up.
 *
 *   cowtest threads [ROUNDS] -> "cowtest: threads ROUNDS rounds ok"
 *     Writer threads keep incrementing their own words, spread over
 *     pages they all share, and check before every store that the word
 *     still holds what they stored last (a store lost to a page the
 *     child got, or a child's store reaching the parent, breaks that).
 *     Meanwhile the main thread forks ROUNDS children; each fills the
 *     pages with its own tag, lets time pass, and checks that nothing of
 *     the parent's threads reached its copy.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ulib.h"

#define PG 4096
#define NPAGES 4

static char data_page[PG] __attribute__((aligned(PG))) = { 'd' };
static char bss_page[PG] __attribute__((aligned(PG)));
static int failed;

static void fail(const char *what)
{
	printf("cowtest: FAIL: %s\n", what);
	failed = 1;
}

/* Fill the five kinds of page with c. */
static void fill(char **pages, int n, char c)
{
	for (int i = 0; i < n; i++)
		memset(pages[i], c, PG);
}

/* Do all five hold c in every byte? */
static int holds(char **pages, int n, char c)
{
	for (int i = 0; i < n; i++)
		for (int j = 0; j < PG; j++)
			if (pages[i][j] != c)
				return 0;
	return 1;
}

static void put(int fd, char c)
{
	if (write(fd, &c, 1) != 1)
		u_die("cowtest", "write", errno);
}

static char get(int fd)
{
	char c = 0;
	ssize_t r;
	while ((r = read(fd, &c, 1)) < 0 && errno == EINTR)
		;
	return r == 1 ? c : 0;
}

static int wait_ok(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 0;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static int basic(void)
{
	char stack_page[PG] __attribute__((aligned(16)));
	char *heap = malloc(PG);
	char *anon = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!heap || anon == MAP_FAILED)
		u_die("cowtest", "memory", errno);
	char *pages[] = { data_page, bss_page, heap, stack_page, anon };
	int n = 5;
	fill(pages, n, 'A');

	int to_child[2], to_parent[2], data[2];
	if (pipe(to_child) || pipe(to_parent) || pipe(data))
		u_die("cowtest", "pipe", errno);
	pid_t pid = fork();
	if (pid < 0)
		u_die("cowtest", "fork", errno);
	if (pid == 0) {
		int bad = !holds(pages, n, 'A');
		fill(pages, n, 'C');                    /* the child writes first */
		put(to_parent[1], 'w');
		get(to_child[0]);                       /* the parent has written 'P' */
		bad |= !holds(pages, n, 'C');
		/* the kernel writes into a page still shared with the parent */
		char got[64];
		if (read(data[0], bss_page + 100, 64) != 64)
			bad = 1;
		memset(got, 'K', sizeof got);
		bad |= memcmp(bss_page + 100, got, sizeof got) != 0;
		put(to_parent[1], 'r');
		_exit(bad);
	}
	if (get(to_parent[0]) != 'w')
		fail("no word from the child");
	if (!holds(pages, n, 'A'))
		fail("the parent saw the child's writes");
	fill(pages, n, 'P');
	put(to_child[1], 'p');
	char k[64];
	memset(k, 'K', sizeof k);
	if (write(data[1], k, sizeof k) != (ssize_t)sizeof k)
		u_die("cowtest", "write", errno);
	get(to_parent[0]);
	if (!holds(pages, n, 'P'))
		fail("the child's writes (or its read()) reached the parent");
	if (!wait_ok(pid))
		fail("the child saw the parent's writes or lost its own");

	/* three generations, each writing the page in turn */
	data_page[0] = '1';
	pid = fork();
	if (pid == 0) {
		pid_t g = fork();
		if (g == 0) {
			int bad = data_page[0] != '1';
			data_page[0] = '3';
			_exit(bad || data_page[0] != '3');
		}
		int bad = data_page[0] != '1';
		data_page[0] = '2';
		bad |= !wait_ok(g) || data_page[0] != '2';
		_exit(bad);
	}
	int ok = wait_ok(pid);
	if (!ok || data_page[0] != '1')
		fail("three generations");
	data_page[0] = '0';
	if (data_page[0] != '0')
		fail("write after the chain");
	munmap(anon, PG);
	free(heap);
	if (!failed)
		printf("cowtest: basic ok\n");
	return failed;
}

/* Free pages, from /proc/mem ("pages: T total, F free, ..."). */
static long free_pages(void)
{
	char buf[512];
	FILE *f = fopen("/proc/mem", "r");
	unsigned long total, fr;
	if (!f || !fgets(buf, sizeof buf, f) || sscanf(buf, "pages: %lu total, %lu free", &total, &fr) != 2)
		u_die("cowtest", "/proc/mem", errno);
	fclose(f);
	return (long)fr;
}

#define BIG (4L << 20)

static int share(void)
{
	char *big = malloc(BIG);
	if (!big)
		u_die("cowtest", "malloc", errno);
	memset(big, 'b', BIG);
	int go[2], done[2];
	if (pipe(go) || pipe(done))
		u_die("cowtest", "pipe", errno);
	long before = free_pages();
	pid_t pid = fork();
	if (pid < 0)
		u_die("cowtest", "fork", errno);
	if (pid == 0) {
		long shared = before - free_pages();
		for (long i = 0; i < BIG; i += PG)
			big[i] = 'c';
		long copied = before - free_pages();
		printf("cowtest: fork of %ld KiB written: %ld KiB, %ld KiB once the child wrote it\n",
		       BIG >> 10, shared * 4, copied * 4);
		_exit(shared >= BIG / PG / 4 || copied < BIG / PG);
	}
	if (!wait_ok(pid))
		fail("fork copied the written pages (or the child's writes did not)");
	for (long i = 0; i < BIG; i += PG)
		if (big[i] != 'b')
			fail("the child's write reached the parent");
	free(big);
	if (!failed)
		printf("cowtest: share ok\n");
	return failed;
}

/* ---- threads writing while another thread forks ---------------------- */

#define WRITERS 3
#define STRIDE (PG / 8)                 /* one word per page per writer */

static volatile uint64_t words[NPAGES * STRIDE] __attribute__((aligned(PG)));
static volatile int stop;
static volatile int lost;

static void *writer(void *arg)
{
	int t = (int)(intptr_t)arg;
	uint64_t v = 0;
	while (!stop) {
		for (int rep = 0; rep < 2000 && !stop; rep++) {
			for (int p = 0; p < NPAGES; p++) {
				volatile uint64_t *w = &words[p * STRIDE + t];
				if (*w != v) {
					lost = 1;
					return NULL;
				}
				*w = v + 1;
			}
			v++;
		}
		/* now and then out of user mode, so that some forks find
		 * no writer running and share the pages */
		struct timespec ts = { 0, 50 * 1000 };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static int threads(long rounds)
{
	pthread_t th[WRITERS];
	for (int t = 0; t < WRITERS; t++)
		if (pthread_create(&th[t], NULL, writer, (void *)(intptr_t)t))
			u_die("cowtest", "pthread_create", errno);
	for (long i = 0; i < rounds && !lost; i++) {
		pid_t pid = fork();
		if (pid < 0)
			u_die("cowtest", "fork", errno);
		if (pid == 0) {
			const uint64_t tag = 0xc0c0c0c0c0c0c0c0ULL;
			for (int j = 0; j < NPAGES * STRIDE; j++)
				words[j] = tag;
			for (volatile int spin = 0; spin < 20000; spin++)
				;
			sched_yield();
			for (int j = 0; j < NPAGES * STRIDE; j++)
				if (words[j] != tag)
					_exit(1);
			_exit(0);
		}
		if (!wait_ok(pid)) {
			fail("a parent thread's store reached the child's copy");
			break;
		}
	}
	stop = 1;
	for (int t = 0; t < WRITERS; t++)
		pthread_join(th[t], NULL);
	if (lost)
		fail("a writer lost a store (or saw the child's)");
	if (!failed)
		printf("cowtest: threads %ld rounds ok\n", rounds);
	return failed;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && strcmp(argv[1], "basic") == 0)
		return basic();
	if (argc >= 2 && strcmp(argv[1], "share") == 0)
		return share();
	if (argc >= 2 && strcmp(argv[1], "threads") == 0)
		return threads(argc > 2 ? u_parse_ulong(argv[2]) : 200);
	u_errf("cowtest", "usage: cowtest basic | share | threads [ROUNDS]");
	return 2;
}
