/*
 * task.c - allocating, starting, joining and freeing tasks.
 *
 * A task and its root future are one kmalloc block:
 *
 *     +-------------+----------------------+
 *     | struct task | root future (size)   |
 *     +-------------+----------------------+
 *
 * References: the executor holds one until the task is DONE; a spawner
 * that wants to join keeps another.  The block is freed at zero.
 */
#include "core/chaos.h"
#include "core/executor.h"
#include "lib/klib.h"
#include "mem/kmalloc.h"
#include "core/task.h"

static _Atomic uint32_t next_task_id = 1;

static void task_init(struct task *t, const char *name)
{
    memset(t, 0, sizeof *t);
    atomic_store(&t->refs, 1);
    t->id = atomic_fetch_add(&next_task_id, 1);
    t->hart = TASK_NO_HART;
    t->prio = PRIO_DEFAULT;
    t->name = name;
    waitq_init(&t->done, "task.done");
    t->root = (struct future *)(t + 1);
}

void *task_alloc(size_t size, const char *name, struct task **out)
{
    struct task *t = kmalloc_from(sizeof *t + size, __builtin_return_address(0));
    if (!t)
        return NULL;
    task_init(t, name);
    *out = t;
    return t->root;
}

bool task_renew(struct task *t, const char *name)
{
    /* acquire: pairs with the release of the last other task_put, after
     * which its owner (an executor in task_finish) touches nothing */
    if (atomic_load_explicit(&t->refs, memory_order_acquire) != 1)
        return false;
    task_init(t, name);
    return true;
}

static void list_add(struct task *t)
{
    struct hart *h = this_hart();
    t->list_hart = h->index;
    spin_lock(&h->tasks_lock);
    t->list_prev = NULL;
    t->list_next = h->tasks;
    if (h->tasks)
        h->tasks->list_prev = t;
    h->tasks = t;
    spin_unlock(&h->tasks_lock);
}

static void list_del(struct task *t)
{
    struct hart *h = &harts[t->list_hart];
    spin_lock(&h->tasks_lock);
    if (t->list_prev)
        t->list_prev->list_next = t->list_next;
    else
        h->tasks = t->list_next;
    if (t->list_next)
        t->list_next->list_prev = t->list_prev;
    spin_unlock(&h->tasks_lock);
}

void task_start(struct task *t, unsigned hart, bool keep)
{
    if (keep)
        atomic_fetch_add(&t->refs, 1);
    list_add(t);
    atomic_store(&t->state, TASK_QUEUED);
    struct hart *h = hart == TASK_NO_HART ? this_hart() : &harts[hart % nharts];
    if (hart == TASK_NO_HART && __builtin_expect(chaos_on, 0))
        h = chaos_pick_hart(h);     /* chaos: spawned anywhere (within its mask) */
    runq_push(task_hart_for(t, h), t);
}

void task_inline_begin(struct task *t)
{
    atomic_store(&t->state, TASK_RUNNING);
}

enum poll task_poll_inline(struct task *t)
{
    struct hart *h = this_hart();
    struct task *outer = h->current;    /* the caller's task (a thread in a system call) */
    struct cx cx = { .task = t };
    t->hart = h->index;
    t->polls++;
    h->current = t;
    enum poll r = future_poll(t->root, &cx);
    h->current = outer;
    if (r == READY) {
        /* never listed, never queued, no joiner: a wake during the poll
         * was for a future that is done now */
        atomic_store(&t->state, TASK_DONE);
        task_put(t);
        return READY;
    }
    list_add(t);                /* before any executor can finish it */
    uint32_t s = TASK_RUNNING;
    if (atomic_compare_exchange_strong(&t->state, &s, 0))
        return PENDING;         /* idle: its waker queues it */
    atomic_store(&t->state, TASK_QUEUED);   /* woken during the poll */
    runq_push(task_hart_for(t, h), t);
    return PENDING;
}

enum poll task_poll_for(struct task *t, struct cx *cx)
{
    t->hart = this_hart()->index;
    t->polls++;
    if (future_poll(t->root, cx) == PENDING)
        return PENDING;
    atomic_store(&t->state, TASK_DONE);
    task_put(t);
    return READY;
}

void task_pin(struct task *t, unsigned hart)
{
    t->hart_mask = hart == TASK_NO_HART ? 0 : (uint16_t)(1u << (hart % nharts));
}

void task_put(struct task *t)
{
    if (atomic_fetch_sub(&t->refs, 1) == 1)
        kfree(t);
}

void task_cancel(struct task *t)
{
    future_cancel(t->root);
    task_put(t);
}

/* Called by the executor when the root future returned READY. */
void task_finish(struct task *t)
{
    list_del(t);
    atomic_store(&t->state, TASK_DONE);
    waitq_wake_all(&t->done);
    task_put(t);
}

static enum poll task_join_poll(struct future *base, struct cx *cx)
{
    struct task_join *j = (struct task_join *)base;
    ASYNC_BEGIN(j);
    AWAIT_COND(j, cx, &j->t->done, &j->w, task_done(j->t));
    ASYNC_END(j);
}

static void task_join_cancel(struct future *base)
{
    struct task_join *j = (struct task_join *)base;
    waitq_unregister(&j->t->done, &j->w);
}

static const struct future_ops task_join_ops = {
    .poll = task_join_poll, .cancel = task_join_cancel, .name = "task_join",
};

void task_join_init(struct task_join *j, struct task *t)
{
    future_init(&j->base, &task_join_ops);
    j->t = t;
    j->w.linked = false;
}

void task_for_each(void (*fn)(struct task *t, void *arg), void *arg)
{
    for (unsigned i = 0; i < nharts; i++) {
        spin_lock(&harts[i].tasks_lock);
        for (struct task *t = harts[i].tasks; t; t = t->list_next)
            fn(t, arg);
        spin_unlock(&harts[i].tasks_lock);
    }
}

static void count_one(struct task *t, void *arg) { (void)t; (*(uint64_t *)arg)++; }

uint64_t task_count(void)
{
    uint64_t n = 0;
    task_for_each(count_one, &n);
    return n;
}
