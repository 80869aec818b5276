/* mount DEVICE DIR - mount the ext2 file system on DEVICE (/dev/vdb) at DIR. */
#include <errno.h>
#include <sys/mount.h>
#include "ulib.h"

int main(int argc, char **argv)
{
	if (argc != 3) {
		u_errf("mount", "usage: mount /dev/vdX dir");
		return 2;
	}
	if (mount(argv[1], argv[2], "ext2", 0, NULL) < 0) {
		u_warn("mount", argv[1], errno);
		return 1;
	}
	return 0;
}
