/*
 * sleep SECONDS - sleep for SECONDS (a decimal, fractions allowed: 0.25)
 * with the nanosleep system call.
 */
#include <stdlib.h>

#include "ulib.h"

int main(int argc, char **argv)
{
	char *end;
	double secs;

	if (argc != 2) {
		u_errf("sleep", "usage: sleep SECONDS");
		return 2;
	}
	secs = strtod(argv[1], &end);
	if (end == argv[1] || *end || !(secs >= 0) || secs > 1e9) {
		u_errf("sleep", "invalid time interval '%s'", argv[1]);
		return 2;
	}
	long sec = (long)secs;
	long nsec = (long)((secs - (double)sec) * 1e9);
	if (nsec > 999999999)
		nsec = 999999999;
	long r = u_nanosleep(sec, nsec);
	if (r < 0)
		u_die("sleep", "nanosleep", (int)-r);
	return 0;
}
