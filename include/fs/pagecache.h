/*
 * pagecache.h - the page cache: the data of ext2 regular files, cached by
 * (file system, inode, page index) in whole pages that read, mmap and exec
 * all share.  (The block cache below it still holds the disk blocks;
 * the write path goes through it and keeps cached pages coherent.)
 *
 * A page is found or made with pc_get (never waits).  Its data is valid
 * once PC_VALID is set; until then whoever needs it fills it:
 *   - a read (an ext2 attempt holding the inode's lock) fills it
 *     inline with pc_fill_attempt, which misses (-EMISS) like any attempt
 *     until the file's blocks are in the block cache;
 *   - a page fault starts the page's one fill task (pc_fill_start) and
 *     awaits pc_wait: the fault returns to the thread's future, which
 *     waits (the hart runs others) and retries the fault.
 * Filling is idempotent: the data is copied into the page and PC_VALID set
 * in one step under the cache lock, only if the page is not VALID yet, so
 * a racing second filler never overwrites a page that was since mapped
 * and written.  Concurrent fillers share the disk reads (one request per
 * block in the block cache).
 *
 * References (pg->refs): every pc_get holder, the fill task, and every
 * page-table entry that maps the page (mm.c takes it with pc_map_get and
 * drops it with pc_unmap_put only after no hart can still hold a stale
 * translation: the retire / shootdown machinery of mm.c).  A page with
 * refs is never freed; a page that is truncated away while referenced is
 * unhashed (PC_GONE) and freed at its last put.
 *
 * Dirty pages (MAP_SHARED writes) are copied into the file's blocks by
 * pc_flush (sync, fsync, msync, umount, power-off, and a periodic task);
 * a page stays dirty while a writable shared mapping of it exists.
 * Reclaim (pc_shrink: called by the page allocator before it fails, and
 * by pc_get when the cache holds a quarter of memory) frees clean pages
 * with no reference, coldest first.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "core/future.h"
#include "core/waitq.h"
#include "fs/ext2.h"

#define PC_VALID 1u
#define PC_DIRTY 2u
#define PC_FILLING 4u           /* a fill task runs for it */
#define PC_GONE 8u              /* removed from the cache (truncated): freed at the last put */

struct pc_page {
    struct ext2_fs *fs;
    uint32_t ino;
    uint32_t flags;             /* PC_*, under the cache lock */
    uint64_t index;             /* page index in the file */
    uint8_t *data;              /* one page from the page allocator */
    _Atomic int refs;
    int maps;                   /* page-table entries mapping it */
    int smaps;                  /* of which in MAP_SHARED regions (may write) */
    uint32_t wseq;              /* bumped when a shared mapping may write it */
    int err;                    /* the last fill's error */
    uint32_t flush_pass;        /* pc_flush: seen in this pass */
    struct pc_page *hnext;
    struct pc_page *lru_prev, *lru_next;
    struct waitq wq;            /* waiting for PC_FILLING to clear */
};

/* The page (fs, ino, index) with a reference, made (not VALID) if absent.
 * NULL: no memory. */
struct pc_page *pc_get(struct ext2_fs *fs, uint32_t ino, uint64_t index);
/* The page if cached and VALID, with a reference; else NULL. */
struct pc_page *pc_lookup(struct ext2_fs *fs, uint32_t ino, uint64_t index);
void pc_put(struct pc_page *pg);
/* The cache page whose data is at kernel address p (a mapped frame), or NULL. */
struct pc_page *pc_page_of(const void *p);

/* Inside an ext2 attempt (the lock held): make pg, a page of inode ix,
 * VALID from the file's blocks.  0, -EMISS, -EUCLEAN. */
long pc_fill_attempt(struct x2c *c, struct x2ino *ix, struct pc_page *pg);

/* Start pg's fill task unless pg is VALID or being filled.  Never waits. */
void pc_fill_start(struct pc_page *pg);
/* Await the end of pg's fill.  result: 0 if VALID, else -errno.  The
 * caller keeps its reference; cancel only unregisters. */
struct pc_wait {
    struct future base;
    struct pc_page *pg;
    struct waiter w;
    int result;
};
void pc_wait_init(struct pc_wait *w, struct pc_page *pg);

/* The sops of a file region: its reference on the open file (fs/file.h). */
struct vma_shared_ops;
extern const struct vma_shared_ops pc_file_vma_ops;

/* Mappings (mm.c, under the mm's lock).  shared: a MAP_SHARED region. */
void pc_map_get(struct pc_page *pg, bool shared, bool writable);
void pc_unmap_put(struct pc_page *pg, bool shared);
/* A write fault on a shared mapping: the page is dirty from now on. */
void pc_mark_dirty(struct pc_page *pg);

/* The file's bytes [pos, pos + n) were written (from src, in the block
 * cache too): update the cached page if there is one.  Under the inode's
 * lock, exclusive. */
void pc_write(struct ext2_fs *fs, uint32_t ino, uint64_t pos, const uint8_t *src, uint32_t n);
/* The file shrank to size (or was freed: 0): drop the pages past it and
 * zero the tail of the last one.  Under the inode's lock, exclusive. */
void pc_truncate(struct ext2_fs *fs, uint32_t ino, uint64_t size);
/* Forget every page of fs (umount, after a flush). */
void pc_forget(struct ext2_fs *fs);

/* Copy dirty pages of fs (NULL: every file system; ino 0: every file)
 * into their blocks in the block cache.  result 0 or -errno. */
struct pc_flush {
    struct future base;
    struct ext2_fs *fs;
    uint32_t ino;
    uint32_t pass, seq;
    unsigned bucket;
    struct pc_page *pg;
    struct x2run run;
    int result;
};
void pc_flush_init(struct pc_flush *f, struct ext2_fs *fs, uint32_t ino);
void pc_writeback_start(void);      /* the periodic flush task */

/* fsync of a file's data: its dirty pages (pc_flush of fs, ino; fs NULL:
 * every file system), then the block cache's sync of that disk (of every
 * disk).  result 0 or -errno. */
struct pc_fsync {
    struct future base;
    struct ext2_fs *fs;
    uint32_t ino;
    struct pc_flush flush;
    struct bc_sync sync;
    int result;
};
void pc_fsync_init(struct pc_fsync *s, struct ext2_fs *fs, uint32_t ino);

/* Free up to `pages` clean, unreferenced pages; returns how many. */
unsigned long pc_shrink(unsigned long pages);

/* fill_tasks: fills started for faults; waits: faults (or copies) whose
 * thread suspended (its task returned PENDING) until a fill ended. */
struct pc_stats { uint64_t pages, mapped, shared, dirty, hits, fills, reclaimed, fill_tasks, waits; };
void pc_get_stats(struct pc_stats *out);
