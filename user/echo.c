/*
 * echo [-n] [ARG...] - print the arguments separated by spaces.
 *
 * -n suppresses the final newline. The output is written with a single
 * write() when it fits in 4 KiB, so concurrent echos do not interleave.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "ulib.h"

int main(int argc, char **argv)
{
	static char buf[4096];
	size_t n = 0;
	int newline = 1, i = 1;

	if (argc > 1 && strcmp(argv[1], "-n") == 0) {
		newline = 0;
		i = 2;
	}
	for (; i < argc; i++) {
		const char *s = argv[i];
		size_t len = strlen(s);
		int sep = i + 1 < argc || newline;

		if (n + len + 1 > sizeof buf) {
			if (u_write_all(1, buf, n) < 0)
				goto fail;
			n = 0;
			if (len + 1 > sizeof buf) {
				if (u_write_all(1, s, len) < 0)
					goto fail;
				len = 0;
			}
		}
		memcpy(buf + n, s, len);
		n += len;
		if (sep)
			buf[n++] = i + 1 < argc ? ' ' : '\n';
	}
	if (argc <= 1 && newline)
		buf[n++] = '\n';
	if (u_write_all(1, buf, n) < 0)
		goto fail;
	return 0;
fail:
	u_warn("echo", "write", errno);
	return 1;
}
