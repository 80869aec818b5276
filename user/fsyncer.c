/*
 * fsyncer - a write-heavy workload for the crash test: files
 * /tmp/crash/fN of 20 KiB (byte k of fN is (N * 7 + k) & 0xff), each
 * fsynced and then announced with "synced fN", while a second stream
 * appends to /tmp/crash/junk without syncing.  Runs until killed (or 500
 * files).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ulib.h"

int main(void)
{
	static unsigned char buf[20480], junk[65536];
	mkdir("/tmp/crash", 0755);
	int j = open("/tmp/crash/junk", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	for (int n = 0; n < 500; n++) {
		char path[64];
		snprintf(path, sizeof path, "/tmp/crash/f%d", n);
		for (int k = 0; k < (int)sizeof buf; k++)
			buf[k] = (unsigned char)(n * 7 + k);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, buf, sizeof buf) != sizeof buf || fsync(fd) < 0)
			u_die("fsyncer", path, errno);
		close(fd);
		printf("synced f%d\n", n);
		fflush(stdout);
		junk[0] = (unsigned char)n;
		if (j >= 0 && write(j, junk, sizeof junk) < 0)
			u_die("fsyncer", "junk", errno);
		if (n % 8 == 7 && j >= 0 && ftruncate(j, 0) < 0)
			u_die("fsyncer", "truncate", errno);
	}
	return 0;
}
