/* rm [-r] [-f] PATH... - remove files (-r: directories and what they hold; -f: no error if missing). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ulib.h"

static int opt_r, opt_f;

static int rm(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		if (opt_f && errno == ENOENT)
			return 0;
		u_warn("rm", path, errno);
		return 1;
	}
	if (S_ISDIR(st.st_mode)) {
		if (!opt_r) {
			u_warn("rm", path, EISDIR);
			return 1;
		}
		DIR *d = opendir(path);
		if (!d) {
			u_warn("rm", path, errno);
			return 1;
		}
		int status = 0;
		struct dirent *e;
		/* removing while reading: start over after each batch */
		for (;;) {
			char names[16][256];
			int n = 0;
			while (n < 16 && (e = readdir(d))) {
				if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
					continue;
				snprintf(names[n++], 256, "%s", e->d_name);
			}
			for (int i = 0; i < n; i++) {
				char child[512];
				if (snprintf(child, sizeof child, "%s/%s", path, names[i]) >= (int)sizeof child) {
					fprintf(stderr, "rm: %s/%s: path too long\n", path, names[i]);
					status = 1;
					continue;
				}
				status |= rm(child);
			}
			if (n < 16 || status)
				break;
			rewinddir(d);
		}
		closedir(d);
		if (rmdir(path) < 0) {
			u_warn("rm", path, errno);
			return 1;
		}
		return status;
	}
	if (unlink(path) < 0) {
		u_warn("rm", path, errno);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int i = 1, status = 0;
	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++)
		for (const char *o = argv[i] + 1; *o; o++)
			if (*o == 'r' || *o == 'R')
				opt_r = 1;
			else if (*o == 'f')
				opt_f = 1;
			else {
				u_errf("rm", "usage: rm [-rf] path...");
				return 2;
			}
	for (; i < argc; i++)
		status |= rm(argv[i]);
	return status;
}
