/*
 * future.c - wait queues (include/core/waitq.h).
 *
 * A wait queue lives inside the object waited on (a pipe, the console,
 * a task's completion).  A waiter lives inside the future that waits, so
 * registering allocates nothing and cancel can always unlink it.
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
    if (!w->linked) {
        w->prev = NULL;
        w->next = q->head;
        if (q->head)
            q->head->prev = w;
        q->head = w;
        w->linked = true;
    }
    spin_unlock(&q->lock);
    /* The caller checks its condition next; the waker stores the
     * condition, then looks at the queue.  Fences on both sides. */
    atomic_thread_fence(memory_order_seq_cst);
}

static void unlink_locked(struct waitq *q, struct waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        q->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->next = w->prev = NULL;
    w->linked = false;
}

void waitq_unregister(struct waitq *q, struct waiter *w)
{
    if (!w->linked)             /* cheap common case; re-checked below */
        return;
    spin_lock(&q->lock);
    if (w->linked)
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
        unlink_locked(q, w);
        task_wake(w->task);
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
        unlink_locked(q, oldest);
        task_wake(oldest->task);
        woke = true;
    }
    spin_unlock(&q->lock);
    return woke;
}

