/*
 * trace.c - per-hart rings of trace records.  A full ring overwrites
 * its oldest records and counts them as dropped, so a reader always
 * knows how much it missed.
 */
#include "arch.h"
#include "hart.h"
#include "trace.h"

#define TRACE_RING 8192         /* records per hart, a power of two */

struct trace_ring {
    uint64_t head;              /* records ever written */
    uint64_t read;              /* records consumed by the exporter */
    uint64_t dropped;
    struct trace_rec rec[TRACE_RING];
};

volatile bool trace_on;
static struct trace_ring *rings[MAX_HARTS];

#include "page_alloc.h"

static struct trace_ring *ring_of(struct hart *h)
{
    struct trace_ring *r = rings[h->index];
    if (!r) {
        unsigned order = 0;
        while ((PAGE_SIZE << order) < sizeof(struct trace_ring))
            order++;
        r = page_alloc_order(order);
        rings[h->index] = r;
    }
    return r;
}

void trace_record(enum trace_kind k, uint32_t a, uint64_t b)
{
    bool on = arch_irq_disable();
    struct trace_ring *r = ring_of(this_hart());
    if (r) {
        if (r->head - r->read >= TRACE_RING) {
            r->dropped++;
            r->read++;
        }
        struct trace_rec *e = &r->rec[r->head % TRACE_RING];
        e->time = arch_time();
        e->kind = k;
        e->a = a;
        e->b = b;
        r->head++;
    }
    arch_irq_restore(on);
}

/* Take the oldest unread record of hart i; false if none. */
bool trace_take(unsigned i, struct trace_rec *out, uint64_t *dropped)
{
    struct trace_ring *r = rings[i];
    if (!r)
        return false;
    bool on = arch_irq_disable();
    bool ok = r->read != r->head;
    if (ok)
        *out = r->rec[r->read++ % TRACE_RING];
    *dropped = r->dropped;
    arch_irq_restore(on);
    return ok;
}
