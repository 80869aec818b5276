/*
 * trace_export.c - `make trace`: run one workload with tracing on, then
 * send every hart's trace ring to the host as text frames on the serial
 * console, and power off.  ci/trace.py turns the frames into a Chrome
 * trace-event JSON file (Perfetto, chrome://tracing).
 *
 * Workloads (bootargs traceprog=..., given to trace_run_start()):
 *   /bin/prog[,arg...]  a user program (exec_spawn; arguments are not
 *                       passed yet), traced until its process is gone;
 *   ktest or empty      the kernel self-tests (also the fall-back when
 *                       the program cannot be started);
 *   pingpong            two kernel tasks on harts 0 and 1 waking each
 *                       other PINGPONG_ROUNDS times: cross-hart wakes,
 *                       IPIs and idle, small enough to read whole.
 * With bootargs word `traceonly` a program's trace keeps only the records
 * of its own process (trace_set_pid(), see trace.c), not the whole system.
 *
 * The frames, one per line, fields separated by one space:
 *   @TBEGIN <harts> <timebase Hz> <workload>
 *   @N <task id> <task name>          before the first poll record of a task
 *   @T <hart> <time> <kind> <a> <b>   one trace record (trace.h); all
 *                                     decimal, b as unsigned 64-bit
 *   @TH <hart> <records sent> <dropped>
 *   @TEND <dropped of hart 0> <dropped of hart 1> ...
 * Anything else on the console (the workload's own output) is not a
 * frame.  Before each chunk of CHUNK records (and each other frame) the
 * exporter waits, as a future, for room in the console's transmit ring:
 * kernel messages that find the ring full are dropped, and no frame may be.
 */
#include "arch.h"
#include "dev/console.h"
#include "core/executor.h"
#include "core/hart.h"
#include "lib/klib.h"
#include "mem/kmalloc.h"
#include "core/latch.h"
#include "layout.h"
#include "machine.h"
#include "instruments/monitor.h"
#include "lib/printk.h"
#include "proc/proc.h"
#include "core/task.h"
#include "core/timer.h"
#include "instruments/trace.h"
#include "instruments/pingpong.h"

#define CHUNK 64                /* records per poll of the exporter */
#define FRAME_MAX 96            /* longest frame line (lb_add's line) */
#define CHUNK_TEXT_MAX (CHUNK * 2 * FRAME_MAX)  /* a record and its @N line each */
#define NAME_CACHE 256          /* task ids whose name was sent recently */
#define PROG_LIMIT_MS 120000    /* a traced program that runs longer is cut off */
#define PINGPONG_ROUNDS 200
#define MAX_ARGS 8
#define NO_PID 0x7fffffff       /* a pid no process has: trace nothing */

enum workload { W_KTEST, W_PROG, W_PINGPONG };
static const char *const workload_names[] = { "ktest", "prog", "pingpong" };

/* ---- the tracer task -------------------------------------------------- */

struct tracer {
    struct future base;
    enum workload what;
    char path[64];
    char words[64];             /* the arguments, NUL-separated */
    const char *argv[MAX_ARGS + 1];
    int argc;
    int pid;
    bool only;                  /* bootargs traceonly: the program's process alone */
    struct task *child;
    struct task_join join;
    struct latch latch;
    struct waiter w;
    struct sleep nap;
    struct console_room room;
    uint64_t t0;
    unsigned hart;              /* being sent */
    unsigned n;                 /* records in rec[] to send */
    uint64_t sent, dropped[MAX_HARTS];
    struct { uint32_t id; const char *name; } names[NAME_CACHE];
    struct trace_rec rec[CHUNK];
};

static bool alive(int pid)
{
    spin_lock(&proc_lock);
    bool r = proc_find(pid) != NULL;
    spin_unlock(&proc_lock);
    return r;
}

static bool start_pingpong(struct tracer *tr)
{
    return pingpong_start(PINGPONG_ROUNDS, 0, 1 % nharts, false, &tr->latch);
}

/* Task id's name as one printable word, from the copy hart's ring took
 * when it polled the task (the task and its name may be gone by now). */
static void name_word(unsigned hart, uint32_t id, char *out, size_t cap)
{
    size_t n = 0;
    if (trace_name(hart, id, out, cap))
        for (; out[n]; n++)
            if (out[n] <= ' ' || out[n] >= 0x7f)
                out[n] = '_';
    if (n == 0)
        out[n++] = '?';
    out[n] = 0;
}

struct linebuf {
    char b[480];
    size_t n;
};

static void lb_flush(struct linebuf *lb)
{
    if (lb->n)
        printk("%s", lb->b);
    lb->n = 0;
    lb->b[0] = 0;
}

/* Append one line; lines are never split between two printk calls. */
static void lb_add(struct linebuf *lb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lb_add(struct linebuf *lb, const char *fmt, ...)
{
    char line[96];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line)
        n = sizeof line - 1;
    if (lb->n + n + 1 > sizeof lb->b)
        lb_flush(lb);
    memcpy(lb->b + lb->n, line, n);
    lb->n += n;
    lb->b[lb->n] = 0;
}

/* Print the records in tr->rec[0..n) of hart tr->hart. */
static void send_chunk(struct tracer *tr, unsigned n)
{
    struct linebuf lb = { .n = 0 };
    for (unsigned i = 0; i < n; i++) {
        struct trace_rec *e = &tr->rec[i];
        uint64_t b = e->b;
        if (e->kind == TR_POLL_BEGIN) {
            unsigned slot = e->a % NAME_CACHE;
            const char *name = (const char *)(uintptr_t)e->b;
            if (tr->names[slot].id != e->a || tr->names[slot].name != name) {
                char word[32];
                name_word(tr->hart, e->a, word, sizeof word);
                lb_add(&lb, "@N %u %s\n", e->a, word);
                tr->names[slot].id = e->a;
                tr->names[slot].name = name;
            }
            b = 0;              /* a kernel address means nothing to the host */
        }
        lb_add(&lb, "@T %u %lu %u %u %lu\n", tr->hart, e->time, e->kind, e->a, b);
    }
    lb_flush(&lb);
}

static enum poll tracer_poll(struct future *base, struct cx *cx)
{
    struct tracer *tr = (struct tracer *)base;
    ASYNC_BEGIN(tr);
    tr->only = tr->what == W_PROG && bootarg_has("traceonly");
    if (tr->only)
        trace_set_pid(NO_PID);  /* nothing until the program has its pid */
    trace_alloc_rings();
    trace_reset();
    trace_on = true;

    if (tr->what == W_PROG) {
        tr->pid = exec_spawn_argv(tr->path, tr->argc, tr->argv);
        if (tr->only)           /* its first few records may be missed */
            trace_set_pid(tr->pid > 0 ? tr->pid : 0);
        if (tr->pid < 0) {
            printk("trace: cannot run %s (error %d); tracing the kernel self-tests instead\n",
                   tr->path, tr->pid);
            tr->what = W_KTEST;
        }
    }
    printk("trace: tracing %s on %u harts%s\n",
           tr->what == W_PROG ? tr->path : workload_names[tr->what], nharts,
           trace_pid ? " (its process only)" : "");

    if (tr->what == W_PROG) {
        tr->t0 = arch_time();
        while (alive(tr->pid)) {
            if (arch_time() - tr->t0 > time_ms(PROG_LIMIT_MS)) {
                printk("trace: %s still running after %u s; sending the trace now\n",
                       tr->path, PROG_LIMIT_MS / 1000);
                break;
            }
            sleep_init(&tr->nap, time_ms(5));
            AWAIT(tr, future_poll(&tr->nap.base, cx));
        }
    } else if (tr->what == W_PINGPONG) {
        if (!start_pingpong(tr)) {
            printk("trace: no memory for pingpong\n");
        } else {
            AWAIT_COND(tr, cx, &tr->latch.wq, &tr->w, latch_done(&tr->latch));
        }
    } else {
        tr->child = ktest_spawn(false);
        if (!tr->child) {
            printk("trace: no memory for ktest\n");
        } else {
            task_join_init(&tr->join, tr->child);
            AWAIT(tr, future_poll(&tr->join.base, cx));
            task_put(tr->child);
        }
    }

    /* Stop, and give a record being written on another hart (it saw
     * trace_on before we cleared it) time to land before we read. */
    trace_on = false;
    sleep_init(&tr->nap, time_ms(1));
    AWAIT(tr, future_poll(&tr->nap.base, cx));

    console_room_init(&tr->room, FRAME_MAX);
    AWAIT(tr, future_poll(&tr->room.base, cx));
    printk("\n@TBEGIN %u %lu %s\n", nharts, arch_timebase(), workload_names[tr->what]);
    for (tr->hart = 0; tr->hart < nharts; tr->hart++) {
        tr->sent = 0;
        memset(tr->names, 0, sizeof tr->names);
        for (;;) {
            unsigned n = trace_take_many(tr->hart, tr->rec, CHUNK, &tr->dropped[tr->hart]);
            if (n == 0)
                break;
            tr->n = n;
            console_room_init(&tr->room, CHUNK_TEXT_MAX);
            AWAIT(tr, future_poll(&tr->room.base, cx));     /* the console drains meanwhile */
            send_chunk(tr, tr->n);
            tr->sent += tr->n;
            YIELD(tr, cx);      /* others run between chunks */
        }
        console_room_init(&tr->room, FRAME_MAX);
        AWAIT(tr, future_poll(&tr->room.base, cx));
        printk("@TH %u %lu %lu\n", tr->hart, tr->sent, tr->dropped[tr->hart]);
    }
    console_room_init(&tr->room, FRAME_MAX * (MAX_HARTS + 1));
    AWAIT(tr, future_poll(&tr->room.base, cx));
    {
        struct linebuf lb = { .n = 0 };
        lb_add(&lb, "@TEND");
        for (unsigned i = 0; i < nharts; i++)
            lb_add(&lb, " %lu", tr->dropped[i]);
        lb_add(&lb, "\n");
        lb_flush(&lb);
    }
    console_flush();
    arch_poweroff(0);
    ASYNC_END(tr);
}

static const struct future_ops tracer_ops = { tracer_poll, NULL, "tracer" };

void trace_run_start(const char *prog_and_args)
{
    struct task *t;
    struct tracer *tr = task_alloc(sizeof *tr, "tracer", &t);
    if (!tr)
        panic("trace: no memory for the tracer");
    memset(tr, 0, sizeof *tr);
    future_init(&tr->base, &tracer_ops);

    /* The program is the first word; ',' and ' ' both separate words. */
    const char *s = prog_and_args ? prog_and_args : "";
    while (*s == ' ' || *s == ',')
        s++;
    size_t n = 0;
    while (s[n] && s[n] != ' ' && s[n] != ',')
        n++;
    if (n == 0 || (n == 5 && !strncmp(s, "ktest", 5))) {
        tr->what = W_KTEST;
    } else if (n == 8 && !strncmp(s, "pingpong", 8)) {
        tr->what = W_PINGPONG;
    } else {
        tr->what = W_PROG;
        size_t o = 0;
        if (s[0] != '/') {      /* "ls" means /bin/ls */
            strlcpy(tr->path, "/bin/", sizeof tr->path);
            o = 5;
        }
        if (o + n >= sizeof tr->path)
            n = sizeof tr->path - 1 - o;
        memcpy(tr->path + o, s, n);
        tr->path[o + n] = 0;
        tr->argv[tr->argc++] = tr->path;
        /* the other words, split at ',' or ' ', into tr->words */
        size_t w = 0;
        for (s += n; *s && tr->argc < MAX_ARGS;) {
            while (*s == ' ' || *s == ',')
                s++;
            if (!*s)
                break;
            tr->argv[tr->argc++] = tr->words + w;
            while (*s && *s != ' ' && *s != ',' && w < sizeof tr->words - 1)
                tr->words[w++] = *s++;
            tr->words[w++] = 0;
            if (w >= sizeof tr->words)
                break;
        }
        tr->argv[tr->argc] = NULL;
    }
    task_start(t, TASK_NO_HART, false);
}
