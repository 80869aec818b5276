/*
 * sleeplock.h - sleeping locks: a mutex and a reader-writer lock whose
 * lock operation is a future.  They guard what is held across an I/O
 * wait (a file system's inodes, directories, allocation bitmaps); a
 * spinlock is never held across an AWAIT.
 *
 *     mutex_lock_init(&f->lk, &m);
 *     AWAIT(f, future_poll(&f->lk.base, cx));
 *     ... (may await the disk) ...
 *     mutex_unlock(&m);
 *
 * Invariants:
 *  - The waiter lives in the lock future; a cancelled lock future that
 *    was not granted unlinks it.  A cancelled future that had been woken
 *    but not yet polled passes the wake on, so no wake is lost.
 *  - Locks are not fair: a woken waiter re-checks and may wait again.
 *  - rwlock: a waiting writer stops new readers (no writer starvation).
 */
#pragma once
#include <stdbool.h>
#include "core/future.h"
#include "core/waitq.h"

struct mutex {
    struct spinlock lock;
    bool held;
    struct waitq wq;
};
void mutex_init(struct mutex *m, const char *name);
bool mutex_trylock(struct mutex *m);
void mutex_unlock(struct mutex *m);

struct mutex_lock {
    struct future base;
    struct mutex *m;
    struct waiter w;
};
void mutex_lock_init(struct mutex_lock *l, struct mutex *m);

struct rwlock {
    struct spinlock lock;
    int readers;                /* -1: a writer holds it */
    int writers_waiting;
    struct waitq wq;
};
void rwlock_init(struct rwlock *l, const char *name);
/* Take it now or not at all (never waits; a waiting writer stops readers). */
bool rwlock_try_read(struct rwlock *l);
bool rwlock_try_write(struct rwlock *l);
void rwlock_unlock_read(struct rwlock *l);
void rwlock_unlock_write(struct rwlock *l);

struct rwlock_lock {
    struct future base;
    struct rwlock *l;
    struct waiter w;
    bool write, counted;        /* counted: in writers_waiting */
};
void rwlock_read_init(struct rwlock_lock *f, struct rwlock *l);
void rwlock_write_init(struct rwlock_lock *f, struct rwlock *l);
