/*
 * ktest_ext2lock.c - self-test of ext2's locks (include/fs/ext2_lock.h)
 * without a disk: x2runs of scripted attempts that only take locks, on
 * an ext2_fs that holds nothing but its lock state.  Deterministic: the
 * test polls each run itself, with this task as the waker.
 *
 * What it proves: an operation on inode B completes while inode A's lock
 * is held exclusively (the file system is not one lock any more); readers
 * of one inode share it; an operation waiting for an inode lock holds no
 * other inode lock meanwhile (so no deadlock), while one waiting for the
 * allocation lock keeps its inode locks; a cancelled waiter leaves
 * nothing behind; and every in-core inode is freed with its last
 * reference, none while a waiter holds it.
 */
#include "core/task.h"
#include "fs/ext2.h"
#include "lib/klib.h"
#include "mem/kmalloc.h"

struct script {
    int n;
    uint32_t ino[4];
    bool write[4];
    bool alloc;
    int runs;
};

static long script_attempt(struct x2c *c, void *arg)
{
    struct script *s = arg;
    long r;
    s->runs++;
    for (int i = 0; i < s->n; i++)
        if ((r = x2_ilock(c, s->ino[i], s->write[i])))
            return r;
    if (s->alloc) {
        if ((r = x2_alloc_enter(c)))
            return r;
        x2_alloc_exit(c);
    }
    return 0;
}

static enum poll poll_run(struct x2run *r)
{
    struct cx cx = { task_current() };
    return future_poll(&r->base, &cx);
}

static int refs_of(struct ext2_fs *fs, uint32_t ino)
{
    int refs = 0;
    spin_lock(&fs->itab_lock);
    for (int i = 0; i < X2_ITAB; i++)
        for (struct x2inode *xi = fs->itab[i]; xi; xi = xi->next)
            if (xi->ino == ino)
                refs = xi->refs;
    spin_unlock(&fs->itab_lock);
    return refs;
}

static bool table_empty(struct ext2_fs *fs)
{
    for (int i = 0; i < X2_ITAB; i++)
        if (fs->itab[i])
            return false;
    return true;
}

/* Can somebody else take ino's lock right now? */
static bool free_for(struct ext2_fs *fs, uint32_t ino, bool write)
{
    struct x2inode *xi = x2_iref(fs, ino);
    bool got = write ? rwlock_try_write(&xi->lock) : rwlock_try_read(&xi->lock);
    if (got && write)
        rwlock_unlock_write(&xi->lock);
    else if (got)
        rwlock_unlock_read(&xi->lock);
    x2_irele(fs, xi);
    return got;
}

#define CHECK(c, why) do { if (!(c)) { fail = (why); goto out; } } while (0)

const char *ktest_ext2_locks(void)
{
    const char *fail = NULL;
    struct ext2_fs *fs = kzalloc(sizeof *fs);
    struct x2run *run = kzalloc(sizeof *run);
    struct x2inode *a = NULL;
    bool a_write = false, alloc_held = false;
    if (!fs || !run) {
        kfree(fs);
        kfree(run);
        return "no memory";
    }
    mutex_init(&fs->alloc, "ext2 alloc");
    mutex_init(&fs->rename, "ext2 rename");
    spin_init(&fs->itab_lock, "ext2 inodes");
    struct script s;

    /* A writer holds inode 12, as an operation does across a disk read. */
    a = x2_iref(fs, 12);
    CHECK(a && rwlock_try_write(&a->lock), "could not take inode 12");
    a_write = true;

    /* 1. Operations on other inodes do not wait for it. */
    s = (struct script){ .n = 2, .ino = { 13, 14 }, .write = { true, false } };
    x2run_init(run, fs, true, script_attempt, &s);
    CHECK(poll_run(run) == READY && run->result == 0,
          "an operation on inode 13 waited while inode 12 was held");
    CHECK(refs_of(fs, 13) == 0 && refs_of(fs, 14) == 0, "a finished run kept an inode");

    /* 2. One that needs 12 waits, and holds nothing else while it waits. */
    s = (struct script){ .n = 2, .ino = { 13, 12 }, .write = { true, false } };
    x2run_init(run, fs, true, script_attempt, &s);
    CHECK(poll_run(run) == PENDING, "a reader of inode 12 did not wait for its writer");
    CHECK(free_for(fs, 13, true), "a run waiting for inode 12 still holds inode 13");
    CHECK(refs_of(fs, 12) == 2, "the waiter does not hold a reference to inode 12");
    CHECK(poll_run(run) == PENDING, "a spurious poll ended the wait");

    /* 3. 12 let go: the waiter goes on, and gets 13 again. */
    rwlock_unlock_write(&a->lock);
    a_write = false;
    CHECK(poll_run(run) == READY && run->result == 0, "the waiter was not granted inode 12");
    CHECK(s.runs == 2, "the attempt did not run again after the wait");

    /* 4. Readers of one inode share it. */
    CHECK(rwlock_try_read(&a->lock), "could not read-lock inode 12");
    s = (struct script){ .n = 1, .ino = { 12 }, .write = { false } };
    x2run_init(run, fs, true, script_attempt, &s);
    CHECK(poll_run(run) == READY && run->result == 0, "a second reader of inode 12 waited");
    rwlock_unlock_read(&a->lock);

    /* 5. Waiting for the allocation lock keeps the inode locks (it is the
     *    last lock of the order) and never keeps alloc after the attempt. */
    CHECK(mutex_trylock(&fs->alloc), "could not take alloc");
    alloc_held = true;
    s = (struct script){ .n = 1, .ino = { 15 }, .write = { true }, .alloc = true };
    x2run_init(run, fs, true, script_attempt, &s);
    CHECK(poll_run(run) == PENDING, "alloc was taken while somebody held it");
    CHECK(!free_for(fs, 15, false), "a run waiting for alloc let its inode go");
    mutex_unlock(&fs->alloc);
    alloc_held = false;
    CHECK(poll_run(run) == READY && run->result == 0, "the alloc waiter was not granted it");
    CHECK(mutex_trylock(&fs->alloc), "alloc was kept after the attempt");
    mutex_unlock(&fs->alloc);
    CHECK(free_for(fs, 15, true), "inode 15 was kept after the run");

    /* 6. A cancelled waiter leaves no lock, reference or waiter behind. */
    CHECK(rwlock_try_write(&a->lock), "could not take inode 12 again");
    a_write = true;
    s = (struct script){ .n = 2, .ino = { 16, 12 }, .write = { true, true } };
    x2run_init(run, fs, true, script_attempt, &s);
    CHECK(poll_run(run) == PENDING, "a writer of inode 12 did not wait");
    future_cancel(&run->base);
    CHECK(refs_of(fs, 12) == 1, "a cancelled waiter kept its reference");
    CHECK(refs_of(fs, 16) == 0, "a cancelled run kept inode 16");
    rwlock_unlock_write(&a->lock);
    a_write = false;
    CHECK(free_for(fs, 12, true), "inode 12 is still locked after the cancel");

    /* 7. The last reference frees the in-core inode. */
    x2_irele(fs, a);
    a = NULL;
    CHECK(table_empty(fs), "an in-core inode outlived its last reference");
out:
    if (a_write)
        rwlock_unlock_write(&a->lock);
    if (alloc_held)
        mutex_unlock(&fs->alloc);
    future_cancel(&run->base);
    if (a)
        x2_irele(fs, a);
    if (table_empty(fs))
        kfree(fs);                      /* else leak it: something may still point in */
    kfree(run);
    return fail;
}
