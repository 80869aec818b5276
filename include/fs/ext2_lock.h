/*
 * ext2_lock.h - ext2's locks: the in-core inode table, one sleeping
 * reader-writer lock per inode, the allocation lock and the rename lock
 * (src/fs/ext2_lock.c).
 *
 * What each lock guards:
 *  - inode lock (struct x2inode.lock, a rwlock): the inode's on-disk
 *    record (its bytes of the inode table block), its indirect and data
 *    blocks, and for a directory its entries.  Shared for reading (read,
 *    stat, lookup, getdents, exec), exclusive for any change.
 *  - alloc (a mutex): the block and inode bitmaps, the group descriptors
 *    and the superblock's free counts.  Taken inside one attempt and
 *    released when the attempt returns: never held across an await.
 *  - rename (a mutex): the shape of the directory tree.  Held by a
 *    rename between two directories from the moment it is taken to the
 *    end of the operation, so the "is the target inside the source"
 *    walk up through ".." sees a tree nobody else is moving.
 *
 * Lock order (an operation takes locks only in this order):
 *     rename  ->  directories, parent before child  ->  the inodes named
 *     ->  alloc
 *   - a path walk couples: it takes a directory shared, then the child
 *     it found, then lets the directory go;
 *   - two directories of one operation (rename) by inode number, lowest
 *     first; then the two inodes they name (source, replaced target),
 *     again lowest first;
 *   - link: the new parent, then the inode linked;
 *   - rename learns that it moves a directory only once it holds the
 *     inodes, so it try-locks `rename` then; when that fails the run lets
 *     go of the inodes and awaits `rename` first, which is the order.
 *     The ".." walk up from the new parent takes each directory shared
 *     for a moment, like a path walk.
 * Attempts are synchronous C (include/fs/ext2.h), so a lock inside one
 * is a try-lock: an attempt that cannot have a lock returns -ELOCKED
 * before it changed anything (or at a point its progress record makes
 * safe), and its x2run awaits the lock as a future and runs the attempt
 * again.  Before it awaits an inode lock or the rename lock the run lets
 * go of every inode lock it holds (never the rename lock), and alloc is
 * never held across any await.  The awaited lock is kept after the
 * attempt that follows only if that attempt asked for it with x2_ilock
 * (a path walk's directory, taken for a moment, goes again).  So nobody waits while holding a lock a
 * waiter ahead of it could need: deadlock is impossible even where the
 * order above is broken, and the order only keeps the retries rare.
 *
 * In-core inodes: an x2inode exists while it is referenced and is found
 * by number in the file system's table.  A reference is held by every
 * run that holds or awaits its lock (so a waiter's entry in the lock's
 * wait queue never outlives the lock) and by every open file.  The last
 * reference frees it.  `opens` counts open files; an inode whose last
 * link is dropped while it is open is marked orphan, and the last close
 * frees it on the disk (x2_evict_spawn).
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "core/sleeplock.h"

#define ELOCKED 1002                /* internal: await c->lk->want, run the attempt again */

struct ext2_fs;
struct x2c;

struct x2inode {
    struct x2inode *next;           /* hash chain (fs->itab_lock) */
    uint32_t ino;
    int refs, opens;                /* under fs->itab_lock */
    bool orphan;
    struct rwlock lock;
};

#define X2_ITAB 64
#define X2_MAXHELD 8

enum x2want { X2W_NONE, X2W_INODE, X2W_ALLOC, X2W_RENAME };

/* The locks one operation (one x2run) holds; inode locks and rename are
 * kept across the attempts of the operation, alloc only within one. */
struct x2locks {
    /* kept: an attempt asked for it with x2_ilock; one that is only the
     * lock the run awaited is let go after the attempt that follows */
    struct { struct x2inode *xi; bool write, kept; } h[X2_MAXHELD];
    int n;
    bool alloc, rename;
    enum x2want want;               /* what the last attempt could not take */
    struct x2inode *want_xi;        /* with a reference */
    bool want_write;
};

/* ---- in-core inodes (any context; no waiting) ---- */
struct x2inode *x2_iref(struct ext2_fs *fs, uint32_t ino);     /* NULL: no memory */
void x2_irele(struct ext2_fs *fs, struct x2inode *xi);

/* ---- inside an attempt ---- */
/* Hold ino's lock (shared or exclusive) until the operation ends. */
long x2_ilock(struct x2c *c, uint32_t ino, bool write);
/* Let it go before the end (it must be held). */
void x2_iunlock(struct x2c *c, uint32_t ino);
bool x2_iheld(struct x2c *c, uint32_t ino, bool write);
/* Shared for a moment, unless held already: *xi is what to x2_tmp_unlock. */
long x2_tmp_rlock(struct x2c *c, uint32_t ino, struct x2inode **xi);
void x2_tmp_unlock(struct x2c *c, struct x2inode *xi);
/* The allocation lock, nested: enter/exit pairs; the outermost takes it. */
long x2_alloc_enter(struct x2c *c);
void x2_alloc_exit(struct x2c *c);
long x2_rename_lock(struct x2c *c);

/* ---- the run's side (ext2.c) ---- */
void x2_locks_release_inodes(struct ext2_fs *fs, struct x2locks *lk);
void x2_locks_release_unkept(struct ext2_fs *fs, struct x2locks *lk);
void x2_locks_release_all(struct ext2_fs *fs, struct x2locks *lk);
