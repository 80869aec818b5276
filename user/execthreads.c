/*
 * execthreads - execve from a multi-threaded process, as on Linux: the
 * other threads end first (a read they are blocked in is cancelled), then
 * the new image runs as the only thread, with the same pid.
 *
 *     execthreads main     the main thread execs `sleep 2` while a second
 *                          thread is blocked in read on a pipe
 *     execthreads thread   a second thread execs while the main thread is
 *                          blocked in read on the pipe
 *
 * A forked child waits until /proc/ps shows its parent running `sleep`,
 * then writes the pipe (nobody must be left to read it) and prints what
 * ps showed:  "execthreads: pid P runs sleep with 1 thread(s)".
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int fds[2];
static volatile int reader_ready;

static void pause_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static void read_pipe(void)
{
    char c;
    reader_ready = 1;
    long n = read(fds[0], &c, 1);
    printf("execthreads: FAIL a reader survived execve (read returned %ld)\n", n);
    fflush(stdout);
    _exit(1);
}

static void exec_sleep(void)
{
    while (!reader_ready)
        sched_yield();
    pause_ms(50);                       /* let the reader block in read */
    char *argv[] = { "sleep", "2", NULL };
    char *envp[] = { "PATH=/bin", NULL };
    execve("/bin/sleep", argv, envp);
    perror("execthreads: FAIL execve");
    _exit(1);
}

static void *reader_thread(void *arg) { (void)arg; read_pipe(); return NULL; }
static void *exec_thread(void *arg) { (void)arg; exec_sleep(); return NULL; }

/* The child: find the parent's line in /proc/ps; 1 once it runs sleep. */
static int parent_runs_sleep(int ppid, int *threads)
{
    static char buf[16384];
    int fd = open("/proc/ps", O_RDONLY);
    if (fd < 0)
        return 0;
    long n = 0, r;
    while (n < (long)sizeof buf - 1 && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
        n += r;
    close(fd);
    buf[n] = 0;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        int pid, pp, thr;
        char state[16], hart[16], name[32];
        if (sscanf(line, "%d %d %d %15s %15s %31s", &pid, &pp, &thr, state, hart, name) == 6 &&
            pid == ppid && strcmp(name, "sleep") == 0) {
            *threads = thr;
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    int exec_in_thread = argc > 1 && strcmp(argv[1], "thread") == 0;
    if (pipe(fds)) {
        perror("execthreads: pipe");
        return 2;
    }
    int parent = getpid();
    pid_t child = fork();
    if (child < 0) {
        perror("execthreads: fork");
        return 2;
    }
    if (child == 0) {
        int threads = 0;
        for (int i = 0; i < 1000; i++) {
            if (parent_runs_sleep(parent, &threads)) {
                if (write(fds[1], "x", 1) != 1)
                    perror("execthreads: write");
                printf("execthreads: pid %d runs sleep with %d thread(s)\n", parent, threads);
                return 0;
            }
            pause_ms(10);
        }
        printf("execthreads: FAIL pid %d never ran sleep\n", parent);
        return 1;
    }
    pthread_t t;
    pthread_create(&t, NULL, exec_in_thread ? exec_thread : reader_thread, NULL);
    if (exec_in_thread)
        read_pipe();
    else
        exec_sleep();
    return 1;
}
