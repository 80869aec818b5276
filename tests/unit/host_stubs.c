/*
 * host_stubs.c - host stand-ins for the kernel services the modules
 * under test call: spinlocks (plain atomics, no interrupt masking) and
 * the klib routines the host libc lacks.
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include "core/spinlock.h"
#include "lib/klib.h"

/* Weak, so a test that needs to watch contention can bring its own. */
__attribute__((weak)) void spin_init(struct spinlock *l, const char *name)
{
    atomic_store(&l->locked, 0);
    l->name = name;
}

__attribute__((weak)) void spin_lock(struct spinlock *l)
{
    unsigned long spins = 0;
    while (atomic_exchange_explicit(&l->locked, 1, memory_order_acquire)) {
        /* Tests are single-threaded: a long wait is a self-deadlock. */
        if (++spins == 100000000UL) {
            fprintf(stderr, "spin_lock(%s): deadlock\n", l->name ? l->name : "?");
            abort();
        }
    }
}

__attribute__((weak)) void spin_unlock(struct spinlock *l)
{
    atomic_store_explicit(&l->locked, 0, memory_order_release);
}

/* Weak, so a test that links src/lib/klib.c gets the kernel's own. */
__attribute__((weak)) size_t strlcpy(char *d, const char *s, size_t n)
{
    size_t len = strlen(s);
    if (n) {
        size_t c = len < n - 1 ? len : n - 1;
        memcpy(d, s, c);
        d[c] = '\0';
    }
    return len;
}
