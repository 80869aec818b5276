/*
 * trace.c - per-hart rings of trace records.
 *
 * Off, trace_event() (trace.h) costs one load and one branch; everything
 * here is the slow path taken only while tracing is on.
 *
 * Each hart writes only its own ring, under the ring's lock; a reader on
 * any hart (the exporter, trace_export.c) takes the same lock, so it
 * never sees a record half-written.  The lock is a bare test-and-set
 * flag taken with interrupts masked (what spin_lock() does, without its
 * nesting bookkeeping: this is the hot path of tracing); it is a leaf,
 * held for a few stores.
 *
 * A full ring overwrites its oldest record and counts it as dropped, so
 * a reader always knows how much it missed.
 *
 * Rings are allocated by trace_alloc_rings() (trace_run_start() calls
 * it), never by trace_record(): the page allocator is not called from
 * whatever context an event happens in (an interrupt, the idle loop).
 * A record written while its hart has no ring counts as dropped too.
 *
 * A poll record carries its task's name as a pointer, and the task (a
 * user thread's name is its process's) may be freed before the records
 * are exported.  So each ring also keeps a copy of the names of the tasks
 * polled on its hart (`names`, by task id, refreshed at every poll-begin
 * whose name differs), and the exporter reads names from there
 * (trace_name()), never through a pointer that may be stale.
 *
 * trace_pid != 0 keeps only the records written while the hart is
 * polling a thread of that process (its polls, system calls, traps and
 * the wakes and IPIs it causes); 0 keeps everything.
 */
#include "arch.h"
#include "core/hart.h"
#include "lib/klib.h"
#include "mem/page_alloc.h"
#include "proc/proc.h"
#include "instruments/trace.h"

#define TRACE_RING 8192         /* records per hart, a power of two */
#define TRACE_NAMES 256         /* name copies per hart, by task id */
#define TRACE_NAME_LEN 32

struct trace_ring {
    _Atomic uint32_t lock;
    uint64_t head;              /* records ever written */
    uint64_t read;              /* records consumed (or overwritten) */
    uint64_t dropped;           /* records overwritten before being read */
    uint64_t ipis_seen;         /* hart's ipis_recv at its last record */
    struct trace_rec rec[TRACE_RING];
    struct { uint32_t id; char name[TRACE_NAME_LEN]; } names[TRACE_NAMES];
};

volatile bool trace_on;
volatile int trace_pid;
static struct trace_ring *_Atomic rings[MAX_HARTS];
static _Atomic uint64_t unringed[MAX_HARTS];    /* dropped: the hart had no ring */

static unsigned ring_order(void)
{
    unsigned order = 0;
    while ((PAGE_SIZE << order) < sizeof(struct trace_ring))
        order++;
    return order;
}

/* Hart i's ring, allocated now if it has none; NULL if no memory. */
static struct trace_ring *ring_get(unsigned i)
{
    struct trace_ring *r = atomic_load_explicit(&rings[i], memory_order_acquire);
    if (r)
        return r;
    r = page_alloc_order(ring_order());         /* zeroed */
    if (!r)
        return NULL;
    r->ipis_seen = harts[i].ipis_recv;
    struct trace_ring *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(&rings[i], &expected, r,
                                                 memory_order_acq_rel, memory_order_acquire)) {
        page_free_order(r, ring_order());       /* another hart won */
        r = expected;
    }
    return r;
}

void trace_alloc_rings(void)
{
    for (unsigned i = 0; i < nharts; i++)
        ring_get(i);
}

void trace_set_pid(int pid)
{
    trace_pid = pid < 0 ? 0 : pid;
}

/* Is hart h polling a thread of process `pid`? */
static bool polling_pid(int pid)
{
    struct thread *th = thread_current();
    return th && th->proc && th->proc->pid == pid;
}

static bool ring_lock(struct trace_ring *r)
{
    bool on = arch_irq_disable();
    while (atomic_exchange_explicit(&r->lock, 1, memory_order_acquire))
        while (atomic_load_explicit(&r->lock, memory_order_relaxed))
            arch_relax();
    return on;
}

static void ring_unlock(struct trace_ring *r, bool on)
{
    atomic_store_explicit(&r->lock, 0, memory_order_release);
    arch_irq_restore(on);
}

static void put(struct trace_ring *r, uint64_t time, uint32_t kind, uint32_t a, uint64_t b)
{
    if (r->head - r->read >= TRACE_RING) {
        r->dropped++;
        r->read++;
    }
    struct trace_rec *e = &r->rec[r->head % TRACE_RING];
    e->time = time;
    e->kind = kind;
    e->a = a;
    e->b = b;
    r->head++;
}

void trace_record(enum trace_kind k, uint32_t a, uint64_t b)
{
    int pid = trace_pid;
    if (pid && !polling_pid(pid))
        return;
    struct hart *h = this_hart();
    struct trace_ring *r = atomic_load_explicit(&rings[h->index], memory_order_acquire);
    if (!r) {
        atomic_fetch_add(&unringed[h->index], 1);
        return;
    }
    bool on = ring_lock(r);             /* masks interrupts on this hart */
    uint64_t now = arch_time();
    uint64_t ipis = h->ipis_recv;       /* only this hart's interrupts change it */
    if (ipis != r->ipis_seen && k != TR_IPI_RECV) {
        put(r, now, TR_IPI_RECV, (uint32_t)(ipis - r->ipis_seen), 0);
        r->ipis_seen = ipis;
    }
    put(r, now, k, a, b);
    if (k == TR_POLL_BEGIN && b) {     /* b: the task's name, alive now */
        unsigned slot = a % TRACE_NAMES;
        if (r->names[slot].id != a || strncmp(r->names[slot].name, (const char *)b, TRACE_NAME_LEN - 1)) {
            r->names[slot].id = a;
            strlcpy(r->names[slot].name, (const char *)b, TRACE_NAME_LEN);
        }
    }
    ring_unlock(r, on);
}

bool trace_name(unsigned i, uint32_t id, char *out, size_t cap)
{
    struct trace_ring *r = i < MAX_HARTS ? atomic_load_explicit(&rings[i], memory_order_acquire) : NULL;
    if (!r || !cap)
        return false;
    bool on = ring_lock(r);
    unsigned slot = id % TRACE_NAMES;
    bool found = r->names[slot].id == id && r->names[slot].name[0];
    if (found)
        strlcpy(out, r->names[slot].name, cap);
    ring_unlock(r, on);
    return found;
}

unsigned trace_take_many(unsigned i, struct trace_rec *out, unsigned max, uint64_t *dropped)
{
    *dropped = 0;
    if (i >= MAX_HARTS)
        return 0;
    *dropped = atomic_load(&unringed[i]);
    struct trace_ring *r = atomic_load_explicit(&rings[i], memory_order_acquire);
    if (!r)
        return 0;
    unsigned n = 0;
    bool on = ring_lock(r);
    while (n < max && r->read != r->head)
        out[n++] = r->rec[r->read++ % TRACE_RING];
    *dropped += r->dropped;
    ring_unlock(r, on);
    return n;
}

bool trace_take(unsigned i, struct trace_rec *out, uint64_t *dropped)
{
    return trace_take_many(i, out, 1, dropped) == 1;
}

void trace_reset(void)
{
    for (unsigned i = 0; i < MAX_HARTS; i++) {
        atomic_store(&unringed[i], 0);
        struct trace_ring *r = atomic_load_explicit(&rings[i], memory_order_acquire);
        if (!r)
            continue;
        bool on = ring_lock(r);
        r->read = r->head;
        r->dropped = 0;
        memset(r->names, 0, sizeof r->names);
        r->ipis_seen = harts[i].ipis_recv;
        ring_unlock(r, on);
    }
}
