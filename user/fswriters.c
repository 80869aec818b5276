/*
 * fswriters [N] [KIB] - N processes (default 8) each write their own file
 * of KIB KiB (default 256) in /tmp/fsw, fsync it, read it back and
 * compare.  Prints "fswriters: N ok" or what went wrong.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ulib.h"

static int child(int id, int kib)
{
	char path[64];
	static uint32_t buf[1024];
	snprintf(path, sizeof path, "/tmp/fsw/w%d", id);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return 10;
	for (int k = 0; k < kib / 4; k++) {
		for (int i = 0; i < 1024; i++)
			buf[i] = (uint32_t)(id << 24 | k << 10 | i);
		if (write(fd, buf, sizeof buf) != sizeof buf)
			return 11;
	}
	if (fsync(fd) < 0)
		return 12;
	if (lseek(fd, 0, SEEK_SET) != 0)
		return 13;
	for (int k = 0; k < kib / 4; k++) {
		if (read(fd, buf, sizeof buf) != sizeof buf)
			return 14;
		for (int i = 0; i < 1024; i++)
			if (buf[i] != (uint32_t)(id << 24 | k << 10 | i))
				return 15;
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 8, kib = argc > 2 ? atoi(argv[2]) : 256, bad = 0;
	mkdir("/tmp", 0755);
	mkdir("/tmp/fsw", 0755);
	for (int i = 0; i < n; i++) {
		pid_t p = fork();
		if (p == 0)
			_exit(child(i, kib));
		if (p < 0)
			u_die("fswriters", "fork", errno);
	}
	for (int i = 0; i < n; i++) {
		int st;
		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
			printf("fswriters: a writer failed (status %d)\n", WEXITSTATUS(st));
			bad++;
		}
	}
	if (!bad)
		printf("fswriters: %d ok\n", n);
	return bad != 0;
}
