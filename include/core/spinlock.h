/*
 * spinlock.h - a lock held for a few lines, never across an await.
 *
 * Taking a spinlock masks interrupts on this hart (nesting, as xv6's
 * push_off/pop_off) so an interrupt top half that wakes a task cannot
 * deadlock against the code it interrupted.  Host unit tests link a
 * stand-in (tests/unit/host_stubs.c).
 */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct spinlock {
    _Atomic uint32_t locked;
    const char *name;
};

#define SPINLOCK_INIT(n) { .locked = 0, .name = (n) }

void spin_init(struct spinlock *l, const char *name);
void spin_lock(struct spinlock *l);
void spin_unlock(struct spinlock *l);
/* Take l only if it is free now: true if taken (then as spin_lock). */
bool spin_trylock(struct spinlock *l);
