/*
 * blk.h - block devices and their requests (bios).
 *
 * A bio is one transfer of whole 512-byte sectors between memory and a
 * disk.  It is reference-counted: the driver holds one reference from
 * submission until the device has finished with it (the completion
 * interrupt), the waiter holds another.  So a waiter that is cancelled,
 * or whose process is killed, only drops its reference: the buffer the
 * device writes into stays alive until the device is done.
 *
 * Completion (in the interrupt top half) records the status, runs the
 * owner's `done` hook if any (the block cache marks its buffer valid),
 * and wakes exactly the waker registered on this bio.
 *
 * Lifecycle of a bio:
 *
 *   bio_alloc (refs 1) -- blk_submit (refs 2, driver's) --> IN FLIGHT
 *        --- interrupt: status, done(), wake, driver's ref dropped ---> DONE
 *   the waiter's bio_put() (any time, also on cancel) drops the last ref.
 */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "core/future.h"
#include "core/spinlock.h"

#define SECTOR_SIZE 512
#define BLK_MAX_DEVS 8

enum bio_op { BIO_READ, BIO_WRITE, BIO_FLUSH };

struct bio {
    _Atomic int refs;
    enum bio_op op;
    uint64_t sector;
    void *buf;                  /* kernel memory, physically contiguous */
    uint32_t len;               /* bytes, a multiple of SECTOR_SIZE */
    bool own_buf;               /* free buf (kfree) with the bio */
    _Atomic bool done;
    int error;                  /* 0 or -EIO, valid once done */
    struct waitq wq;            /* whoever awaits this bio */
    void (*end)(struct bio *b); /* owner's hook, run at completion (irq context) */
    void *owner;
    struct bio *next_dead;      /* freed after the interrupt (virtio_blk.c) */
    /* the driver's fields */
    uint8_t status;             /* written by the device */
    struct { uint32_t type, reserved; uint64_t sector; } hdr;
};

struct blkdev {
    const char *name;           /* "vda", ... */
    int index;
    uint64_t sectors;
    bool read_only;
    void *drv;
};

/* Devices found at boot, in device-tree order. */
struct blkdev *blk_get(int index);
int blk_count(void);

/* A bio with one reference (the caller's).  buf NULL: a zeroed buffer of
 * len bytes is allocated and owned by the bio.  NULL: no memory. */
struct bio *bio_alloc(enum bio_op op, uint64_t sector, void *buf, uint32_t len);
void bio_put(struct bio *b);

/*
 * Submit a bio: a future that waits only for a free slot in the device's
 * queue (many bios are in flight at once), then returns READY with the
 * bio started.  Await bio_wait for its completion.
 */
struct blk_submit {
    struct future base;
    struct blkdev *dev;
    struct bio *bio;
    struct waiter w;
    int result;                 /* 0, or -EIO (out of range, read-only) */
};
void blk_submit_init(struct blk_submit *s, struct blkdev *dev, struct bio *b);

/* Start b now if the disk has a free slot (read-ahead, write-back that
 * must not wait).  true: started.  false: no slot, or refused (b->error). */
bool blk_try_submit(struct blkdev *dev, struct bio *b);

/* Await a started bio's completion.  Cancel unregisters, nothing else. */
struct bio_wait {
    struct future base;
    struct bio *bio;
    struct waiter w;
};
void bio_wait_init(struct bio_wait *w, struct bio *b);

/* Submit + wait: READY with result 0 or -EIO; the bio stays the caller's. */
struct blk_rw {
    struct future base;
    struct blk_submit sub;
    struct bio_wait wait;
    int result;
};
void blk_rw_init(struct blk_rw *rw, struct blkdev *dev, struct bio *b);

/* Probe the virtio-mmio slots from the device tree (src/dev/virtio_blk.c). */
void virtio_blk_probe(void);
struct blk_stats { uint64_t reads, writes, flushes, irqs, completions, errors, max_inflight; };
void blk_get_stats(struct blkdev *d, struct blk_stats *out);
