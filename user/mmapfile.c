/*
 * mmapfile MODE FILE - file mappings through the page cache.
 *
 *   make FILE      write 3 pages of a known pattern with write()
 *   shared FILE    MAP_SHARED: the pattern is there; a store through the
 *                  mapping is seen by pread at once and (msync) on disk
 *   private FILE   MAP_PRIVATE: a store is seen through the mapping only
 *   two FILE       a forked child and its parent map FILE MAP_SHARED each:
 *                  what the child stores, the parent sees
 *   coherent FILE  a pwrite is seen through an existing mapping
 *   check FILE     after a reboot: the shared store is in the file,
 *                  through a fresh mapping (faults read the disk) and read()
 *   sysread FILE   read() into a buffer that is itself a fresh mapping
 *                  of FILE (the system call's copy meets a page not cached)
 *   overlap FILE COLD  a child counts in a shared mapping of FILE while we
 *                  fault on COLD, a file whose pages are on the disk only:
 *                  on one hart the count moves only if the fault let the
 *                  hart run the child while it waited for the disk
 *   killwait FILE COLD  a process is killed (by a child running meanwhile)
 *                  while its fault on COLD waits for the disk: it dies,
 *                  and COLD reads right afterwards
 *   uring F0 F1 F2 F3 F4  after a reboot (F0..F4 made, none read since):
 *                  io_uring operations whose user memory is a page of a
 *                  file mapping not cached yet - a READ into F0 (private,
 *                  two pages),
 *                  a WRITE from F1 (shared), a STATX into F2 (private), a
 *                  READV into F3 (shared, a whole page); F4 is READ's and
 *                  READV's source.  Each must wait for the page, as a
 *                  fault does, and copy the right bytes (not -EFAULT).
 *   uringcancel F5 F6 SRC  after a reboot: a READ waiting for a cold page
 *                  of F5 is cancelled (ASYNC_CANCEL in the same batch),
 *                  and a child exits while its READ waits for a cold page
 *                  of F6: both end, and the pages read right afterwards.
 *   pasteof FILE   FILE is made 100 bytes long and mapped 2 pages, shared
 *                  and private: the rest of page 0 reads as zeros (a store
 *                  there stays out of the file); touching page 1, wholly
 *                  past the end, raises SIGBUS (BUS_ADRERR at that address)
 *   truncate FILE  FILE (2 pages) is mapped shared and private, page 1 read
 *                  (and written privately), then truncated to 100 bytes:
 *                  page 1 now raises SIGBUS, page 0's tail reads zeros
 *
 * Prints "mmapfile: MODE ok" or "mmapfile: MODE FAILED: why" (exit 1).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include "uring_raw.h"

#define PG 4096
#define LEN (3 * PG)
#define MARK "written through a shared mapping"
#define MARK_OFF 5000

static const char *mode;

static int fail(const char *why)
{
	printf("mmapfile: %s FAILED: %s\n", mode, why);
	return 1;
}

static char pattern(long i) { return (char)('a' + (i * 7 + i / PG) % 26); }

static int pattern_ok(const char *p)
{
	for (long i = 0; i < LEN; i++)
		if (p[i] != pattern(i))
			return 0;
	return 1;
}

static int make(const char *path)
{
	static char buf[LEN];
	for (long i = 0; i < LEN; i++)
		buf[i] = pattern(i);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, buf, LEN) != LEN || fsync(fd) || close(fd))
		return fail("write");
	return 0;
}

static char *map(const char *path, int flags, int *fdp)
{
	int fd = open(path, O_RDWR);
	if (fd < 0)
		return NULL;
	char *p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, flags, fd, 0);
	if (fdp)
		*fdp = fd;
	else
		close(fd);          /* the mapping keeps the file */
	return p == MAP_FAILED ? NULL : p;
}

/* One op, submitted and reaped: its result. */
static long uring_one(struct uring *r, struct io_uring_sqe *s)
{
	struct io_uring_cqe c;
	if (uring_enter(r, 1, 1, IORING_ENTER_GETEVENTS) < 0 || uring_wait(r, &c) < 0)
		return -9999;
	(void)s;
	return c.res;
}

static int uring_mode(char **f)
{
	struct uring r;
	char msg[96];
	int bad = 0;         /* go on after a wrong result: report every op */
	if (uring_open(&r, 4, NULL) < 0)
		return fail("io_uring_setup");
	int src = open(f[4], O_RDONLY);
	if (src < 0)
		return fail("open the source");

	/* READ into page 1 of a private mapping of F0, never touched */
	char *a = map(f[0], MAP_PRIVATE, NULL);
	struct io_uring_sqe *s = uring_sqe(&r);
	s->opcode = IORING_OP_READ;
	s->fd = src;
	s->addr = (uint64_t)(a + PG);
	s->len = 2 * PG;                /* pages 1 and 2: a copy may stop at each */
	s->off = PG;
	long res = a ? uring_one(&r, s) : -1;
	if (res != 2 * PG) {
		snprintf(msg, sizeof msg, "READ into a cold mapped page gave %ld", res);
		bad = fail(msg);
	}
	for (long i = 0; i < 2 * PG && res == 2 * PG; i++)
		if (a[PG + i] != pattern(PG + i))
			return fail("READ into a cold mapped page stored the wrong bytes");

	/* WRITE from page 2 of a shared mapping of F1, never touched */
	char *b = map(f[1], MAP_SHARED, NULL);
	int out = open("/tmp/mmapfile.uring", O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (!b || out < 0)
		return fail("mmap or open");
	s = uring_sqe(&r);
	s->opcode = IORING_OP_WRITE;
	s->fd = out;
	s->addr = (uint64_t)(b + 2 * PG);
	s->len = 1000;
	s->off = 0;
	res = uring_one(&r, s);
	if (res != 1000) {
		snprintf(msg, sizeof msg, "WRITE from a cold mapped page gave %ld", res);
		bad = fail(msg);
	}
	static char back[PG];
	if (res == 1000 && pread(out, back, 1000, 0) != 1000)
		return fail("pread the WRITE's file");
	for (long i = 0; i < 1000 && res == 1000; i++)
		if (back[i] != pattern(2 * PG + i))
			return fail("WRITE from a cold mapped page wrote the wrong bytes");
	close(out);
	unlink("/tmp/mmapfile.uring");

	/* STATX into page 1 of a private mapping of F2, never touched */
	char *c = map(f[2], MAP_PRIVATE, NULL);
	if (!c)
		return fail("mmap");
	s = uring_sqe(&r);
	s->opcode = IORING_OP_STATX;
	s->fd = AT_FDCWD;
	s->addr = (uint64_t)f[4];
	s->len = 0x7ff;                 /* STATX_BASIC_STATS */
	s->addr2 = (uint64_t)(c + PG + 8);
	res = uring_one(&r, s);
	if (res != 0) {
		snprintf(msg, sizeof msg, "STATX into a cold mapped page gave %ld", res);
		bad = fail(msg);
	}
	struct statx *stx = (struct statx *)(c + PG + 8);
	if (res == 0 && stx->stx_size != LEN)
		return fail("STATX into a cold mapped page stored the wrong size");

	/* READV into all of page 0 of a shared mapping of F3 (same bytes:
	 * the file does not change), never touched */
	char *d = map(f[3], MAP_SHARED, NULL);
	if (!d)
		return fail("mmap");
	static struct iovec iov[2];
	iov[0].iov_base = d;
	iov[0].iov_len = 100;
	iov[1].iov_base = d + 100;
	iov[1].iov_len = PG - 100;
	s = uring_sqe(&r);
	s->opcode = IORING_OP_READV;
	s->fd = src;
	s->addr = (uint64_t)iov;
	s->len = 2;
	if (lseek(src, 0, SEEK_SET) != 0)
		return fail("lseek");
	res = uring_one(&r, s);
	if (res != PG) {
		snprintf(msg, sizeof msg, "READV into a cold mapped page gave %ld", res);
		bad = fail(msg);
	}
	if (res == PG && !pattern_ok(d))
		return fail("READV into a cold mapped page stored the wrong bytes");
	uring_close(&r);
	close(src);
	return bad;
}

static int uring_cancel_mode(char **f)
{
	struct uring r;
	char msg[128];
	int src = open(f[2], O_RDONLY);
	char *a = map(f[0], MAP_PRIVATE, NULL);
	if (src < 0 || !a || uring_open(&r, 4, NULL) < 0)
		return fail("open, mmap or io_uring_setup");
	struct io_uring_sqe *s = uring_sqe(&r);
	s->opcode = IORING_OP_READ;
	s->fd = src;
	s->addr = (uint64_t)(a + PG);
	s->len = 100;
	s->user_data = 1;
	s = uring_sqe(&r);
	s->opcode = IORING_OP_ASYNC_CANCEL;
	s->addr = 1;
	s->user_data = 2;
	if (uring_enter(&r, 2, 2, IORING_ENTER_GETEVENTS) != 2)
		return fail("io_uring_enter");
	long res[3] = { 0, 0, 0 };
	for (int i = 0; i < 2; i++) {
		struct io_uring_cqe c;
		if (uring_wait(&r, &c) < 0 || c.user_data < 1 || c.user_data > 2)
			return fail("reap");
		res[c.user_data] = c.res;
	}
	/* the READ was waiting for the disk when the cancel came */
	if (res[1] != -ECANCELED || res[2] != 0) {
		snprintf(msg, sizeof msg, "READ waiting for a page, cancelled: %ld (cancel %ld)", res[1], res[2]);
		return fail(msg);
	}
	if (a[PG] != pattern(PG) || a[PG + 99] != pattern(PG + 99))
		return fail("the page reads wrong after the cancel");
	uring_close(&r);

	pid_t pid = fork();
	if (pid == 0) {
		/* submit, then exit while the READ waits for the page */
		char *b = map(f[1], MAP_PRIVATE, NULL);
		struct uring q;
		if (!b || uring_open(&q, 4, NULL) < 0)
			_exit(3);
		s = uring_sqe(&q);
		s->opcode = IORING_OP_READ;
		s->fd = src;
		s->addr = (uint64_t)(b + PG);
		s->len = 100;
		_exit(uring_enter(&q, 1, 0, 0) == 1 && uring_cq_ready(&q) == 0 ? 0 : 4);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return fail("the child's READ did not wait, or it did not exit");
	char *b = map(f[1], MAP_PRIVATE, NULL);
	if (!b || b[PG] != pattern(PG))
		return fail("the page reads wrong after the exit");
	close(src);
	return 0;
}

/* ---- pasteof, truncate: SIGBUS past the end of a mapped file ---- */

static sigjmp_buf bus_jmp;
static volatile int bus_code;
static volatile void *bus_addr;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	bus_code = si->si_code;
	bus_addr = si->si_addr;
	siglongjmp(bus_jmp, 1);
}

/* Touch *p (a store if write): 0 if it raised SIGBUS with BUS_ADRERR at
 * p, else a failure reported as `what`. */
static int expect_sigbus(volatile char *p, int write, const char *what)
{
	char why[160];
	bus_code = -1;
	bus_addr = NULL;
	if (sigsetjmp(bus_jmp, 1) == 0) {
		if (write)
			*p = 'W';
		else
			(void)*p;
		snprintf(why, sizeof why, "%s: no SIGBUS", what);
		return fail(why);
	}
	printf("mmapfile: %s: SIGBUS si_code=%d si_addr_ok=%d\n", what, bus_code,
	       bus_addr == (void *)p);
	if (bus_code != BUS_ADRERR || bus_addr != (void *)p) {
		snprintf(why, sizeof why, "%s: si_code %d si_addr %p (want %d, %p)", what,
			 bus_code, (void *)bus_addr, BUS_ADRERR, (void *)p);
		return fail(why);
	}
	return 0;
}

static int catch_sigbus(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	return sigaction(SIGBUS, &sa, NULL);
}

static int zeros(const char *p, long from, long to)
{
	for (long i = from; i < to; i++)
		if (p[i])
			return 0;
	return 1;
}

static int pasteof(const char *path)
{
	char x[100];
	memset(x, 'x', sizeof x);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, x, sizeof x) != sizeof x || catch_sigbus())
		return fail("setup");
	char *s = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *q = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (s == MAP_FAILED || q == MAP_FAILED)
		return fail("mmap");
	if (memcmp(s, x, sizeof x) || memcmp(q, x, sizeof x))
		return fail("the file's bytes are wrong");
	if (!zeros(s, sizeof x, PG) || !zeros(q, sizeof x, PG))
		return fail("the rest of the last page is not zeros");
	s[200] = 'T';               /* past the end, in the last page */
	if (msync(s, 2 * PG, MS_SYNC))
		return fail("msync");
	char buf[300];
	struct stat st;
	if (pread(fd, buf, sizeof buf, 0) != sizeof x || fstat(fd, &st) || st.st_size != sizeof x)
		return fail("a store past the end reached the file");
	if (expect_sigbus(s + PG, 0, "shared read past the end") ||
	    expect_sigbus(s + PG + 123, 1, "shared write past the end") ||
	    expect_sigbus(q + PG + 7, 1, "private write past the end") ||
	    expect_sigbus(q + PG, 0, "private read past the end"))
		return 1;
	/* the file grows: page 1 is the file's now */
	if (ftruncate(fd, 2 * PG) || s[PG] != 0 || q[PG + 5] != 0)
		return fail("page 1 after the file grew");
	return 0;
}

static int truncate_mode(const char *path)
{
	static char buf[2 * PG];
	for (long i = 0; i < 2 * PG; i++)
		buf[i] = pattern(i);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, buf, sizeof buf) != sizeof buf || catch_sigbus())
		return fail("setup");
	char *s = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *q = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (s == MAP_FAILED || q == MAP_FAILED)
		return fail("mmap");
	if (s[PG + 1] != pattern(PG + 1) || q[PG + 2] != pattern(PG + 2) || s[500] != pattern(500))
		return fail("the mappings do not show the file");
	q[PG + 3] = 'P';            /* a private copy of page 1 */
	if (ftruncate(fd, 100))
		return fail("ftruncate");
	if (s[99] != pattern(99) || !zeros(s, 100, PG) || !zeros(q, 100, PG))
		return fail("page 0 after the truncate");
	if (expect_sigbus(s + PG + 1, 0, "shared read of a truncated page") ||
	    expect_sigbus(q + PG + 3, 0, "private read of a truncated page"))
		return 1;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: mmapfile make|shared|private|two|coherent|check|sysread FILE\n");
		return 2;
	}
	mode = argv[1];
	const char *path = argv[2];
	char buf[64];
	int fd;

	if (!strcmp(mode, "make")) {
		if (make(path))
			return 1;
	} else if (!strcmp(mode, "shared")) {
		char *p = map(path, MAP_SHARED, &fd);
		if (!p)
			return fail("mmap");
		if (!pattern_ok(p))
			return fail("the mapping does not show the file");
		memcpy(p + MARK_OFF, MARK, sizeof MARK);
		if (pread(fd, buf, sizeof MARK, MARK_OFF) != sizeof MARK || memcmp(buf, MARK, sizeof MARK))
			return fail("pread does not see the store");
		if (msync(p, LEN, MS_SYNC))
			return fail("msync");
		if (munmap(p, LEN))
			return fail("munmap");
		close(fd);
	} else if (!strcmp(mode, "private")) {
		char *p = map(path, MAP_PRIVATE, &fd);
		if (!p)
			return fail("mmap");
		if (!pattern_ok(p))
			return fail("the mapping does not show the file");
		memcpy(p + 100, "private", 7);
		if (pread(fd, buf, 7, 100) != 7 || !memcmp(buf, "private", 7))
			return fail("a private store reached the file");
		if (memcmp(p + 100, "private", 7))
			return fail("the private store is lost");
		char *q = map(path, MAP_SHARED, NULL);
		if (!q || q[100] != pattern(100))
			return fail("a second mapping sees the private store");
		munmap(p, LEN);
		munmap(q, LEN);
		close(fd);
	} else if (!strcmp(mode, "two")) {
		char *p = map(path, MAP_SHARED, NULL);
		if (!p)
			return fail("mmap");
		(void)p[0];
		pid_t pid = fork();
		if (pid == 0) {
			char *c = map(path, MAP_SHARED, NULL);
			if (!c)
				_exit(3);
			memcpy(c + 2 * PG + 10, "from the child", 14);
			_exit(0);
		}
		int st;
		if (pid < 0 || waitpid(pid, &st, 0) != pid || st != 0)
			return fail("child");
		if (memcmp(p + 2 * PG + 10, "from the child", 14))
			return fail("the parent does not see the child's store");
		munmap(p, LEN);
	} else if (!strcmp(mode, "coherent")) {
		char *p = map(path, MAP_SHARED, &fd);
		if (!p)
			return fail("mmap");
		(void)p[PG];
		if (pwrite(fd, "PWRITE", 6, PG + 1) != 6)
			return fail("pwrite");
		if (memcmp(p + PG + 1, "PWRITE", 6))
			return fail("the mapping does not see the pwrite");
		munmap(p, LEN);
		close(fd);
	} else if (!strcmp(mode, "check")) {
		char *p = map(path, MAP_PRIVATE, &fd);
		if (!p)
			return fail("mmap");
		if (memcmp(p + MARK_OFF, MARK, sizeof MARK))
			return fail("the mapping lost the shared store");
		if (pread(fd, buf, sizeof MARK, MARK_OFF) != sizeof MARK || memcmp(buf, MARK, sizeof MARK))
			return fail("read() lost the shared store");
		if (p[0] != pattern(0) || p[LEN - 1] != pattern(LEN - 1))
			return fail("the rest of the file changed");
		close(fd);
	} else if (!strcmp(mode, "sysread")) {
		char *p = map(path, MAP_PRIVATE, &fd);
		if (!p)
			return fail("mmap");
		int src = open(path, O_RDONLY);
		if (src < 0 || read(src, p + PG, 100) != 100)
			return fail("read into the mapping");
		if (p[PG] != pattern(0) || p[PG + 99] != pattern(99))
			return fail("read into the mapping stored the wrong bytes");
		if (write(1, p + 2 * PG, 0) != 0)
			return fail("write from the mapping");
		close(src);
		close(fd);
	} else if (!strcmp(mode, "overlap") && argc == 4) {
		volatile unsigned long *cnt = (volatile unsigned long *)map(path, MAP_SHARED, NULL);
		int cfd = open(argv[3], O_RDONLY);
		volatile char *cold = cfd < 0 ? MAP_FAILED : mmap(NULL, LEN, PROT_READ, MAP_PRIVATE, cfd, 0);
		if (!cnt || cold == MAP_FAILED)
			return fail("mmap");
		cnt[0] = 0;
		pid_t pid = fork();
		if (pid == 0)
			for (;;)
				cnt[0]++;
		if (pid < 0)
			return fail("fork");
		while (cnt[0] == 0)
			sched_yield();
		unsigned long c0 = cnt[0];
		char c = cold[PG];             /* waits for the disk */
		unsigned long c1 = cnt[0];
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if (c != pattern(PG))
			return fail("the cold page is wrong");
		if (c1 == c0)
			return fail("nothing ran while the fault waited");
		printf("mmapfile: the child counted %lu while the fault waited\n", c1 - c0);
	} else if (!strcmp(mode, "killwait") && argc == 4) {
		volatile unsigned long *flag = (volatile unsigned long *)map(path, MAP_SHARED, NULL);
		if (!flag)
			return fail("mmap");
		flag[0] = 0;
		pid_t victim = fork();
		if (victim == 0) {
			int cfd = open(argv[3], O_RDONLY);
			volatile char *cold = mmap(NULL, LEN, PROT_READ, MAP_PRIVATE, cfd, 0);
			if (cold == MAP_FAILED)
				_exit(3);
			pid_t killer = fork();
			if (killer == 0) {
				while (flag[0] == 0)
					sched_yield();
				kill(getppid(), SIGKILL);
				_exit(0);
			}
			flag[0] = 1;
			(void)cold[2 * PG];     /* waits for the disk; killed meanwhile */
			for (;;)                /* (or the fill won the race: the kill comes now) */
				pause();
		}
		int st;
		if (victim < 0 || waitpid(victim, &st, 0) != victim)
			return fail("fork or wait");
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
			return fail("the victim was not killed");
		char *q = map(argv[3], MAP_PRIVATE, NULL);
		if (!q || q[2 * PG] != pattern(2 * PG) || q[LEN - 1] != pattern(LEN - 1))
			return fail("the cold file reads wrong after the kill");
	} else if (!strcmp(mode, "uring") && argc == 7) {
		if (uring_mode(argv + 2))
			return 1;
	} else if (!strcmp(mode, "uringcancel") && argc == 5) {
		if (uring_cancel_mode(argv + 2))
			return 1;
	} else if (!strcmp(mode, "pasteof")) {
		if (pasteof(path))
			return 1;
	} else if (!strcmp(mode, "truncate")) {
		if (truncate_mode(path))
			return 1;
	} else {
		return fail("unknown mode");
	}
	printf("mmapfile: %s ok\n", mode);
	return 0;
}
