/*
 * cat [FILE...] - copy files (or stdin, also for "-") to stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "ulib.h"

static char buf[65536];

/* Copy fd to stdout; returns 0, or -1 after printing an error. */
static int copy(int fd, const char *name)
{
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			u_warn("cat", name, errno);
			return -1;
		}
		if (u_write_all(1, buf, (size_t)n) < 0) {
			u_warn("cat", "write", errno);
			return -1;
		}
	}
}

int main(int argc, char **argv)
{
	int status = 0;

	if (argc < 2)
		return copy(0, "stdin") < 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-") == 0) {
			if (copy(0, "stdin") < 0)
				status = 1;
			continue;
		}
		int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			u_warn("cat", argv[i], errno);
			status = 1;
			continue;
		}
		if (copy(fd, argv[i]) < 0)
			status = 1;
		close(fd);
	}
	return status;
}
