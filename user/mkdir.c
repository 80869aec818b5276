/* mkdir [-p] DIR... - make directories (-p: with their parents, no error if they exist). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include "ulib.h"

static int mkdir_p(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int r = mkdir(path, 0755);
		*p = '/';
		if (r < 0 && errno != EEXIST)
			return -1;
	}
	return mkdir(path, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

int main(int argc, char **argv)
{
	int i = 1, parents = 0, status = 0;
	if (i < argc && !strcmp(argv[i], "-p"))
		parents = 1, i++;
	if (i == argc) {
		u_errf("mkdir", "usage: mkdir [-p] dir...");
		return 2;
	}
	for (; i < argc; i++)
		if ((parents ? mkdir_p(argv[i]) : mkdir(argv[i], 0755)) < 0) {
			u_warn("mkdir", argv[i], errno);
			status = 1;
		}
	return status;
}
