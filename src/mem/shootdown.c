/*
 * shootdown.c - TLB shootdowns (see include/mem/shootdown.h).
 *
 * A pending shootdown holds a reference to its mm (dropped when it
 * completes or is cancelled), so the mm outlives it whoever exits.
 */
#include "arch.h"
#include "core/executor.h"
#include "mem/mm.h"
#include "mem/shootdown.h"

static struct waitq acks = WAITQ_INIT("shootdown");

void shootdown_ack(void)
{
    if (acks.head)              /* cheap when nobody waits */
        waitq_wake_all(&acks);
}

static bool acked(struct shootdown *sd)
{
    for (unsigned i = 0; i < nharts; i++) {
        if (!(sd->pending & (1UL << i)))
            continue;
        if ((uint32_t)atomic_load(&harts[i].user_traps) != sd->snap[i] || atomic_load(&harts[i].user_mm) != sd->mm)
            sd->pending &= ~(1UL << i);
    }
    return sd->pending == 0;
}

static enum poll shootdown_poll(struct future *base, struct cx *cx)
{
    struct shootdown *sd = (struct shootdown *)base;
    ASYNC_BEGIN(sd);
    AWAIT_COND(sd, cx, &acks, &sd->w, acked(sd));
    mm_free_deferred(sd->mm, sd->gen);
    mm_put(sd->mm);
    ASYNC_END(sd);
}

static void shootdown_cancel(struct future *base)
{
    struct shootdown *sd = (struct shootdown *)base;
    waitq_unregister(&acks, &sd->w);
    /* the pages stay deferred: mm_put or the next shootdown frees them */
    mm_put(sd->mm);
}

static const struct future_ops shootdown_ops = { shootdown_poll, shootdown_cancel, "tlb_shootdown" };

bool shootdown_start(struct shootdown *sd, struct mm *mm)
{
    future_init(&sd->base, &shootdown_ops);
    sd->mm = mm;
    sd->gen = atomic_load(&mm->gen);
    sd->pending = 0;
    sd->w.linked = false;
    atomic_thread_fence(memory_order_seq_cst);
    struct hart *self = this_hart();
    for (unsigned i = 0; i < nharts; i++) {
        if (&harts[i] == self || atomic_load(&harts[i].user_mm) != mm)
            continue;
        sd->snap[i] = (uint32_t)atomic_load(&harts[i].user_traps);
        sd->pending |= 1UL << i;
        arch_send_ipi(i);
    }
    if (!sd->pending) {
        mm_free_deferred(mm, sd->gen);
        sd->base.resume = RESUME_DONE;
        return false;
    }
    mm_get(mm);
    return true;
}
