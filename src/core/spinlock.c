/*
 * spinlock.c - test-and-set locks that mask interrupts while held.
 */
#include "arch.h"
#include "core/hart.h"
#include "core/spinlock.h"

void spin_init(struct spinlock *l, const char *name)
{
    atomic_store(&l->locked, 0);
    l->name = name;
}

/* A leaf taken ~20 times per pipe round trip: no frame pointer (its
 * prologue and epilogue were a quarter of it, and arch_backtrace cannot
 * use a leaf's frame anyway: a leaf saves s0, not ra). */
__attribute__((optimize("omit-frame-pointer")))
void spin_lock(struct spinlock *l)
{
    bool on = arch_irq_disable();
    struct hart *h = this_hart();
    if (h->irq_depth++ == 0)
        h->irq_was_on = on;
    while (atomic_exchange_explicit(&l->locked, 1, memory_order_acquire)) {
        while (atomic_load_explicit(&l->locked, memory_order_relaxed))
            arch_relax();
    }
}

void spin_unlock(struct spinlock *l)
{
    atomic_store_explicit(&l->locked, 0, memory_order_release);
    struct hart *h = this_hart();
    if (--h->irq_depth == 0 && h->irq_was_on)
        arch_irq_enable();
}
