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

/* Inlined everywhere (link-time optimisation sees the body): it is taken
 * ~20 times in a pipe round trip, and the call, with its frame, was a
 * third of it (+10 KiB of kernel text).  The declaration in spinlock.h
 * makes this an external definition too. */
__attribute__((always_inline)) inline
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

bool spin_trylock(struct spinlock *l)
{
    bool on = arch_irq_disable();
    struct hart *h = this_hart();
    if (h->irq_depth++ == 0)
        h->irq_was_on = on;
    if (!atomic_exchange_explicit(&l->locked, 1, memory_order_acquire))
        return true;
    if (--h->irq_depth == 0 && h->irq_was_on)
        arch_irq_enable();
    return false;
}

void spin_unlock(struct spinlock *l)
{
    atomic_store_explicit(&l->locked, 0, memory_order_release);
    struct hart *h = this_hart();
    if (--h->irq_depth == 0 && h->irq_was_on)
        arch_irq_enable();
}
