/*
 * forkbomb [MAX] - fork until fork fails, then recover.
 *
 * Every child blocks in read() on a pipe whose only writer is the parent.
 * When fork fails (or after MAX children, default 10000) the parent
 * prints "forkbomb: fork failed with errno E (text) after N children",
 * closes the pipe's write end - every child's read() returns 0 and the
 * child exits - reaps all of them, checks that fork works again and
 * prints "forkbomb: recovered".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ulib.h"

int main(int argc, char **argv)
{
	long max = argc > 1 ? u_parse_ulong(argv[1]) : 10000;
	long n = 0, reaped = 0;
	int p[2], err = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (max < 0 || argc > 2) {
		u_errf("forkbomb", "usage: forkbomb [MAX]");
		return 2;
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		u_die("forkbomb", "pipe2", errno);

	while (n < max) {
		pid_t pid = fork();
		if (pid == 0) {
			char c;
			close(p[1]);
			while (read(p[0], &c, 1) < 0 && errno == EINTR)
				;
			_exit(0);
		}
		if (pid < 0) {
			err = errno;
			break;
		}
		n++;
		if (n % 1000 == 0)
			printf("forkbomb: %ld children\n", n);
	}
	if (err)
		printf("forkbomb: fork failed with errno %d (%s) after %ld children\n",
		       err, strerror(err), n);
	else
		printf("forkbomb: fork did not fail after %ld children (limit)\n", n);

	close(p[1]); /* releases every child */
	close(p[0]);
	while (reaped < n) {
		int st;
		pid_t pid = wait4(-1, &st, 0, NULL);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			u_errf("forkbomb", "wait4 after %ld of %ld: %s", reaped, n,
			       strerror(errno));
			return 1;
		}
		reaped++;
	}
	printf("forkbomb: reaped %ld children\n", reaped);

	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid < 0)
		u_die("forkbomb", "fork after recovery", errno);
	int st;
	if (wait4(pid, &st, 0, NULL) != pid || !WIFEXITED(st))
		u_die("forkbomb", "wait4 after recovery", errno);
	printf("forkbomb: recovered\n");
	return 0;
}
