/*
 * ktest_blk.c - self-test of the block driver (runs when a disk is
 * attached; passes trivially without one): 32 writes then 32 reads in
 * flight at once on the last 128 KiB of the last disk, data compared,
 * and a read whose waiter is cancelled while the device works on it.
 */
#include "dev/blk.h"
#include "lib/klib.h"
#include "lib/printk.h"
#include "mem/page_alloc.h"

#define NREQ 32
#define REQ_BYTES 4096

struct t_blk {
    struct future base;
    const char *fail;
    struct blkdev *dev;
    uint64_t first;
    struct bio *bio[NREQ];
    struct blk_submit sub;
    struct bio_wait wait;
    int i, pass;
};

static uint8_t pattern(int req, int byte) { return (uint8_t)(req * 31 + byte * 7 + 1); }

static void put_all(struct t_blk *t)
{
    for (int i = 0; i < NREQ; i++) {
        bio_put(t->bio[i]);
        t->bio[i] = NULL;
    }
}

enum poll ktest_blk_poll(struct future *base, struct cx *cx)
{
    struct t_blk *t = (struct t_blk *)base;
    ASYNC_BEGIN(t);
    t->dev = blk_get(blk_count() - 1);
    if (!t->dev) {
        printk("ktest: (no disk attached: block test skipped)\n");
        break;
    }
    if (t->dev->sectors < 2 * NREQ * REQ_BYTES / SECTOR_SIZE || t->dev->read_only) {
        t->fail = "disk too small or read-only";
        break;
    }
    t->first = t->dev->sectors - NREQ * REQ_BYTES / SECTOR_SIZE;
    for (t->pass = 0; t->pass < 2; t->pass++) {
        for (int i = 0; i < NREQ; i++) {
            t->bio[i] = bio_alloc(t->pass ? BIO_READ : BIO_WRITE,
                                  t->first + (uint64_t)i * REQ_BYTES / SECTOR_SIZE, NULL, REQ_BYTES);
            if (!t->bio[i]) {
                put_all(t);
                t->fail = "no memory";
                goto out;
            }
            if (!t->pass)
                for (int b = 0; b < REQ_BYTES; b++)
                    ((uint8_t *)t->bio[i]->buf)[b] = pattern(i, b);
        }
        /* start all of them, then wait: NREQ requests are in flight */
        for (t->i = 0; t->i < NREQ; t->i++) {
            blk_submit_init(&t->sub, t->dev, t->bio[t->i]);
            AWAIT(t, future_poll(&t->sub.base, cx));
            if (t->sub.result) {
                t->fail = "submit refused";
                break;
            }
        }
        for (t->i = 0; t->i < NREQ && !t->fail; t->i++) {
            bio_wait_init(&t->wait, t->bio[t->i]);
            AWAIT(t, future_poll(&t->wait.base, cx));
            if (t->bio[t->i]->error)
                t->fail = "device error";
        }
        if (t->pass && !t->fail)
            for (int i = 0; i < NREQ && !t->fail; i++)
                for (int b = 0; b < REQ_BYTES; b++)
                    if (((uint8_t *)t->bio[i]->buf)[b] != pattern(i, b)) {
                        t->fail = "read back different data";
                        break;
                    }
        put_all(t);
        if (t->fail)
            break;
    }
    if (t->fail)
        break;
    /* A waiter cancelled mid-flight: the bio must outlive it. */
    t->bio[0] = bio_alloc(BIO_READ, t->first, NULL, REQ_BYTES);
    if (!t->bio[0]) {
        t->fail = "no memory";
        break;
    }
    blk_submit_init(&t->sub, t->dev, t->bio[0]);
    AWAIT(t, future_poll(&t->sub.base, cx));
    bio_wait_init(&t->wait, t->bio[0]);
    if (future_poll(&t->wait.base, cx) == PENDING)
        future_cancel(&t->wait.base);
    bio_put(t->bio[0]);             /* the driver still holds it */
    t->bio[0] = bio_alloc(BIO_READ, t->first + 8, NULL, REQ_BYTES);
    if (!t->bio[0]) {
        t->fail = "no memory";
        break;
    }
    blk_submit_init(&t->sub, t->dev, t->bio[0]);
    AWAIT(t, future_poll(&t->sub.base, cx));
    bio_wait_init(&t->wait, t->bio[0]);
    AWAIT(t, future_poll(&t->wait.base, cx));
    if (t->bio[0]->error || ((uint8_t *)t->bio[0]->buf)[5] != pattern(1, 5))
        t->fail = "read after a cancelled one failed";
    bio_put(t->bio[0]);
    struct blk_stats st;
    blk_get_stats(t->dev, &st);
    printk("ktest: %s: %lu reads, %lu writes, %lu interrupts, up to %lu in flight\n",
           t->dev->name, st.reads, st.writes, st.irqs, st.max_inflight);
out:;
    ASYNC_END(t);
}

size_t ktest_blk_size(void) { return sizeof(struct t_blk); }
_Static_assert(sizeof(struct t_blk) <= 1024, "ktest.c reserves 1 KiB for this test");
