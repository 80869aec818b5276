/*
 * fsmix [ROUNDS] - six processes at once on one ext2 directory tree
 * (/tmp/mix), each a different kind of work, to exercise the per-inode
 * locks:
 *
 *   renamer 0, 1   move their own files between a/ and b/, in opposite
 *                  directions, and each tries to move its directory into
 *                  the other's (a/d0 -> b/d1/d0 against b/d1 -> a/d0/d1:
 *                  at most one may win, or the tree would hold a cycle),
 *                  moving it back when it won; and d0 into its own
 *                  subdirectory, which must fail with EINVAL
 *   creator 0, 1   create, write and close files in the shared s/,
 *                  unlinking every other one, and a file unlinked while
 *                  it is open (freed at its last close)
 *   reader         reads the big file again and again, checking each byte
 *   writer         writes another file, fsyncs it, reads it back
 *
 * Then the parent checks that every file is where it must be, holding
 * exactly its bytes, and that no other name exists.  Prints "fsmix: ok"
 * or what went wrong.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NFILES 8
#define NCREATE 48
#define BIG (256 * 1024)
#define WSIZE (384 * 1024)

static int rounds = 12;

static void fill(char *buf, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)((seed * 131 + i * 7 + (i >> 9)) & 0xff);
}

static int write_file(const char *path, unsigned seed, size_t n)
{
	static char buf[4096];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	for (size_t off = 0; off < n; off += sizeof buf) {
		size_t k = n - off < sizeof buf ? n - off : sizeof buf;
		fill(buf, sizeof buf, seed + (unsigned)(off / sizeof buf));
		if (write(fd, buf, k) != (ssize_t)k) {
			close(fd);
			return -1;
		}
	}
	return close(fd);
}

/* 0: path holds exactly what write_file(path, seed, n) wrote. */
static int check_file(const char *path, unsigned seed, size_t n)
{
	static char buf[4096], want[4096];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	size_t off = 0;
	for (;;) {
		ssize_t k = read(fd, buf, sizeof buf);
		if (k < 0 || (k == 0 && off != n) || off + (size_t)k > n) {
			close(fd);
			return -2;
		}
		if (k == 0)
			break;
		fill(want, sizeof want, seed + (unsigned)(off / sizeof buf));
		if (memcmp(buf, want, (size_t)k)) {
			close(fd);
			return -3;
		}
		off += (size_t)k;
	}
	close(fd);
	return 0;
}

static unsigned rseed(int k, int i) { return 1000u + (unsigned)(k * 100 + i); }
static unsigned cseed(int k, int i) { return 5000u + (unsigned)(k * 1000 + i); }
static size_t csize(int i) { return 200 + (size_t)i * 37; }

static int renamer(int k)
{
	const char *from = k == 0 ? "/tmp/mix/a" : "/tmp/mix/b";
	const char *to = k == 0 ? "/tmp/mix/b" : "/tmp/mix/a";
	char p1[96], p2[96];
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < NFILES; i++) {
			snprintf(p1, sizeof p1, "%s/r%d_%d", from, k, i);
			snprintf(p2, sizeof p2, "%s/r%d_%d", to, k, i);
			if (rename(p1, p2))
				return 20;
		}
		/* each tries to move its directory into the other's */
		const char *mine = k == 0 ? "/tmp/mix/a/d0" : "/tmp/mix/b/d1";
		const char *into = k == 0 ? "/tmp/mix/b/d1/d0" : "/tmp/mix/a/d0/d1";
		if (rename(mine, into) == 0) {
			if (rename(into, mine))
				return 21;      /* only we move our directory */
		} else if (errno != ENOENT && errno != EINVAL) {
			return 22;
		}
		if (k == 0 && (rename("/tmp/mix/a/d0", "/tmp/mix/a/d0/sub/d0") == 0 || errno != EINVAL))
			return 23;              /* into its own subdirectory */
		for (int i = 0; i < NFILES; i++) {
			snprintf(p1, sizeof p1, "%s/r%d_%d", to, k, i);
			snprintf(p2, sizeof p2, "%s/r%d_%d", from, k, i);
			if (rename(p1, p2))
				return 24;
		}
	}
	return 0;
}

static int creator(int k)
{
	char p[96];
	static char buf[4096];
	for (int i = 0; i < NCREATE; i++) {
		snprintf(p, sizeof p, "/tmp/mix/s/c%d_%d", k, i);
		if (write_file(p, cseed(k, i), csize(i)))
			return 30;
		if ((i & 1) && unlink(p))
			return 31;
		if (i % 8 == 0) {       /* unlinked while open: still readable, freed at close */
			snprintf(p, sizeof p, "/tmp/mix/s/o%d_%d", k, i);
			int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
			if (fd < 0 || unlink(p))
				return 32;
			fill(buf, sizeof buf, 77);
			if (write(fd, buf, sizeof buf) != sizeof buf || pwrite(fd, buf, 100, 8000) != 100)
				return 33;
			memset(buf, 0, sizeof buf);
			if (pread(fd, buf, sizeof buf, 0) != sizeof buf || close(fd))
				return 34;
		}
	}
	return 0;
}

static int reader(void)
{
	for (int pass = 0; pass < rounds; pass++)
		if (check_file("/tmp/mix/big", 42, BIG))
			return 40;
	return 0;
}

static int writer(void)
{
	if (write_file("/tmp/mix/w", 43, WSIZE))
		return 50;
	int fd = open("/tmp/mix/w", O_RDONLY);
	if (fd < 0 || fsync(fd) || close(fd))
		return 51;
	return check_file("/tmp/mix/w", 43, WSIZE) ? 52 : 0;
}

/* Exactly the names of `want` (n of them) in dir. */
static int names_are(const char *dir, const char **want, int n)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int seen = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		int found = 0;
		for (int i = 0; i < n; i++)
			found |= !strcmp(e->d_name, want[i]);
		if (!found) {
			printf("fsmix: unexpected %s/%s\n", dir, e->d_name);
			closedir(d);
			return -1;
		}
		seen++;
	}
	closedir(d);
	return seen == n ? 0 : -1;
}

static int verify(void)
{
	static char names[2 * NCREATE + 2 * NFILES + 4][16];
	const char *want[2 * NCREATE + 2 * NFILES + 4];
	char p[96];
	int n = 0;
	/* a: r0_*, d0;  b: r1_*, d1 */
	for (int k = 0; k < 2; k++) {
		n = 0;
		for (int i = 0; i < NFILES; i++) {
			snprintf(names[n], sizeof names[n], "r%d_%d", k, i);
			want[n] = names[n];
			n++;
			snprintf(p, sizeof p, "/tmp/mix/%c/r%d_%d", k ? 'b' : 'a', k, i);
			if (check_file(p, rseed(k, i), 1000 + (size_t)i * 100)) {
				printf("fsmix: %s does not hold its bytes\n", p);
				return 1;
			}
		}
		want[n++] = k ? "d1" : "d0";
		snprintf(p, sizeof p, "/tmp/mix/%c", k ? 'b' : 'a');
		if (names_are(p, want, n)) {
			printf("fsmix: %s does not hold what it should\n", p);
			return 1;
		}
	}
	const char *sub[] = { "sub" };
	if (names_are("/tmp/mix/a/d0", sub, 1) || names_are("/tmp/mix/b/d1", sub, 0)) {
		printf("fsmix: d0 or d1 holds the wrong names\n");
		return 1;
	}
	n = 0;
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < NCREATE; i += 2) {
			snprintf(names[n], sizeof names[n], "c%d_%d", k, i);
			want[n] = names[n];
			snprintf(p, sizeof p, "/tmp/mix/s/%s", names[n]);
			if (check_file(p, cseed(k, i), csize(i))) {
				printf("fsmix: %s does not hold its bytes\n", p);
				return 1;
			}
			n++;
		}
	if (names_are("/tmp/mix/s", want, n)) {
		printf("fsmix: /tmp/mix/s does not hold what it should\n");
		return 1;
	}
	if (check_file("/tmp/mix/w", 43, WSIZE) || check_file("/tmp/mix/big", 42, BIG)) {
		printf("fsmix: w or big does not hold its bytes\n");
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char p[96];
	if (argc > 1)
		rounds = atoi(argv[1]);
	mkdir("/tmp", 0755);
	if (mkdir("/tmp/mix", 0755) || mkdir("/tmp/mix/a", 0755) || mkdir("/tmp/mix/b", 0755) ||
	    mkdir("/tmp/mix/s", 0755) || mkdir("/tmp/mix/a/d0", 0755) ||
	    mkdir("/tmp/mix/a/d0/sub", 0755) || mkdir("/tmp/mix/b/d1", 0755)) {
		printf("fsmix: setting up: %s\n", strerror(errno));
		return 1;
	}
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < NFILES; i++) {
			snprintf(p, sizeof p, "/tmp/mix/%c/r%d_%d", k ? 'b' : 'a', k, i);
			if (write_file(p, rseed(k, i), 1000 + (size_t)i * 100)) {
				printf("fsmix: setting up %s: %s\n", p, strerror(errno));
				return 1;
			}
		}
	if (write_file("/tmp/mix/big", 42, BIG)) {
		printf("fsmix: setting up big: %s\n", strerror(errno));
		return 1;
	}
	static const char *what[] = { "renamer 0", "renamer 1", "creator 0", "creator 1", "reader", "writer" };
	pid_t pids[6];
	for (int c = 0; c < 6; c++) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(c < 2 ? renamer(c) : c < 4 ? creator(c - 2) : c == 4 ? reader() : writer());
		if (pid < 0) {
			printf("fsmix: fork: %s\n", strerror(errno));
			return 1;
		}
		pids[c] = pid;
	}
	int bad = 0;
	for (int c = 0; c < 6; c++) {
		int st;
		if (waitpid(pids[c], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
			printf("fsmix: %s failed (status %d)\n", what[c], WIFEXITED(st) ? WEXITSTATUS(st) : -1);
			bad = 1;
		}
	}
	if (!bad)
		bad = verify();
	if (!bad)
		printf("fsmix: ok\n");
	return bad;
}
