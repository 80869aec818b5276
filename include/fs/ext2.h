/*
 * ext2.h - the second extended file system, revision 1, read-write.
 *
 * How an operation waits for the disk (the restart discipline): every
 * operation is an *attempt* - a plain C function that works on blocks
 * already in the block cache.  When it needs a block that is not there
 * it records the block (c->miss) and returns -EMISS before it changed
 * anything; the x2run future then awaits that block's read and runs the
 * attempt again.  Attempts that change the file system either read every
 * block they will touch before their first change, or record their
 * progress in their arguments (a write, block by block; a truncation,
 * from the end) so that a rerun goes on where the last one stopped.
 * Newly allocated blocks never need a read (they are zeroed in the
 * cache), and the bitmaps, group descriptors and superblock are pinned
 * in the cache from mount on.
 *
 * Locking (include/fs/ext2_lock.h): one sleeping reader-writer lock per
 * inode, an allocation lock and a rename lock.  An attempt try-locks
 * what it touches (-ELOCKED: the run awaits that lock and reruns it);
 * the inode locks an operation holds are kept across the reads its
 * reruns wait for, so what it read stays as it was.
 *
 * Every block number, inode number, directory record and symlink length
 * read from the disk is checked; a bad one gives -EUCLEAN (or -EIO for a
 * failed read), never a fault or a loop (walks are bounded).
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "core/future.h"
#include "core/sleeplock.h"
#include "dev/blk.h"
#include "fs/bcache.h"
#include "fs/ext2_lock.h"

#define EMISS 1000              /* internal: read c->miss, then run the attempt again */
#define ESYMLINK 1001           /* internal: a symlink: resolve c->path afresh */
#ifndef EUCLEAN
#define EUCLEAN 117
#endif

struct ext2_super {
    uint32_t s_inodes_count, s_blocks_count, s_r_blocks_count, s_free_blocks_count;
    uint32_t s_free_inodes_count, s_first_data_block, s_log_block_size, s_log_frag_size;
    uint32_t s_blocks_per_group, s_frags_per_group, s_inodes_per_group, s_mtime, s_wtime;
    uint16_t s_mnt_count, s_max_mnt_count, s_magic, s_state, s_errors, s_minor_rev_level;
    uint32_t s_lastcheck, s_checkinterval, s_creator_os, s_rev_level;
    uint16_t s_def_resuid, s_def_resgid;
    uint32_t s_first_ino;
    uint16_t s_inode_size, s_block_group_nr;
    uint32_t s_feature_compat, s_feature_incompat, s_feature_ro_compat;
    uint8_t s_uuid[16];
    char s_volume_name[16];
};

struct ext2_gd {
    uint32_t bg_block_bitmap, bg_inode_bitmap, bg_inode_table;
    uint16_t bg_free_blocks_count, bg_free_inodes_count, bg_used_dirs_count, bg_pad;
    uint32_t bg_reserved[3];
};

struct ext2_inode {
    uint16_t i_mode, i_uid;
    uint32_t i_size, i_atime, i_ctime, i_mtime, i_dtime;
    uint16_t i_gid, i_links_count;
    uint32_t i_blocks, i_flags, i_osd1;
    uint32_t i_block[15];
    uint32_t i_generation, i_file_acl, i_size_high, i_faddr;
    uint8_t i_osd2[12];
};
_Static_assert(sizeof(struct ext2_inode) == 128, "ext2 inode");

struct ext2_dirent {
    uint32_t inode;
    uint16_t rec_len;
    uint8_t name_len, file_type;
    char name[];
};

/* Write classes (bcache.h): the order a sync writes ext2's blocks in.
 * DESIGN.md, "Storage: write order", says why. */
#define X2_WC_DATA 0                /* file data, symlink blocks */
#define X2_WC_IND(level) (level)    /* indirect blocks, 1 (single) to 3 (triple) */
#define X2_WC_META 4                /* inode tables, bitmaps, group descriptors, superblock */
#define X2_WC_DIR 5                 /* directory blocks */

#define EXT2_ROOT_INO 2
#define EXT2_MAGIC 0xef53
#define EXT2_NDIR 12

struct ext2_fs {
    struct blkdev *dev;
    uint32_t bsize, blocks_count, inodes_count, first_data_block;
    uint32_t bpg, ipg, ngroups, inode_size, first_ino;
    uint32_t devno;                 /* st_dev */
    bool ro, large_file, filetype;
    struct buf *sb_buf;             /* pinned */
    struct ext2_super *sb;          /* inside sb_buf */
    struct buf **gdt;               /* pinned, ngdt bufs */
    uint32_t ngdt;
    struct buf **bmap;              /* pinned: [2g] block bitmap, [2g+1] inode bitmap */
    struct mutex alloc;             /* bitmaps, group descriptors, free counts */
    struct mutex rename;            /* the tree's shape (ext2_lock.h) */
    _Atomic int busy;               /* open files inside it (umount: EBUSY) */
    struct spinlock itab_lock;      /* the in-core inode table */
    struct x2inode *itab[X2_ITAB];
    struct x2inode *root_xi;        /* a reference from mount to release */
    int err_logged;
};

/* The context of one attempt. */
struct x2c {
    struct ext2_fs *fs;
    uint64_t miss;                  /* -EMISS: this block */
    uint32_t miss_size;             /* its size (0: the file system's block size) */
    struct buf *held[8];            /* references dropped when the attempt ends */
    int nheld;
    struct x2locks *lk;             /* the run's locks */
    int alloc_depth;
};
#define X2_PATH_CAP 256

/* Run an attempt until it stops missing: a future.  result: the attempt's.
 * excl is not used any more (each attempt locks the inodes it touches). */
typedef long (*x2_attempt_fn)(struct x2c *c, void *arg);
struct x2run {
    struct future base;
    struct ext2_fs *fs;
    x2_attempt_fn fn;
    void *arg;
    struct x2locks lk;
    struct rwlock_lock ilk;         /* awaiting an inode lock */
    struct mutex_lock mlk;          /* awaiting alloc or rename */
    struct bc_read rd;
    long result;
};
void x2run_init(struct x2run *r, struct ext2_fs *fs, bool excl, x2_attempt_fn fn, void *arg);

/* Mount: a future (reads the superblock, group descriptors, bitmaps). */
struct ext2_mount {
    struct future base;
    struct blkdev *dev;
    struct ext2_fs *fs;
    struct x2run run;
    int result;
};
void ext2_mount_init(struct ext2_mount *m, struct blkdev *dev);
void ext2_release(struct ext2_fs *fs);   /* after a clean sync (umount) */
void ext2_mark_clean(struct ext2_fs *fs, bool clean);
static inline struct blkdev *x2_fs_dev(struct ext2_fs *fs) { return fs->dev; }

/* Open files (ext2_lock.c).  ref: inside the attempt that opens, with
 * the inode locked (so an unlink sees it open); false: no memory. */
bool x2_open_ref(struct ext2_fs *fs, uint32_t ino);
/* true: it was unlinked while open and this was the last close: evict it. */
bool x2_open_unref(struct ext2_fs *fs, uint32_t ino);
/* Is ino open?  If so and orphan, remember to free it at the last close. */
bool x2_open_orphan(struct ext2_fs *fs, uint32_t ino, bool orphan);
void x2_evict_spawn(struct ext2_fs *fs, uint32_t ino);

/* ---- inside ext2 (src/fs/ext2*.c) ---- */
struct x2ino { struct buf *b; struct ext2_inode *i; uint32_t ino; };
long x2_block(struct x2c *c, uint32_t n, struct buf **out);   /* 0 / -EMISS / -EUCLEAN */
long x2_iget(struct x2c *c, uint32_t ino, struct x2ino *out);
void x2_iput(struct x2ino *ix);
void x2_idirty(struct x2c *c, struct x2ino *ix);
uint64_t x2_isize(struct ext2_fs *fs, const struct ext2_inode *i);
void x2_set_isize(struct ext2_fs *fs, struct ext2_inode *i, uint64_t size);
/* Physical block of logical block lblk: 0 = a hole.  alloc: make it. */
long x2_bmap(struct x2c *c, struct x2ino *ix, uint64_t lblk, bool alloc, uint32_t *out);
/* Free every block from logical block `from` on (progress-safe; may -EMISS). */
long x2_free_from(struct x2c *c, struct x2ino *ix, uint64_t from);
/* A new inode, zeroed, held in *out (x2_iput it). */
long x2_alloc_inode(struct x2c *c, uint32_t near_ino, bool dir, struct x2ino *out);
long x2_free_inode(struct x2c *c, uint32_t ino, bool dir);
uint32_t x2_now(void);
long x2_corrupt(struct x2c *c, const char *what);
