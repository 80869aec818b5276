/*
 * bcache.h - the block cache: file-system blocks of a disk, cached by
 * (disk, block number), shared by every reader and writer of that disk.
 * File data and metadata both live here (a file's page is the block
 * that holds it: with 4 KiB ext2 blocks a block is a page).
 *
 * A buf is found or made with bc_get (never waits), and read with the
 * bc_read future (awaits the disk only on a miss; concurrent readers of
 * one block share one request).  A writer changes buf->data and calls
 * bc_dirty; the write-back task (bc_writeback_start) writes dirty bufs
 * every few seconds, and bc_sync (a future) writes them all and flushes
 * the disk's cache (sync, fsync, umount, power-off).
 *
 * Buf states (flags):  not VALID --bc_read--> IO --irq--> VALID | error
 *                      VALID --bc_dirty--> DIRTY --write-back--> IO --irq--> VALID
 * Invariants:
 *  - buf->refs counts holders and an in-flight request; a buf with refs,
 *    DIRTY, IO or PINNED is never reclaimed.
 *  - flags change under the cache lock; the data of a VALID buf is
 *    changed only by its file system, under the lock of what the block
 *    belongs to (ext2: the inode's, or the allocation lock).
 *  - Reclaim drops clean, unreferenced bufs from the cold end of the LRU
 *    when the cache is over its size or the page allocator runs short.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "core/future.h"
#include "core/sleeplock.h"
#include "dev/blk.h"

#define B_VALID 1u
#define B_DIRTY 2u
#define B_IO 4u
#define B_PINNED 8u
#define B_ERROR 16u             /* the last read failed */
#define B_ORDERED 32u           /* written after every lower write class (bc_dirty_ordered) */

struct buf {
    struct blkdev *dev;
    uint64_t blkno;
    uint32_t size;
    uint32_t flags;
    uint8_t wclass;             /* write class: lower ones are written first */
    uint64_t dirty_epoch;       /* the sync epoch when it became dirty */
    _Atomic int refs;
    uint8_t *data;
    struct buf *hnext;
    struct buf *lru_prev, *lru_next;
    struct waitq wq;            /* waiting for IO to end */
};

/* The buf for (dev, blkno) with a reference, made if absent (not VALID).
 * NULL: no memory. */
struct buf *bc_get(struct blkdev *dev, uint64_t blkno, uint32_t size);
/* The buf if it is cached and VALID (with a reference), else NULL. */
struct buf *bc_peek(struct blkdev *dev, uint64_t blkno, uint32_t size);
void bc_put(struct buf *b);
void bc_dirty(struct buf *b);
/* A read of b is on its way (it will overwrite b->data when it lands). */
bool bc_read_in_flight(struct buf *b);
/* Write classes 0 .. BC_NCLASS-1 (0 by default).  A buf dirtied with
 * bc_dirty_ordered (it now points at a block, or names something, that
 * must be on the disk first) is written by a sync only after every dirty
 * buf of a lower class was written and completed; the other dirty bufs
 * all go in the sync's first round.  ext2 (ext2.h, X2_WC_*) says what
 * goes in which class. */
#define BC_NCLASS 6
void bc_set_class(struct buf *b, int wclass);
void bc_dirty_ordered(struct buf *b);
/* Start reading b if it is not VALID and not in flight; never waits. */
void bc_readahead(struct blkdev *dev, uint64_t blkno, uint32_t size);
/* Drop every cached block of dev (umount).  Dirty ones must be written first. */
void bc_forget(struct blkdev *dev);
/* Forget b's contents (a block read at another size). */
void bc_invalidate(struct buf *b);
/* The page cache takes a clean page-sized block's data instead of copying
 * it: if b is VALID, clean, idle and referenced only by the caller, its
 * data page is returned and `page` (a page from the page allocator)
 * becomes its data, the buf no longer VALID (a later reader reads the
 * disk again).  Else NULL and nothing changes. */
uint8_t *bc_trade(struct buf *b, uint8_t *page);

/* Read (dev, blkno) into the cache.  result 0 or -EIO / -ENOMEM. */
struct bc_read {
    struct future base;
    struct blkdev *dev;
    uint64_t blkno;
    uint32_t size;
    struct buf *b;
    struct bio *bio;
    struct blk_submit sub;
    struct waiter w;
    bool started;
    int result;
};
void bc_read_init(struct bc_read *r, struct blkdev *dev, uint64_t blkno, uint32_t size);

/* Write every buf of dev (NULL: of every disk) that was dirty when the
 * sync began, wait for them, flush the disk.  result 0 or -EIO.  (Blocks
 * dirtied meanwhile wait for the next sync: a busy writer cannot keep a
 * sync going, and a sync does not write a newer block of a lower class
 * behind the back of its class order.) */
struct bc_sync {
    struct future base;
    struct blkdev *dev;
    struct buf *batch[32];
    int n, i, pass, flushdev, cls;
    uint64_t epoch;
    struct bio *bio[32];
    struct blk_submit sub;
    struct bio_wait bw;
    struct mutex_lock lk;
    int result;
};
void bc_sync_init(struct bc_sync *s, struct blkdev *dev);

void bc_writeback_start(void);
/* More than a quarter of the cache's limit is dirty: a writer should
 * await a bc_sync before it dirties more. */
bool bc_too_dirty(void);      /* the periodic write-back task */

struct bc_stats { uint64_t hits, misses, readaheads, writes, reclaimed, bufs, dirty, bytes; };
void bc_get_stats(struct bc_stats *out);
