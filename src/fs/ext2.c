/*
 * ext2.c - ext2 core: the attempt runner (x2run), mount, blocks and
 * inodes, block mapping through indirect blocks, allocation and freeing
 * (include/fs/ext2.h states the restart discipline all of this obeys).
 *
 * Write order (so that a crash leaves only what e2fsck repairs in one
 * pass): in memory, a new block is zeroed and marked in the bitmap
 * before a pointer to it is stored; an inode is initialised before a
 * directory entry names it; a directory entry is removed before the
 * inode's link count drops and its blocks are freed; truncation shrinks
 * i_size before it frees blocks, from the end.  On the disk, every buf
 * has a write class (X2_WC_*, set where the block is fetched or made);
 * a change that stores a pointer to a new block, or an entry naming an
 * inode, dirties its buf ordered (bc_dirty_ordered), and a sync writes
 * the ordered bufs class by class after everything else: indirect blocks
 * level by level, inode tables, directories (DESIGN.md, section 9b, says
 * what a crash can leave).
 */
#include "arch.h"
#include "fs/ext2.h"
#include "fs/pagecache.h"
#include "lib/errno.h"
#include "lib/klib.h"
#include "lib/printk.h"
#include "mem/kmalloc.h"
#include "proc/syscall.h"

#define INCOMPAT_FILETYPE 0x2
#define RO_COMPAT_SPARSE 0x1
#define RO_COMPAT_LARGE_FILE 0x2
#define EXT2_VALID_FS 1

uint32_t x2_now(void)
{
    return (uint32_t)((arch_time() + time_ticks_of_clock(1)) / arch_timebase());
}

long x2_corrupt(struct x2c *c, const char *what)
{
    if (c->fs && c->fs->err_logged++ < 8)
        printk("ext2 (%s): corrupted: %s\n", c->fs->dev->name, what);
    return -EUCLEAN;
}

/* ---- the attempt runner -------------------------------------------------- */

static void release_held(struct x2c *c)
{
    for (int i = 0; i < c->nheld; i++)
        bc_put(c->held[i]);
    c->nheld = 0;
}

/*
 * The run, as a future:
 *   loop { attempt
 *          -EMISS:   await the block's read (inode locks kept)
 *          -ELOCKED: let go of the inode locks unless it is alloc that is
 *                    wanted, await the lock wanted, keep it, go round
 *          else:     done }
 *   let go of every lock
 * alloc is let go when each attempt returns, so it never spans an await.
 */
static enum poll run_poll(struct future *base, struct cx *cx)
{
    struct x2run *r = (struct x2run *)base;
    ASYNC_BEGIN(r);
    for (;;) {
        struct x2c c = { .fs = r->fs, .lk = &r->lk };
        r->lk.want = X2W_NONE;
        r->result = r->fn(&c, r->arg);
        release_held(&c);
        if (r->lk.alloc) {
            r->lk.alloc = false;
            mutex_unlock(&r->fs->alloc);
        }
        x2_locks_release_unkept(r->fs, &r->lk);
        if (r->result == -ELOCKED && r->lk.want == X2W_ALLOC) {
            mutex_lock_init(&r->mlk, &r->fs->alloc);
            AWAIT(r, future_poll(&r->mlk.base, cx));
            r->lk.alloc = true;         /* handed to the next attempt */
            continue;
        }
        if (r->result == -ELOCKED && r->lk.want == X2W_RENAME) {
            x2_locks_release_inodes(r->fs, &r->lk);
            mutex_lock_init(&r->mlk, &r->fs->rename);
            AWAIT(r, future_poll(&r->mlk.base, cx));
            r->lk.rename = true;
            continue;
        }
        if (r->result == -ELOCKED && r->lk.want == X2W_INODE) {
            x2_locks_release_inodes(r->fs, &r->lk);
            if (r->lk.want_write)
                rwlock_write_init(&r->ilk, &r->lk.want_xi->lock);
            else
                rwlock_read_init(&r->ilk, &r->lk.want_xi->lock);
            AWAIT(r, future_poll(&r->ilk.base, cx));
            r->lk.h[0].xi = r->lk.want_xi;      /* the reference goes with it */
            r->lk.h[0].write = r->lk.want_write;
            r->lk.h[0].kept = false;            /* unless the attempt asks for it */
            r->lk.n = 1;
            r->lk.want_xi = NULL;
            continue;
        }
        if (r->result != -EMISS)
            break;
        bc_read_init(&r->rd, r->fs->dev, c.miss, c.miss_size ? c.miss_size : r->fs->bsize);
        AWAIT(r, future_poll(&r->rd.base, cx));
        bc_put(r->rd.b);
        r->rd.b = NULL;
        if (r->rd.result) {
            r->result = r->rd.result;
            break;
        }
    }
    if (r->result == -ELOCKED)
        r->result = -EIO;               /* an attempt that named no lock: a bug */
    x2_locks_release_all(r->fs, &r->lk);
    ASYNC_END(r);
}

static void run_cancel(struct future *base)
{
    struct x2run *r = (struct x2run *)base;
    future_cancel(&r->ilk.base);
    future_cancel(&r->mlk.base);
    future_cancel(&r->rd.base);
    if (r->fs)
        x2_locks_release_all(r->fs, &r->lk);
}

static const struct future_ops run_ops = { run_poll, run_cancel, "ext2" };

void x2run_init(struct x2run *r, struct ext2_fs *fs, bool excl, x2_attempt_fn fn, void *arg)
{
    (void)excl;
    future_init(&r->base, &run_ops);
    r->fs = fs;
    r->fn = fn;
    r->arg = arg;
    memset(&r->lk, 0, sizeof r->lk);
    r->result = 0;
    bc_read_init(&r->rd, fs ? fs->dev : NULL, 0, 0);
    r->rd.base.resume = RESUME_DONE;     /* nothing to cancel yet */
    r->ilk.base.resume = RESUME_DONE;
    r->mlk.base.resume = RESUME_DONE;
}

/* ---- blocks and inodes ----------------------------------------------------- */

long x2_block(struct x2c *c, uint32_t n, struct buf **out)
{
    struct ext2_fs *fs = c->fs;
    if (n < fs->first_data_block || n >= fs->blocks_count)
        return x2_corrupt(c, "block number out of range");
    *out = bc_peek(fs->dev, n, fs->bsize);
    if (*out)
        return 0;
    c->miss = n;
    c->miss_size = 0;
    return -EMISS;
}

static struct ext2_gd *gd_of(struct ext2_fs *fs, uint32_t g)
{
    uint32_t per = fs->bsize / sizeof(struct ext2_gd);
    return (struct ext2_gd *)fs->gdt[g / per]->data + g % per;
}

static void gd_dirty(struct ext2_fs *fs, uint32_t g)
{
    bc_dirty(fs->gdt[g / (fs->bsize / sizeof(struct ext2_gd))]);
}

long x2_iget(struct x2c *c, uint32_t ino, struct x2ino *out)
{
    struct ext2_fs *fs = c->fs;
    if (ino < 1 || ino > fs->inodes_count)
        return x2_corrupt(c, "inode number out of range");
    uint32_t g = (ino - 1) / fs->ipg, idx = (ino - 1) % fs->ipg;
    uint64_t byte = (uint64_t)idx * fs->inode_size;
    uint64_t blk = gd_of(fs, g)->bg_inode_table + byte / fs->bsize;
    if (blk >= fs->blocks_count)
        return x2_corrupt(c, "inode table out of range");
    long r = x2_block(c, (uint32_t)blk, &out->b);
    if (r)
        return r;
    bc_set_class(out->b, X2_WC_META);      /* written after data, before directories */
    out->i = (struct ext2_inode *)(out->b->data + byte % fs->bsize);
    out->ino = ino;
    return 0;
}

void x2_iput(struct x2ino *ix)
{
    bc_put(ix->b);
    ix->b = NULL;
}

void x2_idirty(struct x2c *c, struct x2ino *ix)
{
    (void)c;
    bc_dirty(ix->b);
}

uint64_t x2_isize(struct ext2_fs *fs, const struct ext2_inode *i)
{
    uint64_t s = i->i_size;
    if ((i->i_mode & 0170000) == 0100000 && fs->large_file)
        s |= (uint64_t)i->i_size_high << 32;
    return s;
}

void x2_set_isize(struct ext2_fs *fs, struct ext2_inode *i, uint64_t size)
{
    i->i_size = (uint32_t)size;
    if ((i->i_mode & 0170000) == 0100000) {
        i->i_size_high = (uint32_t)(size >> 32);
        if ((size >> 31) && !fs->large_file) {
            /* the superblock's other writers hold alloc; this flag only
             * ever goes on, so a racing setter writes the same bit */
            fs->large_file = true;
            __atomic_fetch_or(&fs->sb->s_feature_ro_compat, RO_COMPAT_LARGE_FILE, __ATOMIC_RELAXED);
            bc_dirty(fs->sb_buf);
        }
    }
}

/* ---- allocation ---------------------------------------------------------------- */

static void sb_count(struct ext2_fs *fs, int dblocks, int dinodes)
{
    fs->sb->s_free_blocks_count += dblocks;
    fs->sb->s_free_inodes_count += dinodes;
    bc_dirty(fs->sb_buf);
}

/* First clear bit in [from, n) of map, or -1. */
static long find_zero(const uint8_t *map, uint32_t from, uint32_t n)
{
    for (uint32_t i = from; i < n; i++) {
        if (map[i / 8] == 0xff && i % 8 == 0) {
            i += 7;
            continue;
        }
        if (!(map[i / 8] & (1u << (i % 8))))
            return i;
    }
    return -1;
}

static uint32_t group_blocks(struct ext2_fs *fs, uint32_t g)
{
    uint32_t left = fs->blocks_count - fs->first_data_block - g * fs->bpg;
    return MIN(left, fs->bpg);
}

/* Allocate a block near goal; the buf is zeroed, VALID and dirty. */
static long alloc_block_locked(struct x2c *c, uint32_t goal, uint32_t *out);
static long alloc_block(struct x2c *c, uint32_t goal, uint32_t *out)
{
    long r = x2_alloc_enter(c);
    if (r)
        return r;
    r = alloc_block_locked(c, goal, out);
    x2_alloc_exit(c);
    return r;
}

static long alloc_block_locked(struct x2c *c, uint32_t goal, uint32_t *out)
{
    struct ext2_fs *fs = c->fs;
    if (fs->sb->s_free_blocks_count == 0)
        return -ENOSPC;
    uint32_t g0 = goal >= fs->first_data_block && goal < fs->blocks_count
                      ? (goal - fs->first_data_block) / fs->bpg : 0;
    for (uint32_t k = 0; k < fs->ngroups; k++) {
        uint32_t g = (g0 + k) % fs->ngroups;
        struct ext2_gd *gd = gd_of(fs, g);
        if (gd->bg_free_blocks_count == 0)
            continue;
        uint8_t *map = fs->bmap[2 * g]->data;
        uint32_t from = k == 0 && goal >= fs->first_data_block && goal < fs->blocks_count
                            ? (goal - fs->first_data_block) % fs->bpg : 0;
        /* from `from` to the end, then from 0 to `from`; a free block
         * still being read (read-ahead of the file that freed it) is
         * skipped: the read would land over what we put in it */
        uint32_t n = group_blocks(fs, g), next = from;
        long bit = -1;
        struct buf *nb = NULL;
        while ((bit = find_zero(map, next, n)) >= 0) {
            next = (uint32_t)bit + 1;
            nb = bc_get(fs->dev, fs->first_data_block + g * fs->bpg + (uint32_t)bit, fs->bsize);
            if (!nb)
                return -ENOMEM;
            if (!bc_read_in_flight(nb))
                break;
            bc_put(nb);
            nb = NULL;
        }
        for (next = 0; !nb && from && next < from && (bit = find_zero(map, next, from)) >= 0;) {
            next = (uint32_t)bit + 1;
            nb = bc_get(fs->dev, fs->first_data_block + g * fs->bpg + (uint32_t)bit, fs->bsize);
            if (!nb)
                return -ENOMEM;
            if (bc_read_in_flight(nb)) {
                bc_put(nb);
                nb = NULL;
            }
        }
        if (!nb)
            continue;
        uint32_t b = fs->first_data_block + g * fs->bpg + (uint32_t)bit;
        memset(nb->data, 0, fs->bsize);
        bc_set_class(nb, X2_WC_DATA);      /* (it may have been a directory's) */
        bc_dirty(nb);                   /* zeroed before anything points at it */
        bc_put(nb);
        map[bit / 8] |= 1u << (bit % 8);
        bc_dirty(fs->bmap[2 * g]);
        gd->bg_free_blocks_count--;
        gd_dirty(fs, g);
        sb_count(fs, -1, 0);
        *out = b;
        return 0;
    }
    return -ENOSPC;
}

/* With alloc held (x2_free_from enters it). */
static void free_block(struct x2c *c, uint32_t b)
{
    struct ext2_fs *fs = c->fs;
    if (b < fs->first_data_block || b >= fs->blocks_count) {
        x2_corrupt(c, "freeing a block out of range");
        return;
    }
    uint32_t g = (b - fs->first_data_block) / fs->bpg, bit = (b - fs->first_data_block) % fs->bpg;
    uint8_t *map = fs->bmap[2 * g]->data;
    if (!(map[bit / 8] & (1u << (bit % 8)))) {
        x2_corrupt(c, "freeing a free block");
        return;
    }
    map[bit / 8] &= ~(1u << (bit % 8));
    bc_dirty(fs->bmap[2 * g]);
    gd_of(fs, g)->bg_free_blocks_count++;
    gd_dirty(fs, g);
    sb_count(fs, 1, 0);
}

static long alloc_inode_locked(struct x2c *c, uint32_t near_ino, bool dir, struct x2ino *out);
long x2_alloc_inode(struct x2c *c, uint32_t near_ino, bool dir, struct x2ino *out)
{
    long r = x2_alloc_enter(c);
    if (r)
        return r;
    r = alloc_inode_locked(c, near_ino, dir, out);
    x2_alloc_exit(c);
    return r;
}

/* The new inode is nobody's but ours: its bit was clear, so no entry
 * names it and no lock of it is held by anyone who could look at it. */
static long alloc_inode_locked(struct x2c *c, uint32_t near_ino, bool dir, struct x2ino *out)
{
    struct ext2_fs *fs = c->fs;
    if (fs->sb->s_free_inodes_count == 0)
        return -ENOSPC;
    uint32_t g0 = near_ino ? (near_ino - 1) / fs->ipg % fs->ngroups : 0;
    for (uint32_t k = 0; k < fs->ngroups; k++) {
        uint32_t g = (g0 + k) % fs->ngroups;
        struct ext2_gd *gd = gd_of(fs, g);
        if (gd->bg_free_inodes_count == 0)
            continue;
        uint8_t *map = fs->bmap[2 * g + 1]->data;
        uint32_t from = g == 0 ? fs->first_ino - 1 : 0;
        long bit = find_zero(map, from, fs->ipg);
        if (bit < 0)
            continue;
        uint32_t ino = g * fs->ipg + (uint32_t)bit + 1;
        if (ino > fs->inodes_count)
            continue;
        /* read its table block before changing anything */
        long r = x2_iget(c, ino, out);
        if (r)
            return r;
        memset(out->i, 0, fs->inode_size);
        if (fs->inode_size > 128)
            *(uint16_t *)((uint8_t *)out->i + 128) = 32;   /* i_extra_isize */
        out->i->i_generation = x2_now();
        x2_idirty(c, out);
        map[bit / 8] |= 1u << (bit % 8);
        bc_dirty(fs->bmap[2 * g + 1]);
        gd->bg_free_inodes_count--;
        if (dir)
            gd->bg_used_dirs_count++;
        gd_dirty(fs, g);
        sb_count(fs, 0, -1);
        return 0;
    }
    return -ENOSPC;
}

long x2_free_inode(struct x2c *c, uint32_t ino, bool dir)
{
    struct ext2_fs *fs = c->fs;
    if (ino < fs->first_ino || ino > fs->inodes_count)
        return 0;
    long r = x2_alloc_enter(c);
    if (r)
        return r;
    uint32_t g = (ino - 1) / fs->ipg, bit = (ino - 1) % fs->ipg;
    uint8_t *map = fs->bmap[2 * g + 1]->data;
    if (!(map[bit / 8] & (1u << (bit % 8)))) {
        x2_alloc_exit(c);
        x2_corrupt(c, "freeing a free inode");
        return 0;
    }
    map[bit / 8] &= ~(1u << (bit % 8));
    bc_dirty(fs->bmap[2 * g + 1]);
    struct ext2_gd *gd = gd_of(fs, g);
    gd->bg_free_inodes_count++;
    if (dir && gd->bg_used_dirs_count)
        gd->bg_used_dirs_count--;
    gd_dirty(fs, g);
    sb_count(fs, 0, 1);
    x2_alloc_exit(c);
    return 0;
}

/* ---- block mapping ------------------------------------------------------------- */

/* Depth (0: direct) and the index at each level of logical block lblk. */
static int map_path(struct ext2_fs *fs, uint64_t lblk, uint32_t idx[4])
{
    uint64_t per = fs->bsize / 4;
    if (lblk < EXT2_NDIR) {
        idx[0] = (uint32_t)lblk;
        return 0;
    }
    lblk -= EXT2_NDIR;
    if (lblk < per) {
        idx[0] = 12;
        idx[1] = (uint32_t)lblk;
        return 1;
    }
    lblk -= per;
    if (lblk < per * per) {
        idx[0] = 13;
        idx[1] = (uint32_t)(lblk / per);
        idx[2] = (uint32_t)(lblk % per);
        return 2;
    }
    lblk -= per * per;
    if (lblk < per * per * per) {
        idx[0] = 14;
        idx[1] = (uint32_t)(lblk / (per * per));
        idx[2] = (uint32_t)(lblk / per % per);
        idx[3] = (uint32_t)(lblk % per);
        return 3;
    }
    return -1;
}

long x2_bmap(struct x2c *c, struct x2ino *ix, uint64_t lblk, bool alloc, uint32_t *out)
{
    struct ext2_fs *fs = c->fs;
    uint32_t idx[4];
    int depth = map_path(fs, lblk, idx);
    if (depth < 0)
        return -EFBIG;
    uint32_t *slot = &ix->i->i_block[idx[0]];
    struct buf *holder = NULL, *next;
    long r = 0;
    uint32_t goal = ix->i->i_block[0] ? ix->i->i_block[0] : fs->first_data_block +
                    ((ix->ino - 1) / fs->ipg % fs->ngroups) * fs->bpg;
    for (int k = 0;; k++) {
        if (*slot == 0) {
            if (!alloc) {
                *out = 0;
                break;
            }
            uint32_t nb;
            if ((r = alloc_block(c, goal, &nb)))
                break;
            *slot = nb;
            if (holder)
                bc_dirty_ordered(holder);       /* after the block it now points at */
            ix->i->i_blocks += fs->bsize / 512;
            if (!holder)
                bc_dirty_ordered(ix->b);
            x2_idirty(c, ix);
        } else if (*slot < fs->first_data_block || *slot >= fs->blocks_count) {
            r = x2_corrupt(c, "block pointer out of range");
            break;
        }
        goal = *slot + 1;
        if (k == depth) {
            *out = *slot;
            break;
        }
        if ((r = x2_block(c, *slot, &next)))
            break;
        bc_set_class(next, X2_WC_IND(depth - k));  /* before the blocks above it */
        if (holder) {                   /* keep the chain for the caller's attempt */
            if (c->nheld < (int)ARRAY_SIZE(c->held))
                c->held[c->nheld++] = holder;
            else
                bc_put(holder);
        }
        holder = next;
        slot = (uint32_t *)holder->data + idx[k + 1];
    }
    if (holder) {
        if (c->nheld < (int)ARRAY_SIZE(c->held))
            c->held[c->nheld++] = holder;
        else
            bc_put(holder);
    }
    return r;
}

/* Free the tree under *slot (a block of `depth` levels above data, covering
 * logical blocks from base) at and after logical block `from`. */
static long free_level(struct x2c *c, struct x2ino *ix, uint32_t *slot, struct buf *holder,
                       int depth, uint64_t base, uint64_t from)
{
    struct ext2_fs *fs = c->fs;
    uint64_t per = fs->bsize / 4, cover = 1;
    for (int d = 0; d < depth; d++)
        cover *= per;
    if (*slot == 0 || base + cover <= from)
        return 0;
    if (*slot < fs->first_data_block || *slot >= fs->blocks_count) {
        *slot = 0;                      /* drop the bad pointer; fsck finds the rest */
        return x2_corrupt(c, "block pointer out of range");
    }
    if (depth > 0) {
        struct buf *b;
        long r = x2_block(c, *slot, &b);
        if (r)
            return r;
        bc_set_class(b, X2_WC_IND(depth));
        uint64_t child = cover / per;
        for (long j = (long)per - 1; j >= 0; j--) {
            uint64_t cb = base + (uint64_t)j * child;
            if (cb + child <= from)
                break;
            r = free_level(c, ix, (uint32_t *)b->data + j, b, depth - 1, cb, from);
            if (r) {
                bc_put(b);
                return r;
            }
        }
        bc_put(b);
        if (base < from)
            return 0;                   /* keeps children below `from` */
    }
    free_block(c, *slot);
    *slot = 0;
    if (holder)
        bc_dirty(holder);
    if (ix->i->i_blocks >= fs->bsize / 512)
        ix->i->i_blocks -= fs->bsize / 512;
    x2_idirty(c, ix);
    return 0;
}

static long free_from_locked(struct x2c *c, struct x2ino *ix, uint64_t from)
{
    struct ext2_fs *fs = c->fs;
    uint64_t per = fs->bsize / 4;
    uint64_t base[3] = { EXT2_NDIR, EXT2_NDIR + per, EXT2_NDIR + per + per * per };
    for (int d = 3; d >= 1; d--) {
        long r = free_level(c, ix, &ix->i->i_block[11 + d], NULL, d, base[d - 1], from);
        if (r)
            return r;
    }
    for (int k = EXT2_NDIR - 1; k >= 0 && (uint64_t)k >= from; k--) {
        long r = free_level(c, ix, &ix->i->i_block[k], NULL, 0, k, from);
        if (r)
            return r;
    }
    return 0;
}

/* Holds alloc for the whole (synchronous) walk of the tree. */
long x2_free_from(struct x2c *c, struct x2ino *ix, uint64_t from)
{
    long r = x2_alloc_enter(c);
    if (r)
        return r;
    r = free_from_locked(c, ix, from);
    x2_alloc_exit(c);
    return r;
}

/* ---- mount ----------------------------------------------------------------------- */

static long peek_sized(struct x2c *c, struct blkdev *d, uint64_t n, uint32_t size, struct buf **out)
{
    *out = bc_peek(d, n, size);
    if (*out)
        return 0;
    c->miss = n;
    c->miss_size = size;
    return -EMISS;
}

static bool pow2(uint32_t x) { return x && !(x & (x - 1)); }

static long check_super(struct ext2_fs *fs, const struct ext2_super *s)
{
    if (s->s_magic != EXT2_MAGIC || s->s_log_block_size > 2 || s->s_rev_level > 1)
        return -EINVAL;
    uint32_t bsize = 1024u << s->s_log_block_size;
    uint32_t isz = s->s_rev_level ? s->s_inode_size : 128;
    if (!pow2(isz) || isz < 128 || isz > bsize || s->s_blocks_per_group == 0 ||
        s->s_blocks_per_group > 8 * bsize || s->s_inodes_per_group == 0 ||
        s->s_inodes_per_group > 8 * bsize || s->s_first_data_block != (bsize == 1024) ||
        s->s_blocks_count <= s->s_first_data_block || s->s_inodes_count < EXT2_ROOT_INO)
        return -EUCLEAN;
    if ((uint64_t)s->s_blocks_count * (bsize / SECTOR_SIZE) > fs->dev->sectors)
        return -EUCLEAN;
    uint32_t ngroups = (s->s_blocks_count - s->s_first_data_block + s->s_blocks_per_group - 1) /
                       s->s_blocks_per_group;
    if ((uint64_t)ngroups * s->s_inodes_per_group < s->s_inodes_count || ngroups > 65536)
        return -EUCLEAN;
    uint32_t first_ino = s->s_rev_level ? s->s_first_ino : 11;
    if (first_ino <= EXT2_ROOT_INO || first_ino > s->s_inodes_count)
        return -EUCLEAN;
    if (s->s_rev_level && (s->s_feature_incompat & ~INCOMPAT_FILETYPE))
        return -EINVAL;                 /* features we cannot read */
    fs->bsize = bsize;
    fs->inode_size = isz;
    fs->blocks_count = s->s_blocks_count;
    fs->inodes_count = s->s_inodes_count;
    fs->first_data_block = s->s_first_data_block;
    fs->bpg = s->s_blocks_per_group;
    fs->ipg = s->s_inodes_per_group;
    fs->ngroups = ngroups;
    fs->first_ino = first_ino;
    fs->filetype = s->s_rev_level && (s->s_feature_incompat & INCOMPAT_FILETYPE);
    fs->large_file = s->s_rev_level && (s->s_feature_ro_compat & RO_COMPAT_LARGE_FILE);
    fs->ro = fs->dev->read_only ||
             (s->s_rev_level && (s->s_feature_ro_compat & ~(RO_COMPAT_SPARSE | RO_COMPAT_LARGE_FILE)));
    fs->ngdt = (ngroups * sizeof(struct ext2_gd) + bsize - 1) / bsize;
    return 0;
}

static void put_pins(struct ext2_fs *fs)
{
    bc_put(fs->sb_buf);
    fs->sb_buf = NULL;
    for (uint32_t i = 0; fs->gdt && i < fs->ngdt; i++)
        bc_put(fs->gdt[i]);
    for (uint32_t i = 0; fs->bmap && i < 2 * fs->ngroups; i++)
        bc_put(fs->bmap[i]);
    kfree(fs->gdt);
    kfree(fs->bmap);
    fs->gdt = NULL;
    fs->bmap = NULL;
}

/* Mount as an attempt: nothing is kept unless everything is there. */
static long mount_attempt(struct x2c *c, void *arg)
{
    struct ext2_fs *fs = arg;
    struct buf *raw;
    c->fs = NULL;                       /* x2_corrupt: nothing to name yet */
    long r = peek_sized(c, fs->dev, 1, 1024, &raw);
    if (r)
        return r;
    struct ext2_super s;
    memcpy(&s, raw->data, sizeof s);
    r = check_super(fs, &s);
    if (r) {
        bc_put(raw);
        return r;
    }
    if (fs->bsize != 1024)
        bc_invalidate(raw);             /* the real one is read at the real size */
    bc_put(raw);
    put_pins(fs);
    fs->gdt = kzalloc(fs->ngdt * sizeof *fs->gdt);
    fs->bmap = kzalloc(2 * fs->ngroups * sizeof *fs->bmap);
    if (!fs->gdt || !fs->bmap) {
        put_pins(fs);
        return -ENOMEM;
    }
    c->fs = fs;
    bool first = true;
    for (uint32_t i = 0; i < fs->ngdt; i++)     /* start every read at once */
        bc_readahead(fs->dev, fs->first_data_block + 1 + i, fs->bsize);
    if ((r = peek_sized(c, fs->dev, 1024 / fs->bsize, fs->bsize, &fs->sb_buf)))
        goto fail;
    fs->sb = (struct ext2_super *)(fs->sb_buf->data + 1024 % fs->bsize);
    for (uint32_t i = 0; i < fs->ngdt; i++)
        if ((r = x2_block(c, fs->first_data_block + 1 + i, &fs->gdt[i])))
            goto fail;
    for (uint32_t g = 0; g < fs->ngroups; g++) {
        struct ext2_gd *gd = gd_of(fs, g);
        uint64_t itab_end = gd->bg_inode_table + ((uint64_t)fs->ipg * fs->inode_size + fs->bsize - 1) / fs->bsize;
        if (gd->bg_block_bitmap < fs->first_data_block || gd->bg_block_bitmap >= fs->blocks_count ||
            gd->bg_inode_bitmap < fs->first_data_block || gd->bg_inode_bitmap >= fs->blocks_count ||
            gd->bg_inode_table < fs->first_data_block || itab_end > fs->blocks_count) {
            r = x2_corrupt(c, "group descriptor out of range");
            goto fail;
        }
        if (first) {
            for (uint32_t h = g; h < fs->ngroups; h++) {
                bc_readahead(fs->dev, gd_of(fs, h)->bg_block_bitmap, fs->bsize);
                bc_readahead(fs->dev, gd_of(fs, h)->bg_inode_bitmap, fs->bsize);
            }
            first = false;
        }
        if ((r = x2_block(c, gd->bg_block_bitmap, &fs->bmap[2 * g])) ||
            (r = x2_block(c, gd->bg_inode_bitmap, &fs->bmap[2 * g + 1])))
            goto fail;
    }
    bc_set_class(fs->sb_buf, X2_WC_META);
    for (uint32_t i = 0; i < fs->ngdt; i++)
        bc_set_class(fs->gdt[i], X2_WC_META);
    for (uint32_t i = 0; i < 2 * fs->ngroups; i++)
        bc_set_class(fs->bmap[i], X2_WC_META);
    return 0;
fail:
    put_pins(fs);
    return r;
}

void ext2_mark_clean(struct ext2_fs *fs, bool clean)
{
    if (fs->ro)
        return;
    if (clean)
        fs->sb->s_state |= EXT2_VALID_FS;
    else
        fs->sb->s_state &= ~EXT2_VALID_FS;
    fs->sb->s_wtime = x2_now();
    bc_dirty(fs->sb_buf);
}

static enum poll mount_poll(struct future *base, struct cx *cx)
{
    struct ext2_mount *m = (struct ext2_mount *)base;
    ASYNC_BEGIN(m);
    m->fs = kzalloc(sizeof *m->fs);
    if (!m->fs) {
        m->result = -ENOMEM;
        break;
    }
    m->fs->dev = m->dev;
    mutex_init(&m->fs->alloc, "ext2 alloc");
    mutex_init(&m->fs->rename, "ext2 rename");
    spin_init(&m->fs->itab_lock, "ext2 inodes");
    x2run_init(&m->run, m->fs, true, mount_attempt, m->fs);
    AWAIT(m, future_poll(&m->run.base, cx));
    m->result = (int)m->run.result;
    if (m->result) {
        kfree(m->fs);
        m->fs = NULL;
        break;
    }
    m->fs->devno = 0x800 + m->dev->index;
    /* every path walk locks the root: keep its in-core inode (may be NULL) */
    m->fs->root_xi = x2_iref(m->fs, EXT2_ROOT_INO);
    ext2_mark_clean(m->fs, false);
    m->fs->sb->s_mtime = x2_now();
    ASYNC_END(m);
}

static void mount_cancel(struct future *base)
{
    struct ext2_mount *m = (struct ext2_mount *)base;
    future_cancel(&m->run.base);
    if (m->fs) {
        put_pins(m->fs);
        kfree(m->fs);
        m->fs = NULL;
    }
}

static const struct future_ops mount_ops = { mount_poll, mount_cancel, "ext2_mount" };

void ext2_mount_init(struct ext2_mount *m, struct blkdev *dev)
{
    future_init(&m->base, &mount_ops);
    m->dev = dev;
    m->fs = NULL;
    m->result = 0;
}

void ext2_release(struct ext2_fs *fs)
{
    x2_irele(fs, fs->root_xi);
    put_pins(fs);
    pc_forget(fs);
    bc_forget(fs->dev);
    kfree(fs);
}
