/*
 * bench_exec - cost of fork() + execve("/bin/nop") + exit + wait4().
 *
 * nop is a three-instruction program without libc, so this measures the
 * kernel's exec path.  Parent and children are pinned to one hart. 15 rounds of 10 iterations, counted with rdinstret.
 * Prints the median:
 *   bench fork_exec_wait <instructions per iteration> instructions
 */
#include <errno.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ulib.h"

#define ROUNDS 15
#define ITERS 10

int main(void)
{
	uint64_t v[ROUNDS];
	char path[256];
	char *argv[] = { "nop", NULL };

	u_pin_here();
	char *envp[] = { NULL };

	u_binpath(path, sizeof path, "nop");
	for (int r = 0; r < ROUNDS; r++) {
		uint64_t t0 = u_rdinstret();
		for (int i = 0; i < ITERS; i++) {
			int st;
			pid_t pid = fork();
			if (pid == 0) {
				u_execve(path, argv, envp);
				u_warn("bench_exec", path, errno);
				_exit(127);
			}
			if (pid < 0)
				u_die("bench_exec", "fork", errno);
			if (wait4(pid, &st, 0, NULL) != pid)
				u_die("bench_exec", "wait4", errno);
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				u_errf("bench_exec", "nop failed (status 0x%x)", st);
				return 1;
			}
		}
		v[r] = (u_rdinstret() - t0) / ITERS;
	}
	printf("bench fork_exec_wait %llu instructions\n",
	       (unsigned long long)u_median(v, ROUNDS));
	return 0;
}
