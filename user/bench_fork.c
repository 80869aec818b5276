/*
 * bench_fork - cost of fork() + child _exit(0) + parent wait4().
 *
 * 15 rounds of 20 iterations, instructions counted with rdinstret
 * (parent and child, on one hart: pinned there with u_pin_here). Prints the median:
 *   bench fork_exit_wait <instructions per iteration> instructions
 */
#include <errno.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ulib.h"

#define ROUNDS 15
#define ITERS 20

int main(void)
{
	uint64_t v[ROUNDS];

	u_pin_here();                   /* "on one hart": children inherit it */
	for (int r = 0; r < ROUNDS; r++) {
		uint64_t t0 = u_rdinstret();
		for (int i = 0; i < ITERS; i++) {
			int st;
			pid_t pid = fork();
			if (pid == 0)
				_exit(0);
			if (pid < 0)
				u_die("bench_fork", "fork", errno);
			if (wait4(pid, &st, 0, NULL) != pid)
				u_die("bench_fork", "wait4", errno);
		}
		v[r] = (u_rdinstret() - t0) / ITERS;
	}
	printf("bench fork_exit_wait %llu instructions\n",
	       (unsigned long long)u_median(v, ROUNDS));
	return 0;
}
