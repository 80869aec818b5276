/* mv SRC DST - rename (into DST if it is a directory). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "ulib.h"

int main(int argc, char **argv)
{
	char buf[512];
	struct stat st;
	if (argc != 3) {
		u_errf("mv", "usage: mv src dst");
		return 2;
	}
	const char *dst = argv[2];
	if (stat(dst, &st) == 0 && S_ISDIR(st.st_mode)) {
		const char *base = strrchr(argv[1], '/');
		snprintf(buf, sizeof buf, "%s/%s", dst, base ? base + 1 : argv[1]);
		dst = buf;
	}
	if (rename(argv[1], dst) < 0) {
		u_warn("mv", argv[1], errno);
		return 1;
	}
	return 0;
}
