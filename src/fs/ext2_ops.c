/*
 * ext2_ops.c - ext2's operations as attempts (include/fs/ext2_ops.h):
 * open/create, stat, mkdir, unlink, rmdir, rename, link, symlink,
 * readlink, truncate, chmod, utimes, access, statfs, getdents, exec's
 * check (and its first page), and the eviction of an unlinked inode.
 *
 * Each attempt first walks and reads what it needs (a miss returns
 * -EMISS before any change), then changes.  The one exception is the
 * freeing of an inode's blocks, which is progress-safe on its own and
 * is recorded in op->truncating, so a rerun goes straight back to it.
 */
#include "core/task.h"
#include "fs/ext2_dir.h"
#include "fs/ext2_ops.h"
#include "fs/pagecache.h"
#include "fs/pipe.h"
#include "lib/errno.h"
#include "lib/klib.h"
#include "lib/printk.h"
#include "mem/kmalloc.h"
#include "mem/mm.h"

#define S_IFLNK 0120000
#define EXEC_MAX (16UL << 20)
#define RENAME_NOREPLACE 1
#define AT_REMOVEDIR 0x200

static bool is_dir(const struct ext2_inode *i) { return (i->i_mode & S_IFMT) == S_IFDIR; }
static bool is_reg(const struct ext2_inode *i) { return (i->i_mode & S_IFMT) == S_IFREG; }
static bool is_lnk(const struct ext2_inode *i) { return (i->i_mode & S_IFMT) == S_IFLNK; }

/* ---- helpers ----------------------------------------------------------------- */

/* plock, clock: which locks the walk leaves held (X2_LK_*, ext2_dir.h). */
static long walk(struct x2c *c, struct x2op *op, int which, bool follow, bool want_parent,
                 int plock, int clock, struct x2walk *w)
{
    w->rel = which == 1 ? op->rel : op->rel2;
    w->mnt = which == 1 ? op->mnt : op->mnt2;
    w->path = which == 1 ? op->path : op->path2;
    w->follow = follow;
    w->want_parent = want_parent;
    w->plock = (uint8_t)plock;
    w->clock = (uint8_t)clock;
    return x2_walk(c, w);
}

static void fill_stat(struct ext2_fs *fs, struct x2ino *ix, struct kstat *st)
{
    struct ext2_inode *i = ix->i;
    memset(st, 0, sizeof *st);
    st->st_dev = fs->devno;
    st->st_ino = ix->ino;
    st->st_mode = i->i_mode;
    st->st_nlink = i->i_links_count;
    st->st_uid = i->i_uid;
    st->st_gid = i->i_gid;
    st->st_size = (int64_t)x2_isize(fs, i);
    st->st_blksize = (int32_t)fs->bsize;
    st->st_blocks = i->i_blocks;
    st->st_atime = i->i_atime;
    st->st_mtime = i->i_mtime;
    st->st_ctime = i->i_ctime;
}

static void init_inode(struct x2ino *ix, uint32_t mode, uint16_t links)
{
    uint32_t now = x2_now();
    ix->i->i_mode = (uint16_t)mode;
    ix->i->i_links_count = links;
    ix->i->i_atime = ix->i->i_ctime = ix->i->i_mtime = now;
}

/* The freeing phase of an inode whose last link went: blocks from the end,
 * then the inode.  Progress-safe; op->truncating says we are in it. */
static long free_inode_phase(struct x2c *c, struct x2op *op)
{
    struct x2ino ix;
    long r = x2_ilock(c, op->ino, true);
    if (r || (r = x2_iget(c, op->ino, &ix)))
        return r;
    if (ix.i->i_links_count || !ix.i->i_mode) {
        x2_iput(&ix);
        op->truncating = false;
        return 0;                       /* linked again, or already freed */
    }
    if ((r = x2_alloc_enter(c))) {
        x2_iput(&ix);
        return r;
    }
    bool dir = is_dir(ix.i);
    bool fast = is_lnk(ix.i) && ix.i->i_blocks == 0;
    if (!fast) {
        x2_set_isize(c->fs, ix.i, 0);
        x2_idirty(c, &ix);
        pc_truncate(c->fs, op->ino, 0);
        if ((r = x2_free_from(c, &ix, 0))) {
            x2_alloc_exit(c);
            x2_iput(&ix);
            return r;
        }
    }
    ix.i->i_dtime = x2_now();
    ix.i->i_size = 0;
    ix.i->i_blocks = 0;
    memset(ix.i->i_block, 0, sizeof ix.i->i_block);
    x2_idirty(c, &ix);
    x2_iput(&ix);
    x2_free_inode(c, op->ino, dir);     /* alloc is held: cannot fail on it */
    x2_alloc_exit(c);
    op->truncating = false;
    return 0;
}

/* Drop one link of ino; at zero, free it now or at its last close. */
static long drop_link(struct x2c *c, struct x2op *op, struct x2ino *ix)
{
    if (ix->i->i_links_count)
        ix->i->i_links_count--;
    if (is_dir(ix->i))
        ix->i->i_links_count = 0;       /* "." goes with it */
    ix->i->i_ctime = x2_now();
    x2_idirty(c, ix);
    if (ix->i->i_links_count || x2_open_orphan(c->fs, ix->ino, true))
        return 0;
    op->ino = ix->ino;
    op->truncating = true;
    return 0;
}

/* Walk to a new name's parent: the parent held in *dir, the name unused. */
static long new_name(struct x2c *c, struct x2op *op, int which, struct x2walk *w, struct x2ino *dir)
{
    long r = walk(c, op, which, false, true, X2_LK_EXCL, X2_LK_NONE, w);
    if (r)
        return r;
    if (w->ino)
        return -EEXIST;
    if (w->len == 0)
        return -EEXIST;                 /* the root */
    if ((r = x2_iget(c, w->parent, dir)))
        return r;
    if (!dir->i->i_links_count) {
        x2_iput(dir);
        return -ENOENT;                 /* a removed directory */
    }
    if ((r = x2_dir_prepare_add(c, dir)))
        x2_iput(dir);
    return r;
}

/* ---- the attempts -------------------------------------------------------------- */

static long truncate_inode(struct x2c *c, struct x2ino *ix, uint64_t size)
{
    struct ext2_fs *fs = c->fs;
    uint64_t old = x2_isize(fs, ix->i);
    long r;
    if (size < old && size % fs->bsize) {
        /* zero the tail of the new last block (idempotent, so first) */
        uint32_t p;
        struct buf *b;
        if ((r = x2_bmap(c, ix, size / fs->bsize, false, &p)))
            return r;
        if (p) {
            if ((r = x2_block(c, p, &b)))
                return r;
            memset(b->data + size % fs->bsize, 0, fs->bsize - size % fs->bsize);
            bc_dirty(b);
            bc_put(b);
        }
    }
    /* the page cache: drop what lies past the new end; growing, what lies
     * past the old one (a shared mapping may have stored there) */
    pc_truncate(fs, ix->ino, MIN(size, old));
    if (size != old) {
        x2_set_isize(fs, ix->i, size);
        ix->i->i_mtime = ix->i->i_ctime = x2_now();
        x2_idirty(c, ix);
    }
    /* blocks past the end (also after a crash or an earlier miss) */
    return x2_free_from(c, ix, (size + fs->bsize - 1) / fs->bsize);
}

/* The open file's reference, taken last (nothing after it can miss) and
 * with the inode's lock or its new entry's directory held, so an unlink
 * either sees the file open or has removed the name first. */
static long open_ref(struct x2c *c, struct x2op *op)
{
    if (!x2_open_ref(c->fs, op->ino))
        return -ENOMEM;
    op->opened = true;
    return 0;
}

static long do_open(struct x2c *c, struct x2op *op)
{
    struct x2walk w;
    struct x2ino ix, dir;
    int acc = op->flags & O_ACCMODE;
    bool creat = op->flags & O_CREAT;
    bool trunc = (op->flags & O_TRUNC) && acc != O_RDONLY;
    long r = walk(c, op, 1, !(op->flags & O_NOFOLLOW), creat, creat ? X2_LK_EXCL : X2_LK_NONE,
                  trunc ? X2_LK_EXCL : X2_LK_SHARED, &w);
    if (r)
        return r;
    if (!w.ino) {                       /* O_CREAT of a new file */
        if (c->fs->ro)
            return -EROFS;
        if (op->path[strlen(op->path) - 1] == '/')
            return -EISDIR;
        if ((r = x2_iget(c, w.parent, &dir)))
            return r;
        if (!dir.i->i_links_count) {
            x2_iput(&dir);
            return -ENOENT;
        }
        if ((r = x2_dir_prepare_add(c, &dir)) || (r = x2_alloc_enter(c))) {
            x2_iput(&dir);
            return r;
        }
        if ((r = x2_alloc_inode(c, w.parent, false, &ix))) {
            x2_alloc_exit(c);
            x2_iput(&dir);
            return r;
        }
        init_inode(&ix, S_IFREG | (op->mode & 07777), 1);
        x2_idirty(c, &ix);
        op->ino = ix.ino;
        x2_iput(&ix);
        r = x2_dir_add(c, &dir, w.name, w.len, op->ino, 1);
        x2_alloc_exit(c);
        x2_iput(&dir);
        op->ftype = S_IFREG;
        return r ? r : open_ref(c, op);
    }
    if (creat && (op->flags & O_EXCL))
        return -EEXIST;
    if ((r = x2_iget(c, w.ino, &ix)))
        return r;
    op->ino = w.ino;
    op->ftype = ix.i->i_mode & S_IFMT;
    if (is_dir(ix.i)) {
        if (acc != O_RDONLY || creat)
            r = -EISDIR;
    } else if (op->flags & O_DIRECTORY) {
        r = -ENOTDIR;
    } else if (is_lnk(ix.i)) {
        r = -ELOOP;
    } else if (acc != O_RDONLY && c->fs->ro) {
        r = -EROFS;
    } else if (trunc && is_reg(ix.i)) {
        r = truncate_inode(c, &ix, 0);
    }
    x2_iput(&ix);
    return r ? r : open_ref(c, op);
}

static long do_stat(struct x2c *c, struct x2op *op)
{
    struct x2walk w;
    struct x2ino ix;
    long r;
    uint32_t ino = op->ino;
    if (op->kind == X2_STAT || op->kind == X2_ACCESS) {
        if ((r = walk(c, op, 1, !(op->flags & 0x100 /* AT_SYMLINK_NOFOLLOW */), false,
                      X2_LK_NONE, X2_LK_SHARED, &w)))
            return r;
        ino = w.ino;
    } else if ((r = x2_ilock(c, ino, false))) {
        return r;
    }
    if ((r = x2_iget(c, ino, &ix)))
        return r;
    fill_stat(c->fs, &ix, &op->st);
    x2_iput(&ix);
    if (op->kind == X2_ACCESS && (op->mode & 1 /* X_OK */) && !(op->st.st_mode & 0111) &&
        (op->st.st_mode & S_IFMT) != S_IFDIR)
        return -EACCES;
    return 0;
}

static long do_mkdir(struct x2c *c, struct x2op *op)
{
    struct ext2_fs *fs = c->fs;
    struct x2walk w;
    struct x2ino dir, ix;
    if (fs->ro)
        return -EROFS;
    long r = new_name(c, op, 1, &w, &dir);
    if (r)
        return r;
    if (dir.i->i_links_count >= 65000) {
        x2_iput(&dir);
        return -EMLINK;
    }
    if ((r = x2_alloc_enter(c))) {
        x2_iput(&dir);
        return r;
    }
    if ((r = x2_alloc_inode(c, 0, true, &ix))) {
        x2_alloc_exit(c);
        x2_iput(&dir);
        return r;
    }
    init_inode(&ix, S_IFDIR | (op->mode & 07777), 2);
    uint32_t p;
    struct buf *b = NULL;
    if (!(r = x2_bmap(c, &ix, 0, true, &p)) && !(r = x2_block(c, p, &b))) {
        struct ext2_dirent *d = (struct ext2_dirent *)b->data;
        bc_set_class(b, X2_WC_DIR);
        d->inode = ix.ino;
        d->rec_len = 12;
        d->name_len = 1;
        d->file_type = fs->filetype ? 2 : 0;
        d->name[0] = '.';
        d = (struct ext2_dirent *)(b->data + 12);
        d->inode = dir.ino;
        d->rec_len = (uint16_t)(fs->bsize - 12);
        d->name_len = 2;
        d->file_type = fs->filetype ? 2 : 0;
        d->name[0] = d->name[1] = '.';
        bc_dirty_ordered(b);
        bc_put(b);
        x2_set_isize(fs, ix.i, fs->bsize);
    }
    x2_idirty(c, &ix);
    if (r) {                            /* no space for its block: give the inode back */
        ix.i->i_links_count = 0;
        ix.i->i_dtime = x2_now();
        x2_iput(&ix);
        x2_free_inode(c, ix.ino, true);
        x2_alloc_exit(c);
        x2_iput(&dir);
        return r;
    }
    uint32_t ino = ix.ino;
    x2_iput(&ix);
    r = x2_dir_add(c, &dir, w.name, w.len, ino, 2);
    x2_alloc_exit(c);
    if (!r) {
        dir.i->i_links_count++;
        x2_idirty(c, &dir);
    }
    x2_iput(&dir);
    return r;
}

static long do_unlink(struct x2c *c, struct x2op *op)
{
    struct x2walk w;
    struct x2ino dir, ix;
    bool rmdir = op->kind == X2_RMDIR;
    if (op->truncating)
        return free_inode_phase(c, op);
    if (c->fs->ro)
        return -EROFS;
    long r = walk(c, op, 1, false, false, X2_LK_EXCL, X2_LK_EXCL, &w);
    if (r)
        return r;
    if (w.len == 0)
        return -EBUSY;                  /* the root of the file system */
    if ((w.len == 1 && w.name[0] == '.') || (w.len == 2 && w.name[0] == '.' && w.name[1] == '.'))
        return rmdir ? -EINVAL : -EISDIR;
    if ((r = x2_iget(c, w.parent, &dir)))
        return r;
    if ((r = x2_iget(c, w.ino, &ix))) {
        x2_iput(&dir);
        return r;
    }
    if (rmdir && !is_dir(ix.i))
        r = -ENOTDIR;
    else if (!rmdir && is_dir(ix.i))
        r = -EISDIR;
    else if (rmdir && (r = x2_dir_empty(c, &ix)) >= 0)
        r = r ? 0 : -ENOTEMPTY;
    if (!r && (r = x2_dir_remove(c, &dir, w.name, w.len)) == 0) {
        if (rmdir && dir.i->i_links_count > 1) {
            dir.i->i_links_count--;
            x2_idirty(c, &dir);
        }
        drop_link(c, op, &ix);
    }
    x2_iput(&ix);
    x2_iput(&dir);
    if (r || !op->truncating)
        return r;
    return free_inode_phase(c, op);
}

/* Is dir `anc` an ancestor of (or) dir `from`?  Walks ".." up to the root.
 * Called with the rename lock held, so no directory moves meanwhile. */
static long is_ancestor(struct x2c *c, uint32_t anc, uint32_t from)
{
    struct ext2_fs *fs = c->fs;
    uint32_t a = from;
    for (uint32_t k = 0; k <= fs->inodes_count && a != EXT2_ROOT_INO; k++) {
        if (a == anc)
            return 1;
        struct x2inode *t;
        struct x2ino ix;
        struct buf *b;
        uint32_t p;
        long r = x2_tmp_rlock(c, a, &t);
        if (r)
            return r;
        if (!(r = x2_iget(c, a, &ix))) {
            if (!(r = x2_bmap(c, &ix, 0, false, &p)) && !p)
                r = x2_corrupt(c, "directory without a block");
            if (!r && !(r = x2_block(c, p, &b))) {
                struct ext2_dirent *d0 = (struct ext2_dirent *)b->data;
                if (d0->rec_len < 12 || d0->rec_len + 12u > fs->bsize)
                    r = x2_corrupt(c, "bad \".\" record");
                else
                    a = ((struct ext2_dirent *)(b->data + d0->rec_len))->inode;
                bc_put(b);
            }
            x2_iput(&ix);
        }
        x2_tmp_unlock(c, t);
        if (r)
            return r;
        if (a < EXT2_ROOT_INO || a > fs->inodes_count)
            return x2_corrupt(c, "bad \"..\"");
    }
    return a == anc;
}

/*
 * Locks (ext2_lock.h): both names are looked up without keeping locks,
 * then the two parents are locked by inode number, the names found again
 * under them, and the source and the replaced target locked by inode
 * number.  A directory that changes parent also takes the rename lock
 * (a try-lock here; the run backs off and awaits it) and checks that
 * the new parent is not inside it.
 */
static long do_rename(struct x2c *c, struct x2op *op)
{
    struct ext2_fs *fs = c->fs;
    struct x2walk ow, nw;
    struct x2ino od, nd, oi, ni;
    struct buf *dotdot = NULL;
    long r;
    if (op->truncating)
        return free_inode_phase(c, op);
    if (fs->ro)
        return -EROFS;
    if (op->flags & ~RENAME_NOREPLACE)
        return -EINVAL;
    if ((r = walk(c, op, 1, false, false, X2_LK_NONE, X2_LK_NONE, &ow)))
        return r;
    if ((r = walk(c, op, 2, false, true, X2_LK_NONE, X2_LK_NONE, &nw)))
        return r;
    if (ow.len == 0 || nw.len == 0)
        return -EBUSY;
    uint32_t lo = MIN(ow.parent, nw.parent), hi = MAX(ow.parent, nw.parent);
    if ((r = x2_ilock(c, lo, true)) || (r = x2_ilock(c, hi, true)))
        return r;
    if ((r = x2_iget(c, ow.parent, &od)))
        return r;
    if ((r = x2_iget(c, nw.parent, &nd)))
        goto out_od;
    if (!od.i->i_links_count || !nd.i->i_links_count) {
        r = -ENOENT;                    /* a directory removed meanwhile */
        goto out_nd;
    }
    /* the names again, under the parents' locks */
    if ((r = x2_dir_find(c, &od, ow.name, ow.len, &ow.ino, NULL)))
        goto out_nd;
    r = x2_dir_find(c, &nd, nw.name, nw.len, &nw.ino, NULL);
    if (r == -ENOENT)
        nw.ino = 0, r = 0;
    if (r)
        goto out_nd;
    if (ow.ino < EXT2_ROOT_INO || (nw.ino && nw.ino < EXT2_ROOT_INO)) {
        r = x2_corrupt(c, "directory entry names a reserved inode");
        goto out_nd;
    }
    if (ow.ino == nw.ino) {
        r = 0;
        goto out_nd;
    }
    lo = nw.ino ? MIN(ow.ino, nw.ino) : ow.ino;
    hi = nw.ino ? MAX(ow.ino, nw.ino) : ow.ino;
    if ((r = x2_ilock(c, lo, true)) || (r = x2_ilock(c, hi, true)))
        goto out_nd;
    if ((r = x2_iget(c, ow.ino, &oi)))
        goto out_nd;
    ni.b = NULL;
    bool odir = is_dir(oi.i);
    if (odir) {
        size_t n = strlen(op->path);
        if (!strncmp(op->path2, op->path, n) && op->path2[n] == '/') {
            r = -EINVAL;                /* into itself */
            goto out_oi;
        }
        if (od.ino != nd.ino) {         /* the tree changes shape */
            if ((r = x2_rename_lock(c)) || (r = is_ancestor(c, oi.ino, nd.ino)) < 0)
                goto out_oi;
            if (r) {
                r = -EINVAL;            /* the new parent is inside it */
                goto out_oi;
            }
        }
    }
    if (nw.ino) {
        if (op->flags & RENAME_NOREPLACE) {
            r = -EEXIST;
            goto out_oi;
        }
        if ((r = x2_iget(c, nw.ino, &ni)))
            goto out_oi;
        if (odir && !is_dir(ni.i))
            r = -ENOTDIR;
        else if (!odir && is_dir(ni.i))
            r = -EISDIR;
        else if (odir && (r = x2_dir_empty(c, &ni)) >= 0)
            r = r ? 0 : -ENOTEMPTY;
        if (r)
            goto out_ni;
    } else if ((r = x2_dir_prepare_add(c, &nd))) {
        goto out_oi;
    }
    if (odir && od.ino != nd.ino) {     /* its ".." changes: read it now */
        uint32_t p;
        if ((r = x2_bmap(c, &oi, 0, false, &p)))
            goto out_ni;
        if (!p) {
            r = x2_corrupt(c, "directory without a block");
            goto out_ni;
        }
        if ((r = x2_block(c, p, &dotdot)))
            goto out_ni;
        bc_set_class(dotdot, X2_WC_DIR);
        struct ext2_dirent *d0 = (struct ext2_dirent *)dotdot->data;
        if (d0->rec_len < 12 || d0->rec_len + 12u > fs->bsize) {
            r = x2_corrupt(c, "bad \".\" record");
            goto out_ni;
        }
    }
    /* everything is read: change */
    uint8_t t = x2_ftype(oi.i->i_mode);
    if (nw.ino)
        r = x2_dir_retarget(c, &nd, nw.name, nw.len, oi.ino, t);
    else
        r = x2_dir_add(c, &nd, nw.name, nw.len, oi.ino, t);
    if (r)
        goto out_ni;
    if ((r = x2_dir_remove(c, &od, ow.name, ow.len)))
        goto out_ni;
    oi.i->i_ctime = x2_now();
    x2_idirty(c, &oi);
    if (dotdot) {                       /* its ".." now names the new parent */
        struct ext2_dirent *d0 = (struct ext2_dirent *)dotdot->data;
        struct ext2_dirent *d1 = (struct ext2_dirent *)(dotdot->data + d0->rec_len);
        d1->inode = nd.ino;
        bc_dirty_ordered(dotdot);
        if (od.i->i_links_count > 1)
            od.i->i_links_count--;
        nd.i->i_links_count++;
        x2_idirty(c, &od);
        x2_idirty(c, &nd);
    }
    if (odir && nw.ino && nd.i->i_links_count > 1) {
        nd.i->i_links_count--;          /* the replaced directory's ".." */
        x2_idirty(c, &nd);
    }
    if (nw.ino)
        drop_link(c, op, &ni);
out_ni:
    bc_put(dotdot);
    if (ni.b)
        x2_iput(&ni);
out_oi:
    x2_iput(&oi);
out_nd:
    x2_iput(&nd);
out_od:
    x2_iput(&od);
    if (r || !op->truncating)
        return r;
    return free_inode_phase(c, op);
}

static long do_link(struct x2c *c, struct x2op *op)
{
    struct x2walk ow, nw;
    struct x2ino dir, ix;
    if (c->fs->ro)
        return -EROFS;
    long r = walk(c, op, 1, op->flags & 0x400 /* AT_SYMLINK_FOLLOW */, false, X2_LK_NONE,
                  X2_LK_NONE, &ow);
    if (r)
        return r;
    /* lock order: the new parent, then the inode (ext2_lock.h) */
    if ((r = new_name(c, op, 2, &nw, &dir)))
        return r;
    if ((r = x2_ilock(c, ow.ino, true)) || (r = x2_iget(c, ow.ino, &ix))) {
        x2_iput(&dir);
        return r;
    }
    if (!ix.i->i_links_count || is_dir(ix.i) || ix.i->i_links_count >= 65000) {
        r = !ix.i->i_links_count ? -ENOENT : is_dir(ix.i) ? -EPERM : -EMLINK;
        x2_iput(&ix);
        x2_iput(&dir);
        return r;               /* unlinked since the walk found it: ENOENT */
    }
    r = x2_dir_add(c, &dir, nw.name, nw.len, ix.ino, x2_ftype(ix.i->i_mode));
    if (!r) {
        ix.i->i_links_count++;
        ix.i->i_ctime = x2_now();
        x2_idirty(c, &ix);
    }
    x2_iput(&dir);
    x2_iput(&ix);
    return r;
}

static long do_symlink(struct x2c *c, struct x2op *op)
{
    struct ext2_fs *fs = c->fs;
    struct x2walk w;
    struct x2ino dir, ix;
    size_t len = strlen(op->link);
    if (fs->ro)
        return -EROFS;
    if (len == 0)
        return -ENOENT;
    if (len >= fs->bsize)
        return -ENAMETOOLONG;
    long r = new_name(c, op, 1, &w, &dir);
    if (r)
        return r;
    if ((r = x2_alloc_enter(c))) {
        x2_iput(&dir);
        return r;
    }
    if ((r = x2_alloc_inode(c, w.parent, false, &ix))) {
        x2_alloc_exit(c);
        x2_iput(&dir);
        return r;
    }
    init_inode(&ix, S_IFLNK | 0777, 1);
    if (len < 60) {
        memcpy(ix.i->i_block, op->link, len);
    } else {
        uint32_t p;
        struct buf *b;
        if (!(r = x2_bmap(c, &ix, 0, true, &p)) && !(r = x2_block(c, p, &b))) {
            memcpy(b->data, op->link, len);
            bc_dirty(b);
            bc_put(b);
        }
    }
    x2_set_isize(fs, ix.i, len);
    x2_idirty(c, &ix);
    uint32_t ino = ix.ino;
    if (r) {
        ix.i->i_links_count = 0;
        x2_iput(&ix);
        x2_free_inode(c, ino, false);
        x2_alloc_exit(c);
        x2_iput(&dir);
        return r;
    }
    x2_iput(&ix);
    r = x2_dir_add(c, &dir, w.name, w.len, ino, 7);
    x2_alloc_exit(c);
    x2_iput(&dir);
    return r;
}

static long do_readlink(struct x2c *c, struct x2op *op)
{
    struct x2walk w;
    struct x2ino ix;
    long r = walk(c, op, 1, false, false, X2_LK_NONE, X2_LK_SHARED, &w);
    if (r)
        return r;
    if ((r = x2_iget(c, w.ino, &ix)))
        return r;
    if (!is_lnk(ix.i))
        r = -EINVAL;
    else if ((r = x2_readlink(c, &ix, op->link, sizeof op->link)) >= 0)
        op->size = (uint64_t)r, r = 0;
    x2_iput(&ix);
    return r;
}

static long do_setattr(struct x2c *c, struct x2op *op)
{
    struct x2walk w;
    struct x2ino ix;
    uint32_t ino = op->ino;
    long r;
    if (c->fs->ro)
        return -EROFS;
    if (op->kind == X2_TRUNCATE || op->kind == X2_CHMOD || op->kind == X2_UTIMES) {
        if ((r = walk(c, op, 1, !(op->flags & 0x100), false, X2_LK_NONE, X2_LK_EXCL, &w)))
            return r;
        ino = w.ino;
    } else if ((r = x2_ilock(c, ino, true))) {
        return r;
    }
    if ((r = x2_iget(c, ino, &ix)))
        return r;
    uint32_t now = x2_now();
    if (op->kind == X2_TRUNCATE || op->kind == X2_FTRUNCATE) {
        if (is_dir(ix.i))
            r = -EISDIR;
        else if (!is_reg(ix.i))
            r = -EINVAL;
        else
            r = truncate_inode(c, &ix, op->size);
    } else if (op->kind == X2_CHMOD || op->kind == X2_FCHMOD) {
        ix.i->i_mode = (uint16_t)((ix.i->i_mode & S_IFMT) | (op->mode & 07777));
        ix.i->i_ctime = now;
        x2_idirty(c, &ix);
    } else {                            /* utimes */
        for (int k = 0; k < 2; k++) {
            if (op->times[k] == (uint64_t)-2)
                continue;
            uint32_t t = op->times[k] == UINT64_MAX ? now : (uint32_t)op->times[k];
            if (k == 0)
                ix.i->i_atime = t;
            else
                ix.i->i_mtime = t;
        }
        ix.i->i_ctime = now;
        x2_idirty(c, &ix);
    }
    x2_iput(&ix);
    return r;
}

static long do_statfs(struct x2c *c, struct x2op *op)
{
    struct ext2_fs *fs = c->fs;
    struct ext2_super *s = fs->sb;
    memset(&op->sfs, 0, sizeof op->sfs);
    op->sfs.f_type = EXT2_MAGIC;
    op->sfs.f_bsize = op->sfs.f_frsize = fs->bsize;
    op->sfs.f_blocks = s->s_blocks_count;
    op->sfs.f_bfree = s->s_free_blocks_count;
    op->sfs.f_bavail = s->s_free_blocks_count > s->s_r_blocks_count
                           ? s->s_free_blocks_count - s->s_r_blocks_count : 0;
    op->sfs.f_files = s->s_inodes_count;
    op->sfs.f_ffree = s->s_free_inodes_count;
    op->sfs.f_namelen = 255;
    op->sfs.f_fsid[0] = (int32_t)fs->devno;
    op->sfs.f_flags = fs->ro ? 1 : 0;
    return 0;
}

static uint8_t dt_of_ft(uint8_t ft)
{
    static const uint8_t map[8] = { 0, 8, 4, 2, 6, 1, 12, 10 };
    return ft < 8 ? map[ft] : 0;
}

static long do_getdents(struct x2c *c, struct x2op *op)
{
    struct ext2_fs *fs = c->fs;
    struct x2ino ix;
    struct x2dir it;
    struct ext2_dirent *d;
    long r = x2_ilock(c, op->ino, false);
    if (r || (r = x2_iget(c, op->ino, &ix)))
        return r;
    if (!is_dir(ix.i)) {
        x2_iput(&ix);
        return -ENOTDIR;
    }
    x2_dir_open(&it, fs, &ix, op->pos);
    while ((r = x2_dir_next(c, &it, &d)) == 1) {
        uint8_t rec[280];
        size_t reclen = (19 + d->name_len + 1 + 7) & ~7UL;
        if (op->written + reclen > op->ulen) {
            if (!op->written)
                r = -EINVAL;
            break;
        }
        uint64_t next = it.lblk * fs->bsize + it.off;
        uint8_t type = fs->filetype ? dt_of_ft(d->file_type) : 0;
        uint64_t ino = d->inode;
        int64_t off = (int64_t)next;
        uint16_t rl = (uint16_t)reclen;
        memset(rec, 0, reclen);
        memcpy(rec, &ino, 8);
        memcpy(rec + 8, &off, 8);
        memcpy(rec + 16, &rl, 2);
        rec[18] = type;
        memcpy(rec + 19, d->name, d->name_len);
        if (copyout(op->mm, op->ubuf + op->written, rec, reclen)) {
            r = op->written ? 0 : -EFAULT;
            break;
        }
        op->written += reclen;
        op->pos = next;
    }
    x2_dir_close(&it);
    x2_iput(&ix);
    return r < 0 ? r : 0;
}

/* ---- exec ------------------------------------------------------------------------- */

/* exec: check the program and bring its first page (the ELF header and
 * program headers) into the page cache; the rest is mapped from the cache
 * and read on demand (exec.c).  op->pg0 holds that page. */
static long do_exec(struct x2c *c, struct x2op *op)
{
    struct ext2_fs *fs = c->fs;
    struct x2walk w;
    struct x2ino ix;
    long r = walk(c, op, 1, true, false, X2_LK_NONE, X2_LK_SHARED, &w);
    if (r)
        return r;
    if ((r = x2_iget(c, w.ino, &ix)))
        return r;
    uint64_t size = x2_isize(fs, ix.i);
    op->ino = w.ino;
    op->size = size;
    if (!is_reg(ix.i) || !(ix.i->i_mode & 0111)) {
        x2_iput(&ix);
        return -EACCES;
    }
    if (size > EXEC_MAX || size == 0) {
        x2_iput(&ix);
        return -ENOEXEC;
    }
    if (op->pg0 && (op->pg0->ino != w.ino || op->pg0->fs != fs)) {
        pc_put(op->pg0);                /* a rerun found another file (renamed meanwhile) */
        op->pg0 = NULL;
    }
    if (!op->pg0 && !(op->pg0 = pc_get(fs, w.ino, 0))) {
        x2_iput(&ix);
        return -ENOMEM;
    }
    r = pc_fill_attempt(c, &ix, op->pg0);
    if (r == -EMISS) {                  /* the text will be wanted next: read it ahead */
        uint64_t miss = c->miss;
        for (uint64_t k = 1; k <= 32 && k * fs->bsize < size; k++) {
            uint32_t q;
            if (x2_bmap(c, &ix, k, false, &q) || !q)
                break;
            bc_readahead(fs->dev, q, fs->bsize);
        }
        c->miss = miss;
        c->miss_size = 0;
    }
    if (!r) {
        op->st.st_mtime = ix.i->i_mtime;
        op->st.st_ctime = ix.i->i_ctime;
        op->ftype = ix.i->i_mode & 0170000;
    }
    x2_iput(&ix);
    return r ? r : open_ref(c, op);     /* the program's open file (x2_file_new) */
}

/* ---- dispatch ------------------------------------------------------------------- */

long x2_attempt(struct x2c *c, void *arg)
{
    struct x2op *op = arg;
    switch (op->kind) {
    case X2_OPEN: return do_open(c, op);
    case X2_STAT: case X2_FSTAT: case X2_ACCESS: return do_stat(c, op);
    case X2_MKDIR: return do_mkdir(c, op);
    case X2_UNLINK: case X2_RMDIR: return do_unlink(c, op);
    case X2_RENAME: return do_rename(c, op);
    case X2_LINK: return do_link(c, op);
    case X2_SYMLINK: return do_symlink(c, op);
    case X2_READLINK: return do_readlink(c, op);
    case X2_TRUNCATE: case X2_FTRUNCATE: case X2_CHMOD: case X2_FCHMOD:
    case X2_UTIMES: case X2_FUTIMES:
        return do_setattr(c, op);
    case X2_STATFS: return do_statfs(c, op);
    case X2_GETDENTS: return do_getdents(c, op);
    case X2_EXEC: return do_exec(c, op);
    case X2_EVICT: op->truncating = true; return free_inode_phase(c, op);
    }
    return -EINVAL;
}

bool x2_excl(const struct x2op *op)
{
    if (op->kind == X2_OPEN)            /* only creating or truncating changes anything */
        return op->flags & (O_CREAT | O_TRUNC);
    switch (op->kind) {
    case X2_STAT: case X2_FSTAT: case X2_ACCESS: case X2_READLINK: case X2_STATFS:
    case X2_GETDENTS: case X2_EXEC:
        return false;
    default:
        return true;
    }
}

/* ---- eviction of an inode unlinked while open: a task of its own ------------------ */

struct evict {
    struct future base;
    struct x2op op;
    struct x2run run;
};

static enum poll evict_poll(struct future *base, struct cx *cx)
{
    struct evict *e = (struct evict *)base;
    ASYNC_BEGIN(e);
    x2run_init(&e->run, e->op.fs, true, x2_attempt, &e->op);
    AWAIT(e, future_poll(&e->run.base, cx));
    if (e->run.result)
        printk("ext2: freeing inode %u: error %ld\n", e->op.ino, e->run.result);
    ASYNC_END(e);
}

static const struct future_ops evict_ops = { evict_poll, NULL, "ext2_evict" };

void x2_evict_spawn(struct ext2_fs *fs, uint32_t ino)
{
    struct task *t;
    struct evict *e = task_alloc(sizeof *e, "ext2_evict", &t);
    if (!e)
        return;                         /* a leak e2fsck repairs */
    memset(e, 0, sizeof *e);
    future_init(&e->base, &evict_ops);
    e->op.kind = X2_EVICT;
    e->op.fs = fs;
    e->op.ino = ino;
    task_start(t, TASK_NO_HART, false);
}
