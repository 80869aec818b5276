/*
 * bcache.c - the block cache (include/fs/bcache.h).
 *
 * One hash table and one LRU list under one spinlock (never held across
 * an await, nor while a buf's data is copied).  A read miss starts one
 * bio whose buffer is the buf's own data; the bio's completion hook
 * (interrupt context) marks the buf VALID or failed and wakes the bufs'
 * waiters, so every reader of that block wakes from the one request.
 * Write-back is serialised by a sleeping mutex: while a bc_sync holds it
 * no other write of a buf is in flight, so "every dirty buf written"
 * means what it says when fsync returns.  A sync writes in rounds: first
 * every dirty buf that is not B_ORDERED (and the ordered ones of class
 * 0), then the ordered bufs class by class (bc_set_class), each round
 * completed before the next is submitted: the order a file system needs
 * for a crash to leave only what its checker repairs.
 */
#include "arch.h"
#include "core/sleeplock.h"
#include "core/task.h"
#include "core/timer.h"
#include "fs/bcache.h"
#include "lib/errno.h"
#include "lib/klib.h"
#include "lib/printk.h"
#include "mem/kmalloc.h"
#include "mem/page_alloc.h"

#define NHASH 1024
#define WRITEBACK_MS 5000

static struct spinlock lock = SPINLOCK_INIT("bcache");

/* A block's data: a whole page from the page allocator when the block is
 * a page (so the page cache can trade pages with us: bc_trade), else
 * kmalloc'd.  Zeroed either way. */
static uint8_t *data_alloc(uint32_t size)
{
    return size == PAGE_SIZE ? page_alloc() : kmalloc(size);
}

static void data_free(uint8_t *p, uint32_t size)
{
    if (size == PAGE_SIZE)
        page_free(p);
    else
        kfree(p);
}
static struct buf *hash[NHASH];
static struct buf lru = { .lru_prev = &lru, .lru_next = &lru };   /* head: most recent */
static uint64_t nbufs, cached_bytes, max_bytes;
static struct bc_stats stats;
static uint64_t dirty_cls[BC_NCLASS];   /* dirty bufs of each class (lock) */
static uint64_t sync_epoch;             /* bumped as each sync begins (lock) */
static struct mutex wb_mutex;
static _Atomic int wb_inited;

static unsigned hslot(struct blkdev *d, uint64_t blkno)
{
    return (unsigned)((blkno * 0x9e3779b97f4a7c15ULL + (uintptr_t)d) >> 20) % NHASH;
}

static void lru_unlink(struct buf *b)
{
    b->lru_prev->lru_next = b->lru_next;
    b->lru_next->lru_prev = b->lru_prev;
}

static void lru_front(struct buf *b)
{
    b->lru_next = lru.lru_next;
    b->lru_prev = &lru;
    lru.lru_next->lru_prev = b;
    lru.lru_next = b;
}

static struct buf *find_locked(struct blkdev *d, uint64_t blkno, uint32_t size)
{
    for (struct buf *b = hash[hslot(d, blkno)]; b; b = b->hnext)
        if (b->dev == d && b->blkno == blkno && b->size == size)
            return b;
    return NULL;
}

static void set_dirty_locked(struct buf *b)
{
    if (!(b->flags & B_DIRTY)) {
        stats.dirty++;
        dirty_cls[b->wclass]++;
        b->dirty_epoch = sync_epoch;
    }
    b->flags |= B_DIRTY;
}

static void clear_dirty_locked(struct buf *b)
{
    if (b->flags & B_DIRTY) {
        stats.dirty--;
        dirty_cls[b->wclass]--;
    }
    b->flags &= ~B_DIRTY;
}

static bool reclaimable(struct buf *b)
{
    return atomic_load(&b->refs) == 0 && !(b->flags & (B_DIRTY | B_IO | B_PINNED));
}

static void unhash_locked(struct buf *b)
{
    struct buf **pp = &hash[hslot(b->dev, b->blkno)];
    while (*pp != b)
        pp = &(*pp)->hnext;
    *pp = b->hnext;
    lru_unlink(b);
    nbufs--;
    cached_bytes -= b->size;
}

/* Free up to `want` bytes of clean, unused bufs, coldest first; returns
 * the bytes freed. */
static uint64_t reclaim(uint64_t want)
{
    struct buf *victims = NULL;
    uint64_t got = 0;
    spin_lock(&lock);
    for (struct buf *b = lru.lru_prev; b != &lru && got < want;) {
        struct buf *prev = b->lru_prev;
        if (reclaimable(b)) {
            unhash_locked(b);
            got += b->size;
            b->hnext = victims;
            victims = b;
            stats.reclaimed++;
        }
        b = prev;
    }
    spin_unlock(&lock);
    while (victims) {
        struct buf *b = victims;
        victims = b->hnext;
        data_free(b->data, b->size);
        kfree(b);
    }
    return got;
}

/* The page allocator's shrinker: clean blocks go before an allocation fails. */
static unsigned long bc_shrink(unsigned long pages)
{
    uint64_t got = reclaim(pages * PAGE_SIZE);
    return (unsigned long)((got + PAGE_SIZE - 1) / PAGE_SIZE);
}

static void limits_init(void)
{
    static _Atomic int registered;
    if (!atomic_exchange(&registered, 1))
        page_alloc_add_shrinker(bc_shrink);
    if (max_bytes)
        return;
    struct page_stats ps;
    page_get_stats(&ps);
    max_bytes = ps.total_pages * PAGE_SIZE / 2;   /* half of memory at most */
}

struct buf *bc_get(struct blkdev *d, uint64_t blkno, uint32_t size)
{
    limits_init();
    spin_lock(&lock);
    struct buf *b = find_locked(d, blkno, size);
    if (b) {
        atomic_fetch_add(&b->refs, 1);
        lru_unlink(b);
        lru_front(b);
        spin_unlock(&lock);
        return b;
    }
    bool over = cached_bytes + size > max_bytes;
    spin_unlock(&lock);
    if (over)
        reclaim(cached_bytes + size - max_bytes + 64 * size);

    struct buf *nb = kzalloc(sizeof *nb);
    uint8_t *data = nb ? data_alloc(size) : NULL;
    if (nb && !data) {              /* memory is short: give back clean blocks, retry */
        reclaim(cached_bytes / 4 + size);
        data = data_alloc(size);
    }
    if (!data) {
        kfree(nb);
        return NULL;
    }
    nb->dev = d;
    nb->blkno = blkno;
    nb->size = size;
    nb->data = data;
    atomic_store(&nb->refs, 1);
    waitq_init(&nb->wq, "buf");
    spin_lock(&lock);
    b = find_locked(d, blkno, size);        /* raced with another maker? */
    if (b) {
        atomic_fetch_add(&b->refs, 1);
        spin_unlock(&lock);
        data_free(data, size);
        kfree(nb);
        return b;
    }
    unsigned h = hslot(d, blkno);
    nb->hnext = hash[h];
    hash[h] = nb;
    lru_front(nb);
    nbufs++;
    cached_bytes += size;
    spin_unlock(&lock);
    return nb;
}

struct buf *bc_peek(struct blkdev *d, uint64_t blkno, uint32_t size)
{
    spin_lock(&lock);
    struct buf *b = find_locked(d, blkno, size);
    if (b && (b->flags & B_VALID)) {
        atomic_fetch_add(&b->refs, 1);
        lru_unlink(b);
        lru_front(b);
        stats.hits++;
    } else {
        b = NULL;
    }
    spin_unlock(&lock);
    return b;
}

void bc_put(struct buf *b)
{
    if (b)
        atomic_fetch_sub(&b->refs, 1);
}

void bc_dirty(struct buf *b)
{
    spin_lock(&lock);
    set_dirty_locked(b);
    b->flags |= B_VALID;
    spin_unlock(&lock);
}

bool bc_read_in_flight(struct buf *b)
{
    spin_lock(&lock);
    bool r = (b->flags & (B_IO | B_VALID)) == B_IO;
    spin_unlock(&lock);
    return r;
}

void bc_dirty_ordered(struct buf *b)
{
    spin_lock(&lock);
    set_dirty_locked(b);
    b->flags |= B_VALID | B_ORDERED;
    spin_unlock(&lock);
}

void bc_set_class(struct buf *b, int wclass)
{
    if (b->wclass == wclass)
        return;                         /* the usual case: no lock */
    spin_lock(&lock);
    if (b->flags & B_DIRTY) {
        dirty_cls[b->wclass]--;
        dirty_cls[wclass]++;
    }
    b->wclass = (uint8_t)wclass;
    spin_unlock(&lock);
}

void bc_forget(struct blkdev *d)
{
    spin_lock(&lock);
    for (struct buf *b = lru.lru_next; b != &lru; b = b->lru_next)
        if (b->dev == d)
            b->flags &= ~B_PINNED;
    spin_unlock(&lock);
    reclaim(UINT64_MAX);
}

uint8_t *bc_trade(struct buf *b, uint8_t *page)
{
    uint8_t *old = NULL;
    spin_lock(&lock);
    if (b->size == PAGE_SIZE && b->flags == B_VALID && atomic_load(&b->refs) == 1) {
        old = b->data;
        b->data = page;
        b->flags = 0;               /* read again from the disk if wanted again */
    }
    spin_unlock(&lock);
    return old;
}

void bc_invalidate(struct buf *b)
{
    spin_lock(&lock);
    if (!(b->flags & (B_IO | B_DIRTY)))
        b->flags &= ~B_VALID;
    spin_unlock(&lock);
}

bool bc_too_dirty(void)
{
    limits_init();
    return stats.dirty * 4096 > max_bytes / 4;
}

void bc_get_stats(struct bc_stats *out)
{
    spin_lock(&lock);
    *out = stats;
    out->bufs = nbufs;
    out->bytes = cached_bytes;
    spin_unlock(&lock);
}

/* ---- reading ------------------------------------------------------------- */

/* Completion hook of a read (interrupt context). */
static void read_end(struct bio *bio)
{
    struct buf *b = bio->owner;
    spin_lock(&lock);
    b->flags &= ~B_IO;
    if (bio->error)
        b->flags |= B_ERROR;
    else
        b->flags = (b->flags | B_VALID) & ~B_ERROR;
    spin_unlock(&lock);
    waitq_wake_all(&b->wq);
    bc_put(b);                          /* the bio's reference */
}

/* Claim the read of b: true if the caller must start it. */
static bool claim_read(struct buf *b)
{
    spin_lock(&lock);
    bool mine = !(b->flags & (B_VALID | B_IO));
    if (mine) {
        b->flags |= B_IO;
        stats.misses++;
    }
    spin_unlock(&lock);
    return mine;
}

static struct bio *read_bio(struct buf *b)
{
    struct bio *bio = bio_alloc(BIO_READ, b->blkno * (b->size / SECTOR_SIZE), b->data, b->size);
    if (bio) {
        bio->end = read_end;
        bio->owner = b;
        atomic_fetch_add(&b->refs, 1);
    }
    return bio;
}

static void unclaim(struct buf *b, bool failed)
{
    spin_lock(&lock);
    b->flags &= ~B_IO;
    if (failed)
        b->flags |= B_ERROR;
    spin_unlock(&lock);
    waitq_wake_all(&b->wq);
}

void bc_readahead(struct blkdev *d, uint64_t blkno, uint32_t size)
{
    spin_lock(&lock);
    struct buf *have = find_locked(d, blkno, size);
    bool cached = have && (have->flags & (B_VALID | B_IO));
    spin_unlock(&lock);
    if (cached)
        return;
    struct buf *b = bc_get(d, blkno, size);
    if (!b)
        return;
    if (claim_read(b)) {
        struct bio *bio = read_bio(b);
        if (bio && blk_try_submit(d, bio)) {
            stats.readaheads++;
        } else {
            if (bio)
                bc_put(b);              /* the bio's reference, never used */
            unclaim(b, false);
        }
        bio_put(bio);
    }
    bc_put(b);
}

static enum poll read_poll(struct future *base, struct cx *cx)
{
    struct bc_read *r = (struct bc_read *)base;
    ASYNC_BEGIN(r);
    r->b = bc_get(r->dev, r->blkno, r->size);
    if (!r->b) {
        r->result = -ENOMEM;
        break;
    }
    for (;;) {
        if (claim_read(r->b)) {
            r->bio = read_bio(r->b);
            if (!r->bio) {
                unclaim(r->b, false);
                r->result = -ENOMEM;
                break;
            }
            r->started = true;
            blk_submit_init(&r->sub, r->dev, r->bio);
            AWAIT(r, future_poll(&r->sub.base, cx));
            r->started = false;
            if (r->sub.result) {
                bc_put(r->b);           /* the bio's reference */
                unclaim(r->b, true);
            }
            bio_put(r->bio);            /* in flight: the driver holds it */
            r->bio = NULL;
        }
        AWAIT_COND(r, cx, &r->b->wq, &r->w, !(r->b->flags & B_IO));
        if (r->b->flags & B_VALID) {
            r->result = 0;
            break;
        }
        spin_lock(&lock);
        bool failed = r->b->flags & B_ERROR;
        r->b->flags &= ~B_ERROR;        /* a later read tries the disk again */
        spin_unlock(&lock);
        if (failed) {
            r->result = -EIO;
            break;
        }
        /* nobody read it (a read-ahead that found no free slot gave up):
         * read it ourselves */
    }
    ASYNC_END(r);
    /* (the caller drops r->b with bc_put) */
}

static void read_cancel(struct future *base)
{
    struct bc_read *r = (struct bc_read *)base;
    if (r->started) {                   /* waiting for a slot: never submitted */
        future_cancel(&r->sub.base);
        bc_put(r->b);
        unclaim(r->b, false);
        bio_put(r->bio);
    }
    if (r->b) {
        waitq_unregister(&r->b->wq, &r->w);
        bc_put(r->b);
        r->b = NULL;
    }
}

static const struct future_ops read_ops = { read_poll, read_cancel, "bc_read" };

void bc_read_init(struct bc_read *r, struct blkdev *dev, uint64_t blkno, uint32_t size)
{
    future_init(&r->base, &read_ops);
    r->dev = dev;
    r->blkno = blkno;
    r->size = size;
    r->b = NULL;
    r->bio = NULL;
    r->started = false;
    r->w.linked = false;
    r->result = 0;
}

/* ---- write-back -------------------------------------------------------------- */

static void write_end(struct bio *bio)
{
    struct buf *b = bio->owner;
    spin_lock(&lock);
    b->flags &= ~B_IO;
    if (bio->error)
        set_dirty_locked(b);            /* keep it: nothing acknowledged is lost */
    else if (!(b->flags & B_DIRTY))
        b->flags &= ~B_ORDERED;         /* (changed meanwhile: stays ordered) */
    spin_unlock(&lock);
    waitq_wake_all(&b->wq);
    bc_put(b);
}

/* Take up to n bufs of d (all disks if NULL), dirty since before epoch,
 * for writing: of class cls, or (cls < 0: the first round) every one not
 * B_ORDERED and the ordered ones of class 0.  The walk ends when it has
 * seen every dirty buf it could take. */
static int collect(struct blkdev *d, struct buf **out, int n, int cls, uint64_t epoch)
{
    int k = 0;
    spin_lock(&lock);
    uint64_t left = cls < 0 ? stats.dirty : dirty_cls[cls];
    for (struct buf *b = lru.lru_prev; b != &lru && k < n && left; b = b->lru_prev) {
        if (!(b->flags & B_DIRTY))
            continue;
        if (cls < 0 ? (b->flags & B_ORDERED) && b->wclass != 0 : b->wclass != cls)
            continue;
        left--;
        if ((d && b->dev != d) || (b->flags & B_IO) || b->dirty_epoch >= epoch)
            continue;
        clear_dirty_locked(b);
        b->flags |= B_IO;
        atomic_fetch_add(&b->refs, 1);
        stats.writes++;
        out[k++] = b;
    }
    spin_unlock(&lock);
    return k;
}

static void wb_init_once(void)
{
    if (!atomic_exchange(&wb_inited, 1))
        mutex_init(&wb_mutex, "write-back");
}

/* bc_sync, as a future:
 *   lock the write-back mutex
 *   for each class: repeat: take a batch of its dirty bufs; submit each; await each
 *   flush each disk; unlock */

static enum poll sync_poll(struct future *base, struct cx *cx)
{
    struct bc_sync *s = (struct bc_sync *)base;
    ASYNC_BEGIN(s);
    mutex_lock_init(&s->lk, &wb_mutex);
    AWAIT(s, future_poll(&s->lk.base, cx));
    s->pass = 1;                        /* holds the mutex */
    spin_lock(&lock);
    s->epoch = ++sync_epoch;            /* what is dirty from now on is the next sync's */
    spin_unlock(&lock);
    s->cls = -1;                        /* the first round: all but the ordered */
    while (s->cls < BC_NCLASS) {
        s->n = collect(s->dev, s->batch, 32, s->cls, s->epoch);
        if (!s->n) {
            s->cls = s->cls < 0 ? 1 : s->cls + 1;  /* on the disk: the next class */
            continue;
        }
        for (s->i = 0; s->i < s->n; s->i++) {
            struct buf *b = s->batch[s->i];
            s->bio[s->i] = bio_alloc(BIO_WRITE, b->blkno * (b->size / SECTOR_SIZE), b->data, b->size);
            if (s->bio[s->i]) {
                s->bio[s->i]->end = write_end;
                s->bio[s->i]->owner = b;
                blk_submit_init(&s->sub, b->dev, s->bio[s->i]);
                AWAIT(s, future_poll(&s->sub.base, cx));
                if (!s->sub.result)
                    continue;
                bio_put(s->bio[s->i]);
                s->bio[s->i] = NULL;
            }
            s->result = -EIO;
            spin_lock(&lock);
            b->flags &= ~B_IO;
            set_dirty_locked(b);
            spin_unlock(&lock);
            waitq_wake_all(&b->wq);
            bc_put(b);
        }
        for (s->i = 0; s->i < s->n; s->i++) {
            if (!s->bio[s->i])
                continue;
            bio_wait_init(&s->bw, s->bio[s->i]);
            AWAIT(s, future_poll(&s->bw.base, cx));
            if (s->bio[s->i]->error)
                s->result = -EIO;
            bio_put(s->bio[s->i]);
            s->bio[s->i] = NULL;
        }
        if (s->result)
            break;
    }
    for (s->flushdev = 0; s->flushdev < blk_count(); s->flushdev++) {
        if (s->dev && blk_get(s->flushdev) != s->dev)
            continue;
        s->bio[0] = bio_alloc(BIO_FLUSH, 0, NULL, 0);
        if (!s->bio[0]) {
            s->result = -ENOMEM;
            break;
        }
        blk_submit_init(&s->sub, blk_get(s->flushdev), s->bio[0]);
        AWAIT(s, future_poll(&s->sub.base, cx));
        if (!s->sub.result) {
            bio_wait_init(&s->bw, s->bio[0]);
            AWAIT(s, future_poll(&s->bw.base, cx));
        }
        if (s->sub.result || s->bio[0]->error)
            s->result = -EIO;
        bio_put(s->bio[0]);
        s->bio[0] = NULL;
    }
    s->pass = 0;
    mutex_unlock(&wb_mutex);
    ASYNC_END(s);
}

static void sync_cancel(struct future *base)
{
    struct bc_sync *s = (struct bc_sync *)base;
    future_cancel(&s->lk.base);
    if (!s->pass)
        return;
    /* bios already submitted finish on their own (write_end); the rest
     * of the batch goes back to dirty */
    future_cancel(&s->sub.base);
    for (int i = 0; i < 32; i++) {
        if (s->bio[i] && i < s->n && !atomic_load(&s->bio[i]->done) && atomic_load(&s->bio[i]->refs) == 1) {
            struct buf *b = s->batch[i];
            spin_lock(&lock);
            b->flags &= ~B_IO;
            set_dirty_locked(b);
            spin_unlock(&lock);
            bc_put(b);
        }
        bio_put(s->bio[i]);
        s->bio[i] = NULL;
    }
    mutex_unlock(&wb_mutex);
}

static const struct future_ops sync_ops = { sync_poll, sync_cancel, "bc_sync" };

void bc_sync_init(struct bc_sync *s, struct blkdev *dev)
{
    wb_init_once();
    memset(s, 0, sizeof *s);
    future_init(&s->base, &sync_ops);
    s->dev = dev;
}

/* The write-back task: every WRITEBACK_MS, write what is dirty. */
struct writeback {
    struct future base;
    struct sleep sl;
    struct bc_sync sync;
};

static enum poll writeback_poll(struct future *base, struct cx *cx)
{
    struct writeback *w = (struct writeback *)base;
    ASYNC_BEGIN(w);
    for (;;) {
        sleep_init(&w->sl, time_ms(WRITEBACK_MS));
        AWAIT(w, future_poll(&w->sl.base, cx));
        if (!stats.dirty)
            continue;
        bc_sync_init(&w->sync, NULL);
        AWAIT(w, future_poll(&w->sync.base, cx));
        if (w->sync.result)
            printk("write-back: error %d (the blocks stay dirty)\n", w->sync.result);
    }
    ASYNC_END(w);
}

static const struct future_ops writeback_ops = { writeback_poll, NULL, "writeback" };

void bc_writeback_start(void)
{
    static _Atomic int started;
    if (atomic_exchange(&started, 1))
        return;
    wb_init_once();
    struct task *t;
    struct writeback *w = task_alloc(sizeof *w, "writeback", &t);
    if (!w)
        return;
    memset(w, 0, sizeof *w);
    future_init(&w->base, &writeback_ops);
    task_start(t, TASK_NO_HART, false);
}
