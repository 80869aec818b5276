/* poweroff - sync the file systems, mark them clean and end the machine. */
#include <errno.h>
#include <sys/reboot.h>
#include <unistd.h>
#include "ulib.h"

int main(void)
{
	sync();
	reboot(RB_POWER_OFF);
	u_warn("poweroff", "reboot", errno);
	return 1;
}
