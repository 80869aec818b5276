/*
 * monitor.c - the kernel monitor: a task that reads console lines and
 * runs commands (help, harts, tasks, mem, ktest, trace).  It runs when
 * there is no user space, and `monitor` in bootargs forces it.
 *
 * The harts/tasks/mem reports write to a struct outbuf: the console
 * here, a buffer for /proc/harts, /proc/tasks, /proc/mem (procfs.c).
 */
#include "fs/pagecache.h"
#include "arch.h"
#include "dev/console.h"
#include "core/executor.h"
#include "mem/kmalloc.h"
#include "mem/mm.h"
#include "lib/klib.h"
#include "instruments/monitor.h"
#include "lib/outbuf.h"
#include "mem/page_alloc.h"
#include "lib/printk.h"
#include "core/timer.h"
#include "instruments/trace.h"

struct monitor {
    struct future base;
    struct console_read rd;
    struct task_join join;
    struct task *child;
    char line[CONSOLE_LINE_MAX + 1];
};

static void cmd_help(void)
{
    printk("commands:\n"
           "  help    this list\n"
           "  harts   per-hart state and counters\n"
           "  tasks   every live task: id, name, state, hart, polls, counter ticks\n"
           "  mem     page and object allocator counters\n"
           "  ktest   run the kernel self-tests\n"
           "  trace on|off  executor tracing\n"
           "  panic   stop the kernel with a panic report (tests the panic path)\n"
#ifdef POLLUX_POISON
           "  uaf     write to a freed object (debug kernel: tests the poison report)\n"
#endif
           );
}

#ifdef POLLUX_POISON
/* A use-after-free on purpose: the next allocation of the object's class
 * must panic naming this function as the allocation site.  A second
 * object keeps the slab alive, so the freed one is the next handed out. */
static __attribute__((noinline)) void cmd_uaf(void)
{
    volatile long *keep = kmalloc(200), *p = kmalloc(200);
    kfree((void *)p);
    p[5] = 0x1234;
    kfree(kmalloc(200));
    kfree((void *)keep);
    printk("uaf: not caught\n");
}
#endif

/* ---- the reports (also /proc/harts, /proc/tasks, /proc/mem) ---------- */

bool counter_is_icount;

/* Share of the time since this hart came online that it spent in wfi,
 * counting the wait it is in now (a hart idle since boot has never
 * finished one).  The firmware's part of the boot is nobody's idle time. */
static uint64_t idle_percent(struct hart *h, uint64_t now)
{
    uint64_t idle = h->idle_time, since = atomic_load(&h->idle_since);
    if (!atomic_load(&h->online) || now <= h->online_at)
        return 0;
    if (since && since <= now)
        idle += now - since;
    return MIN(idle * 100 / (now - h->online_at), 100);
}

void report_harts(struct outbuf *o)
{
    outf(o, "HART ID ONLINE IDLE QUEUED  POLLS      STEALS  IPI-TX  IPI-RX  IRQS    IDLE%%\n");
    uint64_t now = arch_time();
    for (unsigned i = 0; i < nharts; i++) {
        struct hart *h = &harts[i];
        outf(o, "%-4u %-2u %-6s %-4s %-7u %-10lu %-7lu %-7lu %-7lu %-7lu %lu\n", i, h->hartid,
                atomic_load(&h->online) ? "yes" : "no", atomic_load(&h->idle) ? "yes" : "no",
                atomic_load(&h->runq.len), h->polls, h->steals, h->ipis_sent, h->ipis_recv,
                h->irqs, idle_percent(h, now));
    }
}

static const char *state_name(uint32_t s)
{
    if (s & TASK_DONE) return "done";
    if (s & TASK_RUNNING) return "running";
    if (s & TASK_QUEUED) return "ready";
    return "waiting";
}

struct task_lines {
    struct outbuf *o;
    unsigned n;
};

static void task_line(struct task *t, void *arg)
{
    struct task_lines *tl = arg;
    if (tl->n++ >= 200)      /* a screenful of a 100k-task system is enough */
        return;
    char hart[8];
    if (t->hart == TASK_NO_HART)
        strlcpy(hart, "-", sizeof hart);
    else
        snprintf(hart, sizeof hart, "%u", t->hart);
    outf(tl->o, "%-6u %-16s %-8s %-4s %-10lu %lu\n", t->id, t->name,
                state_name(atomic_load(&t->state)), hart, t->polls, t->instret);
}

/* The last column is the instruction counter's advance during the task's
 * polls, named for what that counter is in this run (see monitor.h). */
void report_tasks(struct outbuf *o)
{
    if (counter_is_icount)
        outf(o, "# INSNS: instructions executed by all harts while the task was polled "
                "(QEMU -icount)\n");
    else
        outf(o, "# HOST-TICKS: host time-stamp counter ticks while the task was polled "
                "(QEMU without -icount: not instructions)\n");
    outf(o, "ID     NAME             STATE    HART POLLS      %s\n",
            counter_is_icount ? "INSNS" : "HOST-TICKS");
    struct task_lines tl = { o, 0 };
    task_for_each(task_line, &tl);
    if (tl.n > 200)
        outf(o, "... %u tasks in all\n", tl.n);
}

void report_mem(struct outbuf *o)
{
    struct page_stats ps;
    struct kmalloc_stats ks;
    page_get_stats(&ps);
    kmalloc_get_stats(&ks);
    outf(o, "pages: %lu total, %lu free, %lu used (%lu KiB free)\n", ps.total_pages,
            ps.free_pages, ps.total_pages - ps.free_pages, ps.free_pages * PAGE_SIZE / 1024);
    outf(o, "kmalloc: %lu objects, %lu bytes live, %lu slab pages, %lu failed\n",
            ks.live_objects, ks.live_bytes, ks.slab_pages, ks.failed);
    outf(o, "page tables: %lu pages\n", pt_page_count());
    outf(o, "tasks: %lu live, sleepers: %lu\n", task_count(), timer_pending());
    struct pc_stats pc;
    pc_get_stats(&pc);
    outf(o, "pagecache: %lu pages, %lu mapped, %lu shared, %lu dirty, %lu fills, %lu reclaimed\n",
         pc.pages, pc.mapped, pc.shared, pc.dirty, pc.fills, pc.reclaimed);
    outf(o, "pagecache faults: %lu fills started, %lu waits\n", pc.fill_tasks, pc.waits);
}

/* Print s with anything unprintable escaped, at most max characters. */
static void print_escaped(const char *s, size_t max)
{
    char out[4 * 40 + 8];
    size_t o = 0;
    for (size_t i = 0; s[i] && i < max && o < sizeof out - 8; i++) {
        unsigned char c = s[i];
        if (c >= 0x20 && c < 0x7f)
            out[o++] = c;
        else
            o += snprintf(out + o, sizeof out - o, "\\x%x%x", c >> 4, c & 15);
    }
    out[o] = 0;
    printk("%s%s", out, strlen(s) > max ? "..." : "");
}

/* Split off the first word; returns the rest. */
static char *first_word(char *s, char **word)
{
    while (*s == ' ' || *s == '\t')
        s++;
    *word = s;
    while (*s && *s != ' ' && *s != '\t')
        s++;
    if (*s)
        *s++ = 0;
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

static enum poll monitor_poll(struct future *base, struct cx *cx)
{
    struct monitor *m = (struct monitor *)base;
    char *cmd, *rest;
    struct outbuf console = { NULL, 0, 0 };
    ASYNC_BEGIN(m);
    printk("Pollux kernel monitor. Type 'help'.\n");
    for (;;) {
        printk("pollux> ");
        console_read_init(&m->rd, m->line, CONSOLE_LINE_MAX);
        AWAIT(m, future_poll(&m->rd.base, cx));
        if (m->rd.result == 0) {
            printk("\n");       /* ^D: nothing to end here */
            continue;
        }
        m->line[m->rd.result] = 0;
        if (m->rd.result >= CONSOLE_LINE_MAX - 1) {
            printk("error: line too long (at most %d characters)\n", CONSOLE_LINE_MAX - 2);
            continue;
        }
        if (m->rd.result > 0 && m->line[m->rd.result - 1] == '\n')
            m->line[m->rd.result - 1] = 0;
        rest = first_word(m->line, &cmd);
        if (!*cmd)
            continue;
        if (!strcmp(cmd, "help")) {
            cmd_help();
        } else if (!strcmp(cmd, "harts")) {
            report_harts(&console);
        } else if (!strcmp(cmd, "tasks")) {
            report_tasks(&console);
        } else if (!strcmp(cmd, "mem")) {
            report_mem(&console);
        } else if (!strcmp(cmd, "trace")) {
            if (!strcmp(rest, "on"))
                trace_alloc_rings();
            if (!strcmp(rest, "on") || !strcmp(rest, "off"))
                trace_on = !strcmp(rest, "on");
            printk("trace is %s\n", trace_on ? "on" : "off");
        } else if (!strcmp(cmd, "panic")) {
            panic("requested from the monitor");
#ifdef POLLUX_POISON
        } else if (!strcmp(cmd, "uaf")) {
            cmd_uaf();
#endif
        } else if (!strcmp(cmd, "ktest")) {
            m->child = ktest_spawn(false);
            if (!m->child) {
                printk("ktest: out of memory\n");
                continue;
            }
            task_join_init(&m->join, m->child);
            AWAIT(m, future_poll(&m->join.base, cx));
            task_put(m->child);
        } else {
            printk("error: unknown command '");
            print_escaped(cmd, 32);
            printk("' (try 'help')\n");
        }
    }
    ASYNC_END(m);
}

static const struct future_ops monitor_ops = { monitor_poll, NULL, "monitor" };

void monitor_start(void)
{
    struct task *t;
    struct monitor *m = task_alloc(sizeof *m, "monitor", &t);
    if (!m)
        panic("no memory for the monitor");
    future_init(&m->base, &monitor_ops);
    task_start(t, TASK_NO_HART, false);
}
