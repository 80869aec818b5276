/*
 * ext2_lock.c - ext2's in-core inode table, the per-inode locks as an
 * attempt takes them, the allocation and rename locks, and the open-file
 * references (include/fs/ext2_lock.h states what each lock guards, the
 * lock order and why nothing deadlocks).
 *
 * Invariants:
 *  - An x2inode is in fs->itab while refs > 0, and freed (under
 *    itab_lock) when the last reference goes; every holder and every
 *    waiter of its lock holds a reference, so its wait queue is empty
 *    when it is freed.
 *  - Every entry of a run's x2locks.h[] holds its lock and one reference;
 *    want_xi holds one reference and no lock.
 */
#include "fs/ext2.h"
#include "lib/errno.h"
#include "lib/klib.h"
#include "mem/kmalloc.h"

static unsigned islot(uint32_t ino) { return (ino * 0x9e3779b1u) >> 26; }
_Static_assert(X2_ITAB == 64, "islot gives 6 bits");

static struct x2inode *find_locked(struct ext2_fs *fs, uint32_t ino)
{
    for (struct x2inode *xi = fs->itab[islot(ino)]; xi; xi = xi->next)
        if (xi->ino == ino)
            return xi;
    return NULL;
}

struct x2inode *x2_iref(struct ext2_fs *fs, uint32_t ino)
{
    spin_lock(&fs->itab_lock);
    struct x2inode *xi = find_locked(fs, ino);
    if (xi) {
        xi->refs++;
        spin_unlock(&fs->itab_lock);
        return xi;
    }
    spin_unlock(&fs->itab_lock);
    struct x2inode *nx = kzalloc(sizeof *nx);
    if (!nx)
        return NULL;
    nx->ino = ino;
    nx->refs = 1;
    rwlock_init(&nx->lock, "ext2 inode");
    spin_lock(&fs->itab_lock);
    xi = find_locked(fs, ino);          /* made meanwhile on another hart? */
    if (xi) {
        xi->refs++;
    } else {
        nx->next = fs->itab[islot(ino)];
        fs->itab[islot(ino)] = nx;
        xi = nx;
        nx = NULL;
    }
    spin_unlock(&fs->itab_lock);
    kfree(nx);
    return xi;
}

static void unhash_locked(struct ext2_fs *fs, struct x2inode *xi)
{
    struct x2inode **pp = &fs->itab[islot(xi->ino)];
    while (*pp != xi)
        pp = &(*pp)->next;
    *pp = xi->next;
}

void x2_irele(struct ext2_fs *fs, struct x2inode *xi)
{
    if (!xi)
        return;
    spin_lock(&fs->itab_lock);
    bool last = --xi->refs == 0;
    if (last)
        unhash_locked(fs, xi);
    spin_unlock(&fs->itab_lock);
    if (last)
        kfree(xi);
}

/* ---- open files ------------------------------------------------------------ */

bool x2_open_ref(struct ext2_fs *fs, uint32_t ino)
{
    struct x2inode *xi = x2_iref(fs, ino);
    if (!xi)
        return false;
    spin_lock(&fs->itab_lock);
    xi->opens++;                        /* the reference stays with the file */
    spin_unlock(&fs->itab_lock);
    atomic_fetch_add(&fs->busy, 1);
    return true;
}

bool x2_open_unref(struct ext2_fs *fs, uint32_t ino)
{
    bool evict = false;
    spin_lock(&fs->itab_lock);
    struct x2inode *xi = find_locked(fs, ino);
    if (xi) {
        evict = --xi->opens == 0 && xi->orphan;
        if (evict)
            xi->orphan = false;
    }
    spin_unlock(&fs->itab_lock);
    x2_irele(fs, xi);
    atomic_fetch_sub(&fs->busy, 1);
    return evict;
}

/* Called with ino's lock held exclusively (its last link is going), so
 * no open can start meanwhile: an open takes its reference under the
 * inode's lock too. */
bool x2_open_orphan(struct ext2_fs *fs, uint32_t ino, bool orphan)
{
    bool open = false;
    spin_lock(&fs->itab_lock);
    struct x2inode *xi = find_locked(fs, ino);
    if (xi && xi->opens > 0) {
        open = true;
        if (orphan)
            xi->orphan = true;
    }
    spin_unlock(&fs->itab_lock);
    return open;
}

/* ---- inode locks inside an attempt ---------------------------------------------- */

static int held_index(struct x2locks *lk, uint32_t ino)
{
    for (int i = 0; i < lk->n; i++)
        if (lk->h[i].xi->ino == ino)
            return i;
    return -1;
}

static void unlock_xi(struct x2inode *xi, bool write)
{
    if (write)
        rwlock_unlock_write(&xi->lock);
    else
        rwlock_unlock_read(&xi->lock);
}

static void drop_held(struct ext2_fs *fs, struct x2locks *lk, int i)
{
    struct x2inode *xi = lk->h[i].xi;
    unlock_xi(xi, lk->h[i].write);
    lk->h[i] = lk->h[--lk->n];
    x2_irele(fs, xi);
}

/* Record what the attempt waits for (taking over the reference). */
static long want_inode(struct x2c *c, struct x2inode *xi, bool write)
{
    struct x2locks *lk = c->lk;
    if (lk->want_xi)
        x2_irele(c->fs, lk->want_xi);
    lk->want = X2W_INODE;
    lk->want_xi = xi;
    lk->want_write = write;
    return -ELOCKED;
}

bool x2_iheld(struct x2c *c, uint32_t ino, bool write)
{
    int i = held_index(c->lk, ino);
    return i >= 0 && (c->lk->h[i].write || !write);
}

long x2_ilock(struct x2c *c, uint32_t ino, bool write)
{
    struct x2locks *lk = c->lk;
    int i = held_index(lk, ino);
    if (i >= 0) {
        lk->h[i].kept = true;
        if (lk->h[i].write || !write)
            return 0;
        drop_held(c->fs, lk, i);        /* shared -> exclusive: let go, then try */
    }
    if (lk->n == X2_MAXHELD)
        return -ENOMEM;                 /* no operation needs this many */
    struct x2inode *xi = x2_iref(c->fs, ino);
    if (!xi)
        return -ENOMEM;
    bool got = write ? rwlock_try_write(&xi->lock) : rwlock_try_read(&xi->lock);
    if (!got)
        return want_inode(c, xi, write);
    lk->h[lk->n].xi = xi;
    lk->h[lk->n].write = write;
    lk->h[lk->n].kept = true;
    lk->n++;
    return 0;
}

void x2_iunlock(struct x2c *c, uint32_t ino)
{
    int i = held_index(c->lk, ino);
    if (i >= 0)
        drop_held(c->fs, c->lk, i);
}

long x2_tmp_rlock(struct x2c *c, uint32_t ino, struct x2inode **out)
{
    *out = NULL;
    if (held_index(c->lk, ino) >= 0)
        return 0;
    struct x2inode *xi = x2_iref(c->fs, ino);
    if (!xi)
        return -ENOMEM;
    if (!rwlock_try_read(&xi->lock))
        return want_inode(c, xi, false);
    *out = xi;
    return 0;
}

void x2_tmp_unlock(struct x2c *c, struct x2inode *xi)
{
    if (!xi)
        return;
    rwlock_unlock_read(&xi->lock);
    x2_irele(c->fs, xi);
}

/* ---- alloc and rename ------------------------------------------------------------- */

long x2_alloc_enter(struct x2c *c)
{
    if (c->alloc_depth++ > 0 || c->lk->alloc)
        return 0;
    if (mutex_trylock(&c->fs->alloc)) {
        c->lk->alloc = true;
        return 0;
    }
    c->alloc_depth--;
    c->lk->want = X2W_ALLOC;
    return -ELOCKED;
}

/* The outermost exit lets the mutex go (also one the run handed in). */
void x2_alloc_exit(struct x2c *c)
{
    if (--c->alloc_depth == 0 && c->lk->alloc) {
        c->lk->alloc = false;
        mutex_unlock(&c->fs->alloc);
    }
}

long x2_rename_lock(struct x2c *c)
{
    if (c->lk->rename)
        return 0;
    if (mutex_trylock(&c->fs->rename)) {
        c->lk->rename = true;
        return 0;
    }
    c->lk->want = X2W_RENAME;
    return -ELOCKED;
}

/* ---- the run's side ---------------------------------------------------------------- */

void x2_locks_release_inodes(struct ext2_fs *fs, struct x2locks *lk)
{
    while (lk->n)
        drop_held(fs, lk, lk->n - 1);
}

/* After an attempt: an awaited lock the attempt only used for a moment
 * (a directory of its path walk) is not kept across the next wait. */
void x2_locks_release_unkept(struct ext2_fs *fs, struct x2locks *lk)
{
    for (int i = lk->n - 1; i >= 0; i--)
        if (!lk->h[i].kept)
            drop_held(fs, lk, i);
}

void x2_locks_release_all(struct ext2_fs *fs, struct x2locks *lk)
{
    x2_locks_release_inodes(fs, lk);
    if (lk->alloc) {
        lk->alloc = false;
        mutex_unlock(&fs->alloc);
    }
    if (lk->rename) {
        lk->rename = false;
        mutex_unlock(&fs->rename);
    }
    if (lk->want_xi) {
        x2_irele(fs, lk->want_xi);
        lk->want_xi = NULL;
    }
    lk->want = X2W_NONE;
}
