/*
 * ext2_file.c - reading and writing an open ext2 file: the file_io
 * future of FT_EXT2 (the same future serves read/write, pread/pwrite,
 * readv/writev and io_uring READ/WRITE).
 *
 * The attempt copies block by block between the cache and user memory
 * and records its progress in io->done, so a rerun after a miss goes on
 * from the block that missed.  A read miss also starts the reads of the
 * next READAHEAD blocks of the file (without waiting for them), so a
 * sequential reader finds them cached or in flight.  A write allocates
 * missing blocks (zeroed) and grows i_size block by block.
 */
#include "fs/ext2.h"
#include "fs/ext2_ops.h"
#include "fs/pagecache.h"
#include "fs/pipe.h"
#include "lib/errno.h"
#include "lib/klib.h"
#include "mem/kmalloc.h"
#include "mem/mm.h"
#include "mem/page_alloc.h"

#define READAHEAD 32

struct x2io {
    struct x2run run;
    struct bc_sync sync;            /* a writer's wait when too much is dirty */
    uint64_t pos;
    size_t chunk_end;               /* a write stops here, then checks the dirty level */
    bool write, pos_set;
};

#define WRITE_CHUNK (1UL << 20)

static void readahead(struct x2c *c, struct x2ino *ix, uint64_t lblk, uint64_t size)
{
    struct ext2_fs *fs = c->fs;
    uint64_t miss = c->miss;
    for (uint64_t k = 1; k <= READAHEAD && (lblk + k) * fs->bsize < size; k++) {
        uint32_t q;
        if (x2_bmap(c, ix, lblk + k, false, &q))
            break;                      /* its indirect block is not here yet */
        if (q)
            bc_readahead(fs->dev, q, fs->bsize);
    }
    c->miss = miss;
    c->miss_size = 0;
}

/* Reads are served from the page cache: a page not cached yet is filled
 * from the file's blocks inside this attempt (missing like any attempt
 * until they are in the block cache). */
static long read_attempt(struct x2c *c, struct x2io *x, struct file_io *io, struct x2ino *ix)
{
    struct ext2_fs *fs = c->fs;
    uint64_t size = x2_isize(fs, ix->i);
    long r = 0;
    while (io->done < io->len) {
        uint64_t pos = x->pos + io->done;
        if (pos >= size)
            break;
        uint32_t off = pos % PAGE_SIZE;
        uint32_t n = (uint32_t)MIN(MIN((uint64_t)PAGE_SIZE - off, io->len - io->done), size - pos);
        struct pc_page *pg = pc_get(fs, ix->ino, pos / PAGE_SIZE);
        if (!pg)
            return -ENOMEM;
        if (!(__atomic_load_n(&pg->flags, __ATOMIC_ACQUIRE) & PC_VALID) &&
            (r = pc_fill_attempt(c, ix, pg))) {
            if (r == -EMISS)
                readahead(c, ix, pos / fs->bsize, size);
            pc_put(pg);
            break;
        }
        r = copyout(io->mm, io->ubuf + io->done, pg->data + off, n) ? -EFAULT : 0;
        pc_put(pg);
        if (r)
            break;
        io->done += n;
    }
    return r;
}

static long write_attempt(struct x2c *c, struct x2io *x, struct file_io *io, struct x2ino *ix)
{
    struct ext2_fs *fs = c->fs;
    long r = 0;
    if (fs->ro)
        return -EROFS;
    if (!x->pos_set && (io->f->flags & O_APPEND)) {
        x->pos = x2_isize(fs, ix->i);
        x->pos_set = true;
    }
    if (x->pos + io->len > x2_isize(fs, ix->i))
        /* growing: cached bytes past the old end (a shared mapping's
         * stores there) must read as zeros, as the disk's do */
        pc_truncate(fs, ix->ino, x2_isize(fs, ix->i));
    while (io->done < io->len && io->done < x->chunk_end) {
        uint64_t pos = x->pos + io->done, size = x2_isize(fs, ix->i);
        uint64_t lblk = pos / fs->bsize;
        uint32_t off = pos % fs->bsize;
        uint32_t n = (uint32_t)MIN((uint64_t)fs->bsize - off, io->len - io->done);
        uint32_t p;
        struct buf *b;
        /* read what this block needs first: its mapping, and its old data
         * if we overwrite only part of it */
        if ((r = x2_bmap(c, ix, lblk, false, &p)))
            break;
        if (p && (off || n < fs->bsize) && lblk * fs->bsize < size && (r = x2_block(c, p, &b)))
            break;
        if (p && (off || n < fs->bsize) && lblk * fs->bsize < size)
            bc_put(b);
        if (!p && (r = x2_bmap(c, ix, lblk, true, &p)))
            break;
        if ((r = x2_block(c, p, &b)))
            break;
        if (!(off || n < fs->bsize) || lblk * fs->bsize >= size) {
            /* whole block, or past the old end: no old data to keep */
            if (off)
                memset(b->data, 0, off);
        }
        if (copyin(io->mm, b->data + off, io->ubuf + io->done, n)) {
            bc_put(b);
            r = -EFAULT;
            break;
        }
        pc_write(fs, ix->ino, pos, b->data + off, n);   /* a cached page sees it too */
        bc_dirty(b);
        bc_put(b);
        io->done += n;
        if (pos + n > size)
            x2_set_isize(fs, ix->i, pos + n);
        ix->i->i_mtime = ix->i->i_ctime = x2_now();
        x2_idirty(c, ix);
    }
    return r;
}

static long rw_attempt(struct x2c *c, void *arg)
{
    struct file_io *io = arg;
    struct x2io *x = io->bounce;
    struct x2ino ix;
    /* readers of one file share its lock; a writer has it alone */
    long r = x2_ilock(c, io->f->x2.ino, x->write);
    if (r || (r = x2_iget(c, io->f->x2.ino, &ix)))
        return r;
    r = x->write ? write_attempt(c, x, io, &ix) : read_attempt(c, x, io, &ix);
    x2_iput(&ix);
    return r;
}

static enum poll io_poll(struct future *base, struct cx *cx)
{
    struct file_io *io = (struct file_io *)base;
    struct x2io *x = io->bounce;
    ASYNC_BEGIN(io);
    if (io->pos >= 0) {
        x->pos = (uint64_t)io->pos;
    } else {
        spin_lock(&io->f->lock);
        x->pos = io->f->off;
        spin_unlock(&io->f->lock);
    }
    do {
        /* a writer waits (as a future) while too much is dirty: it writes
         * back itself, then dirties at most WRITE_CHUNK more */
        if (x->write && bc_too_dirty()) {
            bc_sync_init(&x->sync, io->f->x2.fs->dev);
            AWAIT(io, future_poll(&x->sync.base, cx));
        }
        x->chunk_end = io->done + WRITE_CHUNK;
        x2run_init(&x->run, io->f->x2.fs, x->write, rw_attempt, io);
        AWAIT(io, future_poll(&x->run.base, cx));
    } while (x->write && x->run.result >= 0 && io->done < io->len && io->done >= x->chunk_end);
    io->result = x->run.result < 0 && !io->done ? x->run.result : (long)io->done;
    if (io->pos < 0 && io->done) {
        spin_lock(&io->f->lock);
        io->f->off = x->pos + io->done;
        spin_unlock(&io->f->lock);
    }
    kfree(io->bounce);
    io->bounce = NULL;
    ASYNC_END(io);
}

static void io_cancel(struct future *base)
{
    struct file_io *io = (struct file_io *)base;
    struct x2io *x = io->bounce;
    if (x) {
        future_cancel(&x->run.base);
        future_cancel(&x->sync.base);
        kfree(x);
        io->bounce = NULL;
    }
}

static const struct future_ops io_ops = { io_poll, io_cancel, "ext2_io" };

static enum poll nomem_poll(struct future *base, struct cx *cx)
{
    (void)cx;
    ((struct file_io *)base)->result = -ENOMEM;
    base->resume = RESUME_DONE;
    return READY;
}

static const struct future_ops nomem_ops = { nomem_poll, NULL, "ext2_io" };

void x2_io_init(struct file_io *io, bool write)
{
    struct x2io *x = kzalloc(sizeof *x);
    if (!x) {
        future_init(&io->base, &nomem_ops);
        return;
    }
    x->write = write;
    x->run.base.resume = RESUME_DONE;       /* nothing to cancel before the first poll */
    x->sync.base.resume = RESUME_DONE;
    io->bounce = x;
    future_init(&io->base, &io_ops);
}
