/*
 * memhog MB - malloc MB megabytes, write to every page, check the data.
 * Prints "memhog: ok"; a failed malloc prints an error and exits 1 (and a
 * kernel that runs out of memory while the pages are touched may kill it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "ulib.h"

int main(int argc, char **argv)
{
	long mb = argc == 2 ? u_parse_ulong(argv[1]) : -1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (mb < 0 || mb > (1L << 20)) {
		u_errf("memhog", "usage: memhog MB");
		return 2;
	}
	size_t size = (size_t)mb << 20;
	unsigned char *p = malloc(size ? size : 1);
	if (!p)
		u_die("memhog", "malloc", errno);
	for (size_t off = 0; off < size; off += 4096) {
		p[off] = (unsigned char)(off >> 12);
		if (off % (64 << 20) == 0 && off)
			printf("memhog: touched %zu MB\n", off >> 20);
	}
	for (size_t off = 0; off < size; off += 4096) {
		if (p[off] != (unsigned char)(off >> 12)) {
			u_errf("memhog", "data mismatch at offset %zu", off);
			return 1;
		}
	}
	free(p);
	printf("memhog: %ld MB\n", mb);
	printf("memhog: ok\n");
	return 0;
}
