/*
 * future.c - wait queues and the join/select combinators.
 *
 * A wait queue lives inside the object waited on (a pipe, the console,
 * a task's completion).  A waiter lives inside the future that waits, so
 * registering allocates nothing and cancel can always unlink it.
 */
#include "future.h"
#include "klib.h"

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

/* ---- join: all children ---------------------------------------------- */

static enum poll join_poll(struct future *base, struct cx *cx)
{
    struct join *j = (struct join *)base;
    for (int i = 0; i < j->n; i++) {
        if (j->done_mask & (1u << i))
            continue;
        if (future_poll(j->child[i], cx) == READY)
            j->done_mask |= 1u << i;
    }
    if (j->done_mask != (1u << j->n) - 1)
        return PENDING;
    j->base.resume = RESUME_DONE;
    return READY;
}

static void join_cancel(struct future *base)
{
    struct join *j = (struct join *)base;
    for (int i = 0; i < j->n; i++)
        future_cancel(j->child[i]);
}

static const struct future_ops join_ops = { join_poll, join_cancel, "join" };

void join_init(struct join *j, struct future **children, int n)
{
    future_init(&j->base, &join_ops);
    j->n = n > JOIN_MAX ? JOIN_MAX : n;
    j->done_mask = 0;
    for (int i = 0; i < j->n; i++)
        j->child[i] = children[i];
}

/* ---- select: the first child; the others are cancelled --------------- */

static enum poll select_poll(struct future *base, struct cx *cx)
{
    struct select *s = (struct select *)base;
    for (int i = 0; i < s->n; i++) {
        if (future_poll(s->child[i], cx) == READY) {
            s->winner = i;
            for (int k = 0; k < s->n; k++)
                if (k != i)
                    future_cancel(s->child[k]);
            s->base.resume = RESUME_DONE;
            return READY;
        }
    }
    return PENDING;
}

static void select_cancel(struct future *base)
{
    struct select *s = (struct select *)base;
    for (int i = 0; i < s->n; i++)
        future_cancel(s->child[i]);
}

static const struct future_ops select_ops = { select_poll, select_cancel, "select" };

void select_init(struct select *s, struct future **children, int n)
{
    future_init(&s->base, &select_ops);
    s->n = n > JOIN_MAX ? JOIN_MAX : n;
    s->winner = -1;
    for (int i = 0; i < s->n; i++)
        s->child[i] = children[i];
}
