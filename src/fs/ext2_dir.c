/*
 * ext2_dir.c - ext2 directories: checked iteration over records, lookup,
 * adding and removing entries, and the path walk (with symbolic links).
 *
 * Every record is checked before it is used: rec_len at least 12 (8 for
 * the last padding of a block is not allowed either), a multiple of 4,
 * inside the block, and holding its name; an inode number within the
 * file system.  A directory with a hole is corrupted.
 */
#include "fs/ext2.h"
#include "fs/ext2_dir.h"
#include "lib/errno.h"
#include "lib/klib.h"

#define EXT2_INDEX_FL 0x1000

static uint32_t rec_need(uint32_t name_len) { return (8 + name_len + 3) & ~3u; }

long x2_dir_next(struct x2c *c, struct x2dir *it, struct ext2_dirent **out)
{
    struct ext2_fs *fs = c->fs;
    for (;;) {
        if (!it->b) {
            if (it->lblk >= it->nblk)
                return 0;
            uint32_t p;
            long r = x2_bmap(c, it->dir, it->lblk, false, &p);
            if (r)
                return r;
            if (!p)
                return x2_corrupt(c, "hole in a directory");
            if ((r = x2_block(c, p, &it->b)))
                return r;
            bc_set_class(it->b, X2_WC_DIR);        /* written last of a sync */
            it->off = 0;
            it->last = it->prev = NULL;
        }
        if (it->off >= fs->bsize) {
            bc_put(it->b);
            it->b = NULL;
            it->lblk++;
            it->start_off = 0;
            continue;
        }
        struct ext2_dirent *d = (struct ext2_dirent *)(it->b->data + it->off);
        if (fs->bsize - it->off < 12 || d->rec_len < 12 || d->rec_len % 4 ||
            d->rec_len > fs->bsize - it->off || rec_need(d->name_len) > d->rec_len ||
            d->inode > fs->inodes_count)
            return x2_corrupt(c, "bad directory record");
        it->cur_off = it->off;
        it->prev = it->last;
        it->last = d;
        it->off += d->rec_len;
        /* getdents resumes at a byte offset: skip the records before it */
        if (d->inode && it->cur_off >= it->start_off) {
            *out = d;
            return 1;
        }
    }
}

void x2_dir_open(struct x2dir *it, struct ext2_fs *fs, struct x2ino *dir, uint64_t start_byte)
{
    memset(it, 0, sizeof *it);
    it->dir = dir;
    it->nblk = (x2_isize(fs, dir->i) + fs->bsize - 1) / fs->bsize;
    it->lblk = start_byte / fs->bsize;
    it->start_off = start_byte % fs->bsize;
}

void x2_dir_close(struct x2dir *it)
{
    bc_put(it->b);
    it->b = NULL;
}

long x2_dir_find(struct x2c *c, struct x2ino *dir, const char *name, size_t len, uint32_t *ino,
                 uint8_t *type)
{
    struct x2dir it;
    struct ext2_dirent *d;
    long r;
    x2_dir_open(&it, c->fs, dir, 0);
    while ((r = x2_dir_next(c, &it, &d)) == 1) {
        if (d->name_len == len && !memcmp(d->name, name, len)) {
            *ino = d->inode;
            if (type)
                *type = d->file_type;
            x2_dir_close(&it);
            return 0;
        }
    }
    x2_dir_close(&it);
    return r ? r : -ENOENT;
}

/* Read every block of the directory and the mapping of the block after
 * it, so that adding an entry afterwards never misses. */
long x2_dir_prepare_add(struct x2c *c, struct x2ino *dir)
{
    struct x2dir it;
    struct ext2_dirent *d;
    long r;
    x2_dir_open(&it, c->fs, dir, 0);
    while ((r = x2_dir_next(c, &it, &d)) == 1)
        ;
    x2_dir_close(&it);
    if (r)
        return r;
    uint32_t p;
    return x2_bmap(c, dir, it.nblk, false, &p);
}

static void set_entry(struct ext2_fs *fs, struct ext2_dirent *d, const char *name, size_t len,
                      uint32_t ino, uint8_t type)
{
    d->inode = ino;
    d->name_len = (uint8_t)len;
    d->file_type = fs->filetype ? type : 0;
    memcpy(d->name, name, len);
}

long x2_dir_add(struct x2c *c, struct x2ino *dir, const char *name, size_t len, uint32_t ino,
                uint8_t type)
{
    struct ext2_fs *fs = c->fs;
    struct x2dir it;
    long r;
    uint32_t need = rec_need((uint32_t)len);
    dir->i->i_flags &= ~EXT2_INDEX_FL;      /* we do not keep hashed indexes */
    dir->i->i_mtime = dir->i->i_ctime = x2_now();
    x2_idirty(c, dir);
    x2_dir_open(&it, fs, dir, 0);
    for (;;) {
        struct ext2_dirent *d;
        /* walk every record, including empty ones */
        if (!it.b) {
            if (it.lblk >= it.nblk)
                break;
            uint32_t p;
            if ((r = x2_bmap(c, dir, it.lblk, false, &p)) || (!p && (r = x2_corrupt(c, "hole in a directory"))) ||
                (r = x2_block(c, p, &it.b)))
                return r;
            bc_set_class(it.b, X2_WC_DIR);
            it.off = 0;
        }
        if (it.off >= fs->bsize) {
            bc_put(it.b);
            it.b = NULL;
            it.lblk++;
            continue;
        }
        d = (struct ext2_dirent *)(it.b->data + it.off);
        if (fs->bsize - it.off < 12 || d->rec_len < 12 || d->rec_len % 4 ||
            d->rec_len > fs->bsize - it.off || rec_need(d->name_len) > d->rec_len) {
            x2_dir_close(&it);
            return x2_corrupt(c, "bad directory record");
        }
        uint32_t used = d->inode ? rec_need(d->name_len) : 0;
        if (d->rec_len - used >= need) {
            if (d->inode) {
                struct ext2_dirent *n = (struct ext2_dirent *)((uint8_t *)d + used);
                n->rec_len = d->rec_len - used;
                d->rec_len = used;
                d = n;
            }
            set_entry(fs, d, name, len, ino, type);
            bc_dirty_ordered(it.b);             /* after the inode it names */
            x2_dir_close(&it);
            return 0;
        }
        it.off += d->rec_len;
    }
    /* a new block at the end */
    uint32_t p;
    struct buf *b;
    if ((r = x2_bmap(c, dir, it.nblk, true, &p)) || (r = x2_block(c, p, &b)))
        return r;
    struct ext2_dirent *d = (struct ext2_dirent *)b->data;
    bc_set_class(b, X2_WC_DIR);
    d->rec_len = (uint16_t)fs->bsize;
    set_entry(fs, d, name, len, ino, type);
    bc_dirty_ordered(b);
    bc_put(b);
    x2_set_isize(fs, dir->i, (uint64_t)(it.nblk + 1) * fs->bsize);
    x2_idirty(c, dir);
    return 0;
}

long x2_dir_remove(struct x2c *c, struct x2ino *dir, const char *name, size_t len)
{
    struct x2dir it;
    struct ext2_dirent *d;
    long r;
    x2_dir_open(&it, c->fs, dir, 0);
    while ((r = x2_dir_next(c, &it, &d)) == 1) {
        if (d->name_len != len || memcmp(d->name, name, len))
            continue;
        if (!it.prev)
            d->inode = 0;               /* first of its block: leave an empty record */
        else
            it.prev->rec_len += d->rec_len;
        bc_dirty(it.b);
        x2_dir_close(&it);
        dir->i->i_flags &= ~EXT2_INDEX_FL;
        dir->i->i_mtime = dir->i->i_ctime = x2_now();
        x2_idirty(c, dir);
        return 0;
    }
    x2_dir_close(&it);
    return r ? r : -ENOENT;
}

/* Point the entry `name` at another inode (rename over an existing one). */
long x2_dir_retarget(struct x2c *c, struct x2ino *dir, const char *name, size_t len, uint32_t ino,
                     uint8_t type)
{
    struct x2dir it;
    struct ext2_dirent *d;
    long r;
    x2_dir_open(&it, c->fs, dir, 0);
    while ((r = x2_dir_next(c, &it, &d)) == 1) {
        if (d->name_len == len && !memcmp(d->name, name, len)) {
            d->inode = ino;
            d->file_type = c->fs->filetype ? type : 0;
            bc_dirty_ordered(it.b);
            x2_dir_close(&it);
            dir->i->i_mtime = dir->i->i_ctime = x2_now();
            x2_idirty(c, dir);
            return 0;
        }
    }
    x2_dir_close(&it);
    return r ? r : -ENOENT;
}

/* Is the directory empty (only "." and "..")?  1 yes, 0 no, <0 error. */
long x2_dir_empty(struct x2c *c, struct x2ino *dir)
{
    struct x2dir it;
    struct ext2_dirent *d;
    long r;
    x2_dir_open(&it, c->fs, dir, 0);
    while ((r = x2_dir_next(c, &it, &d)) == 1) {
        bool dot = (d->name_len == 1 && d->name[0] == '.') ||
                   (d->name_len == 2 && d->name[0] == '.' && d->name[1] == '.');
        if (!dot) {
            x2_dir_close(&it);
            return 0;
        }
    }
    x2_dir_close(&it);
    return r ? r : 1;
}

uint8_t x2_ftype(uint16_t mode)
{
    switch (mode & 0170000) {
    case 0100000: return 1;
    case 0040000: return 2;
    case 0020000: return 3;
    case 0060000: return 4;
    case 0010000: return 5;
    case 0140000: return 6;
    case 0120000: return 7;
    default: return 0;
    }
}

/* ---- symbolic links and the walk ------------------------------------------- */

static bool fast_symlink(struct ext2_fs *fs, const struct ext2_inode *i)
{
    uint32_t acl = i->i_file_acl ? fs->bsize / 512 : 0;
    return i->i_blocks == acl && i->i_size < 60;
}

long x2_readlink(struct x2c *c, struct x2ino *ix, char *out, size_t cap)
{
    struct ext2_fs *fs = c->fs;
    uint64_t size = x2_isize(fs, ix->i);
    if (size == 0 || size >= fs->bsize || size >= cap)
        return size >= cap && size < fs->bsize ? -ENAMETOOLONG : x2_corrupt(c, "bad symlink size");
    if (fast_symlink(fs, ix->i)) {
        memcpy(out, ix->i->i_block, size);
    } else {
        uint32_t p;
        struct buf *b;
        long r = x2_bmap(c, ix, 0, false, &p);
        if (r)
            return r;
        if (!p)
            return x2_corrupt(c, "symlink without a block");
        if ((r = x2_block(c, p, &b)))
            return r;
        memcpy(out, b->data, size);
        bc_put(b);
    }
    out[size] = 0;
    if (strlen(out) != size)
        return x2_corrupt(c, "symlink with a NUL");
    return (long)size;
}

static bool is_dir(const struct ext2_inode *i) { return (i->i_mode & 0170000) == 0040000; }
static bool is_link(const struct ext2_inode *i) { return (i->i_mode & 0170000) == 0120000; }

/* If ino is a symlink, build the path to resolve instead in w->path and
 * return -ESYMLINK; 0 if it is not one.  Its lock (or its parent's) is
 * held: a symlink's text never changes, and it is not freed meanwhile. */
static long symlink_hop(struct x2c *c, struct x2walk *w, uint32_t ino, const char *name,
                        const char *rest)
{
    struct x2ino child;
    long r = x2_iget(c, ino, &child);
    if (r)
        return r;
    if (!is_link(child.i)) {
        x2_iput(&child);
        return 0;
    }
    char target[X2_PATH_CAP];
    r = x2_readlink(c, &child, target, sizeof target);
    x2_iput(&child);
    if (r < 0)
        return r;
    /* new path: (target absolute ? target : mnt/rel-up-to-dir/target) + "/" + rest */
    char np[2 * X2_PATH_CAP];
    size_t n = 0;
    if (target[0] != '/') {
        n = strlcpy(np, w->mnt, sizeof np);
        if (n < sizeof np - 1)
            np[n++] = '/';
        size_t pre = (size_t)(name - w->rel);
        if (n + pre < sizeof np) {
            memcpy(np + n, w->rel, pre);
            n += pre;
        }
        np[n] = 0;
    }
    n += strlcpy(np + n, target, n < sizeof np ? sizeof np - n : 0);
    if (*rest && n + 1 < sizeof np) {
        np[n++] = '/';
        strlcpy(np + n, rest, sizeof np - n);
    }
    if (strlen(np) >= X2_PATH_CAP)
        return -ENAMETOOLONG;
    strlcpy(w->path, np, X2_PATH_CAP);
    return -ESYMLINK;
}

/* Is p (at a component) the last component? */
static bool last_component(const char *p)
{
    while (*p && *p != '/')
        p++;
    while (*p == '/')
        p++;
    return !*p;
}

/*
 * Walk rel (components under the file system's root; `mnt` is where it is
 * mounted, for symlink targets).  On success w->ino is the last
 * component's inode (0 if it does not exist and w->want_parent), w->parent
 * its directory, w->name/len its name.  A symlink to follow rewrites
 * w->path (the absolute path to resolve instead) and returns -ESYMLINK.
 *
 * Locks (ext2_lock.h): the walk couples - it holds a directory shared
 * while it looks the next name up and takes the child's lock before it
 * lets the directory go.  The last component's directory is locked with
 * w->plock and kept (X2_LK_NONE: only for the lookup), the last
 * component itself with w->clock and kept.  Both are taken while the
 * directory above is still held, so the name cannot go meanwhile.
 */
long x2_walk(struct x2c *c, struct x2walk *w)
{
    const char *p = w->rel;
    uint32_t cur = EXT2_ROOT_INO;
    struct x2inode *tcur = NULL;        /* cur's lock if it is only for the walk */
    long r;
    w->parent = 0;
    w->ino = EXT2_ROOT_INO;
    w->name = "";
    w->len = 0;
    while (*p == '/')
        p++;
    if (!*p)
        return w->clock ? x2_ilock(c, EXT2_ROOT_INO, w->clock == X2_LK_EXCL) : 0;
    if (last_component(p) && w->plock)
        r = x2_ilock(c, cur, w->plock == X2_LK_EXCL);
    else
        r = x2_tmp_rlock(c, cur, &tcur);
    if (r)
        return r;
    for (int depth = 0;; depth++) {
        if (depth >= 128) {
            r = -ELOOP;
            break;
        }
        const char *name = p;
        while (*p && *p != '/')
            p++;
        size_t len = (size_t)(p - name);
        const char *rest = p;
        while (*rest == '/')
            rest++;
        bool last = !*rest;
        if (len > 255) {
            r = -ENAMETOOLONG;
            break;
        }
        struct x2ino dir;
        if ((r = x2_iget(c, cur, &dir)))
            break;
        if (!is_dir(dir.i) || !dir.i->i_links_count) {
            r = is_dir(dir.i) ? -ENOENT : -ENOTDIR;    /* a removed directory: ENOENT */
            x2_iput(&dir);
            break;
        }
        uint32_t ino;
        r = x2_dir_find(c, &dir, name, len, &ino, NULL);
        x2_iput(&dir);
        w->parent = cur;
        w->name = name;
        w->len = len;
        if (r == -ENOENT && last && w->want_parent) {
            w->ino = 0;
            r = 0;
            break;
        }
        if (r)
            break;
        if (ino < EXT2_ROOT_INO) {
            r = x2_corrupt(c, "directory entry names a reserved inode");
            break;
        }
        w->ino = ino;
        /* the child's lock, while cur is still held */
        struct x2inode *tchild = NULL;
        if (last && w->clock)
            r = x2_ilock(c, ino, w->clock == X2_LK_EXCL);
        else if (!last && w->plock && last_component(rest))
            r = x2_ilock(c, ino, w->plock == X2_LK_EXCL);
        else if (!last || w->follow)
            r = x2_tmp_rlock(c, ino, &tchild);
        if (r)
            break;
        if (!last || w->follow) {
            if ((r = symlink_hop(c, w, ino, name, rest))) {
                x2_tmp_unlock(c, tchild);
                break;
            }
        }
        x2_tmp_unlock(c, tcur);
        tcur = tchild;
        if (last)
            break;
        cur = ino;
        p = rest;
    }
    x2_tmp_unlock(c, tcur);
    return r;
}
