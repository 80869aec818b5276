/*
 * virtio_blk.c - the virtio block device over virtio-mmio (virtio 1.x,
 * "modern": QEMU's -global virtio-mmio.force-legacy=false).
 *
 * One split virtqueue per disk.  A request occupies one slot: slot s owns
 * descriptors 3s (header), 3s+1 (data) and 3s+2 (status byte), so the
 * head descriptor's id names the slot and the slot names the bio.  Up
 * to NSLOT bios are in flight per disk.
 *
 * Submission (blk_submit, a future) waits only for a free slot.  The
 * completion interrupt's top half walks the used ring from the last
 * index it saw, and for each finished head descriptor: records the
 * status in the bio, runs its owner's hook, wakes the bio's waiters,
 * frees the slot and drops the driver's reference.  Nothing polls the
 * device; there is no global "done" flag.
 *
 * Invariants:
 *  - d->lock guards the rings, the slot table and last_used; it masks
 *    interrupts, so the top half never spins on its own hart, and the
 *    doorbell (QUEUE_NOTIFY) is rung after it is released.
 *  - A slot's bio holds the driver's reference until its completion:
 *    the device may write into bio->buf, bio->hdr and bio->status until
 *    then, whatever its waiter did.
 */
#include "arch.h"
#include "core/hart.h"
#include "dev/blk.h"
#include "lib/errno.h"
#include "lib/klib.h"
#include "lib/printk.h"
#include "layout.h"
#include "machine.h"
#include "mem/kmalloc.h"
#include "mem/page_alloc.h"

/* virtio-mmio registers (virtio 1.1, 4.2.2) */
#define VM_MAGIC 0x000
#define VM_VERSION 0x004
#define VM_DEVICE_ID 0x008
#define VM_DEV_FEATURES 0x010
#define VM_DEV_FEATURES_SEL 0x014
#define VM_DRV_FEATURES 0x020
#define VM_DRV_FEATURES_SEL 0x024
#define VM_QUEUE_SEL 0x030
#define VM_QUEUE_NUM_MAX 0x034
#define VM_QUEUE_NUM 0x038
#define VM_QUEUE_READY 0x044
#define VM_QUEUE_NOTIFY 0x050
#define VM_IRQ_STATUS 0x060
#define VM_IRQ_ACK 0x064
#define VM_STATUS 0x070
#define VM_QUEUE_DESC 0x080
#define VM_QUEUE_AVAIL 0x090
#define VM_QUEUE_USED 0x0a0
#define VM_CONFIG 0x100

#define ST_ACK 1
#define ST_DRIVER 2
#define ST_DRIVER_OK 4
#define ST_FEATURES_OK 8

#define F_BLK_RO 5
#define F_BLK_FLUSH 9
#define F_VERSION_1 32

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4

#define DESC_F_NEXT 1
#define DESC_F_WRITE 2

#define QSIZE 128                  /* descriptors */
#define NSLOT (QSIZE / 3)          /* 42 requests in flight */

struct vdesc { uint64_t addr; uint32_t len; uint16_t flags, next; };
struct vavail { uint16_t flags, idx, ring[QSIZE], used_event; };
struct vused_elem { uint32_t id, len; };
struct vused { uint16_t flags, idx; struct vused_elem ring[QSIZE]; uint16_t avail_event; };

struct vblk {
    struct blkdev dev;
    volatile uint8_t *regs;
    unsigned irq;
    struct spinlock lock;
    struct vdesc *desc;
    struct vavail *avail;
    struct vused *used;
    uint16_t last_used, qsize;
    struct bio *slot[NSLOT];
    unsigned nfree, inflight;
    struct waitq slot_wait;         /* submitters waiting for a free slot */
    bool has_flush;
    struct blk_stats stats;
};

static struct vblk *disks[BLK_MAX_DEVS];
static int ndisks;
static const char *const names[BLK_MAX_DEVS] = { "vda", "vdb", "vdc", "vdd", "vde", "vdf", "vdg", "vdh" };

static uint32_t rd(struct vblk *d, unsigned off) { return *(volatile uint32_t *)(d->regs + off); }
static void wr(struct vblk *d, unsigned off, uint32_t v) { *(volatile uint32_t *)(d->regs + off) = v; }
static void wr64(struct vblk *d, unsigned off, uint64_t v)
{
    wr(d, off, (uint32_t)v);
    wr(d, off + 4, (uint32_t)(v >> 32));
}

struct blkdev *blk_get(int index)
{
    return index >= 0 && index < ndisks ? &disks[index]->dev : NULL;
}

int blk_count(void) { return ndisks; }

void blk_get_stats(struct blkdev *d, struct blk_stats *out)
{
    struct vblk *v = d->drv;
    spin_lock(&v->lock);
    *out = v->stats;
    spin_unlock(&v->lock);
}

/* ---- bios --------------------------------------------------------------- */

/* Bios whose last reference went in the interrupt's top half: freed by the
 * next bio_alloc, so the top half never takes the allocator's lock. */
static _Atomic(struct bio *) graveyard;

static void bio_free(struct bio *b)
{
    if (b->own_buf)
        kfree(b->buf);
    kfree(b);
}

static void bury(struct bio *b)
{
    struct bio *h = atomic_load(&graveyard);
    do
        b->next_dead = h;
    while (!atomic_compare_exchange_weak(&graveyard, &h, b));
}

struct bio *bio_alloc(enum bio_op op, uint64_t sector, void *buf, uint32_t len)
{
    for (struct bio *d = atomic_exchange(&graveyard, NULL), *n; d; d = n) {
        n = d->next_dead;
        bio_free(d);
    }
    struct bio *b = kzalloc(sizeof *b);
    if (!b)
        return NULL;
    if (!buf && len) {
        buf = kzalloc(len);
        if (!buf) {
            kfree(b);
            return NULL;
        }
        b->own_buf = true;
    }
    atomic_store(&b->refs, 1);
    b->op = op;
    b->sector = sector;
    b->buf = buf;
    b->len = len;
    waitq_init(&b->wq, "bio");
    return b;
}

void bio_put(struct bio *b)
{
    if (b && atomic_fetch_sub(&b->refs, 1) == 1)
        bio_free(b);
}

/* ---- completion: the interrupt's top half -------------------------------- */

static void complete(struct bio *b, int error)
{
    b->error = error;
    atomic_store_explicit(&b->done, true, memory_order_release);
    if (b->end)
        b->end(b);
    waitq_wake_all(&b->wq);
    if (atomic_fetch_sub(&b->refs, 1) == 1)    /* the driver's reference */
        bury(b);
}

static void vblk_reap(struct vblk *d)
{
    struct bio *finished[NSLOT];
    int n = 0;
    spin_lock(&d->lock);
    uint32_t st = rd(d, VM_IRQ_STATUS);
    wr(d, VM_IRQ_ACK, st & 3);
    d->stats.irqs++;
    atomic_thread_fence(memory_order_seq_cst);
    while (d->last_used != *(volatile uint16_t *)&d->used->idx) {
        atomic_thread_fence(memory_order_acquire);
        uint32_t id = d->used->ring[d->last_used % d->qsize].id;
        d->last_used++;
        unsigned s = id / 3;
        if (id % 3 || s >= NSLOT || !d->slot[s]) {
            printk("%s: device returned a bad descriptor id %u\n", d->dev.name, id);
            continue;
        }
        finished[n++] = d->slot[s];
        d->slot[s] = NULL;
        d->nfree++;
        d->inflight--;
        d->stats.completions++;
    }
    spin_unlock(&d->lock);
    for (int i = 0; i < n; i++) {
        struct bio *b = finished[i];
        int err = b->status == 0 ? 0 : -EIO;
        if (err)
            d->stats.errors++;
        complete(b, err);
    }
    if (n)
        waitq_wake_all(&d->slot_wait);
}

static void vblk_irq(void)
{
    for (int i = 0; i < ndisks; i++)
        vblk_reap(disks[i]);
}

/* ---- submission ------------------------------------------------------------ */

/* Put b in a free slot and tell the device.  false: no free slot. */
static bool try_start(struct vblk *d, struct bio *b)
{
    spin_lock(&d->lock);
    int s = -1;
    if (d->nfree)
        for (int i = 0; i < NSLOT; i++)
            if (!d->slot[i]) {
                s = i;
                break;
            }
    if (s < 0) {
        spin_unlock(&d->lock);
        return false;
    }
    atomic_fetch_add(&b->refs, 1);  /* the driver's, until the interrupt */
    d->slot[s] = b;
    d->nfree--;
    d->inflight++;
    if (d->inflight > d->stats.max_inflight)
        d->stats.max_inflight = d->inflight;
    b->hdr.type = b->op == BIO_READ ? VIRTIO_BLK_T_IN : b->op == BIO_WRITE ? VIRTIO_BLK_T_OUT
                                                                           : VIRTIO_BLK_T_FLUSH;
    b->hdr.reserved = 0;
    b->hdr.sector = b->sector;
    b->status = 0xff;
    struct vdesc *h = &d->desc[3 * s], *data = h + 1, *stat = h + 2;
    h->addr = va_to_pa(&b->hdr);
    h->len = sizeof b->hdr;
    h->flags = DESC_F_NEXT;
    if (b->op == BIO_FLUSH) {
        h->next = 3 * s + 2;
        d->stats.flushes++;
    } else {
        h->next = 3 * s + 1;
        data->addr = va_to_pa(b->buf);
        data->len = b->len;
        data->flags = DESC_F_NEXT | (b->op == BIO_READ ? DESC_F_WRITE : 0);
        data->next = 3 * s + 2;
        if (b->op == BIO_READ)
            d->stats.reads++;
        else
            d->stats.writes++;
    }
    stat->addr = va_to_pa(&b->status);
    stat->len = 1;
    stat->flags = DESC_F_WRITE;
    stat->next = 0;
    d->avail->ring[d->avail->idx % d->qsize] = 3 * s;
    atomic_thread_fence(memory_order_seq_cst);     /* descriptors before the index */
    d->avail->idx++;
    spin_unlock(&d->lock);
    /* The doorbell outside the lock: the device may complete at once and
     * raise its interrupt, whose top half takes the lock (on another hart
     * it would spin for as long as this one is descheduled; under QEMU's
     * -icount round robin that was for ever). */
    arch_io_fence();                                /* the index before the notify */
    wr(d, VM_QUEUE_NOTIFY, 0);
    return true;
}

/* Is the bio acceptable for this disk?  0 or -EIO. */
static int check(struct vblk *d, struct bio *b)
{
    if (b->op == BIO_FLUSH)
        return 0;
    if (b->len == 0 || b->len % SECTOR_SIZE || b->sector > d->dev.sectors ||
        b->len / SECTOR_SIZE > d->dev.sectors - b->sector)
        return -EIO;
    if (b->op == BIO_WRITE && d->dev.read_only)
        return -EROFS;
    return 0;
}

bool blk_try_submit(struct blkdev *dev, struct bio *b)
{
    struct vblk *d = dev->drv;
    b->error = check(d, b);
    if (b->error)
        return false;
    if (b->op == BIO_FLUSH && !d->has_flush) {
        atomic_fetch_add(&b->refs, 1);
        complete(b, 0);
        return true;
    }
    return try_start(d, b);
}

static enum poll submit_poll(struct future *base, struct cx *cx)
{
    struct blk_submit *s = (struct blk_submit *)base;
    struct vblk *d = s->dev->drv;
    ASYNC_BEGIN(s);
    s->result = check(d, s->bio);
    if (s->result)
        break;
    if (s->bio->op == BIO_FLUSH && !d->has_flush) {
        /* nothing cached in the device: a flush is done at once */
        atomic_fetch_add(&s->bio->refs, 1);
        complete(s->bio, 0);
        break;
    }
    AWAIT_COND(s, cx, &d->slot_wait, &s->w, try_start(d, s->bio));
    ASYNC_END(s);
}

static void submit_cancel(struct future *base)
{
    struct blk_submit *s = (struct blk_submit *)base;
    waitq_unregister(&((struct vblk *)s->dev->drv)->slot_wait, &s->w);
}

static const struct future_ops submit_ops = { submit_poll, submit_cancel, "blk_submit" };

void blk_submit_init(struct blk_submit *s, struct blkdev *dev, struct bio *b)
{
    future_init(&s->base, &submit_ops);
    s->dev = dev;
    s->bio = b;
    s->w.linked = false;
    s->result = 0;
}

static enum poll wait_poll(struct future *base, struct cx *cx)
{
    struct bio_wait *w = (struct bio_wait *)base;
    ASYNC_BEGIN(w);
    AWAIT_COND(w, cx, &w->bio->wq, &w->w, atomic_load_explicit(&w->bio->done, memory_order_acquire));
    ASYNC_END(w);
}

static void wait_cancel(struct future *base)
{
    struct bio_wait *w = (struct bio_wait *)base;
    waitq_unregister(&w->bio->wq, &w->w);
}

static const struct future_ops wait_ops = { wait_poll, wait_cancel, "bio_wait" };

void bio_wait_init(struct bio_wait *w, struct bio *b)
{
    future_init(&w->base, &wait_ops);
    w->bio = b;
    w->w.linked = false;
}

static enum poll rw_poll(struct future *base, struct cx *cx)
{
    struct blk_rw *rw = (struct blk_rw *)base;
    ASYNC_BEGIN(rw);
    AWAIT(rw, future_poll(&rw->sub.base, cx));
    rw->result = rw->sub.result;
    if (rw->result)
        break;
    AWAIT(rw, future_poll(&rw->wait.base, cx));
    rw->result = rw->wait.bio->error;
    ASYNC_END(rw);
}

static void rw_cancel(struct future *base)
{
    struct blk_rw *rw = (struct blk_rw *)base;
    future_cancel(&rw->sub.base);
    future_cancel(&rw->wait.base);
}

static const struct future_ops rw_ops = { rw_poll, rw_cancel, "blk_rw" };

void blk_rw_init(struct blk_rw *rw, struct blkdev *dev, struct bio *b)
{
    future_init(&rw->base, &rw_ops);
    blk_submit_init(&rw->sub, dev, b);
    bio_wait_init(&rw->wait, b);
    rw->result = 0;
}

/* ---- probe ------------------------------------------------------------------- */

static bool setup(struct vblk *d)
{
    if (rd(d, VM_MAGIC) != 0x74726976 || rd(d, VM_DEVICE_ID) != 2)
        return false;
    if (rd(d, VM_VERSION) != 2) {
        printk("virtio-blk at %p: legacy interface (version %u): run QEMU with "
               "-global virtio-mmio.force-legacy=false\n", (void *)d->regs, rd(d, VM_VERSION));
        return false;
    }
    wr(d, VM_STATUS, 0);
    wr(d, VM_STATUS, ST_ACK);
    wr(d, VM_STATUS, ST_ACK | ST_DRIVER);
    wr(d, VM_DEV_FEATURES_SEL, 0);
    uint32_t lo = rd(d, VM_DEV_FEATURES);
    wr(d, VM_DEV_FEATURES_SEL, 1);
    uint32_t hi = rd(d, VM_DEV_FEATURES);
    if (!(hi & (1u << (F_VERSION_1 - 32))))
        return false;
    uint32_t want = lo & ((1u << F_BLK_RO) | (1u << F_BLK_FLUSH));
    wr(d, VM_DRV_FEATURES_SEL, 0);
    wr(d, VM_DRV_FEATURES, want);
    wr(d, VM_DRV_FEATURES_SEL, 1);
    wr(d, VM_DRV_FEATURES, 1u << (F_VERSION_1 - 32));
    wr(d, VM_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
    if (!(rd(d, VM_STATUS) & ST_FEATURES_OK))
        return false;
    d->dev.read_only = want & (1u << F_BLK_RO);
    d->has_flush = want & (1u << F_BLK_FLUSH);

    wr(d, VM_QUEUE_SEL, 0);
    uint32_t max = rd(d, VM_QUEUE_NUM_MAX);
    if (max < QSIZE || rd(d, VM_QUEUE_READY))
        return false;
    d->qsize = QSIZE;
    uint8_t *ring = page_alloc_order(1);     /* desc (2 KiB) + avail; used on page 2 */
    if (!ring)
        return false;
    d->desc = (struct vdesc *)ring;
    d->avail = (struct vavail *)(ring + QSIZE * sizeof(struct vdesc));
    d->used = (struct vused *)(ring + PAGE_SIZE);
    wr(d, VM_QUEUE_NUM, QSIZE);
    wr64(d, VM_QUEUE_DESC, va_to_pa(d->desc));
    wr64(d, VM_QUEUE_AVAIL, va_to_pa(d->avail));
    wr64(d, VM_QUEUE_USED, va_to_pa(d->used));
    wr(d, VM_QUEUE_READY, 1);
    uint32_t cap_lo = rd(d, VM_CONFIG), cap_hi = rd(d, VM_CONFIG + 4);
    d->dev.sectors = (uint64_t)cap_hi << 32 | cap_lo;
    d->nfree = NSLOT;
    wr(d, VM_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
    return true;
}

void virtio_blk_probe(void)
{
    /* In device-tree order, QEMU's first -device comes first: it is vda. */
    for (int i = 0; i < machine.nvirtio && ndisks < BLK_MAX_DEVS; i++) {
        volatile uint8_t *regs = pa_to_va(machine.virtio_base[i]);
        if (*(volatile uint32_t *)(regs + VM_MAGIC) != 0x74726976 ||
            *(volatile uint32_t *)(regs + VM_DEVICE_ID) != 2)
            continue;
        struct vblk *d = kzalloc(sizeof *d);
        if (!d)
            return;
        d->regs = regs;
        d->irq = machine.virtio_irq[i];
        spin_init(&d->lock, "virtio-blk");
        waitq_init(&d->slot_wait, "blk slots");
        d->dev.drv = d;
        d->dev.index = ndisks;
        d->dev.name = names[ndisks];
        if (!setup(d)) {
            kfree(d);
            continue;
        }
        disks[ndisks++] = d;
        arch_irq_attach(d->irq, vblk_irq);
        printk("%s: virtio-blk, %lu KiB%s, irq %u\n", d->dev.name,
               d->dev.sectors / 2, d->dev.read_only ? ", read-only" : "", d->irq);
    }
}
