/*
 * timer.c - per-hart timer heaps and the sleep future.
 *
 * A sleep registers itself on the heap of the hart that first polls it
 * (under that hart's timer_lock, since a cancel may come from another
 * hart after the task migrated).  Sleepers cost a heap node each and no
 * work at all until the earliest expires: the hardware timer (Sstc) is
 * programmed only for the heap minimum or the user time slice.
 */
#include "arch.h"
#include "lib/errno.h"
#include "core/hart.h"
#include "lib/klib.h"
#include "core/task.h"
#include "core/timer.h"

/*
 * Program this hart's timer.  The hardware is written after the lock is
 * released (interrupts stay masked, and only this hart programs its own
 * timer): under QEMU -icount a timer write can end the hart's time slice,
 * and another hart must not be left spinning on our lock meanwhile.
 */
void timer_rearm(void)
{
    struct hart *h = this_hart();
    bool on = arch_irq_disable();
    spin_lock(&h->timer_lock);
    struct timer_node *n = timer_heap_min(&h->timers);
    uint64_t when = n ? n->deadline : UINT64_MAX;
    /* a slice that has ended already did its job (the thread yields) */
    if (h->slice_end > arch_time() && h->slice_end < when)
        when = h->slice_end;
    bool program = when != h->timer_armed;
    h->timer_armed = when;
    spin_unlock(&h->timer_lock);
    if (program)
        arch_timer_program(when);
    arch_irq_restore(on);
}

void timer_interrupt(void)
{
    struct hart *h = this_hart();
    uint64_t now = arch_time();
    spin_lock(&h->timer_lock);
    struct timer_node *n;
    while ((n = timer_heap_pop_expired(&h->timers, now)) != NULL) {
        struct sleep *s = container_of(n, struct sleep, node);
        task_wake(s->task);
    }
    h->timer_armed = 0;         /* force reprogramming */
    spin_unlock(&h->timer_lock);
    timer_rearm();
}

/* Take s off its heap.  Taking the heap's lock even when the interrupt
 * already popped it waits out a task_wake in progress on another hart,
 * so the future (and its task) cannot be freed under that wake. */
static void sleep_leave(struct sleep *s)
{
    if (!s->inserted)
        return;
    struct hart *h = &harts[s->hart];
    spin_lock(&h->timer_lock);
    if (s->node.linked)
        timer_heap_remove(&h->timers, &s->node);
    spin_unlock(&h->timer_lock);
    s->inserted = false;
}

static enum poll sleep_poll(struct future *base, struct cx *cx)
{
    struct sleep *s = (struct sleep *)base;
    if (arch_time() >= s->node.deadline) {
        sleep_leave(s);
        base->resume = RESUME_DONE;
        return READY;
    }
    struct hart *h = s->inserted ? &harts[s->hart] : this_hart();
    spin_lock(&h->timer_lock);
    s->task = cx->task;
    if (!s->node.linked) {
        s->hart = h->index;
        s->inserted = true;
        timer_heap_insert(&h->timers, &s->node, s->node.deadline);
    }
    bool earliest = timer_heap_min(&h->timers) == &s->node;
    spin_unlock(&h->timer_lock);
    if (earliest && h == this_hart())
        timer_rearm();          /* a past deadline fires at once: no lost wake */
    return PENDING;
}

static void sleep_cancel(struct future *base)
{
    sleep_leave((struct sleep *)base);
}

static const struct future_ops sleep_ops = { sleep_poll, sleep_cancel, "sleep" };

void sleep_until_init(struct sleep *s, uint64_t deadline)
{
    future_init(&s->base, &sleep_ops);
    memset(&s->node, 0, sizeof s->node);
    s->node.deadline = deadline;
    s->task = NULL;
    s->inserted = false;
}

int ticks_of_timespec(const int64_t ts[2], uint64_t *ticks)
{
    if (ts[0] < 0 || ts[1] < 0 || ts[1] >= 1000000000)
        return -EINVAL;
    uint64_t tb = arch_timebase();
    /* sec * tb overflows once sec > TICKS_FOREVER / tb: saturate first */
    if ((uint64_t)ts[0] >= TICKS_FOREVER / tb) {
        *ticks = TICKS_FOREVER;
        return 0;
    }
    *ticks = (uint64_t)ts[0] * tb + (uint64_t)ts[1] * tb / 1000000000ULL;
    return 0;
}

uint64_t deadline_after(uint64_t ticks)
{
    return arch_time() + (ticks < TICKS_FOREVER ? ticks : TICKS_FOREVER);
}

void sleep_init(struct sleep *s, uint64_t ticks)
{
    sleep_until_init(s, deadline_after(ticks));
}

void timeout_init(struct timeout *t, struct future *child, uint64_t ticks)
{
    sleep_init(&t->sleep, ticks);
    deadline_init(&t->d, child, &t->sleep.base);
}

size_t timer_pending(void)
{
    size_t n = 0;
    for (unsigned i = 0; i < nharts; i++)
        n += harts[i].timers.count;
    return n;
}
