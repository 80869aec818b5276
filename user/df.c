/* df [PATH...] - free space of the file systems holding PATH (default /). */
#include <errno.h>
#include <stdio.h>
#include <sys/statfs.h>
#include "ulib.h"

int main(int argc, char **argv)
{
	int status = 0;
	printf("%-12s %10s %10s %10s %8s %8s\n", "Path", "1K-blocks", "Used", "Avail", "Inodes", "IFree");
	for (int i = argc > 1 ? 1 : 0; i < argc; i++) {
		const char *p = argc > 1 ? argv[i] : "/";
		struct statfs s;
		if (statfs(p, &s) < 0) {
			u_warn("df", p, errno);
			status = 1;
			continue;
		}
		unsigned long k = s.f_bsize / 1024;
		printf("%-12s %10lu %10lu %10lu %8lu %8lu\n", p, s.f_blocks * k, (s.f_blocks - s.f_bfree) * k,
		       s.f_bavail * k, (unsigned long)s.f_files, (unsigned long)s.f_ffree);
	}
	return status;
}
