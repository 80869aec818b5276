/*
 * sh - the Pollux shell.
 *
 * Reads command lines from fd 0 with read() (the console does the line
 * editing), printing the prompt "$ " on stdout before each line.
 *
 *   words        split at blanks; '...' and "..." quote, \ escapes a
 *                character; $? is the last exit status; # starts a comment
 *   a | b | c    pipelines of any length
 *   < f, > f     redirect stdin / stdout (>> f appends)
 *   cmd &        background job: prints "[pid]", and "[pid] done" before a
 *                later prompt once all its processes have exited
 *   a ; b        run one after the other
 *   builtins     cd [dir], pwd, exit [status], jobs, fg [pgid], bg [pgid]
 *   Ctrl-Z       stops the foreground job ("[pgid] stopped  text"); fg
 *                continues it in the foreground, bg in the background
 *
 * Commands without '/' are looked up in $PATH (default /bin). Each job gets
 * its own process group (set by both parent and child, so neither order of
 * running wins a race); a foreground job is given the terminal with
 * ioctl(TIOCSPGRP) and the shell takes it back afterwards. Errors from
 * these calls are ignored, so the shell also works where they fail (stdin
 * not a terminal, or a kernel without job control). The shell ignores
 * SIGINT, SIGQUIT, SIGTSTP, SIGTTIN and SIGTTOU; its children get the
 * default actions back.  A foreground job is waited for with WUNTRACED,
 * so a job stopped by Ctrl-Z (SIGTSTP) hands the terminal back to the
 * shell; fg/bg send SIGCONT to its group.
 *
 * When fd 0 is not a terminal, lines are read one byte at a time so that
 * the rest of the input is left for the commands (as POSIX requires).
 * Lines of 4096 bytes or more are rejected ("sh: line too long"), as are
 * lines with control characters other than tab ("sh: line contains binary
 * data"). End of file at the prompt (Ctrl-D) exits the shell.
 *
 * System calls (besides glibc's start-up): read, write, clone (fork),
 * execve, wait4, pipe2, dup, dup3 (dup2), openat, close, chdir, getcwd,
 * setpgid, getpgid, getpid, ioctl (TCGETS, TIOCSPGRP), rt_sigaction,
 * exit_group.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "ulib.h"

#define MAXLINE 4096            /* lines this long (without '\n') are rejected */
#define MAXTOK (MAXLINE / 2 + 2)
#define MAXJOBS 32
#define MAXPROCS 4096

enum { T_WORD, T_PIPE, T_LT, T_GT, T_GTGT, T_AMP, T_SEMI };

struct tok {
	int type;
	char *word;
};

struct cmd {
	char **argv;
	char *in, *out;
	int append;
};

struct job {
	int used, bg, done, stopped;
	pid_t pgid, last_pid;
	int alive;                  /* processes not yet reaped */
	int status;                 /* status of the last process */
	char text[64];
};

struct proc {
	pid_t pid;
	int job;
	char name[24];
};

extern char **environ;

static char line[MAXLINE + 1];
static char words[3 * MAXLINE];
static struct tok toks[MAXTOK];
static char *argvbuf[2 * MAXTOK];
static struct cmd cmds[MAXTOK];
static struct job jobs[MAXJOBS];
static struct proc procs[MAXPROCS];
static int nprocs;
static int last_status;
static int interactive;
static pid_t shell_pgid;

/* printf to an fd in one write(); unlike dprintf() it needs no fstat/lseek. */
__attribute__((format(printf, 2, 3))) static void say(int fd, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof buf) {
		n = sizeof buf;
		buf[n - 1] = '\n';
	}
	if (n > 0)
		(void)u_write_all(fd, buf, (size_t)n);
}

/* ---- input ------------------------------------------------------------ */

enum { LINE_OK, LINE_EOF, LINE_LONG, LINE_BINARY };

/*
 * Read one line into line[] (without the newline). A terminal returns at
 * most one line per read(); other input is read a byte at a time.
 */
static int read_line(void)
{
	static char ibuf[MAXLINE];
	static size_t ilen, ipos;
	size_t n = 0;
	int toolong = 0, binary = 0;

	for (;;) {
		if (ipos == ilen) {
			ssize_t r = read(0, ibuf, interactive ? sizeof ibuf : 1);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				u_warn("sh", "read", errno);
				return LINE_EOF;
			}
			if (r == 0) {
				if (n == 0 && !toolong)
					return LINE_EOF;
				break;  /* last line without a newline */
			}
			ilen = (size_t)r;
			ipos = 0;
		}
		char c = ibuf[ipos++];
		if (c == '\n')
			break;
		if ((unsigned char)c < 0x20 && c != '\t' && c != '\r')
			binary = 1;
		if (c == 0x7f)
			binary = 1;
		if (n < MAXLINE)
			line[n++] = c;
		else
			toolong = 1;
	}
	if (n >= MAXLINE)
		toolong = 1;
	line[n] = '\0';
	return toolong ? LINE_LONG : binary ? LINE_BINARY : LINE_OK;
}

/* ---- lexing and parsing ----------------------------------------------- */

/* Split line[] into toks[]; returns the count or -1 (error printed). */
static int tokenize(const char *s)
{
	char *w = words;
	int n = 0;

	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\r')
			s++;
		if (!*s || *s == '#')
			return n;
		if (n == MAXTOK) {
			u_errf("sh", "too many words");
			return -1;
		}
		switch (*s) {
		case '|': toks[n++].type = T_PIPE; s++; continue;
		case '&': toks[n++].type = T_AMP; s++; continue;
		case ';': toks[n++].type = T_SEMI; s++; continue;
		case '<': toks[n++].type = T_LT; s++; continue;
		case '>':
			if (s[1] == '>') {
				toks[n++].type = T_GTGT;
				s += 2;
			} else {
				toks[n++].type = T_GT;
				s++;
			}
			continue;
		}
		toks[n].type = T_WORD;
		toks[n++].word = w;
		while (*s && !strchr(" \t\r|&;<>", *s)) {
			char q = *s;
			if (q == '\'' || q == '"') {
				s++;
				while (*s && *s != q) {
					if (q == '"' && *s == '\\' && s[1] &&
					    strchr("\"\\$", s[1]))
						s++;
					else if (q == '"' && s[0] == '$' && s[1] == '?') {
						w += sprintf(w, "%d", last_status);
						s += 2;
						continue;
					}
					*w++ = *s++;
				}
				if (!*s) {
					u_errf("sh", "syntax error: unterminated %c", q);
					return -1;
				}
				s++;
			} else if (q == '\\') {
				s++;
				if (*s)
					*w++ = *s++;
			} else if (q == '$' && s[1] == '?') {
				w += sprintf(w, "%d", last_status);
				s += 2;
			} else {
				*w++ = *s++;
			}
		}
		*w++ = '\0';
	}
}

static const char *tok_text(int type)
{
	static const char *names[] = { "word", "|", "<", ">", ">>", "&", ";" };
	return names[type];
}

/* ---- jobs --------------------------------------------------------------- */

static void job_text(struct job *j, struct cmd *c, int ncmd)
{
	size_t n = 0;

	j->text[0] = '\0';
	for (int i = 0; i < ncmd && n + 1 < sizeof j->text; i++) {
		for (char **a = c[i].argv; *a && n + 1 < sizeof j->text; a++)
			n += snprintf(j->text + n, sizeof j->text - n, "%s%s",
				      a == c[i].argv ? (i ? " | " : "") : " ", *a);
	}
	if (n >= sizeof j->text)
		strcpy(j->text + sizeof j->text - 4, "...");
}

/* Account for a process that wait4() returned. */
static void reaped(pid_t pid, int st)
{
	for (int i = 0; i < nprocs; i++) {
		if (procs[i].pid != pid)
			continue;
		struct job *j = &jobs[procs[i].job];
		if (WIFSIGNALED(st) && !j->bg && WTERMSIG(st) != SIGINT &&
		    WTERMSIG(st) != SIGPIPE)
			say(2, "sh: pid %d (%s): killed by signal %d (%s)\n",
				(int)pid, procs[i].name, WTERMSIG(st),
				strsignal(WTERMSIG(st)));
		if (pid == j->last_pid)
			j->status = WIFEXITED(st) ? WEXITSTATUS(st)
						  : 128 + WTERMSIG(st);
		if (--j->alive == 0)
			j->done = 1;
		procs[i] = procs[--nprocs];
		return;
	}
}

/* The job a process belongs to, or NULL. */
static struct job *job_of(pid_t pid)
{
	for (int i = 0; i < nprocs; i++)
		if (procs[i].pid == pid)
			return &jobs[procs[i].job];
	return NULL;
}

/* Reap finished background processes; report finished jobs. */
static void reap_background(void)
{
	int st;
	pid_t pid;

	while ((pid = wait4(-1, &st, WNOHANG, NULL)) > 0)
		reaped(pid, st);
	for (int i = 0; i < MAXJOBS; i++) {
		if (jobs[i].used && (jobs[i].bg || jobs[i].stopped) && jobs[i].done) {
			say(1, "[%d] done\n", (int)jobs[i].pgid);
			jobs[i].used = 0;
		}
	}
}

static void set_terminal(pid_t pgid)
{
	(void)ioctl(0, TIOCSPGRP, &pgid);  /* errors ignored, see header */
}

/* ---- builtins ----------------------------------------------------------- */

static int resume_job(char **argv, int bg);

static int is_builtin(const char *name)
{
	return !strcmp(name, "cd") || !strcmp(name, "pwd") ||
	       !strcmp(name, "exit") || !strcmp(name, "jobs") ||
	       !strcmp(name, "fg") || !strcmp(name, "bg");
}

static int run_builtin(char **argv)
{
	if (!strcmp(argv[0], "cd")) {
		const char *dir = argv[1] ? argv[1] : getenv("HOME");
		if (!dir || !*dir)
			dir = "/";
		if (chdir(dir) < 0) {
			u_errf("sh", "cd: %s: %s", dir, strerror(errno));
			return 1;
		}
		return 0;
	}
	if (!strcmp(argv[0], "pwd")) {
		char buf[4096];
		if (!getcwd(buf, sizeof buf)) {
			u_warn("sh", "pwd", errno);
			return 1;
		}
		size_t len = strlen(buf);
		buf[len++] = '\n';
		u_write_all(1, buf, len);
		return 0;
	}
	if (!strcmp(argv[0], "exit")) {
		long code = argv[1] ? u_parse_ulong(argv[1]) : last_status;
		if (code < 0) {
			u_errf("sh", "exit: %s: numeric argument required", argv[1]);
			code = 2;
		}
		exit((int)(code & 0xff));
	}
	if (!strcmp(argv[0], "jobs")) {
		for (int i = 0; i < MAXJOBS; i++)
			if (jobs[i].used && (jobs[i].bg || jobs[i].stopped))
				say(1, "[%d] %s  %s\n", (int)jobs[i].pgid,
					jobs[i].done ? "done" :
					jobs[i].stopped ? "stopped" : "running",
					jobs[i].text);
		return 0;
	}
	if (!strcmp(argv[0], "fg") || !strcmp(argv[0], "bg"))
		return resume_job(argv, !strcmp(argv[0], "bg"));
	return 127;
}

/* ---- execution ---------------------------------------------------------- */

/* Open c's redirections onto fds 0 and 1; -1 (error printed) on failure. */
static int redirect(struct cmd *c)
{
	if (c->in) {
		int fd = open(c->in, O_RDONLY);
		if (fd < 0) {
			u_warn("sh", c->in, errno);
			return -1;
		}
		dup2(fd, 0);
		close(fd);
	}
	if (c->out) {
		int fd = open(c->out, O_WRONLY | O_CREAT |
				      (c->append ? O_APPEND : O_TRUNC), 0644);
		if (fd < 0) {
			u_warn("sh", c->out, errno);
			return -1;
		}
		dup2(fd, 1);
		close(fd);
	}
	return 0;
}

/* Search $PATH and exec; only returns to exit with the right status. */
static void exec_command(char **argv)
{
	const char *name = argv[0];
	const char *path = getenv("PATH");
	char buf[4096];
	int err = ENOENT;

	if (strchr(name, '/')) {
		u_execve(name, argv, environ);
		u_warn("sh", name, errno);
		_exit(errno == ENOENT ? 127 : 126);
	}
	if (!path)
		path = "/bin";
	for (const char *p = path;; p++) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (snprintf(buf, sizeof buf, "%.*s%s%s", (int)len, p,
			     len ? "/" : "", name) < (int)sizeof buf) {
			u_execve(buf, argv, environ);
			if (errno != ENOENT && errno != ENOTDIR)
				err = errno;
		}
		if (!end)
			break;
		p = end;
	}
	if (err == ENOENT) {
		u_errf("sh", "%s: command not found", name);
		_exit(127);
	}
	u_warn("sh", name, err);
	_exit(126);
}

static void child_setup(pid_t pgid, int fg)
{
	setpgid(0, pgid);
	if (fg)
		set_terminal(pgid ? pgid : getpid());
	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	signal(SIGTSTP, SIG_DFL);
	signal(SIGTTIN, SIG_DFL);
	signal(SIGTTOU, SIG_DFL);
}

static void wait_foreground(struct job *j);

static void run_pipeline(struct cmd *c, int ncmd, int bg)
{
	int slot = -1, prev_rd = -1;
	pid_t pgid = 0;

	/* A lone builtin runs in the shell itself. */
	if (ncmd == 1 && !bg && is_builtin(c[0].argv[0])) {
		int saved0 = dup(0), saved1 = dup(1);
		last_status = redirect(&c[0]) < 0 ? 1 : run_builtin(c[0].argv);
		dup2(saved0, 0);
		dup2(saved1, 1);
		close(saved0);
		close(saved1);
		return;
	}

	for (int i = 0; i < MAXJOBS; i++)
		if (!jobs[i].used) {
			slot = i;
			break;
		}
	if (slot < 0 || nprocs + ncmd > MAXPROCS) {
		u_errf("sh", "too many jobs");
		last_status = 1;
		return;
	}
	struct job *j = &jobs[slot];
	memset(j, 0, sizeof *j);
	j->used = 1;
	j->bg = bg;
	job_text(j, c, ncmd);

	for (int i = 0; i < ncmd; i++) {
		int p[2] = { -1, -1 };
		if (i + 1 < ncmd && pipe2(p, O_CLOEXEC) < 0) {
			u_warn("sh", "pipe2", errno);
			break;
		}
		pid_t pid = fork();
		if (pid == 0) {
			child_setup(pgid, !bg);
			if (prev_rd >= 0)
				dup2(prev_rd, 0);
			if (p[1] >= 0)
				dup2(p[1], 1);
			if (redirect(&c[i]) < 0)
				_exit(1);
			if (is_builtin(c[i].argv[0]))
				_exit(run_builtin(c[i].argv));
			exec_command(c[i].argv);
		}
		if (pid < 0) {
			u_warn("sh", "fork", errno);
			close(p[0]);
			close(p[1]);
			break;
		}
		if (!pgid)
			pgid = pid;
		setpgid(pid, pgid);
		procs[nprocs].pid = pid;
		procs[nprocs].job = slot;
		snprintf(procs[nprocs].name, sizeof procs[nprocs].name, "%s",
			 c[i].argv[0]);
		nprocs++;
		j->alive++;
		j->last_pid = pid;
		if (prev_rd >= 0)
			close(prev_rd);
		if (p[1] >= 0)
			close(p[1]);
		prev_rd = p[0];
	}
	if (prev_rd >= 0)
		close(prev_rd);
	j->pgid = pgid;
	j->status = 1;  /* unless the last process started and reports */

	if (j->alive == 0) {
		j->used = 0;
		last_status = 1;
		return;
	}
	if (bg) {
		say(1, "[%d]\n", (int)pgid);
		last_status = 0;
		return;
	}
	wait_foreground(j);
}

/*
 * Wait for foreground job j to finish or stop (Ctrl-Z: SIGTSTP), with
 * the terminal given to it meanwhile.
 */
static void wait_foreground(struct job *j)
{
	set_terminal(j->pgid);
	j->stopped = 0;
	while (j->alive > 0) {
		int st;
		/* any child: a background one that ends meanwhile is reaped too */
		pid_t pid = wait4(-1, &st, WUNTRACED, NULL);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			u_warn("sh", "wait4", errno);
			break;
		}
		if (WIFSTOPPED(st)) {
			struct job *sj = job_of(pid);
			if (sj)
				sj->stopped = 1;
			if (sj == j)
				break;
			continue;
		}
		reaped(pid, st);
	}
	set_terminal(shell_pgid);
	if (j->stopped) {
		say(1, "[%d] stopped  %s\n", (int)j->pgid, j->text);
		last_status = 128 + SIGTSTP;
		return;
	}
	last_status = j->status;
	j->used = 0;
}

/* fg [pgid] / bg [pgid]: continue a stopped (or background) job. */
static int resume_job(char **argv, int bg)
{
	struct job *j = NULL;
	long want = argv[1] ? u_parse_ulong(argv[1][0] == '%' ? argv[1] + 1 : argv[1]) : -1;
	for (int i = MAXJOBS - 1; i >= 0; i--) {
		struct job *c = &jobs[i];
		if (!c->used || c->done || !(c->bg || c->stopped))
			continue;
		if (want >= 0 ? c->pgid == want : (!j || (c->stopped && !j->stopped)))
			j = c;
	}
	if (!j) {
		u_errf("sh", "%s: no such job", argv[0]);
		return 1;
	}
	if (bg) {
		j->bg = 1;
		j->stopped = 0;
		say(1, "[%d] %s &\n", (int)j->pgid, j->text);
		kill(-j->pgid, SIGCONT);
		return 0;
	}
	j->bg = 0;
	say(1, "%s\n", j->text);
	set_terminal(j->pgid);
	kill(-j->pgid, SIGCONT);
	wait_foreground(j);
	return last_status;
}

/* Parse toks[0..n) into pipelines and run them. */
static void run_tokens(int n)
{
	int i = 0;

	while (i < n) {
		int ncmd = 0, nargv = 0, nwords = 0;
		struct cmd *c = &cmds[0];

		memset(c, 0, sizeof *c);
		c->argv = &argvbuf[0];
		for (; i < n && toks[i].type != T_SEMI && toks[i].type != T_AMP; i++) {
			struct tok *t = &toks[i];
			if (t->type == T_WORD) {
				argvbuf[nargv++] = t->word;
				nwords++;
			} else if (t->type == T_PIPE) {
				if (nwords == 0)
					goto syntax;
				argvbuf[nargv++] = NULL;
				c = &cmds[++ncmd];
				memset(c, 0, sizeof *c);
				c->argv = &argvbuf[nargv];
				nwords = 0;
			} else {
				if (i + 1 >= n || toks[i + 1].type != T_WORD) {
					i++;
					goto syntax;
				}
				if (t->type == T_LT) {
					c->in = toks[i + 1].word;
				} else {
					c->out = toks[i + 1].word;
					c->append = t->type == T_GTGT;
				}
				i++;
			}
		}
		argvbuf[nargv++] = NULL;
		ncmd++;
		if (nwords == 0) {
			if (ncmd > 1 || c->in || c->out || i < n)
				goto syntax;
			return;
		}
		int bg = i < n && toks[i].type == T_AMP;
		i++;
		run_pipeline(cmds, ncmd, bg);
	}
	return;
syntax:
	u_errf("sh", "syntax error near '%s'",
	       i < n ? tok_text(toks[i].type) : "end of line");
	last_status = 2;
}

int main(void)
{
	struct termios tio;

	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGTSTP, SIG_IGN);
	signal(SIGTTIN, SIG_IGN);
	signal(SIGTTOU, SIG_IGN);
	interactive = tcgetattr(0, &tio) == 0;
	setpgid(0, 0);  /* fails harmlessly if we already lead a session */
	shell_pgid = getpgrp();
	set_terminal(shell_pgid);

	for (;;) {
		reap_background();
		if (u_write_all(1, "$ ", 2) < 0 && errno == EIO)
			exit(1);
		switch (read_line()) {
		case LINE_EOF:
			if (interactive)
				u_write_all(1, "\n", 1);
			exit(last_status);
		case LINE_LONG:
			u_errf("sh", "line too long");
			last_status = 2;
			continue;
		case LINE_BINARY:
			u_errf("sh", "line contains binary data");
			last_status = 2;
			continue;
		}
		int n = tokenize(line);
		if (n < 0) {
			last_status = 2;
			continue;
		}
		run_tokens(n);
	}
}
