/*
 * pagecache.c - the page cache of ext2 file data (include/fs/pagecache.h).
 *
 * One hash table of pages keyed by (fs, ino, index), one LRU list, one
 * spinlock.  The lock is never held across an await nor while calling
 * the page allocator (whose shrinker, pc_shrink, takes it); copies of at
 * most one page are made under it where a page's data and flags must
 * change together (a fill publishing VALID, a write updating a page).
 *
 * Lifecycle of a page:
 *
 *   pc_get --> cached, not VALID --fill--> VALID --shared write fault--> DIRTY
 *                 |                          |     <--pc_flush (unmapped)--
 *                 +------- truncate / forget / shrink (refs == 0) --> freed
 *   truncate / forget with refs > 0: unhashed, GONE, freed at the last put.
 *
 * The frame of a cached page is marked PAGE_CACHE in the page allocator's
 * descriptor, whose slab_free field points back at the pc_page, so mm.c
 * can tell a mapped cache page from an owned one (pc_page_of).
 */
#include "arch.h"
#include "core/task.h"
#include "core/timer.h"
#include "fs/ext2.h"
#include "fs/file.h"
#include "fs/pagecache.h"
#include "lib/errno.h"
#include "lib/klib.h"
#include "lib/printk.h"
#include "mem/kmalloc.h"
#include "mem/mm.h"
#include "mem/page_alloc.h"

#define NHASH 1024
#define NINO 256                    /* per-inode page counts, hashed: truncate skips empty ones */
#define WRITEBACK_MS 5000
#define FILL_READAHEAD 16            /* blocks read ahead when a fault's fill misses */

static struct spinlock lock = SPINLOCK_INIT("pagecache");
static struct pc_page *hash[NHASH];
static struct pc_page lru = { .lru_prev = &lru, .lru_next = &lru };  /* head: most recent */
static uint32_t ino_pages[NINO];
static uint64_t npages, ndirty, max_pages = UINT64_MAX;   /* ndirty: hashed DIRTY pages */
static uint32_t flush_passes;
static struct pc_stats stats;

static unsigned hslot(struct ext2_fs *fs, uint32_t ino, uint64_t index)
{
    uint64_t k = ((uint64_t)ino << 32) ^ index ^ (uintptr_t)fs;
    return (unsigned)((k * 0x9e3779b97f4a7c15ULL) >> 40) % NHASH;
}

static void lru_unlink(struct pc_page *pg)
{
    pg->lru_prev->lru_next = pg->lru_next;
    pg->lru_next->lru_prev = pg->lru_prev;
}

static void lru_front(struct pc_page *pg)
{
    pg->lru_next = lru.lru_next;
    pg->lru_prev = &lru;
    lru.lru_next->lru_prev = pg;
    lru.lru_next = pg;
}

static struct pc_page *find_locked(struct ext2_fs *fs, uint32_t ino, uint64_t index)
{
    for (struct pc_page *pg = hash[hslot(fs, ino, index)]; pg; pg = pg->hnext)
        if (pg->fs == fs && pg->ino == ino && pg->index == index)
            return pg;
    return NULL;
}

/* Take pg out of the hash and the LRU (under the lock). */
static void unhash_locked(struct pc_page *pg)
{
    struct pc_page **pp = &hash[hslot(pg->fs, pg->ino, pg->index)];
    while (*pp != pg)
        pp = &(*pp)->hnext;
    *pp = pg->hnext;
    pg->hnext = NULL;
    lru_unlink(pg);
    pg->lru_next = pg->lru_prev = pg;
    ino_pages[pg->ino % NINO]--;
    npages--;
    if (pg->flags & PC_DIRTY)
        ndirty--;
    pg->flags = (pg->flags & ~(PC_VALID | PC_DIRTY)) | PC_GONE;
}

static void page_destroy(struct pc_page *pg)
{
    struct page *d = page_of(pg->data);
    d->slab_free = NULL;
    d->kind = PAGE_USED;
    page_free(pg->data);
    kfree(pg);
}

struct pc_page *pc_page_of(const void *p)
{
    struct page *d = page_of(p);
    return d && d->kind == PAGE_CACHE ? d->slab_free : NULL;
}

struct pc_page *pc_get(struct ext2_fs *fs, uint32_t ino, uint64_t index)
{
    static _Atomic int registered;
    if (!atomic_load(&registered) && !atomic_exchange(&registered, 1)) {
        struct page_stats ps;
        page_get_stats(&ps);
        max_pages = ps.total_pages / 4;
        page_alloc_add_shrinker(pc_shrink);
    }
    spin_lock(&lock);
    struct pc_page *pg = find_locked(fs, ino, index);
    if (pg) {
        atomic_fetch_add(&pg->refs, 1);
        lru_unlink(pg);
        lru_front(pg);
        stats.hits++;
        spin_unlock(&lock);
        return pg;
    }
    bool over = npages >= max_pages;
    spin_unlock(&lock);
    if (over)                               /* keep memory for the rest (and big blocks) */
        pc_shrink(npages - max_pages + 32);

    /* allocate outside the lock: the allocator may call pc_shrink */
    struct pc_page *n = kzalloc(sizeof *n);
    uint8_t *data = n ? page_alloc_nozero() : NULL;    /* a fill writes every byte */
    if (!data) {
        kfree(n);
        return NULL;
    }
    n->fs = fs;
    n->ino = ino;
    n->index = index;
    n->data = data;
    atomic_store(&n->refs, 1);
    waitq_init(&n->wq, "pcpage");
    struct page *d = page_of(data);
    d->kind = PAGE_CACHE;
    d->slab_free = n;

    spin_lock(&lock);
    pg = find_locked(fs, ino, index);       /* raced with another maker? */
    if (pg) {
        atomic_fetch_add(&pg->refs, 1);
        spin_unlock(&lock);
        page_destroy(n);
        return pg;
    }
    unsigned h = hslot(fs, ino, index);
    n->hnext = hash[h];
    hash[h] = n;
    lru_front(n);
    ino_pages[ino % NINO]++;
    npages++;
    spin_unlock(&lock);
    return n;
}

struct pc_page *pc_lookup(struct ext2_fs *fs, uint32_t ino, uint64_t index)
{
    spin_lock(&lock);
    struct pc_page *pg = find_locked(fs, ino, index);
    if (pg && (pg->flags & PC_VALID)) {
        atomic_fetch_add(&pg->refs, 1);
        lru_unlink(pg);
        lru_front(pg);
        stats.hits++;
    } else {
        pg = NULL;
    }
    spin_unlock(&lock);
    return pg;
}

void pc_put(struct pc_page *pg)
{
    if (!pg)
        return;
    spin_lock(&lock);
    bool last = atomic_fetch_sub(&pg->refs, 1) == 1 && (pg->flags & PC_GONE);
    spin_unlock(&lock);
    if (last)
        page_destroy(pg);
}

/* ---- filling ---------------------------------------------------------------- */

long pc_fill_attempt(struct x2c *c, struct x2ino *ix, struct pc_page *pg)
{
    struct ext2_fs *fs = c->fs;
    uint64_t size = x2_isize(fs, ix->i);
    uint64_t pos0 = pg->index * PAGE_SIZE;
    uint32_t step = MIN(fs->bsize, (uint32_t)PAGE_SIZE);
    unsigned nb = PAGE_SIZE / step;         /* blocks (or parts of one) in the page */
    struct buf *b[PAGE_SIZE / 1024] = { 0 };
    long r = 0;
    if (pg->flags & PC_VALID)
        return 0;
    /* gather every block first: nothing is copied until all are here */
    for (unsigned k = 0; k < nb && !r; k++) {
        uint64_t pos = pos0 + (uint64_t)k * step;
        if (pos >= size)
            break;
        uint32_t p;
        if ((r = x2_bmap(c, ix, pos / fs->bsize, false, &p)))
            break;
        if (p)
            r = x2_block(c, p, &b[k]);
    }
    if (!r) {
        spin_lock(&lock);
        uint8_t *taken;
        if (!(pg->flags & (PC_VALID | PC_GONE)) && nb == 1 && fs->bsize == PAGE_SIZE && b[0] &&
            (taken = bc_trade(b[0], pg->data))) {
            /* a 4 KiB block is the page: take its data, give ours (no copy;
             * the block cache reads the block again if it is wanted) */
            struct page *d = page_of(taken), *mine = page_of(pg->data);
            mine->slab_free = NULL;
            mine->kind = PAGE_USED;
            d->kind = PAGE_CACHE;
            d->slab_free = pg;
            pg->data = taken;
            if (size - pos0 < PAGE_SIZE)    /* the bytes past the end read as zeros */
                memset(pg->data + (size - pos0), 0, PAGE_SIZE - (size - pos0));
            pg->flags |= PC_VALID;
            pg->err = 0;
            stats.fills++;
        } else if (!(pg->flags & (PC_VALID | PC_GONE))) {
            for (unsigned k = 0; k < nb; k++) {
                uint64_t pos = pos0 + (uint64_t)k * step;
                uint8_t *dst = pg->data + k * step;
                uint32_t n = pos >= size ? 0 : (uint32_t)MIN((uint64_t)step, size - pos);
                if (b[k] && n)
                    memcpy(dst, b[k]->data + pos % fs->bsize, n);
                else
                    n = 0;
                memset(dst + n, 0, step - n);
            }
            pg->flags |= PC_VALID;
            pg->err = 0;
            stats.fills++;
        }
        spin_unlock(&lock);
    }
    for (unsigned k = 0; k < nb; k++)
        bc_put(b[k]);
    return r;
}

/* The one fill of a page a fault waits for: a task of its own, so a
 * cancelled waiter (a killed process) leaves it to finish and populate
 * the cache.  Holds a page reference and the file system busy. */
struct fill_task {
    struct future base;
    struct pc_page *pg;
    struct x2run run;
};

/* Runs with the inode's lock shared: no write changes the file's blocks
 * meanwhile (a write updates a cached page only once it is VALID, so the
 * fill must not race one). */
static long fill_task_attempt(struct x2c *c, void *arg)
{
    struct pc_page *pg = arg;
    struct x2ino ix;
    long r = x2_ilock(c, pg->ino, false);
    if (r || (r = x2_iget(c, pg->ino, &ix)))
        return r;
    if (pg->index * PAGE_SIZE >= x2_isize(c->fs, ix.i)) {
        /* wholly past the end of the file: the faulting access gets
         * SIGBUS (not a zero page whose stores would go nowhere); the
         * page stays not VALID, so a fault after the file grew fills it */
        x2_iput(&ix);
        return -EFAULT;
    }
    r = pc_fill_attempt(c, &ix, pg);
    if (r == -EMISS) {
        /* faults on a mapping tend to go on: read the next blocks ahead
         * (into the block cache), without waiting for them */
        struct ext2_fs *fs = c->fs;
        uint64_t miss = c->miss, size = x2_isize(fs, ix.i);
        uint64_t first = (pg->index + 1) * PAGE_SIZE / fs->bsize;
        for (uint64_t k = 0; k < FILL_READAHEAD && (first + k) * fs->bsize < size; k++) {
            uint32_t q;
            if (x2_bmap(c, &ix, first + k, false, &q))
                break;                  /* its indirect block is not here yet */
            if (q)
                bc_readahead(fs->dev, q, fs->bsize);
        }
        c->miss = miss;
        c->miss_size = 0;
    }
    x2_iput(&ix);
    return r;
}

static void fill_end(struct pc_page *pg, int err)
{
    spin_lock(&lock);
    pg->flags &= ~PC_FILLING;
    if (!(pg->flags & PC_VALID))
        pg->err = err ? err : -EIO;
    spin_unlock(&lock);
    waitq_wake_all(&pg->wq);
}

static enum poll fill_task_poll(struct future *base, struct cx *cx)
{
    struct fill_task *t = (struct fill_task *)base;
    ASYNC_BEGIN(t);
    x2run_init(&t->run, t->pg->fs, false, fill_task_attempt, t->pg);
    AWAIT(t, future_poll(&t->run.base, cx));
    fill_end(t->pg, (int)t->run.result);
    atomic_fetch_sub(&t->pg->fs->busy, 1);
    pc_put(t->pg);
    ASYNC_END(t);
}

static const struct future_ops fill_task_ops = { fill_task_poll, NULL, "pc_fill" };

void pc_fill_start(struct pc_page *pg)
{
    spin_lock(&lock);
    if (pg->flags & (PC_VALID | PC_FILLING | PC_GONE)) {
        spin_unlock(&lock);
        return;
    }
    pg->flags |= PC_FILLING;
    atomic_fetch_add(&pg->refs, 1);
    stats.fill_tasks++;
    spin_unlock(&lock);
    struct task *task;
    struct fill_task *t = task_alloc(sizeof *t, "pc_fill", &task);
    if (!t) {
        fill_end(pg, -ENOMEM);
        pc_put(pg);
        return;
    }
    memset(t, 0, sizeof *t);
    future_init(&t->base, &fill_task_ops);
    t->pg = pg;
    atomic_fetch_add(&pg->fs->busy, 1);     /* no umount under the fill */
    task_start(task, TASK_NO_HART, false);
}

static bool fill_over(struct pc_page *pg)
{
    return !(__atomic_load_n(&pg->flags, __ATOMIC_ACQUIRE) & PC_FILLING);
}

static enum poll wait_poll(struct future *base, struct cx *cx)
{
    struct pc_wait *w = (struct pc_wait *)base;
    ASYNC_BEGIN(w);
    if (!fill_over(w->pg)) {
        spin_lock(&lock);
        stats.waits++;
        spin_unlock(&lock);
    }
    AWAIT_COND(w, cx, &w->pg->wq, &w->w, fill_over(w->pg));
    spin_lock(&lock);
    w->result = w->pg->flags & PC_VALID ? 0 : w->pg->flags & PC_GONE ? -EAGAIN
              : w->pg->err ? w->pg->err : -EIO;
    spin_unlock(&lock);
    ASYNC_END(w);
}

static void wait_cancel(struct future *base)
{
    struct pc_wait *w = (struct pc_wait *)base;
    waitq_unregister(&w->pg->wq, &w->w);
}

static const struct future_ops wait_ops = { wait_poll, wait_cancel, "pc_wait" };

void pc_wait_init(struct pc_wait *w, struct pc_page *pg)
{
    future_init(&w->base, &wait_ops);
    w->pg = pg;
    w->w.linked = false;
    w->result = 0;
}

/* ---- mappings ------------------------------------------------------------------ */

static void vma_file_get(void *obj) { file_get(obj); }
static void vma_file_put(void *obj) { file_put(obj); }
const struct vma_shared_ops pc_file_vma_ops = { vma_file_get, vma_file_put };

void pc_map_get(struct pc_page *pg, bool shared, bool writable)
{
    spin_lock(&lock);
    atomic_fetch_add(&pg->refs, 1);
    pg->maps++;
    if (shared)
        pg->smaps++;
    spin_unlock(&lock);
    if (writable)
        pc_mark_dirty(pg);
}

void pc_unmap_put(struct pc_page *pg, bool shared)
{
    spin_lock(&lock);
    pg->maps--;
    if (shared)
        pg->smaps--;
    spin_unlock(&lock);
    pc_put(pg);
}

void pc_mark_dirty(struct pc_page *pg)
{
    spin_lock(&lock);
    if (!(pg->flags & (PC_DIRTY | PC_GONE))) {
        pg->flags |= PC_DIRTY;
        ndirty++;
    }
    pg->wseq++;
    spin_unlock(&lock);
}

/* ---- coherence with write and truncate ---------------------------------------------- */

void pc_write(struct ext2_fs *fs, uint32_t ino, uint64_t pos, const uint8_t *src, uint32_t n)
{
    if (!__atomic_load_n(&ino_pages[ino % NINO], __ATOMIC_RELAXED))
        return;
    while (n) {
        uint64_t index = pos / PAGE_SIZE;
        uint32_t off = pos % PAGE_SIZE, k = (uint32_t)MIN((uint64_t)n, PAGE_SIZE - off);
        spin_lock(&lock);
        struct pc_page *pg = find_locked(fs, ino, index);
        if (pg && (pg->flags & PC_VALID))
            memcpy(pg->data + off, src, k);
        spin_unlock(&lock);
        pos += k;
        src += k;
        n -= k;
    }
}

/* Drop pages of (fs, ino; ino 0: all) from index `from` on (under the lock);
 * unreferenced ones go on *dead.  Returns whether a VALID one went. */
static bool drop_locked(struct ext2_fs *fs, uint32_t ino, uint64_t from, struct pc_page **dead)
{
    bool valid = false;
    for (unsigned h = 0; h < NHASH; h++)
        for (struct pc_page **pp = &hash[h]; *pp;) {
            struct pc_page *pg = *pp;
            if (pg->fs != fs || (ino && pg->ino != ino) || pg->index < from) {
                pp = &pg->hnext;
                continue;
            }
            valid |= (pg->flags & PC_VALID) != 0;
            unhash_locked(pg);      /* unlinks *pp */
            if (atomic_load(&pg->refs) == 0) {
                pg->hnext = *dead;
                *dead = pg;
            }
        }
    return valid;
}

static void free_list(struct pc_page *dead)
{
    while (dead) {
        struct pc_page *n = dead->hnext;
        page_destroy(dead);
        dead = n;
    }
}

void pc_truncate(struct ext2_fs *fs, uint32_t ino, uint64_t size)
{
    if (!__atomic_load_n(&ino_pages[ino % NINO], __ATOMIC_RELAXED))
        return;
    struct pc_page *dead = NULL;
    spin_lock(&lock);
    bool valid = drop_locked(fs, ino, (size + PAGE_SIZE - 1) / PAGE_SIZE, &dead);
    if (size % PAGE_SIZE) {
        struct pc_page *pg = find_locked(fs, ino, size / PAGE_SIZE);
        if (pg && (pg->flags & PC_VALID))
            memset(pg->data + size % PAGE_SIZE, 0, PAGE_SIZE - size % PAGE_SIZE);
    }
    spin_unlock(&lock);
    free_list(dead);
    /* the dropped pages may still be mapped (their references keep the
     * frames), or privately copied: unmap them, so the next access
     * faults, finds the page wholly past the end and gets SIGBUS, as on
     * Linux.  Only a VALID page can have been mapped (a fill never makes
     * one past the end VALID): a write growing the file walks nothing. */
    if (valid)
        mm_unmap_file(fs, ino, (size + PAGE_SIZE - 1) / PAGE_SIZE);
}

void pc_forget(struct ext2_fs *fs)
{
    struct pc_page *dead = NULL;
    spin_lock(&lock);
    drop_locked(fs, 0, 0, &dead);
    spin_unlock(&lock);
    free_list(dead);
}

/* ---- write-back of dirty pages ---------------------------------------------------- */

/* Copy f->pg into its blocks (allocating holes), with the inode's lock
 * held exclusively. */
static long flush_attempt(struct x2c *c, void *arg)
{
    struct pc_flush *f = arg;
    struct pc_page *pg = f->pg;
    struct ext2_fs *fs = c->fs;
    struct x2ino ix;
    long r = x2_ilock(c, pg->ino, true);
    if (r || (r = x2_iget(c, pg->ino, &ix)))
        return r;
    if (!ix.i->i_mode || !ix.i->i_links_count) {
        x2_iput(&ix);
        return 0;                       /* freed meanwhile: nothing to keep */
    }
    uint64_t size = x2_isize(fs, ix.i), pos0 = pg->index * PAGE_SIZE;
    uint32_t step = MIN(fs->bsize, (uint32_t)PAGE_SIZE);
    for (uint32_t k = 0; k < PAGE_SIZE && pos0 + k < size && !r; k += step) {
        uint64_t pos = pos0 + k;
        uint32_t n = (uint32_t)MIN((uint64_t)step, size - pos), p;
        struct buf *b;
        if ((r = x2_bmap(c, &ix, pos / fs->bsize, true, &p)))
            break;
        if ((r = x2_block(c, p, &b)))
            break;
        memcpy(b->data + pos % fs->bsize, pg->data + k, n);
        bc_dirty(b);
        bc_put(b);
    }
    x2_iput(&ix);
    return r;
}

/* The next dirty page of f's pass in f->bucket, with a reference; NULL
 * when the bucket has no more. */
static struct pc_page *next_dirty(struct pc_flush *f, uint32_t *seq)
{
    spin_lock(&lock);
    struct pc_page *pg = hash[f->bucket];
    for (; pg; pg = pg->hnext)
        if ((pg->flags & PC_DIRTY) && pg->flush_pass != f->pass && (!f->fs || pg->fs == f->fs) &&
            (!f->ino || pg->ino == f->ino))
            break;
    if (pg) {
        pg->flush_pass = f->pass;
        atomic_fetch_add(&pg->refs, 1);
        *seq = pg->wseq;
    }
    spin_unlock(&lock);
    return pg;
}

static enum poll flush_poll(struct future *base, struct cx *cx)
{
    struct pc_flush *f = (struct pc_flush *)base;
    uint32_t seq;
    ASYNC_BEGIN(f);
    spin_lock(&lock);
    f->pass = ++flush_passes;
    if (!ndirty)
        f->bucket = NHASH;              /* nothing to do (fsync's common case) */
    else
        f->bucket = 0;
    spin_unlock(&lock);
    while (f->bucket < NHASH) {
        f->pg = next_dirty(f, &seq);
        if (!f->pg) {
            f->bucket++;
            continue;
        }
        f->seq = seq;
        x2run_init(&f->run, f->pg->fs, true, flush_attempt, f);
        AWAIT(f, future_poll(&f->run.base, cx));
        if (f->run.result < 0) {
            f->result = (int)f->run.result;
        } else {
            /* clean unless a shared mapping may still write it, or wrote since */
            spin_lock(&lock);
            if (f->pg->smaps == 0 && f->pg->wseq == f->seq && (f->pg->flags & PC_DIRTY)) {
                f->pg->flags &= ~PC_DIRTY;
                ndirty--;
            }
            spin_unlock(&lock);
        }
        pc_put(f->pg);
        f->pg = NULL;
    }
    ASYNC_END(f);
}

static void flush_cancel(struct future *base)
{
    struct pc_flush *f = (struct pc_flush *)base;
    future_cancel(&f->run.base);
    pc_put(f->pg);
    f->pg = NULL;
}

static const struct future_ops flush_ops = { flush_poll, flush_cancel, "pc_flush" };

void pc_flush_init(struct pc_flush *f, struct ext2_fs *fs, uint32_t ino)
{
    memset(f, 0, sizeof *f);
    future_init(&f->base, &flush_ops);
    f->run.base.resume = RESUME_DONE;
    f->fs = fs;
    f->ino = ino;
}

static enum poll fsync_poll(struct future *base, struct cx *cx)
{
    struct pc_fsync *s = (struct pc_fsync *)base;
    ASYNC_BEGIN(s);
    pc_flush_init(&s->flush, s->fs, s->ino);
    AWAIT(s, future_poll(&s->flush.base, cx));
    s->result = s->flush.result;
    bc_sync_init(&s->sync, s->fs ? s->fs->dev : NULL);
    AWAIT(s, future_poll(&s->sync.base, cx));
    if (!s->result)
        s->result = s->sync.result;
    ASYNC_END(s);
}

static void fsync_cancel(struct future *base)
{
    struct pc_fsync *s = (struct pc_fsync *)base;
    future_cancel(&s->flush.base);
    future_cancel(&s->sync.base);
}

static const struct future_ops fsync_ops = { fsync_poll, fsync_cancel, "pc_fsync" };

void pc_fsync_init(struct pc_fsync *s, struct ext2_fs *fs, uint32_t ino)
{
    future_init(&s->base, &fsync_ops);
    s->fs = fs;
    s->ino = ino;
    s->result = 0;
    s->flush.base.resume = RESUME_DONE;
    s->sync.base.resume = RESUME_DONE;
}

struct pc_writeback {
    struct future base;
    struct sleep sl;
    struct pc_flush flush;
};

static enum poll writeback_poll(struct future *base, struct cx *cx)
{
    struct pc_writeback *w = (struct pc_writeback *)base;
    ASYNC_BEGIN(w);
    for (;;) {
        sleep_init(&w->sl, time_ms(WRITEBACK_MS));
        AWAIT(w, future_poll(&w->sl.base, cx));
        if (!__atomic_load_n(&ndirty, __ATOMIC_RELAXED))
            continue;
        pc_flush_init(&w->flush, NULL, 0);
        AWAIT(w, future_poll(&w->flush.base, cx));
        if (w->flush.result)
            printk("page cache write-back: error %d (the pages stay dirty)\n", w->flush.result);
    }
    ASYNC_END(w);
}

static const struct future_ops writeback_ops = { writeback_poll, NULL, "pc_writeback" };

void pc_writeback_start(void)
{
    static _Atomic int started;
    if (atomic_exchange(&started, 1))
        return;
    struct task *t;
    struct pc_writeback *w = task_alloc(sizeof *w, "pc_writeback", &t);
    if (!w)
        return;
    memset(w, 0, sizeof *w);
    future_init(&w->base, &writeback_ops);
    task_start(t, TASK_NO_HART, false);
}

/* ---- reclaim and statistics --------------------------------------------------------- */

unsigned long pc_shrink(unsigned long want)
{
    struct pc_page *dead = NULL;
    unsigned long got = 0;
    spin_lock(&lock);
    for (struct pc_page *pg = lru.lru_prev; pg != &lru && got < want;) {
        struct pc_page *prev = pg->lru_prev;
        if (atomic_load(&pg->refs) == 0 && !(pg->flags & (PC_DIRTY | PC_FILLING))) {
            unhash_locked(pg);
            pg->hnext = dead;
            dead = pg;
            got++;
            stats.reclaimed++;
        }
        pg = prev;
    }
    spin_unlock(&lock);
    free_list(dead);
    return got;
}

void pc_get_stats(struct pc_stats *out)
{
    spin_lock(&lock);
    *out = stats;
    out->pages = npages;
    out->mapped = out->shared = out->dirty = 0;
    for (struct pc_page *pg = lru.lru_next; pg != &lru; pg = pg->lru_next) {
        out->mapped += pg->maps > 0;
        out->shared += pg->maps > 1;
        out->dirty += (pg->flags & PC_DIRTY) != 0;
    }
    spin_unlock(&lock);
}
