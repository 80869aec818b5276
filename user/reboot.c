/*
 * reboot - restart the machine: reboot(RB_AUTOBOOT), as on Linux (QEMU
 * resets and boots the kernel again).
 */
#include <errno.h>
#include <sys/reboot.h>

#include "ulib.h"

int main(void)
{
	reboot(RB_AUTOBOOT);
	u_die("reboot", "reboot", errno);
}
