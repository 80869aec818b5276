/*
 * bench_init - the /init of `make bench-linux`'s Linux guest: run the same
 * benchmark programs, in the same order, as Pollux's `bench` boot
 * (src/instruments/bench_user.c), then coro10k on its own (it must finish
 * on Linux too), print "bench: done" and power off (reboot(RB_POWER_OFF)).
 *
 * Each program prints its own "bench <name> <value> <unit>" lines; a
 * program that fails is reported as "bench-init: <prog> ...", and the
 * run goes on.  The first line is the instruction counter as /init's
 * main() sees it: "bench boot_to_init N instructions".
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ulib.h"

static const char *const programs[] = {
	"bench_syscall", "bench_yield", "bench_pipe", "bench_fork", "bench_exec",
	"bench_uring", "bench_procmem", "coro10k",
};

int main(void)
{
	uint64_t boot = u_rdinstret();
	char *envp[] = { "PATH=/bin", NULL };

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("bench boot_to_init %llu instructions\n", (unsigned long long)boot);
	for (size_t i = 0; i < sizeof programs / sizeof programs[0]; i++) {
		char path[64];
		char *argv[] = { (char *)programs[i], NULL };
		int st = 0;

		snprintf(path, sizeof path, "/bin/%s", programs[i]);
		pid_t pid = fork();
		if (pid == 0) {
			execve(path, argv, envp);
			printf("bench-init: %s: exec: %s\n", path, strerror(errno));
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &st, 0) != pid) {
			printf("bench-init: %s: fork/wait: %s\n", programs[i], strerror(errno));
			continue;
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			printf("bench-init: %s: ended with status 0x%x\n", programs[i], st);
		else
			printf("bench-init: %s: ok\n", programs[i]);
	}
	printf("bench: done\n");
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	printf("bench-init: reboot: %s\n", strerror(errno));
	for (;;)
		pause();
}
