/*
 * sleeplock.c - the mutex and reader-writer lock futures
 * (include/core/sleeplock.h).
 */
#include "core/sleeplock.h"
#include "core/task.h"

void mutex_init(struct mutex *m, const char *name)
{
    spin_init(&m->lock, name);
    m->held = false;
    waitq_init(&m->wq, name);
}

bool mutex_trylock(struct mutex *m)
{
    spin_lock(&m->lock);
    bool got = !m->held;
    m->held = true;
    spin_unlock(&m->lock);
    return got;
}

void mutex_unlock(struct mutex *m)
{
    spin_lock(&m->lock);
    m->held = false;
    spin_unlock(&m->lock);
    waitq_wake_one(&m->wq);
}

static enum poll mutex_lock_poll(struct future *base, struct cx *cx)
{
    struct mutex_lock *l = (struct mutex_lock *)base;
    ASYNC_BEGIN(l);
    AWAIT_COND(l, cx, &l->m->wq, &l->w, mutex_trylock(l->m));
    ASYNC_END(l);
}

static void mutex_lock_cancel(struct future *base)
{
    struct mutex_lock *l = (struct mutex_lock *)base;
    bool was_linked = l->w.linked;
    waitq_unregister(&l->m->wq, &l->w);
    /* woken (unlinked by the waker) but cancelled before we could take
     * it: hand the wake to the next waiter */
    if (!was_linked && l->base.resume != 0)
        waitq_wake_one(&l->m->wq);
}

static const struct future_ops mutex_lock_ops = { mutex_lock_poll, mutex_lock_cancel, "mutex_lock" };

void mutex_lock_init(struct mutex_lock *l, struct mutex *m)
{
    future_init(&l->base, &mutex_lock_ops);
    l->m = m;
    l->w.linked = false;
}

/* ---- reader-writer lock ------------------------------------------------- */

void rwlock_init(struct rwlock *l, const char *name)
{
    spin_init(&l->lock, name);
    l->readers = 0;
    l->writers_waiting = 0;
    waitq_init(&l->wq, name);
}

static bool rw_try(struct rwlock_lock *f)
{
    struct rwlock *l = f->l;
    bool got;
    spin_lock(&l->lock);
    if (f->write) {
        got = l->readers == 0;
        if (got) {
            l->readers = -1;
            if (f->counted)
                l->writers_waiting--;
            f->counted = false;
        } else if (!f->counted) {
            l->writers_waiting++;
            f->counted = true;
        }
    } else {
        got = l->readers >= 0 && l->writers_waiting == 0;
        if (got)
            l->readers++;
    }
    spin_unlock(&l->lock);
    return got;
}

bool rwlock_try_read(struct rwlock *l)
{
    spin_lock(&l->lock);
    bool got = l->readers >= 0 && l->writers_waiting == 0;
    if (got)
        l->readers++;
    spin_unlock(&l->lock);
    return got;
}

bool rwlock_try_write(struct rwlock *l)
{
    spin_lock(&l->lock);
    bool got = l->readers == 0;
    if (got)
        l->readers = -1;
    spin_unlock(&l->lock);
    return got;
}

void rwlock_unlock_read(struct rwlock *l)
{
    spin_lock(&l->lock);
    bool last = --l->readers == 0;
    spin_unlock(&l->lock);
    if (last)
        waitq_wake_all(&l->wq);
}

void rwlock_unlock_write(struct rwlock *l)
{
    spin_lock(&l->lock);
    l->readers = 0;
    spin_unlock(&l->lock);
    waitq_wake_all(&l->wq);
}

static enum poll rw_poll(struct future *base, struct cx *cx)
{
    struct rwlock_lock *f = (struct rwlock_lock *)base;
    ASYNC_BEGIN(f);
    AWAIT_COND(f, cx, &f->l->wq, &f->w, rw_try(f));
    ASYNC_END(f);
}

static void rw_cancel(struct future *base)
{
    struct rwlock_lock *f = (struct rwlock_lock *)base;
    waitq_unregister(&f->l->wq, &f->w);
    if (f->counted) {
        spin_lock(&f->l->lock);
        f->l->writers_waiting--;
        spin_unlock(&f->l->lock);
        f->counted = false;
        waitq_wake_all(&f->l->wq);      /* readers held back by us may go */
    }
}

static const struct future_ops rw_ops = { rw_poll, rw_cancel, "rwlock_lock" };

void rwlock_read_init(struct rwlock_lock *f, struct rwlock *l)
{
    future_init(&f->base, &rw_ops);
    f->l = l;
    f->w.linked = false;
    f->write = false;
    f->counted = false;
}

void rwlock_write_init(struct rwlock_lock *f, struct rwlock *l)
{
    rwlock_read_init(f, l);
    f->write = true;
}
