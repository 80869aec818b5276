/*
 * init - process 1.
 *
 * The kernel starts init with stdin/stdout/stderr open on the console.
 * init starts /bin/sh (argv {"sh"}, envp {"PATH=/bin", "HOME=/"}) in a
 * child, then reaps every child with wait4(-1) - orphans are re-parented
 * to init - and when the shell exits prints "init: shell exited,
 * restarting" and starts a new one. It prints nothing else except errors.
 * A shell that dies within a second of starting is restarted only after a
 * one-second pause, so a broken /bin/sh cannot flood the console.
 *
 * Host testing (see ulib.h): POLLUX_BIN replaces /bin in the shell's path
 * and PATH, and POLLUX_BIN / POLLUX_EXEC_WRAPPER are passed on to it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ulib.h"

static void pause_1s(void)
{
	u_nanosleep(1, 0);
}

static pid_t start_shell(void)
{
	static char path[256], pathenv[300], binenv[300], wrapenv[300];
	char *argv[] = { "sh", NULL };
	char *envp[5] = { pathenv, "HOME=/", NULL, NULL, NULL };
	const char *wrap = getenv("POLLUX_EXEC_WRAPPER");
	int n = 2;

	u_binpath(path, sizeof path, "sh");
	snprintf(pathenv, sizeof pathenv, "PATH=%s", u_bindir());
	if (getenv("POLLUX_BIN")) {
		snprintf(binenv, sizeof binenv, "POLLUX_BIN=%s", u_bindir());
		envp[n++] = binenv;
	}
	if (wrap) {
		snprintf(wrapenv, sizeof wrapenv, "POLLUX_EXEC_WRAPPER=%s", wrap);
		envp[n++] = wrapenv;
	}

	for (;;) {
		pid_t pid = fork();
		if (pid == 0) {
			u_execve(path, argv, envp);
			u_warn("init", path, errno);
			_exit(127);
		}
		if (pid > 0)
			return pid;
		u_warn("init", "fork", errno);
		pause_1s();
	}
}

int main(void)
{
	for (;;) {
		uint64_t started = u_now_ns();
		pid_t shell = start_shell();

		for (;;) {
			int status;
			pid_t pid = wait4(-1, &status, 0, NULL);
			if (pid == shell)
				break;
			if (pid < 0 && errno != EINTR) {
				/* Cannot happen while the shell lives. */
				u_warn("init", "wait4", errno);
				pause_1s();
			}
		}
		u_errf("init", "shell exited, restarting");
		if (u_now_ns() - started < 1000000000u)
			pause_1s();
	}
}
