// SOURCES: src/core/sleeplock.c src/core/waitq.c
/*
 * test_sleeplock.c - the mutex and rwlock futures on the host: who gets
 * the lock, who is woken, and that cancellation unlinks the waiter and
 * passes on a wake it swallowed.  Tasks are fake: task_wake records.
 */
#include <string.h>
#include "core/sleeplock.h"
#include "unit.h"

static int woken[8];
void task_wake(struct task *t) { woken[(intptr_t)t]++; }

static struct cx cx_of(int id) { return (struct cx){ .task = (struct task *)(intptr_t)id }; }

static enum poll poll_lock(struct future *f, int id)
{
    struct cx cx = cx_of(id);
    return future_poll(f, &cx);
}

static void test_mutex_handoff(void)
{
    struct mutex m;
    struct mutex_lock a, b, c;
    memset(woken, 0, sizeof woken);
    mutex_init(&m, "m");
    mutex_lock_init(&a, &m);
    mutex_lock_init(&b, &m);
    mutex_lock_init(&c, &m);
    CHECK(poll_lock(&a.base, 1) == READY);
    CHECK(poll_lock(&b.base, 2) == PENDING);
    CHECK(poll_lock(&b.base, 2) == PENDING);        /* spurious poll: still one waiter */
    CHECK(poll_lock(&c.base, 3) == PENDING);
    mutex_unlock(&m);
    CHECK(woken[2] == 1 && woken[3] == 0);           /* the oldest waiter, only */
    CHECK(poll_lock(&b.base, 2) == READY);
    mutex_unlock(&m);
    CHECK(woken[3] == 1);
    CHECK(poll_lock(&c.base, 3) == READY);
    mutex_unlock(&m);
    CHECK(m.wq.head == NULL && !m.held);
}

static void test_mutex_cancel_passes_the_wake_on(void)
{
    struct mutex m;
    struct mutex_lock a, b, c;
    memset(woken, 0, sizeof woken);
    mutex_init(&m, "m");
    mutex_lock_init(&a, &m);
    mutex_lock_init(&b, &m);
    mutex_lock_init(&c, &m);
    CHECK(poll_lock(&a.base, 1) == READY);
    CHECK(poll_lock(&b.base, 2) == PENDING);
    CHECK(poll_lock(&c.base, 3) == PENDING);
    mutex_unlock(&m);                                /* wakes b ... */
    future_cancel(&b.base);                          /* ... which is cancelled unpolled */
    CHECK(woken[3] == 1);                            /* so c is woken instead */
    CHECK(poll_lock(&c.base, 3) == READY);
    mutex_unlock(&m);
    struct mutex_lock d;
    mutex_lock_init(&d, &m);
    CHECK(poll_lock(&d.base, 4) == READY);
    struct mutex_lock e;
    mutex_lock_init(&e, &m);
    CHECK(poll_lock(&e.base, 5) == PENDING);
    future_cancel(&e.base);                          /* a plain waiter: just unlinked */
    CHECK(m.wq.head == NULL);
    mutex_unlock(&m);
}

static void test_rwlock_readers_share_writer_waits_and_blocks_readers(void)
{
    struct rwlock l;
    struct rwlock_lock r1, r2, w, r3;
    memset(woken, 0, sizeof woken);
    rwlock_init(&l, "rw");
    rwlock_read_init(&r1, &l);
    rwlock_read_init(&r2, &l);
    rwlock_write_init(&w, &l);
    rwlock_read_init(&r3, &l);
    CHECK(poll_lock(&r1.base, 1) == READY);
    CHECK(poll_lock(&r2.base, 2) == READY);
    CHECK(poll_lock(&w.base, 3) == PENDING);
    CHECK(poll_lock(&r3.base, 4) == PENDING);        /* a waiting writer holds new readers */
    rwlock_unlock_read(&l);
    CHECK(woken[3] == 0);
    rwlock_unlock_read(&l);
    CHECK(woken[3] == 1);
    CHECK(poll_lock(&r3.base, 4) == PENDING);
    CHECK(poll_lock(&w.base, 3) == READY);
    CHECK(poll_lock(&r3.base, 4) == PENDING);
    rwlock_unlock_write(&l);
    CHECK(poll_lock(&r3.base, 4) == READY);
    rwlock_unlock_read(&l);
    CHECK(l.readers == 0 && l.writers_waiting == 0);
}

static void test_rwlock_cancelled_writer_lets_readers_in(void)
{
    struct rwlock l;
    struct rwlock_lock r1, w, r2;
    memset(woken, 0, sizeof woken);
    rwlock_init(&l, "rw");
    rwlock_read_init(&r1, &l);
    rwlock_write_init(&w, &l);
    rwlock_read_init(&r2, &l);
    CHECK(poll_lock(&r1.base, 1) == READY);
    CHECK(poll_lock(&w.base, 2) == PENDING);
    CHECK(poll_lock(&r2.base, 3) == PENDING);
    future_cancel(&w.base);
    CHECK(woken[3] == 1 && l.writers_waiting == 0);
    CHECK(poll_lock(&r2.base, 3) == READY);
    rwlock_unlock_read(&l);
    rwlock_unlock_read(&l);
    CHECK(l.readers == 0 && l.wq.head == NULL);
}

static const struct unit_test tests[] = {
    TEST(test_mutex_handoff),
    TEST(test_mutex_cancel_passes_the_wake_on),
    TEST(test_rwlock_readers_share_writer_waits_and_blocks_readers),
    TEST(test_rwlock_cancelled_writer_lets_readers_in),
};

int main(void) { return RUN_TESTS(tests); }
