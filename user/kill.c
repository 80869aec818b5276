/*
 * kill [-SIGNAL] PID... - send a signal (default SIGTERM) to processes.
 *
 * SIGNAL is a number (-9) or a name with or without "SIG" (-KILL,
 * -SIGTERM). A negative PID (after the signal, or after "--") names a
 * process group.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ulib.h"

static const struct {
	const char *name;
	int sig;
} signames[] = {
	{ "HUP", SIGHUP },   { "INT", SIGINT },   { "QUIT", SIGQUIT },
	{ "ILL", SIGILL },   { "TRAP", SIGTRAP }, { "ABRT", SIGABRT },
	{ "BUS", SIGBUS },   { "FPE", SIGFPE },   { "KILL", SIGKILL },
	{ "USR1", SIGUSR1 }, { "SEGV", SIGSEGV }, { "USR2", SIGUSR2 },
	{ "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
	{ "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
	{ "TSTP", SIGTSTP }, { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU },
};

static int parse_signal(const char *s)
{
	long n = u_parse_ulong(s);

	if (n >= 0)
		return n < 65 ? (int)n : -1;
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < ARRAY_SIZE(signames); i++)
		if (strcasecmp(s, signames[i].name) == 0)
			return signames[i].sig;
	return -1;
}

int main(int argc, char **argv)
{
	int sig = SIGTERM, i = 1, status = 0;

	if (i < argc && argv[i][0] == '-' && strcmp(argv[i], "--") != 0) {
		sig = parse_signal(argv[i] + 1);
		if (sig < 0) {
			u_errf("kill", "%s: invalid signal", argv[i] + 1);
			return 2;
		}
		i++;
	}
	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	if (i == argc) {
		u_errf("kill", "usage: kill [-9|-15|-KILL|-TERM|-SIGNAL] pid...");
		return 2;
	}
	for (; i < argc; i++) {
		const char *s = argv[i];
		long pid = u_parse_ulong(s[0] == '-' ? s + 1 : s);
		if (pid < 0 || pid > 0x7fffffff) {
			u_errf("kill", "%s: invalid pid", s);
			status = 1;
			continue;
		}
		if (s[0] == '-')
			pid = -pid;
		if (kill((pid_t)pid, sig) < 0) {
			u_warn("kill", s, errno);
			status = 1;
		}
	}
	return status;
}
