/*
 * chaos.c - the seeded choices of the chaos executor (core/chaos.h).
 *
 * Invariants:
 *  - only the hart itself touches its generator and its parked set
 *    (both live in struct hart), so nothing here takes a lock;
 *  - a parked task is held by one reference taken when it was parked
 *    and dropped when it is unparked, so a task that finishes (and
 *    whose other references go) meanwhile is still valid to wake: the
 *    wake of a DONE task does nothing;
 *  - a spurious wake goes through the ordinary task_wake path, so it is
 *    exactly what any sibling's stray wake could be: the protocol says
 *    it must be harmless.
 */
#include "arch.h"
#include "core/chaos.h"
#include "core/executor.h"
#include "lib/printk.h"

bool chaos_on;
static uint64_t seed;

/* splitmix64: spreads a small seed over the whole state */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void chaos_init(uint64_t s)
{
    seed = s;
    for (unsigned i = 0; i < MAX_HARTS; i++) {
        harts[i].chaos_rng = mix(s * MAX_HARTS + i) | 1;
        harts[i].chaos_choices = 0;
    }
    chaos_on = true;
    printk("chaos: seed %lu (the executor's choices are random; same seed, same run under -icount)\n", s);
}

uint64_t chaos_seed(void) { return seed; }

uint32_t chaos_rand(struct hart *h, uint32_t n)
{
    /* xorshift64* */
    uint64_t x = h->chaos_rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    h->chaos_rng = x;
    h->chaos_choices++;
    return (uint32_t)((x * 0x2545f4914f6cdd1dULL) >> 32) % n;
}

struct hart *chaos_pick_hart(struct hart *h)
{
    unsigned i = chaos_rand(h, nharts);
    for (unsigned k = 0; k < nharts; k++) {
        struct hart *c = &harts[(i + k) % nharts];
        if (atomic_load(&c->online))
            return c;
    }
    return h;
}

void chaos_delay(struct hart *h)
{
    if (chaos_one_in(h, 16))
        for (uint32_t n = chaos_rand(h, 4096); n; n--)
            arch_relax();
}

uint64_t chaos_slice(struct hart *h)
{
    return time_us(100 + chaos_rand(h, 10000));
}

static void unpark(struct hart *h, unsigned slot)
{
    struct task *t = h->chaos_parked[slot];
    h->chaos_parked[slot] = NULL;
    if (t) {
        task_wake_spurious(t);
        task_put(t);
    }
}

void chaos_after_poll(struct hart *h, struct task *t)
{
    uint32_t r = chaos_rand(h, 16);
    if (r < 2) {
        task_wake_spurious(t);              /* polled again soon, for nothing */
    } else if (r < 4) {
        unsigned slot = chaos_rand(h, CHAOS_PARKED);
        unpark(h, slot);
        atomic_fetch_add(&t->refs, 1);      /* the parked set's reference */
        h->chaos_parked[slot] = t;          /* polled again later, for nothing */
    }
    if (nharts > 1 && chaos_one_in(h, 16)) {
        struct hart *o = chaos_pick_hart(h);
        if (o != h) {
            h->ipis_sent++;
            arch_send_ipi(o->index);        /* an interrupt nobody needed */
        }
    }
}

bool chaos_unpark_all(struct hart *h)
{
    bool any = false;
    for (unsigned i = 0; i < CHAOS_PARKED; i++) {
        any |= h->chaos_parked[i] != NULL;
        unpark(h, i);
    }
    return any;
}

uint64_t chaos_fingerprint(uint64_t *choices)
{
    uint64_t f = seed, n = 0;
    for (unsigned i = 0; i < nharts; i++) {
        f = mix(f ^ harts[i].chaos_rng ^ harts[i].chaos_choices);
        n += harts[i].chaos_choices;
    }
    if (choices)
        *choices = n;
    return f;
}
