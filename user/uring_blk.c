/*
 * uring_blk FILE - 32 io_uring READs of 4 KiB at once, each at its own
 * offset of FILE, checked against pread, then an FSYNC of a new file.
 * Prints "uring_blk: 32 reads ok", "uring_blk: fsync ok" or what failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "uring_raw.h"

#define N 32
#define SZ 4096

static char bufs[N][SZ], check[SZ];

int main(int argc, char **argv)
{
	struct uring r;
	if (argc != 2)
		return 2;
	int fd = open(argv[1], O_RDONLY);
	if (fd < 0 || uring_open(&r, 64, NULL) < 0) {
		printf("uring_blk: setup failed (errno %d)\n", errno);
		return 1;
	}
	for (int i = 0; i < N; i++) {
		struct io_uring_sqe *s = uring_sqe(&r);
		s->opcode = IORING_OP_READ;
		s->fd = fd;
		s->addr = (uint64_t)(uintptr_t)bufs[N - 1 - i];
		s->len = SZ;
		s->off = (uint64_t)(N - 1 - i) * SZ;    /* backwards: offsets must be honoured */
		s->user_data = (uint64_t)(N - 1 - i);
	}
	long e = uring_enter(&r, N, 0, 0);
	if (e != N) {
		printf("uring_blk: submitted %ld\n", e);
		return 1;
	}
	int seen = 0;
	for (int k = 0; k < N; k++) {
		struct io_uring_cqe c;
		if (uring_wait(&r, &c) < 0 || c.res != SZ) {
			printf("uring_blk: read %llu gave %d\n", (unsigned long long)c.user_data, c.res);
			return 1;
		}
		seen |= 0;
		if (pread(fd, check, SZ, (off_t)c.user_data * SZ) != SZ || memcmp(check, bufs[c.user_data], SZ)) {
			printf("uring_blk: read %llu differs from pread\n", (unsigned long long)c.user_data);
			return 1;
		}
	}
	(void)seen;
	printf("uring_blk: %d reads ok\n", N);
	/* FSYNC of a file just written */
	int w = open("/tmp/uring_fsync", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (w < 0 || write(w, "x", 1) != 1)
		return 1;
	struct io_uring_sqe *s = uring_sqe(&r);
	s->opcode = IORING_OP_FSYNC;
	s->fd = w;
	s->user_data = 99;
	struct io_uring_cqe c;
	if (uring_enter(&r, 1, 0, 0) != 1 || uring_wait(&r, &c) < 0 || c.res != 0) {
		printf("uring_blk: fsync gave %d\n", c.res);
		return 1;
	}
	printf("uring_blk: fsync ok\n");
	return 0;
}
