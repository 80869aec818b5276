/* cp SRC DST - copy a file (into DST if it is a directory). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ulib.h"

int main(int argc, char **argv)
{
	static char data[65536];
	char buf[512];
	struct stat st;
	if (argc != 3) {
		u_errf("cp", "usage: cp src dst");
		return 2;
	}
	const char *dst = argv[2];
	if (stat(dst, &st) == 0 && S_ISDIR(st.st_mode)) {
		const char *base = strrchr(argv[1], '/');
		snprintf(buf, sizeof buf, "%s/%s", dst, base ? base + 1 : argv[1]);
		dst = buf;
	}
	int in = open(argv[1], O_RDONLY);
	if (in < 0 || fstat(in, &st) < 0) {
		u_warn("cp", argv[1], errno);
		return 1;
	}
	int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, st.st_mode & 07777);
	if (out < 0) {
		u_warn("cp", dst, errno);
		return 1;
	}
	for (;;) {
		ssize_t n = read(in, data, sizeof data);
		if (n < 0) {
			u_warn("cp", argv[1], errno);
			return 1;
		}
		if (n == 0)
			break;
		if (u_write_all(out, data, (size_t)n) < 0) {
			u_warn("cp", dst, errno);
			return 1;
		}
	}
	if (close(out) < 0) {
		u_warn("cp", dst, errno);
		return 1;
	}
	return 0;
}
