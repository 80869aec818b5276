/*
 * uring_test - io_uring ABI conformance, with raw system calls and the
 * Linux header only (no runtime): every check prints
 *
 *     uring_test: PASS name            or    uring_test: FAIL name why
 *
 * and the last line is `uring_test: all ok` (or `uring_test: N failed`).
 *
 *     uring_test              run every check
 *     uring_test NAME...      run only those checks
 *     uring_test hold         set up operations that never complete, print
 *                             `uring_test: holding N operations` and wait
 *                             (for a test that kills it with them in flight)
 *
 * A lost completion shows up as a hang in the check after the last PASS.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "uring_raw.h"

#define POLLIN 0x1
#define POLLOUT 0x4
#define KADDR 0xffffffc000000000ULL     /* the kernel's half of the address space */
#define MS 1000000ULL

static char why[256];

/* Fail the current check with a reason (printf-style). */
#define REQUIRE(cond, ...)                                                    \
    do {                                                                      \
        if (!(cond)) {                                                        \
            snprintf(why, sizeof why, __VA_ARGS__);                           \
            return -1;                                                        \
        }                                                                     \
    } while (0)

/* ---- small helpers -------------------------------------------------------- */

/* Rings and fds opened by the current check, closed after it. */
static struct uring *open_rings[8];
static int nopen_rings, open_fds[16], nopen_fds;

static struct uring *ring(uint32_t entries)
{
    static struct uring pool[8];
    struct uring *r = &pool[nopen_rings];
    long e = uring_open(r, entries, NULL);
    if (e < 0) {
        printf("uring_test: io_uring_setup(%u): %ld\n", entries, e);
        exit(1);
    }
    open_rings[nopen_rings++] = r;
    return r;
}

static void mkpipe(int p[2], int flags)
{
    if (pipe2(p, flags) < 0)
        u_die("uring_test", "pipe2", errno);
    open_fds[nopen_fds++] = p[0];
    open_fds[nopen_fds++] = p[1];
}

static void cleanup(void)
{
    while (nopen_rings)
        uring_close(open_rings[--nopen_rings]);
    while (nopen_fds)
        close(open_fds[--nopen_fds]);
}

static void sleep_ms(long ms) { u_nanosleep(ms / 1000, (ms % 1000) * 1000000L); }

static struct io_uring_sqe *sqe(struct uring *r, uint8_t op, int fd, uint64_t addr, uint32_t len,
                                uint64_t ud)
{
    struct io_uring_sqe *s = uring_sqe(r);
    if (!s) {
        printf("uring_test: SQ ring full\n");
        exit(1);
    }
    s->opcode = op;
    s->fd = fd;
    s->addr = addr;
    s->len = len;
    s->user_data = ud;
    return s;
}

/* Wait for n completions; res_of[ud] gets each result (ud < 64), order[]
 * the user_data in arrival order.  Returns how many had ud out of range. */
static int64_t res_of[256];
static uint64_t order[256];
static int collect(struct uring *r, int n)
{
    int strays = 0;
    for (int i = 0; i < n; i++) {
        struct io_uring_cqe c;
        if (uring_wait(r, &c) < 0)
            return -1;
        order[i] = c.user_data;
        if (c.user_data < 256)
            res_of[c.user_data] = c.res;
        else
            strays++;
    }
    return strays;
}

static struct __kernel_timespec ts_ms(long ms)
{
    return (struct __kernel_timespec){ .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
}

/* /proc/mem: free pages and live kmalloc objects. */
static int mem_free(long *pages, long *objs)
{
    char buf[512];
    int fd = open("/proc/mem", O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    long total;
    if (sscanf(buf, "pages: %ld total, %ld free", &total, pages) != 2)
        return -1;
    char *k = strstr(buf, "kmalloc: ");
    *objs = k ? strtol(k + 9, NULL, 10) : 0;
    return 0;
}

/* ---- the checks --------------------------------------------------------------- */

static int t_setup_bad(void)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    long e = uring_setup_raw(0, &p);
    REQUIRE(e == -EINVAL, "entries 0: %ld", e);
    memset(&p, 0, sizeof p);
    e = uring_setup_raw(1u << 20, &p);
    REQUIRE(e == -EINVAL, "entries 1<<20 without CLAMP: %ld", e);
    memset(&p, 0, sizeof p);
    p.resv[1] = 7;
    e = uring_setup_raw(8, &p);
    REQUIRE(e == -EINVAL, "nonzero resv: %ld", e);
    memset(&p, 0, sizeof p);
    p.flags = 1u << 30;
    e = uring_setup_raw(8, &p);
    REQUIRE(e == -EINVAL, "unknown flag: %ld", e);
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_CQSIZE;
    p.cq_entries = 2;
    e = uring_setup_raw(8, &p);
    REQUIRE(e == -EINVAL, "CQSIZE smaller than SQ: %ld", e);
    e = uring_setup_raw(8, NULL);
    REQUIRE(e == -EFAULT, "params NULL: %ld", e);
    e = uring_setup_raw(8, (void *)KADDR);
    REQUIRE(e == -EFAULT, "params in kernel memory: %ld", e);
    /* with CLAMP a huge size is cut down */
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_CLAMP;
    e = uring_setup_raw(1u << 20, &p);
    REQUIRE(e >= 0, "entries 1<<20 with CLAMP: %ld", e);
    close((int)e);
    REQUIRE(p.sq_entries >= 1 && p.sq_entries <= 1u << 16, "CLAMP gave %u", p.sq_entries);
    /* a good one: sizes rounded up to a power of two, CQ twice SQ */
    memset(&p, 0, sizeof p);
    e = uring_setup_raw(5, &p);
    REQUIRE(e >= 0, "entries 5: %ld", e);
    close((int)e);
    REQUIRE(p.sq_entries == 8 && p.cq_entries == 16, "sizes %u/%u", p.sq_entries, p.cq_entries);
    REQUIRE(p.features & IORING_FEAT_SINGLE_MMAP, "features %#x", p.features);
    REQUIRE(p.features & IORING_FEAT_NODROP, "features %#x", p.features);
    /* the priority word is announced and lies inside the mapping a
     * program sizes from the fields Linux defines */
    REQUIRE(p.features & IORING_FEAT_POLLUX_PRIO, "features %#x", p.features);
    REQUIRE(p.sq_off.resv1 && p.sq_off.resv1 + 4 <= uring_ring_bytes(&p),
            "priority word at %u, mapping %zu", p.sq_off.resv1, uring_ring_bytes(&p));
    return 0;
}

static int t_nop_batches(void)
{
    struct uring *r = ring(64);
    static const int sizes[] = { 1, 8, 64, 3 };
    for (unsigned k = 0; k < ARRAY_SIZE(sizes); k++) {
        int n = sizes[k];
        for (int i = 0; i < n; i++)
            sqe(r, IORING_OP_NOP, -1, 0, 0, 100 + i);
        for (int i = 0; i < 256; i++)
            res_of[i] = 1;
        long e = uring_enter(r, n, n, IORING_ENTER_GETEVENTS);
        REQUIRE(e == n, "batch of %d: enter returned %ld", n, e);
        REQUIRE(uring_cq_ready(r) >= (uint32_t)n, "batch of %d: only %u ready", n, uring_cq_ready(r));
        REQUIRE(collect(r, n) == 0, "stray completion");
        for (int i = 0; i < n; i++)
            REQUIRE(res_of[100 + i] == 0, "batch of %d: nop %d res %ld", n, i, (long)res_of[100 + i]);
        REQUIRE(uring_cq_ready(r) == 0, "extra completions");
    }
    /* fill 8, submit 3 then 5 */
    for (int i = 0; i < 8; i++)
        sqe(r, IORING_OP_NOP, -1, 0, 0, i);
    long e = uring_enter(r, 3, 0, 0);
    REQUIRE(e == 3, "submit 3 of 8: %ld", e);
    REQUIRE(*r->sq_head == r->tail - 5, "sq head %u tail %u", *r->sq_head, r->tail);
    e = uring_enter(r, 5, 8, IORING_ENTER_GETEVENTS);
    REQUIRE(e == 5, "submit 5 more: %ld", e);
    REQUIRE(collect(r, 8) == 0, "stray");
    /* to_submit larger than what is there: only what is there */
    sqe(r, IORING_OP_NOP, -1, 0, 0, 1);
    e = uring_enter(r, 0xffffffffu, 1, IORING_ENTER_GETEVENTS);
    REQUIRE(e == 1, "to_submit ~0 with one SQE: %ld", e);
    REQUIRE(collect(r, 1) == 0, "stray");
    return 0;
}

static int t_read_pending(void)
{
    struct uring *r = ring(8);
    int p[2];
    mkpipe(p, 0);
    char buf[16] = { 0 };
    sqe(r, IORING_OP_READ, p[0], (uint64_t)buf, sizeof buf, 1);
    uint32_t cq0 = *r->cq_tail;
    long e = uring_enter(r, 1, 0, 0);
    /* we are back in user mode, the read still pending in the kernel */
    uint32_t cq1 = *r->cq_tail;
    REQUIRE(e == 1, "enter returned %ld", e);
    REQUIRE(cq1 == cq0, "cq tail moved %u -> %u", cq0, cq1);
    REQUIRE(*r->sq_head == r->tail, "SQE not consumed");
    printf("uring_test: enter returned 1 with the read still pending (cq tail %u unchanged)\n", cq1);
    sleep_ms(20);
    REQUIRE(uring_cq_ready(r) == 0, "a read of an empty pipe completed");
    REQUIRE(write(p[1], "hello", 5) == 5, "write");
    REQUIRE(collect(r, 1) == 0, "stray");
    REQUIRE(order[0] == 1 && res_of[1] == 5, "ud %lu res %ld", (unsigned long)order[0], (long)res_of[1]);
    REQUIRE(memcmp(buf, "hello", 5) == 0, "read %.5s", buf);
    return 0;
}

static int t_rw_pipe(void)
{
    struct uring *r = ring(8);
    int p[2];
    mkpipe(p, 0);
    char buf[32] = { 0 };
    /* WRITE, then read(2) */
    sqe(r, IORING_OP_WRITE, p[1], (uint64_t)"abc", 3, 1);
    REQUIRE(uring_enter(r, 1, 1, IORING_ENTER_GETEVENTS) == 1, "enter");
    REQUIRE(collect(r, 1) == 0 && res_of[1] == 3, "WRITE res %ld", (long)res_of[1]);
    REQUIRE(read(p[0], buf, sizeof buf) == 3 && memcmp(buf, "abc", 3) == 0, "read back");
    /* WRITEV of two pieces, READV into two buffers */
    struct iovec wv[2] = { { "hello ", 6 }, { "world", 5 } };
    char a[4], b[16] = { 0 };
    struct iovec rv[2] = { { a, sizeof a }, { b, sizeof b } };
    /* (one iovec at a time, as writev(2) here: a READV racing with the
     * WRITEV may see only its first piece, so the READV goes second) */
    sqe(r, IORING_OP_WRITEV, p[1], (uint64_t)wv, 2, 2);
    REQUIRE(uring_enter(r, 1, 1, IORING_ENTER_GETEVENTS) == 1, "enter");
    REQUIRE(collect(r, 1) == 0 && res_of[2] == 11, "WRITEV res %ld", (long)res_of[2]);
    sqe(r, IORING_OP_READV, p[0], (uint64_t)rv, 2, 3);
    REQUIRE(uring_enter(r, 1, 1, IORING_ENTER_GETEVENTS) == 1, "enter");
    REQUIRE(collect(r, 1) == 0 && res_of[3] == 11, "READV res %ld", (long)res_of[3]);
    REQUIRE(memcmp(a, "hell", 4) == 0 && memcmp(b, "o world", 7) == 0, "READV content");
    return 0;
}

static int t_rw_console(void)
{
    struct uring *r = ring(8);
    static const char line[] = "uring_test: console WRITE ok\n";
    struct iovec v[2] = { { "uring_test: console ", 20 }, { "WRITEV ok\n", 10 } };
    fflush(stdout);
    sqe(r, IORING_OP_WRITE, 1, (uint64_t)line, sizeof line - 1, 1)->flags = IOSQE_IO_LINK;
    sqe(r, IORING_OP_WRITEV, 1, (uint64_t)v, 2, 2);
    REQUIRE(uring_enter(r, 2, 2, IORING_ENTER_GETEVENTS) == 2, "enter");
    REQUIRE(collect(r, 2) == 0, "stray");
    REQUIRE(res_of[1] == sizeof line - 1, "WRITE res %ld", (long)res_of[1]);
    REQUIRE(res_of[2] == 30, "WRITEV res %ld", (long)res_of[2]);
    return 0;
}

static int t_timeout(void)
{
    struct uring *r = ring(8);
    struct __kernel_timespec ts = ts_ms(30);
    uint64_t t0 = u_now_ns();
    sqe(r, IORING_OP_TIMEOUT, -1, (uint64_t)&ts, 1, 1);
    REQUIRE(uring_enter(r, 1, 1, IORING_ENTER_GETEVENTS) == 1, "enter");
    uint64_t dt = u_now_ns() - t0;
    REQUIRE(collect(r, 1) == 0 && res_of[1] == -ETIME, "relative: res %ld", (long)res_of[1]);
    REQUIRE(dt >= 25 * MS && dt < 2000 * MS, "relative 30 ms took %lu ms", (unsigned long)(dt / MS));
    /* absolute, on CLOCK_MONOTONIC */
    uint64_t when = u_now_ns() + 30 * MS;
    struct __kernel_timespec abs = { .tv_sec = when / 1000000000ULL, .tv_nsec = when % 1000000000ULL };
    sqe(r, IORING_OP_TIMEOUT, -1, (uint64_t)&abs, 1, 2)->timeout_flags = IORING_TIMEOUT_ABS;
    REQUIRE(uring_enter(r, 1, 1, IORING_ENTER_GETEVENTS) == 1, "enter");
    uint64_t now = u_now_ns();
    REQUIRE(collect(r, 1) == 0 && res_of[2] == -ETIME, "absolute: res %ld", (long)res_of[2]);
    REQUIRE(now + 5 * MS >= when && now < when + 2000 * MS, "absolute: %ld ms early/late",
            (long)((int64_t)(now - when) / (int64_t)MS));
    /* absolute in the past: at once */
    abs = (struct __kernel_timespec){ .tv_sec = 0, .tv_nsec = 1 };
    sqe(r, IORING_OP_TIMEOUT, -1, (uint64_t)&abs, 1, 3)->timeout_flags = IORING_TIMEOUT_ABS;
    REQUIRE(uring_enter(r, 1, 1, IORING_ENTER_GETEVENTS) == 1, "enter");
    REQUIRE(collect(r, 1) == 0 && res_of[3] == -ETIME, "past: res %ld", (long)res_of[3]);
    /* bad argument: len != 1, NULL timespec */
    sqe(r, IORING_OP_TIMEOUT, -1, (uint64_t)&ts, 2, 4);
    sqe(r, IORING_OP_TIMEOUT, -1, 0, 1, 5);
    REQUIRE(uring_enter(r, 2, 2, IORING_ENTER_GETEVENTS) == 2, "enter");
    REQUIRE(collect(r, 2) == 0, "stray");
    REQUIRE(res_of[4] == -EINVAL && res_of[5] == -EFAULT, "bad args: %ld %ld", (long)res_of[4],
            (long)res_of[5]);
    return 0;
}

static int t_timeout_count(void)
{
    struct uring *r = ring(16);
    struct __kernel_timespec ts = ts_ms(5000);
    /* in one batch: the count starts at submission */
    uint64_t t0 = u_now_ns();
    sqe(r, IORING_OP_TIMEOUT, -1, (uint64_t)&ts, 1, 10)->off = 3;
    for (int i = 1; i <= 3; i++)
        sqe(r, IORING_OP_NOP, -1, 0, 0, i);
    REQUIRE(uring_enter(r, 4, 4, IORING_ENTER_GETEVENTS) == 4, "enter");
    REQUIRE(collect(r, 4) == 0, "stray");
    REQUIRE(res_of[10] == 0, "count 3 (one batch): res %ld", (long)res_of[10]);
    REQUIRE(order[3] == 10, "the timeout came before the third completion");
    REQUIRE(u_now_ns() - t0 < 2000 * MS, "waited for the clock, not the count");
    /* separately: not after one, after two */
    sqe(r, IORING_OP_TIMEOUT, -1, (uint64_t)&ts, 1, 20)->off = 2;
    REQUIRE(uring_enter(r, 1, 0, 0) == 1, "enter");
    sleep_ms(10);
    sqe(r, IORING_OP_NOP, -1, 0, 0, 21);
    REQUIRE(uring_enter(r, 1, 1, IORING_ENTER_GETEVENTS) == 1, "enter");
    sleep_ms(20);
    REQUIRE(uring_cq_ready(r) == 1, "after 1 of 2: %u ready", uring_cq_ready(r));
    sqe(r, IORING_OP_NOP, -1, 0, 0, 22);
    REQUIRE(uring_enter(r, 1, 3, IORING_ENTER_GETEVENTS) == 1, "enter");
    REQUIRE(collect(r, 3) == 0, "stray");
    REQUIRE(res_of[20] == 0, "count 2: res %ld", (long)res_of[20]);
    /* behind a link, a relative TIMEOUT counts from when it starts */
    int p[2];
    mkpipe(p, 0);
    char c;
    struct __kernel_timespec t30 = ts_ms(30);
    t0 = u_now_ns();
    sqe(r, IORING_OP_READ, p[0], (uint64_t)&c, 1, 30)->flags = IOSQE_IO_LINK;
    sqe(r, IORING_OP_TIMEOUT, -1, (uint64_t)&t30, 1, 31);
    REQUIRE(uring_enter(r, 2, 0, 0) == 2, "enter");
    sleep_ms(50);
    REQUIRE(write(p[1], "t", 1) == 1, "write");
    REQUIRE(collect(r, 2) == 0, "stray");
    uint64_t dt = u_now_ns() - t0;
    REQUIRE(res_of[30] == 1 && res_of[31] == -ETIME, "linked: %ld %ld", (long)res_of[30], (long)res_of[31]);
    REQUIRE(dt >= 75 * MS, "a linked 30 ms TIMEOUT started after 50 ms ended at %lu ms",
            (unsigned long)(dt / MS));
    return 0;
}

static int t_link_chain(void)
{
    struct uring *r = ring(16);
    int p[2];
    mkpipe(p, 0);
    char buf[16] = { 0 };
    /* three linked writes run in order */
    sqe(r, IORING_OP_WRITE, p[1], (uint64_t)"1", 1, 1)->flags = IOSQE_IO_LINK;
    sqe(r, IORING_OP_WRITE, p[1], (uint64_t)"2", 1, 2)->flags = IOSQE_IO_LINK;
    sqe(r, IORING_OP_WRITE, p[1], (uint64_t)"3", 1, 3);
    REQUIRE(uring_enter(r, 3, 3, IORING_ENTER_GETEVENTS) == 3, "enter");
    REQUIRE(collect(r, 3) == 0, "stray");
    REQUIRE(order[0] == 1 && order[1] == 2 && order[2] == 3, "order %lu %lu %lu",
            (unsigned long)order[0], (unsigned long)order[1], (unsigned long)order[2]);
    REQUIRE(res_of[1] == 1 && res_of[2] == 1 && res_of[3] == 1, "results");
    REQUIRE(read(p[0], buf, sizeof buf) == 3 && memcmp(buf, "123", 3) == 0, "pipe holds %s", buf);
    /* a failing link cancels the rest */
    sqe(r, IORING_OP_WRITE, 60, (uint64_t)"x", 1, 11)->flags = IOSQE_IO_LINK;
    sqe(r, IORING_OP_NOP, -1, 0, 0, 12)->flags = IOSQE_IO_LINK;
    sqe(r, IORING_OP_WRITE, p[1], (uint64_t)"y", 1, 13);
    REQUIRE(uring_enter(r, 3, 3, IORING_ENTER_GETEVENTS) == 3, "enter");
    REQUIRE(collect(r, 3) == 0, "stray");
    REQUIRE(res_of[11] == -EBADF, "first: %ld", (long)res_of[11]);
    REQUIRE(res_of[12] == -ECANCELED && res_of[13] == -ECANCELED, "rest: %ld %ld",
            (long)res_of[12], (long)res_of[13]);
    /* a short read breaks the chain too */
    REQUIRE(write(p[1], "zz", 2) == 2, "write");
    sqe(r, IORING_OP_READ, p[0], (uint64_t)buf, 10, 21)->flags = IOSQE_IO_LINK;
    sqe(r, IORING_OP_NOP, -1, 0, 0, 22);
    REQUIRE(uring_enter(r, 2, 2, IORING_ENTER_GETEVENTS) == 2, "enter");
    REQUIRE(collect(r, 2) == 0, "stray");
    REQUIRE(res_of[21] == 2 && res_of[22] == -ECANCELED, "short read: %ld then %ld",
            (long)res_of[21], (long)res_of[22]);
    return 0;
}

static int t_link_timeout(void)
{
    struct uring *r = ring(16);
    int p[2];
    mkpipe(p, 0);
    char buf[16];
    /* the timeout fires: the read is cancelled */
    struct __kernel_timespec ts = ts_ms(30);
    uint64_t t0 = u_now_ns();
    sqe(r, IORING_OP_READ, p[0], (uint64_t)buf, sizeof buf, 1)->flags = IOSQE_IO_LINK;
    sqe(r, IORING_OP_LINK_TIMEOUT, -1, (uint64_t)&ts, 1, 2);
    REQUIRE(uring_enter(r, 2, 2, IORING_ENTER_GETEVENTS) == 2, "enter");
    REQUIRE(collect(r, 2) == 0, "stray");
    REQUIRE(res_of[1] == -ECANCELED && res_of[2] == -ETIME, "fired: read %ld timeout %ld",
            (long)res_of[1], (long)res_of[2]);
    REQUIRE(u_now_ns() - t0 >= 25 * MS, "too early");
    /* the read finishes first: the timeout is cancelled */
    REQUIRE(write(p[1], "q", 1) == 1, "write");
    ts = ts_ms(2000);
    t0 = u_now_ns();
    sqe(r, IORING_OP_READ, p[0], (uint64_t)buf, sizeof buf, 3)->flags = IOSQE_IO_LINK;
    sqe(r, IORING_OP_LINK_TIMEOUT, -1, (uint64_t)&ts, 1, 4);
    REQUIRE(uring_enter(r, 2, 2, IORING_ENTER_GETEVENTS) == 2, "enter");
    REQUIRE(collect(r, 2) == 0, "stray");
    REQUIRE(res_of[3] == 1 && res_of[4] == -ECANCELED, "read first: read %ld timeout %ld",
            (long)res_of[3], (long)res_of[4]);
    REQUIRE(u_now_ns() - t0 < 1000 * MS, "waited for the timeout");
    /* on a TIMEOUT: two sleeps in one operation */
    struct __kernel_timespec t_long = ts_ms(1000), t_short = ts_ms(20);
    sqe(r, IORING_OP_TIMEOUT, -1, (uint64_t)&t_long, 1, 6)->flags = IOSQE_IO_LINK;
    sqe(r, IORING_OP_LINK_TIMEOUT, -1, (uint64_t)&t_short, 1, 7);
    sqe(r, IORING_OP_TIMEOUT, -1, (uint64_t)&t_short, 1, 8)->flags = IOSQE_IO_LINK;
    sqe(r, IORING_OP_LINK_TIMEOUT, -1, (uint64_t)&t_long, 1, 9);
    t0 = u_now_ns();
    REQUIRE(uring_enter(r, 4, 4, IORING_ENTER_GETEVENTS) == 4, "enter");
    REQUIRE(collect(r, 4) == 0, "stray");
    REQUIRE(res_of[6] == -ECANCELED && res_of[7] == -ETIME, "TIMEOUT cut short: %ld %ld",
            (long)res_of[6], (long)res_of[7]);
    REQUIRE(res_of[8] == -ETIME && res_of[9] == -ECANCELED, "TIMEOUT first: %ld %ld",
            (long)res_of[8], (long)res_of[9]);
    REQUIRE(u_now_ns() - t0 < 800 * MS, "waited for a long sleep");
    /* a LINK_TIMEOUT with nothing before it */
    sqe(r, IORING_OP_LINK_TIMEOUT, -1, (uint64_t)&ts, 1, 5);
    REQUIRE(uring_enter(r, 1, 1, IORING_ENTER_GETEVENTS) == 1, "enter");
    REQUIRE(collect(r, 1) == 0 && res_of[5] == -EINVAL, "lone LINK_TIMEOUT: %ld", (long)res_of[5]);
    return 0;
}

static int t_cancel(void)
{
    struct uring *r = ring(8);
    int p[2];
    mkpipe(p, 0);
    char buf[16];
    sqe(r, IORING_OP_READ, p[0], (uint64_t)buf, sizeof buf, 1);
    REQUIRE(uring_enter(r, 1, 0, 0) == 1, "enter");
    sleep_ms(5);
    sqe(r, IORING_OP_ASYNC_CANCEL, -1, 1, 0, 2);
    REQUIRE(uring_enter(r, 1, 2, IORING_ENTER_GETEVENTS) == 1, "enter");
    REQUIRE(collect(r, 2) == 0, "stray");
    REQUIRE(res_of[2] == 0, "cancel: %ld", (long)res_of[2]);
    REQUIRE(res_of[1] == -ECANCELED, "cancelled read: %ld", (long)res_of[1]);
    sqe(r, IORING_OP_ASYNC_CANCEL, -1, 12345, 0, 3);
    REQUIRE(uring_enter(r, 1, 1, IORING_ENTER_GETEVENTS) == 1, "enter");
    REQUIRE(collect(r, 1) == 0 && res_of[3] == -ENOENT, "unknown: %ld", (long)res_of[3]);
    /* the pipe is fine: the cancelled read took nothing */
    REQUIRE(write(p[1], "ok", 2) == 2 && read(p[0], buf, sizeof buf) == 2, "pipe after cancel");
    return 0;
}

static int t_poll_add(void)
{
    struct uring *r = ring(8);
    int p[2];
    mkpipe(p, 0);
    char c;
    sqe(r, IORING_OP_POLL_ADD, p[0], 0, 0, 1)->poll32_events = POLLIN;
    REQUIRE(uring_enter(r, 1, 0, 0) == 1, "enter");
    sleep_ms(20);
    REQUIRE(uring_cq_ready(r) == 0, "POLLIN on an empty pipe completed");
    REQUIRE(write(p[1], "r", 1) == 1, "write");
    REQUIRE(collect(r, 1) == 0, "stray");
    REQUIRE(res_of[1] > 0 && (res_of[1] & POLLIN), "POLLIN res %#lx", (long)res_of[1]);
    REQUIRE(read(p[0], &c, 1) == 1, "read");
    sqe(r, IORING_OP_POLL_ADD, p[1], 0, 0, 2)->poll32_events = POLLOUT;
    REQUIRE(uring_enter(r, 1, 1, IORING_ENTER_GETEVENTS) == 1, "enter");
    REQUIRE(collect(r, 1) == 0 && (res_of[2] & POLLOUT), "POLLOUT res %#lx", (long)res_of[2]);
    return 0;
}

static int t_out_of_order(void)
{
    struct uring *r = ring(8);
    int a[2], b[2];
    mkpipe(a, 0);
    mkpipe(b, 0);
    char x[4], y[4];
    sqe(r, IORING_OP_READ, a[0], (uint64_t)x, 1, 1);
    sqe(r, IORING_OP_READ, b[0], (uint64_t)y, 1, 2);
    sqe(r, IORING_OP_NOP, -1, 0, 0, 3);
    REQUIRE(uring_enter(r, 3, 1, IORING_ENTER_GETEVENTS) == 3, "enter");
    REQUIRE(collect(r, 1) == 0 && order[0] == 3, "first completion %lu", (unsigned long)order[0]);
    REQUIRE(write(b[1], "b", 1) == 1, "write");
    REQUIRE(collect(r, 1) == 0 && order[0] == 2, "second completion %lu", (unsigned long)order[0]);
    REQUIRE(write(a[1], "a", 1) == 1, "write");
    REQUIRE(collect(r, 1) == 0 && order[0] == 1, "third completion %lu", (unsigned long)order[0]);
    REQUIRE(x[0] == 'a' && y[0] == 'b', "contents");
    return 0;
}

static int t_msg_ring(void)
{
    struct uring *a = ring(8), *b = ring(8);
    struct io_uring_sqe *s = sqe(a, IORING_OP_MSG_RING, b->fd, 0, 42, 5);
    s->off = 77;
    REQUIRE(uring_enter(a, 1, 1, IORING_ENTER_GETEVENTS) == 1, "enter");
    REQUIRE(collect(a, 1) == 0 && res_of[5] == 0, "sender: %ld", (long)res_of[5]);
    REQUIRE(collect(b, 1) == 0 && order[0] == 77 && res_of[77] == 42, "target got ud %lu res %ld",
            (unsigned long)order[0], (long)res_of[77]);
    int p[2];
    mkpipe(p, 0);
    sqe(a, IORING_OP_MSG_RING, p[0], 0, 1, 6);
    REQUIRE(uring_enter(a, 1, 1, IORING_ENTER_GETEVENTS) == 1, "enter");
    REQUIRE(collect(a, 1) == 0 && res_of[6] < 0, "MSG_RING to a pipe: %ld", (long)res_of[6]);
    return 0;
}

static int t_cq_overflow(void)
{
    struct uring *r = ring(8);          /* CQ of 16 */
    enum { N = 50 };
    REQUIRE(r->cq_entries == 16, "cq %u", r->cq_entries);
    for (int sent = 0; sent < N;) {
        int k = N - sent < 8 ? N - sent : 8;
        for (int i = 0; i < k; i++)
            sqe(r, IORING_OP_NOP, -1, 0, 0, sent + i);
        long e = uring_enter(r, k, 0, 0);
        REQUIRE(e == k, "enter: %ld", e);
        sent += k;
    }
    /* nobody reaps: the ring fills, the rest waits in the kernel */
    for (int i = 0; i < 1000 && !(*r->sq_flags & IORING_SQ_CQ_OVERFLOW); i++)
        sleep_ms(1);
    REQUIRE(*r->sq_flags & IORING_SQ_CQ_OVERFLOW, "IORING_SQ_CQ_OVERFLOW never set");
    REQUIRE(uring_cq_ready(r) == 16, "%u ready in a CQ of 16", uring_cq_ready(r));
    static int seen[N];
    memset(seen, 0, sizeof seen);
    int got = 0;
    while (got < N) {
        struct io_uring_cqe c;
        REQUIRE(uring_wait(r, &c) == 0, "wait");
        REQUIRE(c.user_data < N && c.res == 0, "cqe ud %lu res %d", (unsigned long)c.user_data, c.res);
        seen[c.user_data]++;
        got++;
    }
    for (int i = 0; i < N; i++)
        REQUIRE(seen[i] == 1, "nop %d seen %d times", i, seen[i]);
    sleep_ms(10);
    REQUIRE(uring_cq_ready(r) == 0, "extra completions");
    REQUIRE(!(*r->sq_flags & IORING_SQ_CQ_OVERFLOW), "overflow flag still set");
    REQUIRE(*r->cq_overflow == 0, "%u completions dropped", *r->cq_overflow);
    return 0;
}

static int t_bad_opcode(void)
{
    struct uring *r = ring(8);
    sqe(r, 200, -1, 0, 0, 1);
    sqe(r, IORING_OP_FSYNC, 0, 0, 0, 2);
    sqe(r, IORING_OP_LAST, 0, 0, 0, 3);
    REQUIRE(uring_enter(r, 3, 3, IORING_ENTER_GETEVENTS) == 3, "enter");
    REQUIRE(collect(r, 3) == 0, "stray");
    REQUIRE(res_of[1] == -EINVAL && res_of[2] == -EINVAL && res_of[3] == -EINVAL, "res %ld %ld %ld",
            (long)res_of[1], (long)res_of[2], (long)res_of[3]);
    return 0;
}

static int t_bad_fd(void)
{
    struct uring *r = ring(8);
    char buf[8];
    sqe(r, IORING_OP_READ, 63, (uint64_t)buf, 8, 1);
    sqe(r, IORING_OP_WRITE, -1, (uint64_t)buf, 8, 2);
    sqe(r, IORING_OP_POLL_ADD, 1000000, 0, 0, 3)->poll32_events = POLLIN;
    sqe(r, IORING_OP_READV, 63, (uint64_t)buf, 1, 4);
    sqe(r, IORING_OP_MSG_RING, 63, 0, 0, 5);
    sqe(r, IORING_OP_READ, r->fd, (uint64_t)buf, 8, 6);     /* a ring is not readable */
    REQUIRE(uring_enter(r, 6, 6, IORING_ENTER_GETEVENTS) == 6, "enter");
    REQUIRE(collect(r, 6) == 0, "stray");
    for (int i = 1; i <= 5; i++)
        REQUIRE(res_of[i] == -EBADF, "op %d: %ld", i, (long)res_of[i]);
    REQUIRE(res_of[6] < 0, "READ of the ring fd: %ld", (long)res_of[6]);
    long e = u_syscall6(__NR_io_uring_enter, 63, 1, 0, 0, 0, 0);
    REQUIRE(e == -EBADF, "enter on fd 63: %ld", e);
    e = u_syscall6(__NR_io_uring_enter, 0, 1, 0, 0, 0, 0);
    REQUIRE(e == -EOPNOTSUPP, "enter on the console: %ld", e);
    e = u_syscall6(__NR_io_uring_enter, r->fd, 0, 0, 1u << 30, 0, 0);
    REQUIRE(e == -EINVAL, "enter with unknown flags: %ld", e);
    return 0;
}

static int t_bad_buffer(void)
{
    struct uring *r = ring(16);
    int p[2];
    mkpipe(p, 0);
    char buf[64];
    memset(buf, 'd', sizeof buf);
    REQUIRE(write(p[1], buf, sizeof buf) == sizeof buf, "write");
    struct iovec kv = { (void *)KADDR, 8 };
    struct __kernel_timespec *kts = (void *)KADDR;
    sqe(r, IORING_OP_READ, p[0], 0, 8, 1);
    sqe(r, IORING_OP_READ, p[0], KADDR, 8, 2);
    sqe(r, IORING_OP_WRITE, p[1], 0, 8, 3);
    sqe(r, IORING_OP_WRITE, 1, KADDR, 8, 4);
    sqe(r, IORING_OP_READV, p[0], KADDR, 1, 5);
    sqe(r, IORING_OP_READV, p[0], (uint64_t)&kv, 1, 6);
    sqe(r, IORING_OP_TIMEOUT, -1, (uint64_t)kts, 1, 7);
    sqe(r, IORING_OP_READ, p[0], KADDR + 0x1000000, 0x7fffffff, 8);
    REQUIRE(uring_enter(r, 8, 8, IORING_ENTER_GETEVENTS) == 8, "enter");
    REQUIRE(collect(r, 8) == 0, "stray");
    for (int i = 1; i <= 8; i++)
        REQUIRE(res_of[i] == -EFAULT, "op %d: %ld", i, (long)res_of[i]);
    /* SQE array and SQEs are fine; the kernel too */
    sqe(r, IORING_OP_READ, p[0], (uint64_t)buf, sizeof buf, 9);
    REQUIRE(uring_enter(r, 1, 1, IORING_ENTER_GETEVENTS) == 1, "enter");
    REQUIRE(collect(r, 1) == 0 && res_of[9] > 0, "good read after bad ones: %ld", (long)res_of[9]);
    return 0;
}

static int t_corrupt_sq(void)
{
    struct uring *r = ring(8);
    /* indexes past the SQE array: dropped and counted */
    uint32_t dropped = *r->sq_dropped;
    for (int i = 0; i < 3; i++)
        r->sq_array[(r->tail + i) & r->sq_mask] = 0xdeadbeef - i;
    r->tail += 3;
    long e = uring_enter(r, 3, 0, 0);
    REQUIRE(e >= 0 && e <= 3, "enter with bad indexes: %ld", e);
    REQUIRE(*r->sq_dropped == dropped + 3, "dropped %u -> %u", dropped, *r->sq_dropped);
    REQUIRE(*r->sq_head == r->tail, "head %u tail %u", *r->sq_head, r->tail);
    sleep_ms(10);
    REQUIRE(uring_cq_ready(r) == 0, "completions for dropped SQEs");
    /* a tail absurdly far ahead: at most one ring's worth is taken */
    for (int i = 0; i < 8; i++)
        sqe(r, IORING_OP_NOP, -1, 0, 0, 40 + i);
    uint32_t head = *r->sq_head;
    *r->sq_tail = head + 1000000;
    e = u_syscall6(__NR_io_uring_enter, r->fd, 1000000, 0, 0, 0, 0);
    uint32_t took = *r->sq_head - head;
    REQUIRE(e >= 0 && e <= 8 && took <= 8, "tail +1e6: enter %ld, head moved %u", e, took);
    REQUIRE(collect(r, (int)e) >= 0, "wait");
    /* a tail behind the head */
    head = *r->sq_head;
    *r->sq_tail = head - 5;
    e = u_syscall6(__NR_io_uring_enter, r->fd, 100, 0, 0, 0, 0);
    took = *r->sq_head - head;
    REQUIRE(e >= 0 && e <= 8 && took <= 8, "tail behind: enter %ld, head moved %u", e, took);
    REQUIRE(collect(r, (int)e) >= 0, "wait");
    /* back to sanity: our tail is the kernel's head */
    r->tail = *r->sq_head;
    *r->sq_tail = r->tail;
    sleep_ms(10);
    while (uring_cq_ready(r)) {
        struct io_uring_cqe c;
        uring_pop(r, &c);
    }
    /* scribbled read-only fields are the kernel's business no more */
    *(uint32_t *)(r->ring + r->p.sq_off.ring_mask) = 0xffffffff;
    *(uint32_t *)(r->ring + r->p.sq_off.ring_entries) = 0;
    *(uint32_t *)(r->ring + r->p.cq_off.ring_mask) = 0x12345;
    *(uint32_t *)(r->ring + r->p.cq_off.ring_entries) = 0xffffffff;
    for (int i = 0; i < 4; i++)
        sqe(r, IORING_OP_NOP, -1, 0, 0, 60 + i);
    e = uring_enter(r, 4, 4, IORING_ENTER_GETEVENTS);
    REQUIRE(e == 4, "enter after scribbles: %ld", e);
    REQUIRE(collect(r, 4) == 0, "stray");
    for (int i = 0; i < 4; i++)
        REQUIRE(res_of[60 + i] == 0, "nop after scribbles");
    return 0;
}

static int t_corrupt_cq(void)
{
    struct uring *r = ring(8);
    /* a CQ head that makes no sense: the kernel takes the ring as full */
    uint32_t tail = *r->cq_tail;
    *r->cq_head = tail + 100000;
    for (int i = 0; i < 4; i++)
        sqe(r, IORING_OP_NOP, -1, 0, 0, 1 + i);
    REQUIRE(uring_enter(r, 4, 0, 0) == 4, "enter");
    for (int i = 0; i < 1000 && !(*r->sq_flags & IORING_SQ_CQ_OVERFLOW); i++)
        sleep_ms(1);
    REQUIRE(*r->sq_flags & IORING_SQ_CQ_OVERFLOW, "no overflow with a nonsense head");
    REQUIRE(*r->cq_tail == tail, "CQEs written past a nonsense head");
    *r->cq_head = tail;                 /* repaired: everything arrives */
    REQUIRE(collect(r, 4) == 0, "stray");
    for (int i = 1; i <= 4; i++)
        REQUIRE(res_of[i] == 0, "nop %d: %ld", i, (long)res_of[i]);
    /* a head moved back: the kernel sees old entries as unread, no more */
    *r->cq_head = *r->cq_tail - 3;
    sqe(r, IORING_OP_NOP, -1, 0, 0, 9);
    REQUIRE(uring_enter(r, 1, 4, IORING_ENTER_GETEVENTS) == 1, "enter");
    REQUIRE(collect(r, 4) == 0 && order[3] == 9, "after moving the head back");
    /* the CQ tail scribbled: the kernel writes its own next time */
    tail = *r->cq_tail;
    *r->cq_tail = 0x7777777;
    sqe(r, IORING_OP_NOP, -1, 0, 0, 10);
    long e = uring_enter(r, 1, 0, 0);
    REQUIRE(e == 1, "enter: %ld", e);
    for (int i = 0; i < 1000 && *r->cq_tail != tail + 1; i++)
        sleep_ms(1);
    REQUIRE(*r->cq_tail == tail + 1, "cq tail %#x, expected %#x", *r->cq_tail, tail + 1);
    REQUIRE(collect(r, 1) == 0 && order[0] == 10, "after a scribbled tail");
    return 0;
}

static int t_ebusy(void)
{
    struct uring *r = ring(16);
    int p[2];
    mkpipe(p, 0);
    static char buf[4096];
    int n = 0;
    long e = 0;
    for (; n < 4000; n++) {
        sqe(r, IORING_OP_READ, p[0], (uint64_t)&buf[n], 1, n);
        e = uring_enter(r, 1, 0, 0);
        if (e != 1)
            break;
    }
    REQUIRE(e == -EBUSY, "after %d reads in flight enter said %ld, not -EBUSY", n, e);
    REQUIRE(n >= (int)r->sq_entries, "-EBUSY after only %d", n);
    REQUIRE(*r->sq_head == r->tail - 1, "the refused SQE was consumed");
    printf("uring_test: -EBUSY after %d reads in flight\n", n);
    /* unblock everything: n + 1 bytes for n + 1 reads */
    for (int i = 0; i <= n; i++)
        REQUIRE(write(p[1], "x", 1) == 1, "write");
    static int seen[4001];
    memset(seen, 0, sizeof seen);
    bool pending = true;
    int got = 0;
    while (got < n + 1) {
        struct io_uring_cqe c;
        if (pending) {
            e = uring_enter(r, 1, 0, 0);
            if (e == 1)
                pending = false;
            else
                REQUIRE(e == -EBUSY, "resubmit: %ld", e);
        }
        if (!uring_pop(r, &c)) {
            e = uring_enter(r, 0, 1, IORING_ENTER_GETEVENTS);
            REQUIRE(e >= 0, "wait: %ld", e);
            continue;
        }
        REQUIRE(c.user_data <= (uint64_t)n && c.res == 1, "ud %lu res %d", (unsigned long)c.user_data, c.res);
        seen[c.user_data]++;
        got++;
    }
    for (int i = 0; i <= n; i++)
        REQUIRE(seen[i] == 1, "read %d seen %d times", i, seen[i]);
    sleep_ms(10);
    REQUIRE(uring_cq_ready(r) == 0, "extra completions");
    return 0;
}

/* A child sets up operations that cannot complete, then dies. */
static void child_with_ops_in_flight(int how)
{
    struct uring r;
    int p[2];
    if (uring_open(&r, 32, NULL) < 0 || pipe(p) < 0)
        _exit(2);
    static char buf[64];
    static struct __kernel_timespec ts = { .tv_sec = 100 };
    for (int i = 0; i < 16; i++) {
        struct io_uring_sqe *s = uring_sqe(&r);
        s->opcode = IORING_OP_READ, s->fd = p[0], s->addr = (uint64_t)&buf[i], s->len = 1;
    }
    struct io_uring_sqe *s = uring_sqe(&r);
    s->opcode = IORING_OP_TIMEOUT, s->addr = (uint64_t)&ts, s->len = 1;
    s = uring_sqe(&r);
    s->opcode = IORING_OP_POLL_ADD, s->fd = p[0], s->poll32_events = POLLIN;
    s = uring_sqe(&r);
    s->opcode = IORING_OP_READ, s->fd = p[0], s->addr = (uint64_t)buf, s->len = 1, s->flags = IOSQE_IO_LINK;
    s = uring_sqe(&r);
    s->opcode = IORING_OP_WRITE, s->fd = p[1], s->addr = (uint64_t)buf, s->len = 1, s->flags = IOSQE_IO_LINK;
    s = uring_sqe(&r);
    s->opcode = IORING_OP_LINK_TIMEOUT, s->addr = (uint64_t)&ts, s->len = 1;
    for (int i = 0; i < 40; i++) {      /* and a few completions nobody reaps, some overflowing */
        s = uring_sqe(&r);
        if (!s) {
            uring_enter(&r, r.tail - *r.sq_head, 0, 0);
            s = uring_sqe(&r);
        }
        s->opcode = IORING_OP_NOP;
    }
    uring_enter(&r, r.tail - *r.sq_head, 0, 0);
    if (how == 0)
        _exit(0);                       /* exit with all that in flight */
    uring_enter(&r, 0, 1000, IORING_ENTER_GETEVENTS);  /* killed while waiting */
    _exit(3);
}

static int t_exit_in_flight(void)
{
    long base_pages = 0, base_objs = 0, pages, objs;
    /* rounds 0 and 1 (one of each kind) warm up: this process's own first
     * use of a stack or data page must not count as the kernel's */
    for (int round = 0; round < 8; round++) {
        if (round == 2)
            REQUIRE(mem_free(&base_pages, &base_objs) == 0, "/proc/mem");
        int how = round & 1;
        pid_t pid = fork();
        REQUIRE(pid >= 0, "fork: %d", errno);
        if (pid == 0)
            child_with_ops_in_flight(how);
        if (how)
            sleep_ms(30), kill(pid, SIGKILL);
        int st;
        REQUIRE(waitpid(pid, &st, 0) == pid, "waitpid");
        if (how)
            REQUIRE(WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) == 0), "child status %#x", st);
        else
            REQUIRE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
    }
    /*
     * Cancelled operations finish on their own harts: give them a moment.
     * SLACK: an idle hart holds back the page-table root of the last
     * process it ran until it runs another (arch/riscv/pagetable.c: at
     * most one per hart), so the free count may end a few pages short
     * with nothing lost.  What one round would leak (its ring's two
     * pages, or its whole address space) times six rounds is beyond it.
     */
    enum { SLACK = 4 };
    for (int i = 0; i < 200; i++) {
        REQUIRE(mem_free(&pages, &objs) == 0, "/proc/mem");
        if (pages >= base_pages && objs <= base_objs)
            break;
        sleep_ms(10);
    }
    printf("uring_test: free pages %ld -> %ld, kmalloc objects %ld -> %ld after 6 rounds\n", base_pages,
           pages, base_objs, objs);
    if (pages + SLACK < base_pages) {   /* show the whole report */
        char buf[512];
        int fd = open("/proc/mem", O_RDONLY);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
        if (fd >= 0)
            close(fd);
        buf[n > 0 ? n : 0] = 0;
        printf("%s", buf);
    }
    REQUIRE(pages + SLACK >= base_pages, "%ld pages lost", base_pages - pages);
    REQUIRE(objs <= base_objs, "%ld kmalloc objects lost", objs - base_objs);
    return 0;
}


/* ---- issue checks: each fails on the kernel before its fix -------------------- */

/* READ on a bad fd -> NOP -> LINK_TIMEOUT: the chain breaks before the NOP
 * starts, and still every SQE gets its completion (Linux: the LINK_TIMEOUT
 * says -ECANCELED too), at once, not when the timeout would have fired. */
static int t_link_timeout_cancelled_before_start(void)
{
    struct uring *r = ring(8);
    char buf[8];
    struct __kernel_timespec ts = ts_ms(1000);
    sqe(r, IORING_OP_READ, 63, (uint64_t)buf, sizeof buf, 1)->flags = IOSQE_IO_LINK;
    sqe(r, IORING_OP_NOP, -1, 0, 0, 2)->flags = IOSQE_IO_LINK;
    sqe(r, IORING_OP_LINK_TIMEOUT, -1, (uint64_t)&ts, 1, 3);
    REQUIRE(uring_enter(r, 3, 2, IORING_ENTER_GETEVENTS) == 3, "enter");
    REQUIRE(collect(r, 2) == 0, "stray");
    /* the third is posted with the other two; give it well past the
     * timeout's own second, in case it only came from there */
    for (int i = 0; i < 300 && !uring_cq_ready(r); i++)
        sleep_ms(10);
    REQUIRE(uring_cq_ready(r) == 1, "%u completions after the first two, not 1", uring_cq_ready(r));
    REQUIRE(collect(r, 1) == 0, "stray");
    REQUIRE(res_of[1] == -EBADF && res_of[2] == -ECANCELED && res_of[3] == -ECANCELED,
            "read %ld, nop %ld, link timeout %ld", (long)res_of[1], (long)res_of[2], (long)res_of[3]);
    sleep_ms(10);
    REQUIRE(uring_cq_ready(r) == 0, "extra completions");
    return 0;
}

/* READ -> READ -> LINK_TIMEOUT 600 ms; the data comes at 900 ms.  The
 * timeout guards the second READ from when it starts (when the first one
 * finishes), as on Linux: it has not expired when its READ finds data. */
static int t_link_timeout_clock_starts_with_op(void)
{
    struct uring *r = ring(8);
    int p[2];
    mkpipe(p, 0);
    char a[1], b[1];
    struct __kernel_timespec ts = ts_ms(600);
    sqe(r, IORING_OP_READ, p[0], (uint64_t)a, 1, 1)->flags = IOSQE_IO_LINK;
    sqe(r, IORING_OP_READ, p[0], (uint64_t)b, 1, 2)->flags = IOSQE_IO_LINK;
    sqe(r, IORING_OP_LINK_TIMEOUT, -1, (uint64_t)&ts, 1, 3);
    REQUIRE(uring_enter(r, 3, 0, 0) == 3, "enter");
    sleep_ms(900);
    REQUIRE(uring_cq_ready(r) == 0, "%u completions before any data", uring_cq_ready(r));
    REQUIRE(write(p[1], "xy", 2) == 2, "write");
    REQUIRE(collect(r, 3) == 0, "stray");
    REQUIRE(res_of[1] == 1 && res_of[2] == 1 && res_of[3] == -ECANCELED,
            "read %ld, read %ld, link timeout %ld (-ETIME: its clock ran before its op started)",
            (long)res_of[1], (long)res_of[2], (long)res_of[3]);
    REQUIRE(a[0] == 'x' && b[0] == 'y', "contents");
    return 0;
}

/* MSG_RING from `from` to `to`; returns the sender's result. */
static long msg(struct uring *from, struct uring *to, uint64_t ud, uint32_t val)
{
    struct io_uring_sqe *s = sqe(from, IORING_OP_MSG_RING, to->fd, 0, val, 0xabc);
    s->off = ud;
    if (uring_enter(from, 1, 1, IORING_ENTER_GETEVENTS) != 1)
        return -1000;
    struct io_uring_cqe c;
    if (uring_wait(from, &c) < 0 || c.user_data != 0xabc)
        return -1001;
    return c.res;
}

/* Send until the first -EOVERFLOW (at most `max`); how many got through. */
static int msg_until_full(struct uring *from, struct uring *to, uint64_t ud0, int max, long *last)
{
    int ok = 0;
    for (; ok < max; ok++) {
        *last = msg(from, to, ud0 + ok, (uint32_t)(ud0 + ok));
        if (*last != 0)
            break;
    }
    return ok;
}

/* Reap everything in r: the user_data must run ud0, ud0+1, ... n of them. */
static int reap_in_order(struct uring *r, uint64_t ud0, int n)
{
    for (int i = 0; i < n; i++) {
        struct io_uring_cqe c;
        if (uring_wait(r, &c) < 0 || c.user_data != ud0 + i || c.res != (int32_t)(ud0 + i))
            return i;
    }
    return n;
}

/*
 * Issue 13.1: MSG_RING into a ring nobody reaps.  A full ring keeps at most
 * cq_entries messages waiting, and a sender at most its own cq_entries in
 * all rings; past either the sender gets -EOVERFLOW.  Nothing is lost: what
 * was accepted arrives in order when the target reaps, and the kernel's
 * objects do not grow with the number of messages sent.
 */
static int t_msg_ring_overflow_bounded(void)
{
    struct uring *a = ring(1), *b = ring(1), *c = ring(1), *big = ring(64);
    REQUIRE(a->cq_entries == 2 && b->cq_entries == 2 && c->cq_entries == 2, "cq sizes");
    long pages0, objs0, pages1, objs1, last = 0;
    REQUIRE(mem_free(&pages0, &objs0) == 0, "/proc/mem");
    /* a big sender into b (one entry): 2 in its CQ, 2 waiting, then refused */
    int ok = msg_until_full(big, b, 100, 20000, &last);
    REQUIRE(last == -EOVERFLOW, "after %d messages into a full ring: %ld, not -EOVERFLOW", ok, last);
    REQUIRE(ok == 4, "%d messages accepted by a ring of 2 CQEs (2 + 2 waiting expected)", ok);
    for (int i = 0; i < 1000; i++)      /* refused, and still refused: nothing piles up */
        REQUIRE(msg(big, b, 9999, 0) == -EOVERFLOW, "message %d into the full ring", i);
    REQUIRE(mem_free(&pages1, &objs1) == 0, "/proc/mem");
    REQUIRE(objs1 - objs0 < 16, "kmalloc objects %ld -> %ld after 1004 messages", objs0, objs1);
    int p[2];
    mkpipe(p, 0);                       /* other things still get memory */
    /* the sender's own bound: a (2 CQEs) may keep 2 messages waiting in all */
    ok = msg_until_full(a, c, 200, 100, &last);
    REQUIRE(ok == 4 && last == -EOVERFLOW, "a into c: %d accepted, then %ld", ok, last);
    struct uring *d = ring(1);
    ok = msg_until_full(a, d, 300, 100, &last);
    REQUIRE(ok == 2 && last == -EOVERFLOW, "a into d with 2 messages waiting in c: %d accepted, then %ld", ok,
            last);
    /* reaping gives it all, in order, and gives the charges back */
    REQUIRE(reap_in_order(b, 100, 4) == 4, "b did not get messages 100..103 in order");
    REQUIRE(reap_in_order(c, 200, 4) == 4, "c did not get messages 200..203 in order");
    REQUIRE(reap_in_order(d, 300, 2) == 2, "d did not get messages 300..301 in order");
    sleep_ms(10);
    REQUIRE(!uring_cq_ready(b) && !uring_cq_ready(c) && !uring_cq_ready(d), "extra messages");
    REQUIRE(*b->cq_overflow == 0, "b dropped %u", *b->cq_overflow);
    ok = msg_until_full(a, d, 400, 100, &last);
    REQUIRE(ok == 4 && last == -EOVERFLOW, "a into d after reaping: %d accepted, then %ld", ok, last);
    REQUIRE(reap_in_order(d, 400, 4) == 4, "d did not get messages 400..403 in order");
    return 0;
}

/* Flip an SQE's opcode between READ and TIMEOUT as fast as possible. */
static _Atomic int flipping;
static void *flip_opcode(void *arg)
{
    volatile uint8_t *op = arg;
    for (unsigned i = 1; atomic_load_explicit(&flipping, memory_order_relaxed); i++) {
        *op = IORING_OP_READ;
        *op = IORING_OP_TIMEOUT;
        /* now and then let the submitter have this hart: a thread whose
         * ring publishes no priority hint runs below one that spins */
        if (i % 1024 == 0)
            u_nanosleep(0, 20000);
    }
    return NULL;
}

/*
 * Issue 8.5: the kernel reads each SQE once.  While another thread flips
 * one SQE's opcode between READ (fd -1: -EBADF at once) and TIMEOUT (100 s),
 * every submission must behave as one of the two: a READ, or a TIMEOUT
 * still pending until cancelled.  Reading the opcode twice made some
 * "TIMEOUT"s skip their set-up and end at once with -ETIME.
 */
static int t_sqe_read_once(void)
{
    struct uring *r = ring(8);
    static struct __kernel_timespec ts = { .tv_sec = 100 };
    struct io_uring_sqe *s0 = &r->sqes[0], *s1 = &r->sqes[1];
    memset(s0, 0, sizeof *s0);
    s0->opcode = IORING_OP_TIMEOUT;
    s0->fd = -1;
    s0->addr = (uint64_t)&ts;
    s0->len = 1;
    pthread_t th;
    atomic_store(&flipping, 1);
    REQUIRE(pthread_create(&th, NULL, flip_opcode, &s0->opcode) == 0, "pthread_create");
    int reads = 0, timeouts = 0, bad = 0;
    long bad_res = 0;
    for (uint64_t i = 1; i <= 10000; i++) {
        s0->user_data = i;
        r->sq_array[r->tail++ & r->sq_mask] = 0;
        long e = uring_enter(r, 1, 0, 0);
        if (e != 1) {
            bad_res = e;
            bad++;
            break;
        }
        memset(s1, 0, sizeof *s1);
        s1->opcode = IORING_OP_ASYNC_CANCEL;
        s1->addr = i;
        s1->user_data = 0;
        r->sq_array[r->tail++ & r->sq_mask] = 1;
        if (uring_enter(r, 1, 2, IORING_ENTER_GETEVENTS) != 1) {
            bad++;
            break;
        }
        for (int k = 0; k < 2; k++) {
            struct io_uring_cqe c;
            if (uring_wait(r, &c) < 0)
                break;
            if (c.user_data == 0)
                continue;               /* the cancel's own */
            if (c.res == -EBADF)
                reads++;
            else if (c.res == -ECANCELED)
                timeouts++;
            else if (!bad++)
                bad_res = c.res;
        }
    }
    atomic_store(&flipping, 0);
    pthread_join(th, NULL);
    printf("uring_test: flipped SQE ran as %d READs and %d TIMEOUTs\n", reads, timeouts);
    REQUIRE(!bad, "%d submissions were neither a READ nor a pending TIMEOUT (e.g. %ld)", bad, bad_res);
    REQUIRE(reads + timeouts == 10000, "%d completions of 10000", reads + timeouts);
    return 0;
}

/* POLL_ADD for POLLIN|POLLOUT on a full pipe's write end: room made by a
 * reader must end it (it used to wait on the input side only, woken by
 * every write and never by room). */
static int t_poll_add_both_sides(void)
{
    struct uring *r = ring(8);
    int p[2];
    mkpipe(p, O_NONBLOCK);
    static char fill[4096];
    int n = 0;
    while (write(p[1], fill, sizeof fill) > 0 || write(p[1], fill, 1) > 0)
        n++;
    REQUIRE(n > 0, "pipe never filled");
    sqe(r, IORING_OP_POLL_ADD, p[1], 0, 0, 1)->poll32_events = POLLIN | POLLOUT;
    REQUIRE(uring_enter(r, 1, 0, 0) == 1, "enter");
    sleep_ms(20);
    REQUIRE(uring_cq_ready(r) == 0, "POLLOUT on a full pipe completed");
    char c;
    REQUIRE(read(p[0], &c, 1) == 1, "read");
    for (int i = 0; i < 300 && !uring_cq_ready(r); i++)
        sleep_ms(10);
    REQUIRE(uring_cq_ready(r) == 1, "no completion after the reader made room");
    REQUIRE(collect(r, 1) == 0 && res_of[1] == POLLOUT, "poll result %ld", (long)res_of[1]);
    return 0;
}

/* Issue 13.4 (the io_uring part): TIMEOUTs and LINK_TIMEOUTs too long to
 * count in ticks last for ever, not wrap round to nearly nothing. */
static int t_huge_timeouts_do_not_wrap(void)
{
    struct uring *r = ring(8);
    int p[2];
    mkpipe(p, 0);
    char buf[4];
    static struct __kernel_timespec huge[2] = { { 1844674407371LL, 0 }, { INT64_MAX, 999999999 } };
    sqe(r, IORING_OP_TIMEOUT, -1, (uint64_t)&huge[0], 1, 1);
    sqe(r, IORING_OP_TIMEOUT, -1, (uint64_t)&huge[1], 1, 2);
    sqe(r, IORING_OP_READ, p[0], (uint64_t)buf, 1, 3)->flags = IOSQE_IO_LINK;
    sqe(r, IORING_OP_LINK_TIMEOUT, -1, (uint64_t)&huge[0], 1, 4);
    sqe(r, IORING_OP_READ, p[0], (uint64_t)buf, 1, 5)->flags = IOSQE_IO_LINK;
    sqe(r, IORING_OP_LINK_TIMEOUT, -1, (uint64_t)&huge[1], 1, 6);
    REQUIRE(uring_enter(r, 6, 0, 0) == 6, "enter");
    sleep_ms(300);
    REQUIRE(uring_cq_ready(r) == 0, "%u of them ended within 300 ms", uring_cq_ready(r));
    static const int target[] = { 1, 2, 3, 5 };
    for (int i = 0; i < 4; i++)
        sqe(r, IORING_OP_ASYNC_CANCEL, -1, target[i], 0, 10 + i);
    REQUIRE(uring_enter(r, 4, 0, 0) == 4, "enter");
    REQUIRE(collect(r, 10) == 0, "stray");
    REQUIRE(res_of[1] == -ECANCELED && res_of[2] == -ECANCELED, "TIMEOUTs: %ld %ld", (long)res_of[1],
            (long)res_of[2]);
    REQUIRE(res_of[3] == -ECANCELED && res_of[4] == -ECANCELED, "READ + LINK_TIMEOUT: %ld %ld",
            (long)res_of[3], (long)res_of[4]);
    REQUIRE(res_of[5] == -ECANCELED && res_of[6] == -ECANCELED, "READ + LINK_TIMEOUT: %ld %ld",
            (long)res_of[5], (long)res_of[6]);
    return 0;
}

/* uring_op tasks in /proc/tasks, or -1. */
static int uring_ops_live(void)
{
    static char buf[64 * 1024];
    int fd = open("/proc/tasks", O_RDONLY);
    if (fd < 0)
        return -1;
    size_t n = 0;
    ssize_t k;
    while (n < sizeof buf - 1 && (k = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)k;
    close(fd);
    buf[n] = 0;
    int count = 0;
    for (char *p = buf; (p = strstr(p, " uring_op ")); p++)
        count++;
    return count;
}

/*
 * As on Linux, execve ends the io_uring operations the old image started,
 * even when the ring's fd stays open across it: a child submits a READ
 * that cannot complete, then execs `sleep 30`; the READ must be gone while
 * the new image still runs.
 */
static int t_exec_cancels_operations(void)
{
    int before = uring_ops_live();
    REQUIRE(before >= 0, "/proc/tasks");
    int go[2];
    REQUIRE(pipe(go) == 0, "pipe");
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork");
    if (pid == 0) {
        struct uring r;
        int p[2];
        static char buf[8];
        if (uring_open(&r, 4, NULL) < 0 || pipe(p) < 0)
            _exit(2);
        struct io_uring_sqe *s = uring_sqe(&r);
        s->opcode = IORING_OP_READ, s->fd = p[0], s->addr = (uint64_t)buf, s->len = 1;
        if (uring_enter(&r, 1, 0, 0) != 1)
            _exit(3);
        if (write(go[1], "s", 1) != 1)
            _exit(4);
        execl("/bin/sleep", "sleep", "30", (char *)NULL);
        _exit(5);
    }
    close(go[1]);
    char c;
    REQUIRE(read(go[0], &c, 1) == 1, "child failed before exec");
    close(go[0]);
    int live = -1;
    for (int i = 0; i < 1000; i++) {    /* up to 10 s of the child's 30 */
        live = uring_ops_live();
        if (live <= before)
            break;
        sleep_ms(10);
    }
    int st;
    bool running = waitpid(pid, &st, WNOHANG) == 0;
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    REQUIRE(running, "the child was not in its new image any more");
    REQUIRE(live <= before, "%d uring_op tasks while the new image runs (%d before)", live, before);
    return 0;
}

/* Watch fd `watch`: count the moments it is open. */
static _Atomic int watching, seen_open;
static int watched_fd;
static void *watch_fd(void *arg)
{
    (void)arg;
    while (atomic_load_explicit(&watching, memory_order_relaxed))
        if (fcntl(watched_fd, F_GETFD) >= 0)
            atomic_fetch_add(&seen_open, 1);
    return NULL;
}

/*
 * Issue 13 (examine): pipe2 and io_uring_setup whose results cannot be
 * copied out fail with -EFAULT without ever installing a descriptor, so
 * they cannot close one another thread opened meanwhile under the same
 * number.  A second thread watches the lowest free fd all along.
 */
static int t_failed_copyout_installs_nothing(void)
{
    int probe = dup(0);
    REQUIRE(probe >= 0, "dup");
    close(probe);
    watched_fd = probe;                 /* what pipe2 and io_uring_setup would take */
    char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(ro != MAP_FAILED, "mmap");
    pthread_t th;
    atomic_store(&seen_open, 0);
    atomic_store(&watching, 1);
    REQUIRE(pthread_create(&th, NULL, watch_fd, NULL) == 0, "pthread_create");
    int bad = 0;
    long e = 0;
    for (int i = 0; i < 3000 && !bad; i++) {
        e = u_syscall2(__NR_pipe2, ro, 0);
        bad += e != -EFAULT;
        if (i % 8 == 0) {
            e = uring_setup_raw(2, (struct io_uring_params *)ro);      /* zeros: readable, not writable */
            bad += e != -EFAULT;
        }
    }
    atomic_store(&watching, 0);
    pthread_join(th, NULL);
    munmap(ro, 4096);
    REQUIRE(!bad, "a call with an unwritable result said %ld, not -EFAULT", e);
    REQUIRE(fcntl(probe, F_GETFD) < 0, "fd %d left open", probe);
    REQUIRE(atomic_load(&seen_open) == 0, "another thread saw fd %d open %d times", probe,
            atomic_load(&seen_open));
    return 0;
}

/*
 * A pipe READ submitted by the very io_uring_enter that then waits is
 * polled by that wait, with the thread's waker (uring.h: struct
 * enter_wait).  Whatever ends the wait -- a signal, enough other
 * completions, the process's death -- the READ lives on as any other
 * operation: it completes when data comes, or is cancelled and freed.
 */
static void on_alarm(int sig) { (void)sig; }

static int t_owned_read_outlives_the_wait(void)
{
    struct uring *r = ring(8);
    int p[2];
    mkpipe(p, 0);
    char buf[16] = { 0 };
    /* a signal ends the wait: the READ completes later, on its own */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;           /* no SA_RESTART */
    REQUIRE(sigaction(SIGALRM, &sa, NULL) == 0, "sigaction");
    struct itimerval it = { .it_value = { 0, 30000 } };
    REQUIRE(setitimer(ITIMER_REAL, &it, NULL) == 0, "setitimer");
    sqe(r, IORING_OP_READ, p[0], (uint64_t)buf, sizeof buf, 1);
    long e = uring_enter(r, 1, 1, IORING_ENTER_GETEVENTS);
    REQUIRE(e == 1, "interrupted enter gave %ld (errno %d)", e, errno);
    REQUIRE(uring_cq_ready(r) == 0, "a read of an empty pipe completed");
    REQUIRE(write(p[1], "abc", 3) == 3, "write");
    REQUIRE(collect(r, 1) == 0 && order[0] == 1 && res_of[1] == 3, "READ after the signal: ud %lu res %ld",
            (unsigned long)order[0], (long)res_of[1]);
    /* another completion ends the wait first */
    sqe(r, IORING_OP_READ, p[0], (uint64_t)buf, sizeof buf, 2);
    sqe(r, IORING_OP_NOP, -1, 0, 0, 3);
    REQUIRE(uring_enter(r, 2, 1, IORING_ENTER_GETEVENTS) == 2, "enter");
    REQUIRE(collect(r, 1) == 0 && order[0] == 3, "first completion ud %lu", (unsigned long)order[0]);
    REQUIRE(write(p[1], "de", 2) == 2, "write");
    REQUIRE(collect(r, 1) == 0 && order[0] == 2 && res_of[2] == 2, "READ after the NOP: res %ld",
            (long)res_of[2]);
    /* the wait owns the READ and the pipe's writer wakes it: two
     * completions wanted, a TIMEOUT's and the READ's */
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork");
    if (pid == 0) {
        sleep_ms(50);
        _exit(write(p[1], "f", 1) == 1 ? 0 : 1);
    }
    struct __kernel_timespec ts = ts_ms(20);
    sqe(r, IORING_OP_TIMEOUT, -1, (uint64_t)&ts, 1, 4);
    sqe(r, IORING_OP_READ, p[0], (uint64_t)buf, sizeof buf, 5);
    REQUIRE(uring_enter(r, 2, 2, IORING_ENTER_GETEVENTS) == 2, "enter");
    REQUIRE(uring_cq_ready(r) == 2, "%u completions after a wait for 2", uring_cq_ready(r));
    REQUIRE(collect(r, 2) == 0 && res_of[4] == -ETIME && res_of[5] == 1, "TIMEOUT %ld READ %ld",
            (long)res_of[4], (long)res_of[5]);
    waitpid(pid, NULL, 0);
    /* the process dies waiting: its READ is cancelled and freed */
    pid = fork();
    REQUIRE(pid >= 0, "fork");
    if (pid == 0) {
        struct uring *c = ring(8);
        sqe(c, IORING_OP_READ, p[0], (uint64_t)buf, sizeof buf, 6);
        uring_enter(c, 1, 1, IORING_ENTER_GETEVENTS);
        _exit(3);
    }
    sleep_ms(30);
    kill(pid, SIGKILL);
    int st;
    REQUIRE(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st), "child status %#x", st);
    int live = -1;
    for (int i = 0; i < 200 && (live = uring_ops_live()) != 0; i++)
        sleep_ms(10);
    REQUIRE(live == 0, "%d io_uring operations left after the process died", live);
    REQUIRE(write(p[1], "g", 1) == 1 && read(p[0], buf, 1) == 1, "the pipe still works");
    return 0;
}

/* ---- driver ------------------------------------------------------------------- */


/*
 * A READ's copy-out into a page this process shares copy-on-write with a
 * child (fork) gives the process a new copy while a second thread, on
 * another hart, keeps a translation of the old one.  That thread polls
 * the CQ ring in user mode and reads the buffer as soon as the CQE is
 * there: it must see the bytes read, i.e. the CQE must not be posted
 * before that hart has dropped its stale translation (the shootdown the
 * address space owes).  Rounds: each forks afresh (the page shared again).
 */
static char cow_buf[4096] __attribute__((aligned(4096)));
static struct uring *cow_r;
static _Atomic int cow_started;
static char cow_seen;

static void *cow_watch(void *arg)
{
    (void)arg;
    volatile char *b = cow_buf;
    char c = b[0];                      /* the old frame's translation, cached */
    atomic_store(&cow_started, 1);
    while (!uring_cq_ready(cow_r))
        c = b[0];                       /* (kept hot while we wait) */
    cow_seen = b[0];
    (void)c;
    return NULL;
}

static int t_cow_copy_seen_by_ring_poller(void)
{
    struct uring *r = ring(4);
    cow_r = r;
    int p[2];
    mkpipe(p, 0);
    for (int round = 0; round < 20; round++) {
        cow_buf[0] = 'o';               /* ours: mapped writable */
        REQUIRE(write(p[1], "n", 1) == 1, "write");
        int hold[2];
        REQUIRE(pipe(hold) == 0, "pipe");
        pid_t pid = fork();             /* shares cow_buf's page */
        if (pid == 0) {
            char c;
            close(hold[1]);
            (void)!read(hold[0], &c, 1);  /* until the parent is done */
            _exit(0);
        }
        close(hold[0]);
        REQUIRE(pid > 0, "fork");
        atomic_store(&cow_started, 0);
        pthread_t th;
        REQUIRE(pthread_create(&th, NULL, cow_watch, NULL) == 0, "pthread_create");
        while (!atomic_load(&cow_started))
            ;                           /* it runs on the other hart */
        struct io_uring_sqe *s = uring_sqe(r);
        s->opcode = IORING_OP_READ;
        s->fd = p[0];
        s->addr = (uint64_t)cow_buf;
        s->len = 1;
        s->off = (uint64_t)-1;
        s->user_data = 7;
        REQUIRE(uring_enter(r, 1, 0, 0) == 1, "io_uring_enter");
        pthread_join(th, NULL);
        struct io_uring_cqe c;
        REQUIRE(uring_pop(r, &c) && c.res == 1, "the READ failed");
        close(hold[1]);
        waitpid(pid, NULL, 0);
        REQUIRE(cow_buf[0] == 'n', "round %d: the READ's bytes are not in the buffer", round);
        REQUIRE(cow_seen == 'n', "round %d: the thread polling the ring read the old copy ('%c')",
                round, cow_seen);
    }
    return 0;
}

static const struct check {
    const char *name;
    int (*fn)(void);
} checks[] = {
    { "setup_bad_params", t_setup_bad },
    { "nop_batches", t_nop_batches },
    { "read_pending_returns_at_once", t_read_pending },
    { "rw_pipe", t_rw_pipe },
    { "rw_console", t_rw_console },
    { "timeout", t_timeout },
    { "timeout_count", t_timeout_count },
    { "link_chain", t_link_chain },
    { "link_timeout", t_link_timeout },
    { "async_cancel", t_cancel },
    { "poll_add", t_poll_add },
    { "out_of_order", t_out_of_order },
    { "msg_ring", t_msg_ring },
    { "cq_overflow", t_cq_overflow },
    { "bad_opcode", t_bad_opcode },
    { "bad_fd", t_bad_fd },
    { "bad_buffer", t_bad_buffer },
    { "corrupt_sq", t_corrupt_sq },
    { "corrupt_cq", t_corrupt_cq },
    { "ebusy", t_ebusy },
    { "exit_in_flight", t_exit_in_flight },
    { "link_timeout_cancelled_before_start", t_link_timeout_cancelled_before_start },
    { "link_timeout_clock_starts_with_op", t_link_timeout_clock_starts_with_op },
    { "msg_ring_overflow_bounded", t_msg_ring_overflow_bounded },
    { "sqe_read_once", t_sqe_read_once },
    { "failed_copyout_installs_nothing", t_failed_copyout_installs_nothing },
    { "poll_add_both_sides", t_poll_add_both_sides },
    { "huge_timeouts_do_not_wrap", t_huge_timeouts_do_not_wrap },
    { "exec_cancels_operations", t_exec_cancels_operations },
    { "owned_read_outlives_the_wait", t_owned_read_outlives_the_wait },
    { "cow_copy_seen_by_ring_poller", t_cow_copy_seen_by_ring_poller },
};

static void hold(void)
{
    struct uring r;
    int p[2];
    if (uring_open(&r, 32, NULL) < 0 || pipe(p) < 0)
        u_die("uring_test", "hold", errno);
    static char buf[32];
    for (int i = 0; i < 16; i++) {
        struct io_uring_sqe *s = uring_sqe(&r);
        s->opcode = IORING_OP_READ, s->fd = p[0], s->addr = (uint64_t)&buf[i], s->len = 1;
    }
    long e = uring_enter(&r, 16, 0, 0);
    printf("uring_test: holding %ld operations\n", e);
    fflush(stdout);
    for (;;)
        uring_enter(&r, 0, 1, IORING_ENTER_GETEVENTS);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1 && strcmp(argv[1], "hold") == 0)
        hold();
    int failed = 0, ran = 0;
    for (unsigned i = 0; i < ARRAY_SIZE(checks); i++) {
        bool wanted = argc == 1;
        for (int a = 1; a < argc; a++)
            wanted |= strcmp(argv[a], checks[i].name) == 0;
        if (!wanted)
            continue;
        ran++;
        why[0] = 0;
        memset(res_of, 0, sizeof res_of);
        int r = checks[i].fn();
        cleanup();
        if (r == 0) {
            printf("uring_test: PASS %s\n", checks[i].name);
        } else {
            printf("uring_test: FAIL %s %s\n", checks[i].name, why);
            failed++;
        }
    }
    if (ran == 0)
        printf("uring_test: no such check\n");
    else if (failed)
        printf("uring_test: %d failed\n", failed);
    else
        printf("uring_test: all ok\n");
    return failed || !ran;
}
