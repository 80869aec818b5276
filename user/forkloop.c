/*
 * forkloop N - fork N children one after the other; each child calls
 * _exit(0) and the parent reaps it with wait4() and checks its status.
 * Prints "forkloop: N ok" (or an error and exits 1).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ulib.h"

int main(int argc, char **argv)
{
	long n = argc == 2 ? u_parse_ulong(argv[1]) : -1;

	if (n < 0) {
		u_errf("forkloop", "usage: forkloop N");
		return 2;
	}
	for (long i = 0; i < n; i++) {
		int st;
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		if (pid < 0) {
			u_errf("forkloop", "fork %ld: %s", i, strerror(errno));
			return 1;
		}
		pid_t w;
		while ((w = wait4(pid, &st, 0, NULL)) < 0 && errno == EINTR)
			;
		if (w != pid) {
			u_errf("forkloop", "wait4 %ld: returned %d: %s", i, (int)w,
			       strerror(errno));
			return 1;
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			u_errf("forkloop", "child %ld: bad status 0x%x", i, st);
			return 1;
		}
	}
	printf("forkloop: %ld ok\n", n);
	return 0;
}
