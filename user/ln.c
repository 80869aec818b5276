/* ln [-s] TARGET NAME - a hard link, or (-s) a symbolic link. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "ulib.h"

int main(int argc, char **argv)
{
	int sym = argc == 4 && !strcmp(argv[1], "-s");
	if (argc != 3 + sym) {
		u_errf("ln", "usage: ln [-s] target name");
		return 2;
	}
	if ((sym ? symlink(argv[2], argv[3]) : link(argv[1], argv[2])) < 0) {
		u_warn("ln", argv[2 + sym], errno);
		return 1;
	}
	return 0;
}
