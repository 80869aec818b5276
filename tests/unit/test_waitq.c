// SOURCES: src/core/waitq.c
/*
 * test_waitq.c - a wake racing a cancel on another hart must never touch
 * a waiter (or its task) that the cancel has already let go of.
 *
 * Two host threads play two harts.  The waker calls waitq_wake_all or
 * waitq_wake_one; the stand-in task_wake below is the moment the waker
 * uses the task pointer.  Right then it lets the "canceller" thread run
 * waitq_unregister and, as soon as that returns, free the waiter and its
 * task (as a future that finished would be freed), and waits until the
 * canceller has either finished or is seen spinning on the queue's lock.
 * Then it touches the task as the real task_wake does.  If unregister
 * could return while a waker was still between reading the task pointer
 * and being done with it, ASan reports the use after free.  Deterministic:
 * no timing, the canceller's progress is observed through the lock.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include "core/future.h"
#include "unit.h"

/* ---- a spinlock that tells the test when someone waits on it -------- */

static struct spinlock *_Atomic contended;     /* a lock a thread spins on */

void spin_init(struct spinlock *l, const char *name)
{
    atomic_store(&l->locked, 0);
    l->name = name;
}

void spin_lock(struct spinlock *l)
{
    while (atomic_exchange_explicit(&l->locked, 1, memory_order_acquire))
        atomic_store(&contended, l);
}

void spin_unlock(struct spinlock *l)
{
    atomic_store_explicit(&l->locked, 0, memory_order_release);
}

/* ---- a task that a finished future frees ----------------------------- */

struct task {
    _Atomic int state;
    _Atomic int woken;
};

/* A waiting future: its waiter and its task, freed together. */
struct sleeper {
    struct waiter w;
    struct task *t;
};

static struct waitq q;
static struct sleeper *_Atomic victim;         /* what the canceller takes */
static _Atomic bool cancel_go, cancel_done;
static _Atomic int touched;

/* The canceller: unregister, then free at once, as a finished future's
 * task is freed. */
static void *canceller(void *arg)
{
    (void)arg;
    for (;;) {
        while (!atomic_load(&cancel_go))
            ;
        atomic_store(&cancel_go, false);
        struct sleeper *s = atomic_exchange(&victim, NULL);
        if (!s)
            return NULL;                        /* told to stop */
        waitq_unregister(&q, &s->w);
        free(s->t);
        free(s);
        atomic_store(&cancel_done, true);
    }
}

/* What the real task_wake does first: read and update the task's state.
 * Before that, let the canceller race us as far as it can get. */
void task_wake(struct task *t)
{
    if (atomic_load(&victim)) {
        atomic_store(&contended, NULL);
        atomic_store(&cancel_done, false);
        atomic_store(&cancel_go, true);
        while (!atomic_load(&cancel_done) && atomic_load(&contended) != &q.lock)
            ;
    }
    atomic_fetch_add(&t->state, 1);             /* ASan: use after free? */
    atomic_fetch_add(&t->woken, 1);
    atomic_fetch_add(&touched, 1);
}

static struct sleeper *sleeper_new(void)
{
    struct sleeper *s = calloc(1, sizeof *s);
    s->t = calloc(1, sizeof *s->t);
    atomic_store(&s->w.linked, false);
    struct cx cx = { .task = s->t };
    waitq_register(&q, &s->w, &cx);
    return s;
}

static void run_race(bool wake_all)
{
    pthread_t th;
    waitq_init(&q, "test");
    pthread_create(&th, NULL, canceller, NULL);
    for (int round = 0; round < 200; round++) {
        struct sleeper *s = sleeper_new();
        struct sleeper *other = round % 3 == 0 ? sleeper_new() : NULL;  /* a bystander */
        atomic_store(&victim, other ? other : s);
        if (wake_all)
            waitq_wake_all(&q);
        else
            while (waitq_wake_one(&q))
                ;
        /* every waiter was woken exactly once and nothing is linked */
        while (!atomic_load(&cancel_done))
            ;
        CHECK(q.head == NULL);
        struct sleeper *left = other ? s : NULL;    /* the one not freed */
        if (left) {
            CHECK(!atomic_load(&left->w.linked));
            CHECK(atomic_load(&left->t->woken) == 1);
            waitq_unregister(&q, &left->w);         /* harmless when unlinked */
            free(left->t);
            free(left);
        }
    }
    atomic_store(&victim, NULL);
    atomic_store(&cancel_go, true);
    pthread_join(th, NULL);
    CHECK(atomic_load(&touched) > 0);
}

static void wake_all_racing_cancel_touches_no_freed_task(void) { run_race(true); }
static void wake_one_racing_cancel_touches_no_freed_task(void) { run_race(false); }

/* The plain protocol: register twice is one registration; unregister
 * unlinks; a wake unlinks everyone. */
static void register_unregister_wake(void)
{
    waitq_init(&q, "test");
    atomic_store(&victim, NULL);
    struct task t = { 0 };
    struct waiter a = { 0 }, b = { 0 };
    struct cx cx = { .task = &t };
    waitq_register(&q, &a, &cx);
    waitq_register(&q, &a, &cx);
    waitq_register(&q, &b, &cx);
    CHECK(q.head == &b && b.next == &a && a.next == NULL);
    waitq_unregister(&q, &b);
    CHECK(q.head == &a && !atomic_load(&b.linked));
    waitq_wake_all(&q);
    CHECK(q.head == NULL && !atomic_load(&a.linked) && atomic_load(&t.woken) == 1);
}

int main(void)
{
    static const struct unit_test tests[] = {
        TEST(register_unregister_wake),
        TEST(wake_all_racing_cancel_touches_no_freed_task),
        TEST(wake_one_racing_cancel_touches_no_freed_task),
    };
    return RUN_TESTS(tests);
}
