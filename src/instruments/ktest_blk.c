/*
 * ktest_blk.c - self-test of the block driver (runs when a disk is
 * attached; passes trivially without one): 32 writes then 32 reads in
 * flight at once on the last 128 KiB of the last disk, data compared,
 * and a read whose waiter is cancelled while the device works on it.
 * The disk may be a user's root image (make run BOOTARGS=ktest), so the
 * 128 KiB are read first and written back at the end.
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
    struct bio *saved[NREQ];    /* the disk's own bytes, restored at the end */
    struct blk_submit sub;
    struct bio_wait wait;
    int i, pass;
};

static const char BAD_DATA[] = "read back different data";

static uint8_t pattern(int req, int byte) { return (uint8_t)(req * 31 + byte * 7 + 1); }

static void put_all(struct bio **bio)
{
    for (int i = 0; i < NREQ; i++) {
        bio_put(bio[i]);
        bio[i] = NULL;
    }
}

/* Passes over the 128 KiB: save, write the pattern, read it back, restore. */
enum { SAVE, WRITE, CHECK, RESTORE, NPASS };

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
    for (t->pass = SAVE; t->pass < NPASS; t->pass++) {
        bool write = t->pass == WRITE || t->pass == RESTORE;
        for (int i = 0; i < NREQ; i++) {
            t->bio[i] = bio_alloc(write ? BIO_WRITE : BIO_READ,
                                  t->first + (uint64_t)i * REQ_BYTES / SECTOR_SIZE, NULL, REQ_BYTES);
            if (!t->bio[i]) {
                put_all(t->bio);
                put_all(t->saved);
                t->fail = "no memory";
                goto out;
            }
            if (t->pass == WRITE)
                for (int b = 0; b < REQ_BYTES; b++)
                    ((uint8_t *)t->bio[i]->buf)[b] = pattern(i, b);
            if (t->pass == RESTORE)
                memcpy(t->bio[i]->buf, t->saved[i]->buf, REQ_BYTES);
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
        /* a wrong read-back still goes on to RESTORE */
        if (t->pass == CHECK && !t->fail)
            for (int i = 0; i < NREQ && !t->fail; i++)
                for (int b = 0; b < REQ_BYTES; b++)
                    if (((uint8_t *)t->bio[i]->buf)[b] != pattern(i, b)) {
                        t->fail = BAD_DATA;
                        break;
                    }
        if (t->pass == SAVE)
            for (int i = 0; i < NREQ; i++) {
                t->saved[i] = t->bio[i];
                t->bio[i] = NULL;
            }
        else
            put_all(t->bio);
        if (t->fail && t->fail != BAD_DATA)
            break;
    }
    if (t->fail)
        goto out;
    /* A waiter cancelled mid-flight: the bio must outlive it. */
    t->bio[0] = bio_alloc(BIO_READ, t->first, NULL, REQ_BYTES);
    if (!t->bio[0]) {
        t->fail = "no memory";
        goto out;
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
        goto out;
    }
    blk_submit_init(&t->sub, t->dev, t->bio[0]);
    AWAIT(t, future_poll(&t->sub.base, cx));
    bio_wait_init(&t->wait, t->bio[0]);
    AWAIT(t, future_poll(&t->wait.base, cx));
    if (t->bio[0]->error || memcmp(t->bio[0]->buf, t->saved[1]->buf, REQ_BYTES) != 0)
        t->fail = "read after a cancelled one failed";
    bio_put(t->bio[0]);
    struct blk_stats st;
    blk_get_stats(t->dev, &st);
    printk("ktest: %s: %lu reads, %lu writes, %lu interrupts, up to %lu in flight\n",
           t->dev->name, st.reads, st.writes, st.irqs, st.max_inflight);
out:
    put_all(t->saved);
    ASYNC_END(t);
}

size_t ktest_blk_size(void) { return sizeof(struct t_blk); }
_Static_assert(sizeof(struct t_blk) <= 1024, "ktest.c reserves 1 KiB for this test");
