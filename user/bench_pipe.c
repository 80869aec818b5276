/*
 * bench_pipe - cost of a pipe round trip between two processes.
 *
 * The parent writes one byte into one pipe, the child reads it and writes
 * one byte back through a second pipe. Each of 15 rounds makes 500 round
 * trips and counts retired instructions (rdinstret). Both processes are
 * pinned to one hart (u_pin_here; the child inherits it): the figure is a
 * same-hart round trip at every hart count. Prints the median:
 *   bench pipe_pingpong <instructions per round trip> instructions
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ulib.h"

#define ROUNDS 15
#define TRIPS 500

int main(void)
{
	uint64_t v[ROUNDS];
	int down[2], up[2];
	char c = 'x';

	u_pin_here();

	if (pipe2(down, O_CLOEXEC) < 0 || pipe2(up, O_CLOEXEC) < 0)
		u_die("bench_pipe", "pipe2", errno);
	pid_t pid = fork();
	if (pid < 0)
		u_die("bench_pipe", "fork", errno);
	if (pid == 0) {
		close(down[1]);
		close(up[0]);
		while (read(down[0], &c, 1) == 1)
			if (write(up[1], &c, 1) != 1)
				break;
		_exit(0);
	}
	close(down[0]);
	close(up[1]);
	for (int r = 0; r < ROUNDS; r++) {
		uint64_t t0 = u_rdinstret();
		for (int i = 0; i < TRIPS; i++) {
			if (write(down[1], &c, 1) != 1)
				u_die("bench_pipe", "write", errno);
			if (read(up[0], &c, 1) != 1)
				u_die("bench_pipe", "read", errno);
		}
		v[r] = (u_rdinstret() - t0) / TRIPS;
	}
	close(down[1]);
	waitpid(pid, NULL, 0);
	printf("bench pipe_pingpong %llu instructions\n",
	       (unsigned long long)u_median(v, ROUNDS));
	return 0;
}
