/*
 * waitq.c - wait queues (include/core/waitq.h).
 *
 * A wait queue lives inside the object waited on (a pipe, the console,
 * a task's completion).  A waiter lives inside the future that waits, so
 * registering allocates nothing and cancel can always unlink it.
 *
 * Invariant: a waker wakes a waiter's task *before* it marks the waiter
 * unlinked, both under the queue's lock.  A waiter that reads as linked
 * makes waitq_unregister take that lock and so wait for the waker; one
 * that reads as unlinked is no longer touched by anyone.  (Marking it
 * unlinked first would let its owner unregister at once, finish, and be
 * freed while the waker still used the task pointer.)
 */
#include "core/future.h"
#include "lib/klib.h"

void waitq_init(struct waitq *q, const char *name)
{
    spin_init(&q->lock, name);
    q->head = NULL;
}

void waitq_register(struct waitq *q, struct waiter *w, struct cx *cx)
{
    spin_lock(&q->lock);
    w->task = cx->task;
    if (!atomic_load_explicit(&w->linked, memory_order_relaxed)) {
        w->prev = NULL;
        w->next = q->head;
        if (q->head)
            q->head->prev = w;
        q->head = w;
        atomic_store_explicit(&w->linked, true, memory_order_relaxed);
    }
    spin_unlock(&q->lock);
    /* The caller checks its condition next; the waker stores the
     * condition, then looks at the queue.  Fences on both sides. */
    atomic_thread_fence(memory_order_seq_cst);
}

/* The last write to w: after it, its owner may free it (see the top). */
static void unlink_locked(struct waitq *q, struct waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        q->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->next = w->prev = NULL;
    atomic_store_explicit(&w->linked, false, memory_order_release);
}

void waitq_unregister(struct waitq *q, struct waiter *w)
{
    /* cheap common case (a waker unlinked it and is done with it);
     * re-checked below under the lock */
    if (!atomic_load_explicit(&w->linked, memory_order_acquire))
        return;
    spin_lock(&q->lock);
    if (atomic_load_explicit(&w->linked, memory_order_relaxed))
        unlink_locked(q, w);
    spin_unlock(&q->lock);
}

void waitq_wake_all(struct waitq *q)
{
    atomic_thread_fence(memory_order_seq_cst);
    if (!q->head)
        return;
    spin_lock(&q->lock);
    while (q->head) {
        struct waiter *w = q->head;
        task_wake(w->task);     /* while w still reads as linked */
        unlink_locked(q, w);
    }
    spin_unlock(&q->lock);
}

bool waitq_wake_one(struct waitq *q)
{
    bool woke = false;
    spin_lock(&q->lock);
    struct waiter *w = q->head, *oldest = NULL;
    for (; w; w = w->next)      /* registration pushes at the head */
        oldest = w;
    if (oldest) {
        task_wake(oldest->task);    /* while it still reads as linked */
        unlink_locked(q, oldest);
        woke = true;
    }
    spin_unlock(&q->lock);
    return woke;
}

