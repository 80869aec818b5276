/*
 * bench_fs - file-system figures for `make bench`, in instructions (under
 * -icount shift=0 rdinstret is QEMU's virtual clock, so a wait for the
 * disk counts as the instructions that would have run meanwhile).
 *
 * Mounts /dev/vda (an empty ext2 disk made by make bench) at /mnt,
 * writes a 16 MiB file, fsyncs, and unmounts and mounts again before
 * each "cold" figure (unmount drops the disk's cached blocks).  Prints:
 *   bench file_read_4k_cached  pread of 4 KiB from the cache (median)
 *   bench file_read_4k_disk    pread of 4 KiB, cache cold, 1 MiB apart (median)
 *   bench file_write_4k_fsync  pwrite of 4 KiB then fsync (median)
 *   bench create_write_unlink  create, write 1 byte, close, unlink (median)
 *   bench uring_read_4k_qd32   per read, 32 io_uring reads in flight, cold
 *   bench read_seq_mib         per MiB of a 16 MiB sequential read, cold
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include "uring_raw.h"

#define FILE_MIB 16
#define ROUNDS 15

static char buf[65536];
static char qbuf[32][4096];

static void remount(void)
{
	if (umount2("/mnt", 0) < 0 || mount("/dev/vda", "/mnt", "ext2", 0, NULL) < 0)
		u_die("bench_fs", "remount", errno);
}

static void report(const char *name, uint64_t v)
{
	printf("bench %s %llu instructions\n", name, (unsigned long long)v);
}

int main(void)
{
	uint64_t v[64], t0;
	if (mount("/dev/vda", "/mnt", "ext2", 0, NULL) < 0)
		u_die("bench_fs", "mount /dev/vda", errno);
	int fd = open("/mnt/data", O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		u_die("bench_fs", "create", errno);
	for (int i = 0; i < FILE_MIB * 16; i++) {
		memset(buf, i, sizeof buf);
		if (write(fd, buf, sizeof buf) != sizeof buf)
			u_die("bench_fs", "write", errno);
	}
	fsync(fd);
	close(fd);

	/* cached 4 KiB reads */
	fd = open("/mnt/data", O_RDONLY);
	pread(fd, buf, 4096, 0);
	for (int r = 0; r < ROUNDS; r++) {
		t0 = u_rdinstret();
		for (int k = 0; k < 100; k++)
			pread(fd, buf, 4096, 0);
		v[r] = (u_rdinstret() - t0) / 100;
	}
	report("file_read_4k_cached", u_median(v, ROUNDS));
	close(fd);

	/* cold 4 KiB reads, far apart (read-ahead does not reach the next) */
	remount();
	fd = open("/mnt/data", O_RDONLY);
	pread(fd, buf, 1, 0);                   /* the inode and first mapping */
	for (int r = 0; r < ROUNDS; r++) {
		t0 = u_rdinstret();
		pread(fd, buf, 4096, (off_t)(r + 1) << 20);
		v[r] = u_rdinstret() - t0;
	}
	report("file_read_4k_disk", u_median(v, ROUNDS));
	close(fd);

	/* 4 KiB write + fsync */
	fd = open("/mnt/data", O_RDWR);
	for (int r = 0; r < ROUNDS; r++) {
		t0 = u_rdinstret();
		pwrite(fd, buf, 4096, (off_t)r * 4096);
		fsync(fd);
		v[r] = u_rdinstret() - t0;
	}
	report("file_write_4k_fsync", u_median(v, ROUNDS));
	close(fd);

	/* create, write 1 byte, close, unlink */
	for (int r = 0; r < ROUNDS; r++) {
		t0 = u_rdinstret();
		int f = open("/mnt/tmpfile", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		write(f, "x", 1);
		close(f);
		unlink("/mnt/tmpfile");
		v[r] = u_rdinstret() - t0;
	}
	report("create_write_unlink", u_median(v, ROUNDS));

	/* 32 io_uring reads in flight, cold */
	remount();
	fd = open("/mnt/data", O_RDONLY);
	pread(fd, buf, 1, 0);
	struct uring ring;
	if (uring_open(&ring, 64, NULL) < 0)
		u_die("bench_fs", "io_uring", errno);
	t0 = u_rdinstret();
	for (int i = 0; i < 32; i++) {
		struct io_uring_sqe *s = uring_sqe(&ring);
		s->opcode = IORING_OP_READ;
		s->fd = fd;
		s->addr = (uint64_t)(uintptr_t)qbuf[i];
		s->len = 4096;
		s->off = (uint64_t)(i + 1) << 19;       /* 512 KiB apart: no read-ahead between */
		s->user_data = i;
	}
	uring_enter(&ring, 32, 0, 0);
	for (int i = 0; i < 32; i++) {
		struct io_uring_cqe c;
		uring_wait(&ring, &c);
	}
	report("uring_read_4k_qd32", (u_rdinstret() - t0) / 32);
	uring_close(&ring);
	close(fd);

	/* sequential read, cold */
	remount();
	fd = open("/mnt/data", O_RDONLY);
	t0 = u_rdinstret();
	while (read(fd, buf, sizeof buf) > 0)
		;
	report("read_seq_mib", (u_rdinstret() - t0) / FILE_MIB);
	close(fd);
	unlink("/mnt/data");
	umount2("/mnt", 0);
	return 0;
}
