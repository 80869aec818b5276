/*
 * racer FILE [ROUNDS] - the page cache, copy-on-write fork and lazy FP
 * raced against each other from user space, on every hart.
 *
 * FILE (on ext2) is 16 pages.  At once:
 *   - 2 writer threads store their own counter into a MAP_SHARED mapping
 *     of FILE (pages 0-7, which are never truncated; and pages 8-15,
 *     which come and go: a store there may raise SIGBUS, which skips it)
 *     and read each store back;
 *   - a forker thread forks, and the child writes its copy-on-write copy
 *     of a MAP_PRIVATE mapping of FILE and of an anonymous buffer, checks
 *     them and exits; the parent checks that its own copies did not change
 *     and that the child's stores never reached FILE;
 *   - a truncator thread shrinks FILE to 8 pages and grows it back, and
 *     pwrites into the pages that come back;
 *   - 2 FP threads compute a sum while sched_setaffinity moves them from
 *     hart to hart, and compare it with the same sum computed unmoved.
 * Threads are spread over the harts by affinity.  At the end the last
 * counter of each writer must be in FILE (pread).  Prints "racer: ok" or
 * "racer: FAILED: why" (exit 1).
 *
 * racer exec FILE [ROUNDS]: FILE is a copy of /bin/hello; children exec
 * it while the parent truncates it and writes it back (its text pages
 * come and go in the page cache under running programs).  A child may
 * fail or die meanwhile; the kernel may not, and once FILE is whole
 * again it runs and prints its line.  Prints "racer: exec ok".
 *
 * racer split FILE: write() and a pipe write from a buffer that starts in
 * an anonymous page and runs into a page of FILE (mapped, not cached:
 * the copy meets a page that must be read first).  Each byte must arrive
 * exactly once.  Prints "racer: split ok".
 *
 * racer uring ROUNDS: each round a child process waits in io_uring_enter
 * for pipe READs it just submitted (the enter's wait owns them) into
 * buffers shared copy-on-write with its parent, while its other threads,
 * on other harts, write into the pipes, interrupt it with a signal and
 * finally end the process at a random moment (or close the ring).  The
 * kernel must survive each round, the parent's buffers must not change,
 * and at the end no task of any round is left.  Prints "racer: uring ok".
 */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ulib.h"
#include "uring_raw.h"

#define PG 4096
#define NPAGES 16
#define KEEP 8                  /* pages 0..KEEP-1 are never truncated away */
#define ANON (8 * PG)

static int fd;
static long rounds = 200, ncpu = 1;
static volatile int stop;
static int failed;
static char *shared_map;
static char *private_map;
static char *anon;

static void fail(const char *fmt, long a, long b)
{
	printf("racer: FAILED: ");
	printf(fmt, a, b);
	printf("\n");
	__atomic_store_n(&failed, 1, __ATOMIC_SEQ_CST);
	stop = 1;
}

static void pin(long hart)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(hart % ncpu, &set);
	sched_setaffinity(0, sizeof set, &set);
}

/* Writer w owns the word at offset 64*w + 8 of every page. */
static uint64_t last[2];

static __thread sigjmp_buf bus_jmp;
static long sigbus_seen;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(bus_jmp, 1);
}

static void *writer(void *arg)
{
	long w = (long)arg;
	pin(w);
	uint64_t v = 0;
	while (!stop) {
		v++;
		for (int p = 0; p < NPAGES; p++) {
			volatile uint64_t *slot = (volatile uint64_t *)(shared_map + p * PG + 64 * w + 8);
			/* a page truncated away raises SIGBUS, as on Linux: skip it */
			if (p >= KEEP && sigsetjmp(bus_jmp, 1)) {
				__atomic_fetch_add(&sigbus_seen, 1, __ATOMIC_RELAXED);
				continue;
			}
			*slot = v;
			if (p < KEEP && *slot != v)
				fail("writer %ld read back another value on page %ld", w, p);
		}
		__atomic_store_n(&last[w], v, __ATOMIC_SEQ_CST);
		if (v % 64 == 0)
			sched_yield();
	}
	return NULL;
}

static void *truncator(void *arg)
{
	(void)arg;
	pin(2);
	char page[PG];
	memset(page, 't', sizeof page);
	while (!stop) {
		if (ftruncate(fd, KEEP * PG) < 0)
			fail("ftruncate down: %ld%ld", 0, 0);
		sched_yield();
		if (ftruncate(fd, NPAGES * PG) < 0)
			fail("ftruncate up: %ld%ld", 0, 0);
		if (pwrite(fd, page, 100, (KEEP + 2) * PG + 1024) != 100)
			fail("pwrite: %ld%ld", 0, 0);
	}
	return NULL;
}

static void *forker(void *arg)
{
	(void)arg;
	pin(3);
	for (long r = 0; r < rounds && !stop; r++) {
		unsigned char mark = (unsigned char)(r * 7 + 1);
		/* the parent's own copies: private file pages and anonymous memory */
		for (int p = 0; p < KEEP; p++)
			private_map[p * PG + 2000] = (char)mark;
		memset(anon, mark, ANON);
		pid_t pid = fork();
		if (pid < 0) {
			fail("fork: round %ld%ld", r, 0);
			break;
		}
		if (pid == 0) {
			unsigned char cm = (unsigned char)(mark ^ 0xff);
			for (int p = 0; p < KEEP; p++)
				private_map[p * PG + 2000] = (char)cm;
			memset(anon, cm, ANON);
			for (int p = 0; p < KEEP; p++)
				if ((unsigned char)private_map[p * PG + 2000] != cm)
					_exit(2);
			for (int i = 0; i < ANON; i += 97)
				if ((unsigned char)anon[i] != cm)
					_exit(3);
			_exit(0);
		}
		/* meanwhile the parent's copies must not move */
		for (int k = 0; k < 3; k++) {
			for (int p = 0; p < KEEP; p++)
				if ((unsigned char)private_map[p * PG + 2000] != mark)
					fail("round %ld: the child's store reached the parent's private page %ld", r, p);
			for (int i = 0; i < ANON; i += 97)
				if ((unsigned char)anon[i] != mark)
					fail("round %ld: the child's store reached the parent's anonymous byte %ld", r, i);
			sched_yield();
		}
		int st;
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			fail("round %ld: the child saw wrong bytes (status %#lx)", r, st);
		/* the child's private stores never reach the file */
		char b;
		if (pread(fd, &b, 1, 3 * PG + 2000) != 1 || b != 'a' + 3)
			fail("round %ld: a private store reached the file (%ld)", r, b);
	}
	stop = 1;
	return NULL;
}

static double fp_sum(long n, int move, long who)
{
	double s = 0.0, x = 1.0 / (3.0 + who);
	for (long i = 1; i <= n; i++) {
		s += x * (double)i;
		s = s * 0.999999 + 1e-9 * s * s;
		if (move && i % 500 == 0)
			pin(who + i / 500);
	}
	return s;
}

static void *fpthread(void *arg)
{
	long who = (long)arg;
	pin(who);
	double want = fp_sum(20000, 0, who);
	long n = 0;
	while (!stop) {
		double got = fp_sum(20000, 1, who);
		if (memcmp(&got, &want, sizeof got))
			fail("fp thread %ld: a sum differs after migration (run %ld)", who, n);
		n++;
	}
	return NULL;
}

static char *prog;
static long progsz;

static int exec_child(const char *path)
{
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, 1);
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int exec_race(const char *path)
{
	int in = open("/bin/hello", O_RDONLY);
	prog = malloc(1 << 21);
	if (in < 0 || !prog)
		u_die("racer", "/bin/hello", 1);
	progsz = read(in, prog, 1 << 21);
	close(in);
	int out = open(path, O_RDWR | O_CREAT | O_TRUNC, 0755);
	if (out < 0 || progsz <= 0 || write(out, prog, progsz) != progsz)
		u_die("racer", "copy", 1);
	for (long r = 0; r < rounds; r++) {
		pid_t kids[3];
		for (int k = 0; k < 3; k++)
			kids[k] = exec_child(path);
		if (r % 2)
			sched_yield();
		if (ftruncate(out, r % 3 ? progsz / 2 : 0) < 0)
			u_die("racer", "ftruncate", 1);
		for (long off = 0; off < progsz; off += 8192) {
			long n = progsz - off < 8192 ? progsz - off : 8192;
			if (pwrite(out, prog + off, n, off) != n)
				u_die("racer", "pwrite", 1);
		}
		for (int k = 0; k < 3; k++)
			if (kids[k] > 0)
				waitpid(kids[k], NULL, 0);
	}
	close(out);
	/* whole again: it runs */
	int st = -1;
	pid_t pid = fork();
	if (pid == 0) {
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		printf("racer: exec FAILED: the rewritten program does not run (status %#x)\n", st);
		return 1;
	}
	printf("racer: exec ok\n");
	return 0;
}

static int split(const char *path)
{
	/* FILE: 2 pages of 'F', written with write(): the block cache has
	 * them, the page cache does not */
	static char page[PG];
	memset(page, 'F', sizeof page);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, page, PG) != PG || write(fd, page, PG) != PG)
		u_die("racer", "split: make", 1);
	char out[64];
	snprintf(out, sizeof out, "%s.out", path);
	int bad = 0;
	for (int round = 0; round < 2; round++) {
		char *a = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (a == MAP_FAILED)
			u_die("racer", "split: mmap", 1);
		/* page 1 of a: FILE's page `round`, fresh (a new mapping each round) */
		if (mmap(a + PG, PG, PROT_READ, MAP_SHARED | MAP_FIXED, fd, (off_t)round * PG) != a + PG)
			u_die("racer", "split: mmap fixed", 1);
		memset(a, 'A', PG);
		const char *src = a + PG - 100;
		int o = open(out, O_RDWR | O_CREAT | O_TRUNC, 0644);
		long n = write(o, src, 300);
		char back[300];
		long m = pread(o, back, sizeof back, 0);
		off_t end = lseek(o, 0, SEEK_END);
		close(o);
		if (n != 300 || m != 300 || end != 300 || memcmp(back, src, 300)) {
			printf("racer: split FAILED: write returned %ld, the file has %ld bytes\n", n, (long)end);
			bad++;
		}
		/* the same through a pipe, with a fresh mapping again */
		munmap(a + PG, PG);
		if (mmap(a + PG, PG, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, (off_t)(1 - round) * PG) != a + PG)
			u_die("racer", "split: mmap fixed", 1);
		int p[2];
		if (pipe(p))
			u_die("racer", "pipe", 1);
		n = write(p[1], src, 300);
		close(p[1]);
		long got = 0, k;
		while ((k = read(p[0], back + got, sizeof back - got)) > 0 && got < (long)sizeof back)
			got += k;
		char extra;
		k = read(p[0], &extra, 1);
		close(p[0]);
		if (n != 300 || got != 300 || k != 0 || memcmp(back, src, 300)) {
			printf("racer: split FAILED: pipe write returned %ld, %ld bytes came out, then %ld\n",
			       n, got, k);
			bad++;
		}
		munmap(a, 3 * PG);
	}
	if (bad)
		return 1;
	printf("racer: split ok\n");
	return 0;
}

#define UR_PIPES 4
static struct uring ur;
static int urp[UR_PIPES][2];
static char urbuf[UR_PIPES][PG] __attribute__((aligned(PG)));
static volatile long ur_round;

static void on_usr1(int sig) { (void)sig; }

static void *ur_waiter(void *arg)
{
	(void)arg;
	pin(1);
	for (;;) {
		for (int i = 0; i < UR_PIPES; i++) {
			struct io_uring_sqe *q = uring_sqe(&ur);
			if (!q)
				break;
			q->opcode = IORING_OP_READ;
			q->fd = urp[i][0];
			q->addr = (uint64_t)(uintptr_t)(urbuf[i] + 64 * (ur_round % 8));
			q->len = 64;
			q->off = (uint64_t)-1;
			q->user_data = (uint64_t)i;
		}
		uring_enter(&ur, UR_PIPES, UR_PIPES, IORING_ENTER_GETEVENTS);
		struct io_uring_cqe c;
		while (uring_pop(&ur, &c))
			;
	}
	return NULL;
}

static void *ur_writer(void *arg)
{
	(void)arg;
	pin(2);
	char b[32];
	memset(b, 'w', sizeof b);
	for (long i = 0;; i++) {
		if (write(urp[i % UR_PIPES][1], b, 1 + i % 31) < 0)
			return NULL;
		if (i % 7 == 0)
			sched_yield();
	}
}

static int uring_race(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	for (int i = 0; i < UR_PIPES; i++)
		memset(urbuf[i], 'p', PG);
	int bad = 0;
	for (ur_round = 0; ur_round < rounds; ur_round++) {
		pid_t pid = fork();
		if (pid < 0)
			u_die("racer", "fork", 1);
		if (pid == 0) {
			if (uring_open(&ur, 8, NULL) < 0)
				_exit(3);
			for (int i = 0; i < UR_PIPES; i++)
				if (pipe(urp[i]))
					_exit(4);
			pthread_t w, x;
			pthread_create(&w, NULL, ur_waiter, NULL);
			pthread_create(&x, NULL, ur_writer, NULL);
			pin(3);
			for (long k = 0; k < ur_round % 13; k++) {
				pthread_kill(w, SIGUSR1);
				sched_yield();
			}
			if (ur_round % 3 == 0)
				close(ur.fd);       /* the ring's descriptor goes while it waits */
			if (ur_round % 5 == 1)
				for (int i = 0; i < UR_PIPES; i++)
					close(urp[i][1]);
			_exit(0);
		}
		int st;
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
			printf("racer: uring FAILED: round %ld: child status %#x\n", ur_round, st);
			bad++;
		}
		for (int i = 0; i < UR_PIPES; i++)
			for (int k = 0; k < PG; k += 61)
				if (urbuf[i][k] != 'p') {
					printf("racer: uring FAILED: round %ld: the child's read reached the parent\n",
					       ur_round);
					return 1;
				}
	}
	if (bad)
		return 1;
	printf("racer: uring ok\n");
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc >= 3 && !strcmp(argv[1], "uring")) {
		rounds = u_parse_ulong(argv[2]);
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		if (ncpu < 1 || ncpu > 64)
			ncpu = 1;
		return uring_race();
	}
	if (argc >= 3 && !strcmp(argv[1], "split"))
		return split(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "exec")) {
		if (argc > 3)
			rounds = u_parse_ulong(argv[3]);
		return exec_race(argv[2]);
	}
	if (argc < 2) {
		u_errf("racer", "usage: racer FILE [ROUNDS]");
		return 2;
	}
	if (argc > 2)
		rounds = u_parse_ulong(argv[2]);
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 1 || ncpu > 64)
		ncpu = 1;
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		u_die("racer", "open", 1);
	static char page[PG];
	for (int p = 0; p < NPAGES; p++) {
		memset(page, 'a' + p, sizeof page);
		if (write(fd, page, PG) != PG)
			u_die("racer", "write", 1);
	}
	shared_map = mmap(NULL, NPAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	private_map = mmap(NULL, KEEP * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	anon = mmap(NULL, ANON, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (shared_map == MAP_FAILED || private_map == MAP_FAILED || anon == MAP_FAILED)
		u_die("racer", "mmap", 1);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigbus;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGBUS, &sa, NULL);
	pthread_t t[6];
	pthread_create(&t[0], NULL, writer, (void *)0L);
	pthread_create(&t[1], NULL, writer, (void *)1L);
	pthread_create(&t[2], NULL, truncator, NULL);
	pthread_create(&t[3], NULL, fpthread, (void *)0L);
	pthread_create(&t[4], NULL, fpthread, (void *)1L);
	pthread_create(&t[5], NULL, forker, NULL);
	for (int i = 0; i < 6; i++)
		pthread_join(t[i], NULL);

	for (long w = 0; w < 2; w++)
		for (long p = 0; p < KEEP; p++) {
			uint64_t v = 0;
			if (pread(fd, &v, 8, p * PG + 64 * w + 8) != 8 || v != last[w])
				fail("writer %ld's last store is not in the file (page %ld)", w, p);
		}
	/* the bytes nobody stores to keep the pattern */
	char b;
	if (pread(fd, &b, 1, 5 * PG + 3000) != 1 || b != 'a' + 5)
		fail("page 5 byte 3000 changed: %ld%ld", b, 0);
	if (failed)
		return 1;
	printf("racer: ok\n");
	return 0;
}
