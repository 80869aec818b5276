/*
 * combinators.c - join and select.  Pure future code: the kernel and the
 * user runtime (user/rt.c) both build it.
 */
#include "core/future.h"

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

/* ---- deadline: a child against a timer -------------------------------- */

static enum poll deadline_poll(struct future *base, struct cx *cx)
{
    struct deadline *d = (struct deadline *)base;
    if (future_poll(&d->sel.base, cx) == PENDING)
        return PENDING;
    d->timed_out = d->sel.winner == 1;
    base->resume = RESUME_DONE;
    return READY;
}

static void deadline_cancel(struct future *base)
{
    future_cancel(&((struct deadline *)base)->sel.base);
}

static const struct future_ops deadline_ops = { deadline_poll, deadline_cancel, "deadline" };

void deadline_init(struct deadline *d, struct future *child, struct future *timer)
{
    future_init(&d->base, &deadline_ops);
    struct future *c[2] = { child, timer };
    select_init(&d->sel, c, 2);
    d->timed_out = false;
}
