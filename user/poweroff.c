/*
 * poweroff - turn the machine off: reboot(RB_POWER_OFF), as on Linux
 * (QEMU exits).  With -n ("bad magic") it makes the raw system call with a
 * wrong magic number instead and prints what the kernel answered, for the
 * tests.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ulib.h"

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "-n")) {
		long r = syscall(SYS_reboot, 0xfee1deadL, 12345L, RB_POWER_OFF, 0L);
		printf("poweroff: bad magic: %ld %s\n", r, r < 0 ? strerror(errno) : "");
		return 0;
	}
	reboot(RB_POWER_OFF);
	u_die("poweroff", "reboot", errno);
}
