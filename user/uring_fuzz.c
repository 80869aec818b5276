/*
 * uring_fuzz - do io_uring operations end with their process?
 *
 *     uring_fuzz [ROUNDS [SEED [MS]]]  (defaults 40 rounds, seed 1)
 *
 * MS: every child lives MS milliseconds and is killed (default: a few ms,
 * then exit_group or SIGKILL by turns).
 *
 * Each round is a child process whose threads hammer the kernel over its
 * own live descriptors while it ends:
 *
 *   - the main thread feeds random SQEs (every opcode, random fds among
 *     the live ones, rings included, random links, timeouts short and
 *     long, buffers that may be unmapped) into a live ring;
 *   - two threads make random system calls over the same descriptors
 *     (read, write, readv, close, dup3, pipe2, fcntl, io_uring_setup,
 *     io_uring_enter on any fd);
 *   - one thread unmaps and maps back the buffers the others use;
 *   - the round ends by exit_group from a random thread after a few
 *     milliseconds, or by the parent's SIGKILL.
 *
 * After every child has been reaped the kernel must be back where it
 * was: no uring_op task left, as many tasks as before, the pages and
 * kmalloc objects back (an idle hart may hold back the page-table root of
 * the last process it ran: a few pages of slack).  Prints
 *
 *     uring_fuzz: 40 rounds, tasks 9 -> 9, uring_op 0 -> 0, free pages A -> B, objects C -> D
 *     uring_fuzz: ok            (or  uring_fuzz: LEAK ... and the leftovers)
 *
 * The children write nothing to the console: they close fds 0-2 first and
 * open the console again read-only (reads and polls of it may wait).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "uring_raw.h"

#define PAGE 4096
#define NBUF 8                          /* volatile buffers: unmapped at random */
#define BUF_PAGES 2
/* Both areas are followed by PAD pages nobody unmaps: a kernel write that
 * starts in an area (at most a pipe's worth, or one read's 8 pages) never
 * reaches the thread stacks or whatever else lies beyond. */
#define PAD 9
#define SLACK 4                         /* page-table roots idle harts hold back */

static uint64_t rnd_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static unsigned rnd(uint64_t *s, unsigned n) { return (unsigned)(rnd_next(s) % n); }

/* ---- the child ------------------------------------------------------------ */

static char *vol;                       /* NBUF x BUF_PAGES pages, unmapped at random */
static char *stable;                    /* timespecs and iovecs the child itself writes */
static struct uring ring;
static uint64_t child_seed;
static _Atomic int go;

/* An fd that is probably live: the rings, pipes and dups land low. */
static int any_fd(uint64_t *s) { return (int)rnd(s, 14) - 1; }

/* An address for the kernel to use: mostly in the volatile buffers. */
static uint64_t any_addr(uint64_t *s)
{
    switch (rnd(s, 8)) {
    case 0: return 0;
    case 1: return (uint64_t)stable + rnd(s, PAGE);
    case 2: return rnd_next(s);
    default: return (uint64_t)vol + rnd(s, NBUF * BUF_PAGES * PAGE);
    }
}

static uint32_t any_len(uint64_t *s)
{
    switch (rnd(s, 6)) {
    case 0: return 0;
    case 1: return 1 + rnd(s, 8 * PAGE);
    case 2: return (uint32_t)rnd_next(s);
    default: return 1 + rnd(s, 64);
    }
}

/* Timespecs: short, zero, long (never ends on its own), bad. */
static uint64_t any_timespec(uint64_t *s)
{
    struct __kernel_timespec *ts = (void *)(stable + 2048 + 16 * rnd(s, 32));
    switch (rnd(s, 5)) {
    case 0: ts->tv_sec = 0, ts->tv_nsec = rnd(s, 3000000); break;
    case 1: ts->tv_sec = 0, ts->tv_nsec = 0; break;
    case 2: ts->tv_sec = 1000, ts->tv_nsec = 0; break;
    case 3: ts->tv_sec = -1, ts->tv_nsec = 5; break;
    default: return any_addr(s);
    }
    return (uint64_t)ts;
}

static uint64_t any_iovecs(uint64_t *s, uint32_t *n)
{
    struct iovec *v = (void *)(stable + 16 * rnd(s, 64));
    *n = 1 + rnd(s, 4);
    if ((char *)(v + *n) > stable + 2048)
        *n = 1;
    for (uint32_t i = 0; i < *n; i++) {
        v[i].iov_base = (void *)any_addr(s);
        v[i].iov_len = any_len(s);
    }
    return rnd(s, 6) ? (uint64_t)v : any_addr(s);
}

static const uint8_t opcodes[] = {
    IORING_OP_NOP, IORING_OP_READ, IORING_OP_WRITE, IORING_OP_READV, IORING_OP_WRITEV,
    IORING_OP_TIMEOUT, IORING_OP_LINK_TIMEOUT, IORING_OP_ASYNC_CANCEL, IORING_OP_POLL_ADD,
    IORING_OP_MSG_RING, IORING_OP_READ, IORING_OP_POLL_ADD, IORING_OP_TIMEOUT,
};

static void random_sqe(uint64_t *s, struct io_uring_sqe *q, uint64_t ud)
{
    memset(q, 0, sizeof *q);
    q->opcode = rnd(s, 16) ? opcodes[rnd(s, sizeof opcodes)] : (uint8_t)rnd(s, 64);
    q->fd = any_fd(s);
    q->addr = any_addr(s);
    q->len = any_len(s);
    q->user_data = ud;
    if (rnd(s, 4) == 0)
        q->flags = IOSQE_IO_LINK;
    switch (q->opcode) {
    case IORING_OP_READV: case IORING_OP_WRITEV:
        q->addr = any_iovecs(s, &q->len);
        break;
    case IORING_OP_TIMEOUT: case IORING_OP_LINK_TIMEOUT:
        q->addr = any_timespec(s);
        q->len = rnd(s, 8) ? 1 : 2;
        q->off = rnd(s, 3) ? 0 : rnd(s, 6);
        break;
    case IORING_OP_ASYNC_CANCEL:
        q->addr = ud - rnd(s, 8);
        break;
    case IORING_OP_POLL_ADD:
        q->poll32_events = rnd(s, 4) ? (1u << rnd(s, 3)) : (uint32_t)rnd_next(s);
        break;
    case IORING_OP_MSG_RING:
        q->off = rnd_next(s);
        break;
    }
}

/* The main thread: random SQEs into the live ring, reaping now and then. */
static void submitter(void)
{
    uint64_t s = child_seed ^ 0x5151;
    for (uint64_t ud = 1;; ud++) {
        uint32_t k = 1 + rnd(&s, 8), n = 0;
        for (; n < k; n++) {
            struct io_uring_sqe *q = uring_sqe(&ring);
            if (!q)
                break;
            random_sqe(&s, q, ud * 16 + n);
        }
        uint32_t min = rnd(&s, 6) == 0 ? 1 : 0;
        uring_enter(&ring, n, min, min ? IORING_ENTER_GETEVENTS : 0);
        struct io_uring_cqe c;
        while (rnd(&s, 4) && uring_pop(&ring, &c))
            ;
        if (rnd(&s, 16) == 0)           /* scribble on the ring the kernel shares */
            ring.ring[rnd(&s, (uint32_t)ring.ring_len)] ^= (char)rnd(&s, 256);
    }
}

/* Two threads: random system calls over the same descriptors. */
static void *caller(void *arg)
{
    uint64_t s = child_seed ^ (uint64_t)(uintptr_t)arg;
    while (!atomic_load(&go))
        ;
    for (;;) {
        int fd = any_fd(&s);
        switch (rnd(&s, 12)) {
        case 0: syscall(SYS_read, fd, any_addr(&s), any_len(&s)); break;
        case 1: syscall(SYS_write, fd, any_addr(&s), any_len(&s)); break;
        case 2: {
            uint32_t n;
            uint64_t v = any_iovecs(&s, &n);
            syscall(rnd(&s, 2) ? SYS_readv : SYS_writev, fd, v, n);
            break;
        }
        case 3: if (fd > 2 + 3) close(fd); break;      /* the ring and first pipes live on */
        case 4: syscall(SYS_dup3, fd, any_fd(&s) + 2, 0); break;
        case 5: syscall(SYS_pipe2, rnd(&s, 2) ? (uint64_t)(stable + 3000) : any_addr(&s), O_NONBLOCK * rnd(&s, 2)); break;
        case 6: syscall(SYS_fcntl, fd, F_SETFL, O_NONBLOCK * rnd(&s, 2)); break;
        case 7: {
            struct io_uring_params p;
            memset(&p, 0, sizeof p);
            syscall(__NR_io_uring_setup, 1 + rnd(&s, 16), rnd(&s, 4) ? (uint64_t)&p : any_addr(&s));
            break;
        }
        case 8: syscall(__NR_io_uring_enter, fd, rnd(&s, 4), rnd(&s, 2), rnd(&s, 2) ? IORING_ENTER_GETEVENTS : 0, 0, 0); break;
        case 9: {
            struct timespec t = { 0, rnd(&s, 200000) };
            nanosleep(&t, NULL);
            break;
        }
        default: {                      /* an SQE of its own into the shared ring, racing the submitter */
            uint32_t i = rnd(&s, ring.sq_entries);
            random_sqe(&s, &ring.sqes[i], rnd_next(&s));
            break;
        }
        }
    }
    return NULL;
}

/* One thread: unmap a buffer, map it back (fresh zeros), again and again. */
static void *unmapper(void *arg)
{
    (void)arg;
    uint64_t s = child_seed ^ 0x7777;
    for (;;) {
        char *b = vol + rnd(&s, NBUF) * BUF_PAGES * PAGE;
        munmap(b, BUF_PAGES * PAGE);
        struct timespec t = { 0, rnd(&s, 300000) };
        nanosleep(&t, NULL);
        mmap(b, BUF_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    }
    return NULL;
}

/* A thread that ends the whole process after a while. */
static void *ender(void *arg)
{
    struct timespec t = { 0, (long)(uintptr_t)arg };
    nanosleep(&t, NULL);
    syscall(SYS_exit_group, 0);
    return NULL;
}

static void child(uint64_t seed, int self_exit)
{
    child_seed = seed;
    uint64_t s = seed;
    close(0);
    close(1);
    close(2);
    open("/dev/console", O_RDONLY);     /* fd 0: reads and polls wait on it, writes are refused */
    vol = mmap(NULL, (NBUF * BUF_PAGES + PAD) * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    stable = mmap(NULL, (1 + PAD) * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (vol == MAP_FAILED || stable == MAP_FAILED || uring_open(&ring, 1u << rnd(&s, 6), NULL) < 0)
        _exit(2);
    int p[2];
    for (int i = 0; i < 3; i++)
        if (pipe(p) < 0)
            _exit(3);
    struct uring other;                 /* a second ring, a MSG_RING target */
    if (uring_open(&other, 1, NULL) < 0)
        _exit(4);
    pthread_t th;
    pthread_create(&th, NULL, caller, (void *)1);
    pthread_create(&th, NULL, caller, (void *)2);
    pthread_create(&th, NULL, unmapper, NULL);
    if (self_exit)
        pthread_create(&th, NULL, ender, (void *)(uintptr_t)(1000000 + rnd(&s, 20000000)));
    atomic_store(&go, 1);
    submitter();
}

/* ---- the parent: rounds, then the reckoning -------------------------------- */

static int read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    size_t n = 0;
    ssize_t k;
    while (n < cap - 1 && (k = read(fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)k;
    close(fd);
    buf[n] = 0;
    return (int)n;
}

struct snapshot { long free_pages, objects, tasks, uring_ops; };

static char report[64 * 1024];

static int snap(struct snapshot *sn)
{
    if (read_file("/proc/mem", report, sizeof report) < 0)
        return -1;
    long total;
    if (sscanf(report, "pages: %ld total, %ld free", &total, &sn->free_pages) != 2)
        return -1;
    char *k = strstr(report, "kmalloc: ");
    sn->objects = k ? strtol(k + 9, NULL, 10) : 0;
    if (read_file("/proc/tasks", report, sizeof report) < 0)
        return -1;
    sn->tasks = sn->uring_ops = 0;
    for (char *line = strchr(report, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        sn->tasks++;
        if (strstr(line, " uring_op "))
            sn->uring_ops++;
    }
    return 0;
}

/* The most-polled uring_op task seen while children ran (its line). */
static long max_polls;
static char max_line[128];

static void note_polls(void)
{
    if (read_file("/proc/tasks", report, sizeof report) < 0)
        return;
    for (char *line = strchr(report, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        long id, hart, polls;
        char name[32], state[32];
        if (sscanf(line + 1, "%ld %31s %31s %ld %ld", &id, name, state, &hart, &polls) == 5 &&
            !strcmp(name, "uring_op") && polls > max_polls) {
            max_polls = polls;
            char *end = strchr(line + 1, '\n');
            size_t n = end ? (size_t)(end - line - 1) : strlen(line + 1);
            snprintf(max_line, sizeof max_line, "%.*s", (int)(n < sizeof max_line - 1 ? n : sizeof max_line - 1), line + 1);
        }
    }
}

static long round_ms;                   /* 0: a few ms, at random */

static void round_run(uint64_t seed, int round)
{
    uint64_t s = seed * 7919 + (uint64_t)round;
    int self_exit = round_ms ? 0 : round & 1;
    pid_t pid = fork();
    if (pid < 0) {
        perror("uring_fuzz: fork");
        exit(1);
    }
    if (pid == 0)
        child(seed * 1000003 + (uint64_t)round, self_exit);
    if (!self_exit) {
        long ns = round_ms ? round_ms * 1000000 : 2000000 + rnd(&s, 20000000);
        struct timespec t = { ns / 1000000000, ns % 1000000000 };
        nanosleep(&t, NULL);
        note_polls();
        kill(pid, SIGKILL);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid) {
        perror("uring_fuzz: waitpid");
        exit(1);
    }
}

/* Wait (3 s at most) until the tasks, and with `mem` the memory too, are
 * back to *base: cancelled operations finish on their own harts. */
static bool settle(const struct snapshot *base, struct snapshot *now, bool mem)
{
    for (int i = 0; i < 300; i++) {
        if (snap(now) < 0)
            exit(1);
        if (now->uring_ops <= base->uring_ops && now->tasks <= base->tasks &&
            (!mem || (now->free_pages + SLACK >= base->free_pages && now->objects <= base->objects)))
            return true;
        struct timespec t = { 0, 10000000 };
        nanosleep(&t, NULL);
    }
    return false;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rounds = argc > 1 ? atoi(argv[1]) : 40;
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 1;
    if (seed == 0)
        seed = 1;
    round_ms = argc > 3 ? atol(argv[3]) : 0;
    struct snapshot start, before, after;
    if (snap(&start) < 0) {
        printf("uring_fuzz: cannot read /proc\n");
        return 1;
    }
    /* two warm-up rounds: our own first use of a stack or buffer page is
     * not the kernel's; the memory baseline is taken once they are over */
    round_run(seed, -2);
    round_run(seed, -1);
    settle(&start, &before, false);
    before.tasks = start.tasks;
    before.uring_ops = start.uring_ops;
    for (int r = 0; r < rounds; r++)
        round_run(seed, r);
    bool back = settle(&before, &after, true);
    printf("uring_fuzz: %d rounds, tasks %ld -> %ld, uring_op %ld -> %ld, free pages %ld -> %ld, "
           "objects %ld -> %ld\n", rounds, before.tasks, after.tasks, before.uring_ops, after.uring_ops,
           before.free_pages, after.free_pages, before.objects, after.objects);
    if (max_polls)
        printf("uring_fuzz: most polls of a live uring_op: %s\n", max_line);
    if (back) {
        printf("uring_fuzz: ok\n");
        return 0;
    }
    printf("uring_fuzz: LEAK\n");
    read_file("/proc/tasks", report, sizeof report);
    printf("%s", report);
    read_file("/proc/mem", report, sizeof report);
    printf("%s", report);
    return 1;
}
