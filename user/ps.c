/*
 * ps - print the kernel's process table.
 *
 * The kernel renders the table itself in the file /proc/ps (header
 * "PID PPID THR STATE HART NAME"); ps copies it to stdout verbatim.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "ulib.h"

int main(void)
{
	static char buf[16384];
	int fd = open("/proc/ps", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		u_die("ps", "/proc/ps", errno);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			u_die("ps", "/proc/ps", errno);
		}
		if (u_write_all(1, buf, (size_t)n) < 0)
			u_die("ps", "write", errno);
	}
	close(fd);
	return 0;
}
