/* stat PATH... - what stat(2) says (the link itself for a symlink). */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include "ulib.h"

int main(int argc, char **argv)
{
	int status = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (lstat(argv[i], &st) < 0) {
			u_warn("stat", argv[i], errno);
			status = 1;
			continue;
		}
		const char *type = S_ISDIR(st.st_mode) ? "directory" : S_ISREG(st.st_mode) ? "regular file"
				 : S_ISLNK(st.st_mode) ? "symbolic link" : S_ISCHR(st.st_mode) ? "character device"
				 : S_ISFIFO(st.st_mode) ? "fifo" : "other";
		printf("  File: %s\n  Size: %lld  Blocks: %lld  IO Block: %ld  %s\n"
		       "Device: %lxh  Inode: %llu  Links: %lu\nAccess: (%04o)  Uid: %u  Gid: %u\n"
		       "Modify: %lld\nChange: %lld\n",
		       argv[i], (long long)st.st_size, (long long)st.st_blocks, (long)st.st_blksize, type,
		       (unsigned long)st.st_dev, (unsigned long long)st.st_ino, (unsigned long)st.st_nlink,
		       st.st_mode & 07777, st.st_uid, st.st_gid, (long long)st.st_mtime, (long long)st.st_ctime);
	}
	return status;
}
