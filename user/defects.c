/*
 * defects - one program per defect a user program could trigger, each a
 * subcommand driven by tests/test_defects.py.  Every case prints
 * "defects NAME: ok" when the kernel behaves as Linux does, or a line
 * saying what went wrong.
 *
 *   fds        descriptor table: dup3(1, 100), RLIMIT_NOFILE 1024/4096,
 *              growth to the soft limit, F_DUPFD's minimum checked
 *   cloexec    FD_CLOEXEC by fcntl, O_CLOEXEC by open/pipe2/dup3, and the
 *              descriptors gone after execve ("cloexec-child" checks)
 *   sleeps     timespecs: before the epoch, huge (saturate), negative
 *   futexrace  FUTEX_WAKE racing a short timeout: no counted wake is lost
 *   eof        the console's ^D: reads see "abc", "def\n", "ghi\n", then wait
 *   nice       setpriority / RLIMIT_NICE limits and permissions
 *   spinners N N threads at the highest priority a program can get, spinning
 *   logflood N N processes faulting at once: kernel messages never wait
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "ulib.h"
#include "uring_raw.h"

static int failures;

#define CHECK(name, cond, ...)                                                \
    do {                                                                      \
        if (!(cond)) {                                                       \
            printf("defects %s: FAILED: ", name);                            \
            printf(__VA_ARGS__);                                             \
            printf("\n");                                                    \
            failures++;                                                      \
        }                                                                     \
    } while (0)

static int report(const char *name)
{
    if (!failures)
        printf("defects %s: ok\n", name);
    return failures ? 1 : 0;
}

/* ---- fds ------------------------------------------------------------------ */

static int t_fds(void)
{
    long r = u_syscall3(__NR_dup3, 1, 100, 0);
    CHECK("fds", r == 100, "dup3(1, 100, 0) = %ld", r);
    CHECK("fds", write(100, "", 0) == 0, "fd 100 is not usable");
    struct rlimit rl;
    CHECK("fds", getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur == 1024 && rl.rlim_max == 4096,
          "RLIMIT_NOFILE %lu/%lu, not 1024/4096", (unsigned long)rl.rlim_cur, (unsigned long)rl.rlim_max);
    r = u_syscall3(__NR_dup3, 1, 1024, 0);
    CHECK("fds", r == -EBADF, "dup3 to the soft limit = %ld", r);
    r = u_syscall3(__NR_fcntl, 1, F_DUPFD, -1);
    CHECK("fds", r == -EINVAL, "F_DUPFD min -1 = %ld", r);
    r = u_syscall3(__NR_fcntl, 1, F_DUPFD_CLOEXEC, 1024);
    CHECK("fds", r == -EINVAL, "F_DUPFD_CLOEXEC min 1024 = %ld", r);
    r = u_syscall3(__NR_fcntl, 1, F_DUPFD, 200);
    CHECK("fds", r == 200, "F_DUPFD min 200 = %ld", r);
    /* fill the table up to the soft limit: it grows on demand */
    int open_before = 0, n = 0, fd;
    for (int i = 0; i < 1024; i++)
        open_before += fcntl(i, F_GETFD) >= 0;
    while ((fd = dup(0)) >= 0)
        n++;
    CHECK("fds", errno == EMFILE, "dup ended with %s, not EMFILE", strerror(errno));
    CHECK("fds", n + open_before == 1024, "%d dups fit beside %d open descriptors", n, open_before);
    /* raise the soft limit to the hard one; the hard one cannot rise */
    rl.rlim_cur = 4096;
    rl.rlim_max = 4096;
    CHECK("fds", setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit 4096: %s", strerror(errno));
    r = u_syscall3(__NR_dup3, 1, 4000, 0);
    CHECK("fds", r == 4000, "dup3(1, 4000) under a 4096 limit = %ld", r);
    rl.rlim_max = 8192;
    CHECK("fds", setrlimit(RLIMIT_NOFILE, &rl) < 0 && errno == EPERM, "hard limit raised");
    rl.rlim_cur = 3000;
    rl.rlim_max = 2000;
    CHECK("fds", setrlimit(RLIMIT_NOFILE, &rl) < 0 && errno == EINVAL, "soft above hard accepted");
    struct rlimit got;
    rl.rlim_cur = rl.rlim_max = 1024;
    CHECK("fds", prlimit(0, RLIMIT_NOFILE, &rl, NULL) == 0 && getrlimit(RLIMIT_NOFILE, &got) == 0 &&
          got.rlim_cur == 1024 && got.rlim_max == 1024, "prlimit64 did not take");
    CHECK("fds", dup(0) < 0 && errno == EMFILE && write(4000, "", 0) == 0, "lowered limit: dup found room, or fd 4000 was closed");
    return report("fds");
}

/* ---- cloexec -------------------------------------------------------------- */

static int t_cloexec_child(int argc, char **argv)
{
    /* argv: open descriptors expected closed ("c") or open ("o"), e.g. c5 o7 */
    for (int i = 2; i < argc; i++) {
        int fd = atoi(argv[i] + 1);
        int r = fcntl(fd, F_GETFD);
        if (argv[i][0] == 'c')
            CHECK("cloexec", r < 0 && errno == EBADF, "fd %d survived execve", fd);
        else
            CHECK("cloexec", r == 0, "fd %d was closed by execve", fd);
    }
    return report("cloexec");
}

static int t_cloexec(char *self)
{
    int p[2], q[2];
    if (pipe(p) < 0 || pipe2(q, O_CLOEXEC) < 0)
        u_die("defects", "pipe", errno);
    CHECK("cloexec", fcntl(p[1], F_GETFD) == 0, "a new pipe is close-on-exec");
    CHECK("cloexec", fcntl(p[1], F_SETFD, FD_CLOEXEC) == 0, "F_SETFD");
    CHECK("cloexec", fcntl(p[1], F_GETFD) == FD_CLOEXEC, "F_GETFD after F_SETFD = %d",
          fcntl(p[1], F_GETFD));
    CHECK("cloexec", fcntl(q[0], F_GETFD) == FD_CLOEXEC, "pipe2(O_CLOEXEC) not reported");
    int o = open("/etc/motd", O_RDONLY | O_CLOEXEC);
    CHECK("cloexec", o >= 0 && fcntl(o, F_GETFD) == FD_CLOEXEC, "open(O_CLOEXEC) not reported");
    int d = dup3(p[0], 50, O_CLOEXEC);
    CHECK("cloexec", d == 50 && fcntl(d, F_GETFD) == FD_CLOEXEC, "dup3(O_CLOEXEC) not reported");
    int e = fcntl(p[0], F_DUPFD_CLOEXEC, 60);
    CHECK("cloexec", e >= 60 && fcntl(e, F_GETFD) == FD_CLOEXEC, "F_DUPFD_CLOEXEC not reported");
    int keep = dup(p[0]);
    CHECK("cloexec", fcntl(keep, F_GETFD) == 0, "dup copies close-on-exec");
    int cleared = dup(p[0]);
    fcntl(cleared, F_SETFD, FD_CLOEXEC);
    fcntl(cleared, F_SETFD, 0);
    CHECK("cloexec", fcntl(cleared, F_GETFD) == 0, "F_SETFD 0 does not clear it");
    CHECK("cloexec", fcntl(1000, F_GETFD) < 0 && errno == EBADF, "F_GETFD of a closed fd");
    if (failures)
        return report("cloexec");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char a[8][16];
        snprintf(a[0], 16, "c%d", p[1]);
        snprintf(a[1], 16, "c%d", q[0]);
        snprintf(a[2], 16, "c%d", q[1]);
        snprintf(a[3], 16, "c%d", o);
        snprintf(a[4], 16, "c%d", d);
        snprintf(a[5], 16, "c%d", e);
        snprintf(a[6], 16, "o%d", keep);
        snprintf(a[7], 16, "o%d", cleared);
        char *argv[] = { self, "cloexec-child", a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], NULL };
        char path[64];
        execv(u_binpath(path, sizeof path, "defects"), argv);
        _exit(127);
    }
    /* the write end went away with the exec: the reader sees end of file
     * once we close ours (the leak this case is about) */
    close(p[1]);
    int status;
    waitpid(pid, &status, 0);
    char c;
    CHECK("cloexec", read(p[0], &c, 1) == 0, "no end of file on the pipe");
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

/* ---- sleeps --------------------------------------------------------------- */

static long nsleep(long sec, long nsec)
{
    struct timespec ts = { sec, nsec };
    return u_syscall2(__NR_nanosleep, &ts, 0);
}

/* A child that must still be waiting a while later: the huge timeout
 * saturated instead of wrapping to a short one. */
static pid_t huge_wait(int kind)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    struct timespec big = { INT64_MAX, 999999999 };
    long r = 0;
    if (kind == 0) {
        r = nsleep(1844674407371L, 0);
    } else if (kind == 1) {
        r = u_syscall2(__NR_nanosleep, &big, 0);
    } else if (kind == 2) {
        struct timespec t = { 1844674407371L / 4, 0 };
        r = u_syscall4(__NR_clock_nanosleep, CLOCK_MONOTONIC, 0, &t, 0);
    } else if (kind == 3) {
        static uint32_t word;
        r = u_syscall4(__NR_futex, &word, FUTEX_WAIT, 0, &big);
    } else {
        struct uring ring;
        if (uring_open(&ring, 4, NULL) < 0)
            _exit(3);
        struct io_uring_sqe *s = uring_sqe(&ring);
        s->opcode = IORING_OP_TIMEOUT;
        s->addr = (uint64_t)&big;
        s->len = 1;
        r = uring_enter(&ring, 1, 1, IORING_ENTER_GETEVENTS);
        struct io_uring_cqe c;
        if (uring_pop(&ring, &c))
            r = c.res;
    }
    printf("defects sleeps: FAILED: huge wait %d returned %ld\n", kind, r);
    fflush(stdout);
    _exit(2);
}

static int t_sleeps(void)
{
    /* an absolute real-time deadline before the epoch is in the past */
    struct timespec past = { 1000, 0 };
    long r = u_syscall4(__NR_clock_nanosleep, CLOCK_REALTIME, TIMER_ABSTIME, &past, 0);
    CHECK("sleeps", r == 0, "clock_nanosleep(REALTIME, ABSTIME, 1000 s) = %ld", r);
    past.tv_sec = 0;
    r = u_syscall4(__NR_clock_nanosleep, CLOCK_REALTIME, TIMER_ABSTIME, &past, 0);
    CHECK("sleeps", r == 0, "clock_nanosleep(REALTIME, ABSTIME, 0) = %ld", r);
    /* negative and malformed timespecs */
    CHECK("sleeps", nsleep(-1, 0) == -EINVAL, "nanosleep(-1 s) = %ld", nsleep(-1, 0));
    CHECK("sleeps", nsleep(0, -1) == -EINVAL, "nanosleep(-1 ns) = %ld", nsleep(0, -1));
    CHECK("sleeps", nsleep(0, 1000000000) == -EINVAL, "nanosleep(1e9 ns) accepted");
    struct timespec neg = { -5, 0 };
    static uint32_t word;
    r = u_syscall4(__NR_futex, &word, FUTEX_WAIT, 0, &neg);
    CHECK("sleeps", r == -EINVAL, "futex timeout -5 s = %ld", r);
    /* huge relative timeouts: still waiting after a second */
    pid_t kids[5];
    for (int k = 0; k < 5; k++)
        kids[k] = huge_wait(k);
    nsleep(1, 0);
    for (int k = 0; k < 5; k++) {
        int st;
        CHECK("sleeps", waitpid(kids[k], &st, WNOHANG) == 0, "huge wait %d ended", k);
        kill(kids[k], SIGKILL);
        waitpid(kids[k], &st, 0);
    }
    return report("sleeps");
}

/* ---- futexrace ------------------------------------------------------------ */

static _Atomic uint32_t fword;
static _Atomic int waiting_done;
static long woken_total;

static void *waker(void *arg)
{
    (void)arg;
    while (!atomic_load(&waiting_done)) {
        long r = u_syscall3(__NR_futex, &fword, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1);
        if (r > 0)
            woken_total += r;
    }
    return NULL;
}

static int t_futexrace(int iters)
{
    pthread_t t;
    pthread_create(&t, NULL, waker, NULL);
    long zero = 0, timedout = 0, other = 0;
    for (int i = 0; i < iters; i++) {
        struct timespec ts = { 0, 2000 };
        long r = u_syscall4(__NR_futex, &fword, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0, &ts);
        if (r == 0)
            zero++;
        else if (r == -ETIMEDOUT)
            timedout++;
        else
            other++;
    }
    atomic_store(&waiting_done, 1);
    pthread_join(t, NULL);
    printf("defects futexrace: %d waits: %ld woken, %ld timed out, %ld other; wakes counted %ld\n",
           iters, zero, timedout, other, woken_total);
    CHECK("futexrace", woken_total == zero, "%ld wakes were counted but %ld waits saw one",
          woken_total, zero);
    CHECK("futexrace", other == 0, "%ld waits failed otherwise", other);
    return report("futexrace");
}

/* ---- eof ------------------------------------------------------------------ */

static void show(const char *what, const char *buf, long n)
{
    printf("defects eof: %s %ld \"", what, n);
    for (long i = 0; i < n; i++)
        printf(buf[i] == '\n' ? "\\n" : "%c", buf[i]);
    printf("\"\n");
}

static int t_eof(void)
{
    printf("defects eof: type now\n");
    fflush(stdout);
    nsleep(2, 0);               /* let the input queue up while nobody reads */
    char buf[64];
    for (int i = 1; i <= 3; i++) {
        long n = read(0, buf, sizeof buf);
        char what[16];
        snprintf(what, sizeof what, "read %d", i);
        show(what, buf, n);
    }
    /* a fourth read must wait: ask without waiting */
    int fl = fcntl(0, F_GETFL);
    fcntl(0, F_SETFL, fl | O_NONBLOCK);
    long n = read(0, buf, sizeof buf);
    int err = errno;
    fcntl(0, F_SETFL, fl);
    if (n < 0 && err == EAGAIN)
        printf("defects eof: read 4 would wait\n");
    else
        show("read 4", buf, n);
    return 0;
}

/* ---- nice ----------------------------------------------------------------- */

static int t_nice(void)
{
    errno = 0;
    CHECK("nice", getpriority(PRIO_PROCESS, 0) == 0 && errno == 0, "starts at nice %d",
          getpriority(PRIO_PROCESS, 0));
    struct rlimit rl;
    CHECK("nice", getrlimit(RLIMIT_NICE, &rl) == 0 && rl.rlim_cur == 20 && rl.rlim_max == 20,
          "RLIMIT_NICE %lu/%lu, not 20/20", (unsigned long)rl.rlim_cur, (unsigned long)rl.rlim_max);
    CHECK("nice", setpriority(PRIO_PROCESS, 0, -20) < 0 && errno == EACCES, "nice -20 allowed");
    CHECK("nice", setpriority(PRIO_PROCESS, 0, -1) < 0 && errno == EACCES, "nice -1 allowed");
    CHECK("nice", setpriority(PRIO_PROCESS, 1, 5) < 0 && errno == EPERM, "re-nicing init allowed");
    CHECK("nice", setpriority(PRIO_PROCESS, getppid(), 5) < 0 && errno == EPERM,
          "re-nicing the parent allowed");
    CHECK("nice", prlimit(1, RLIMIT_NICE, NULL, &rl) < 0 && errno == EPERM,
          "prlimit on init allowed");
    CHECK("nice", setpriority(PRIO_PROCESS, 0, 10) == 0 && getpriority(PRIO_PROCESS, 0) == 10,
          "lowering to nice 10 failed");
    CHECK("nice", setpriority(PRIO_PROCESS, 0, 0) == 0 && getpriority(PRIO_PROCESS, 0) == 0,
          "raising back to nice 0 failed");
    pid_t pid = fork();
    if (pid == 0) {
        nsleep(5, 0);
        _exit(0);
    }
    CHECK("nice", setpriority(PRIO_PROCESS, pid, 7) == 0 && getpriority(PRIO_PROCESS, pid) == 7,
          "re-nicing our child failed");
    /* lower our own limit: nice 10 and up only */
    rl.rlim_cur = rl.rlim_max = 10;
    CHECK("nice", setrlimit(RLIMIT_NICE, &rl) == 0, "lowering RLIMIT_NICE failed");
    CHECK("nice", setpriority(PRIO_PROCESS, 0, 15) == 0, "nice 15 failed");
    CHECK("nice", setpriority(PRIO_PROCESS, 0, 9) < 0 && errno == EACCES, "nice 9 under limit 10");
    CHECK("nice", setpriority(PRIO_PROCESS, 0, 10) == 0, "nice 10 under limit 10 failed");
    rl.rlim_cur = rl.rlim_max = 20;
    CHECK("nice", setrlimit(RLIMIT_NICE, &rl) < 0 && errno == EPERM, "RLIMIT_NICE raised");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return report("nice");
}

/* ---- spinners ------------------------------------------------------------- */

static void *spinner(void *arg)
{
    (void)arg;
    /* the thread's first ring carries its priority hint: the highest */
    struct uring r;
    if (uring_open(&r, 4, NULL) == 0 && r.ctl)
        atomic_store(r.ctl, 7);
    for (volatile uint64_t x = 0;; x++)
        ;
    return NULL;
}

static int t_spinners(int n)
{
    setpriority(PRIO_PROCESS, 0, -20);      /* as high as it will let us */
    for (int i = 0; i < n; i++) {
        pthread_t t;
        pthread_create(&t, NULL, spinner, NULL);
    }
    printf("defects spinners: pid %d: %d threads spinning at nice %d\n", getpid(), n,
           getpriority(PRIO_PROCESS, 0));
    fflush(stdout);
    spinner(NULL);
    return 0;
}

/* ---- logflood ------------------------------------------------------------- */

/* A CLONE_VM child that stores to address 0 at once: the kernel kills
 * it with a message.  It never touches a stack. */
static long clone_and_fault(void)
{
    register long a0 asm("a0") = CLONE_VM | SIGCHLD;
    register long a1 asm("a1") = 0, a2 asm("a2") = 0, a3 asm("a3") = 0, a4 asm("a4") = 0;
    register long a7 asm("a7") = __NR_clone;
    asm volatile("ecall\n"
                 "bnez a0, 1f\n"
                 "sd zero, 0(zero)\n"
                 "1:\n"
                 : "+r"(a0)
                 : "r"(a1), "r"(a2), "r"(a3), "r"(a4), "r"(a7)
                 : "memory");
    return a0;
}

static long proc_console(const char *key)
{
    char buf[512];
    FILE *f = fopen("/proc/console", "r");
    long v = -1;
    while (f && fgets(buf, sizeof buf, f))
        if (!strncmp(buf, key, strlen(key)))
            v = atol(buf + strlen(key));
    if (f)
        fclose(f);
    return v;
}

static int t_logflood(int n)
{
    printf("defects logflood: %d faults\n", n);
    fflush(stdout);
    int live = 0, made = 0;
    while (made < n || live > 0) {
        while (made < n && live < 32) {
            if (clone_and_fault() < 0)
                break;
            made++;
            live++;
        }
        if (wait(NULL) > 0)
            live--;
    }
    long dropped = proc_console("kernel_messages_dropped ");
    printf("defects logflood: done: %d faults, %ld kernel messages dropped\n", made, dropped);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *c = argc > 1 ? argv[1] : "";
    int n = argc > 2 ? atoi(argv[2]) : 0;
    if (!strcmp(c, "fds"))
        return t_fds();
    if (!strcmp(c, "cloexec"))
        return t_cloexec(argv[0]);
    if (!strcmp(c, "cloexec-child"))
        return t_cloexec_child(argc, argv);
    if (!strcmp(c, "sleeps"))
        return t_sleeps();
    if (!strcmp(c, "futexrace"))
        return t_futexrace(n ? n : 20000);
    if (!strcmp(c, "eof"))
        return t_eof();
    if (!strcmp(c, "nice"))
        return t_nice();
    if (!strcmp(c, "spinners"))
        return t_spinners(n ? n : 8);
    if (!strcmp(c, "logflood"))
        return t_logflood(n ? n : 2000);
    u_errf("defects", "usage: defects fds|cloexec|sleeps|futexrace|eof|nice|spinners N|logflood N");
    return 2;
}
