/* umount DIR - write back and detach the file system mounted at DIR. */
#include <errno.h>
#include <sys/mount.h>
#include "ulib.h"

int main(int argc, char **argv)
{
	if (argc != 2) {
		u_errf("umount", "usage: umount dir");
		return 2;
	}
	if (umount2(argv[1], 0) < 0) {
		u_warn("umount", argv[1], errno);
		return 1;
	}
	return 0;
}
