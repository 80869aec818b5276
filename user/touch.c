/* touch FILE... - make files, or set their times to now. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ulib.h"

int main(int argc, char **argv)
{
	int status = 0;
	for (int i = 1; i < argc; i++) {
		int fd = open(argv[i], O_WRONLY | O_CREAT, 0644);
		if (fd < 0 || futimens(fd, NULL) < 0) {
			u_warn("touch", argv[i], errno);
			status = 1;
		}
		if (fd >= 0)
			close(fd);
	}
	return status;
}
