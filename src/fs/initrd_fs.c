/*
 * initrd_fs.c - the file namespace: the initrd's files and directories,
 * plus the synthetic /dev (the console) and /proc (reports).
 *
 * Nothing is built at boot: every lookup and every directory listing is
 * a scan of the cpio archive (src/fs/cpio.c checks every header field), so
 * the cost is linear in the number of entries per lookup, and quadratic
 * per listing (each child is emitted only at its first appearance).
 * Fine for an initrd of tens of files.
 *
 * Directories need not have their own entries: a path is a directory if
 * some entry's name continues below it.  The synthetic directories other
 * than "/" own their whole subtree (the initrd is not consulted there),
 * and their names hide initrd entries of the same name at the root.
 *
 * Inode numbers are a hash of the normalised path, the same for stat,
 * fstat and getdents.
 */
#include "fs/cpio.h"
#include "lib/errno.h"
#include "fs/initrd.h"
#include "lib/klib.h"
#include "mem/mm.h"
#include "fs/pipe.h"
#include "lib/printk.h"

static const struct synth {
    const char *path;
    enum fs_kind kind;
} synth[] = {
    { "/", FS_DIR },
    { "/dev", FS_DIR },
    { "/dev/console", FS_CONSOLE },
    { "/proc", FS_DIR },
    { "/proc/ps", FS_PROC },
    { "/proc/harts", FS_PROC },
    { "/proc/tasks", FS_PROC },
    { "/proc/mem", FS_PROC },
    { "/proc/console", FS_PROC },
};

#define NAME_MAX 255

/* ---- inode numbers: FNV-1a of the path ----------------------------------- */

static uint64_t fnv(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
#define FNV_SEED 0xcbf29ce484222325ULL

static uint64_t ino_of(uint64_t h) { return h ? h : 1; }   /* 0 means "no inode" */

uint64_t fs_ino(const char *path) { return ino_of(fnv(FNV_SEED, path, strlen(path))); }

/* ---- the archive ------------------------------------------------------------ */

static void archive_iter(struct cpio_iter *it)
{
    static _Atomic int checked;
    if (!atomic_exchange(&checked, 1) && initrd_size()) {
        long n = cpio_check(initrd_base(), initrd_size());
        if (n < 0)
            printk("initrd: malformed archive: only the entries before the damage are used\n");
    }
    cpio_iter_init(it, initrd_base(), initrd_size());
}

static unsigned entry_type(const struct cpio_entry *e)
{
    return e->mode & CPIO_S_IFMT;
}

/* ---- lookup --------------------------------------------------------------- */

/* path[0, len) is absolute and normalised. */
static int lookup(const char *path, size_t len, struct fs_node *n)
{
    n->data = NULL;
    n->size = 0;
    if (len == 0 || path[0] != '/')
        return -ENOENT;
    for (size_t i = 0; i < ARRAY_SIZE(synth); i++) {
        const struct synth *s = &synth[i];
        size_t sl = strlen(s->path);
        if (sl == len && !memcmp(path, s->path, len)) {
            n->kind = s->kind;
            return 0;
        }
        if (s->kind != FS_DIR && len > sl && path[sl] == '/' && !memcmp(path, s->path, sl))
            return -ENOTDIR;
    }
    for (size_t i = 1; i < ARRAY_SIZE(synth); i++) {
        size_t sl = strlen(synth[i].path);
        if (synth[i].kind == FS_DIR && len > sl && path[sl] == '/' &&
            !memcmp(path, synth[i].path, sl))
            return -ENOENT;
    }

    const char *name = path + 1;
    size_t nlen = len - 1;
    bool implied = false, notdir = false;
    struct cpio_iter it;
    struct cpio_entry e;
    archive_iter(&it);
    while (cpio_next(&it, &e) == CPIO_ENTRY) {
        if (e.namelen == nlen && !memcmp(e.name, name, nlen)) {
            if (entry_type(&e) == CPIO_S_IFDIR) {
                n->kind = FS_DIR;
                return 0;
            }
            if (entry_type(&e) == CPIO_S_IFREG) {
                n->kind = FS_FILE;
                n->data = e.data;
                n->size = e.size;
                return 0;
            }
        } else if (e.namelen > nlen && e.name[nlen] == '/' && !memcmp(e.name, name, nlen)) {
            implied = true;
        } else if (nlen > e.namelen && name[e.namelen] == '/' && !memcmp(e.name, name, e.namelen) &&
                   entry_type(&e) == CPIO_S_IFREG) {
            notdir = true;
        }
    }
    if (implied) {
        n->kind = FS_DIR;
        return 0;
    }
    return notdir ? -ENOTDIR : -ENOENT;
}

int fs_lookup(const char *path, struct fs_node *n)
{
    return lookup(path, strlen(path), n);
}

/* The parent of an existing path is a directory, so creating there fails
 * with EROFS (a read-only file system); a missing parent is ENOENT. */
int fs_create_error(const char *path)
{
    const char *slash = strchr(path, '/'), *last = NULL;
    for (; slash; slash = strchr(slash + 1, '/'))
        last = slash;
    struct fs_node n;
    size_t plen = last && last != path ? (size_t)(last - path) : 1;
    int r = lookup(path, plen, &n);
    if (r)
        return r;
    return n.kind == FS_DIR ? -EROFS : -ENOTDIR;
}

int initrd_lookup(const char *path, const uint8_t **data, size_t *size)
{
    struct fs_node n;
    int r = fs_lookup(path, &n);
    if (r)
        return r;
    if (n.kind != FS_FILE)
        return -EACCES;
    *data = n.data;
    *size = n.size;
    return 0;
}

/* ---- listing a directory ---------------------------------------------------- */

struct child {
    const char *name;
    size_t len;
    uint8_t type;                               /* DT_* */
};

/* Is e below dir (prefix[0, plen) with its '/'), and which child is it? */
static bool child_of(const struct cpio_entry *e, const char *prefix, size_t plen,
                     struct child *c)
{
    if (e->namelen <= plen || memcmp(e->name, prefix, plen))
        return false;
    const char *rest = e->name + plen;
    size_t rlen = e->namelen - plen, k = 0;
    while (k < rlen && rest[k] != '/')
        k++;
    if (k == 0 || k > NAME_MAX)
        return false;
    c->name = rest;
    c->len = k;
    if (k < rlen || entry_type(e) == CPIO_S_IFDIR)
        c->type = DT_DIR;
    else if (entry_type(e) == CPIO_S_IFREG)
        c->type = DT_REG;
    else
        return false;                           /* links, devices: not shown */
    return true;
}

static uint8_t dt_of(enum fs_kind k)
{
    return k == FS_DIR ? DT_DIR : k == FS_CONSOLE ? DT_CHR : DT_REG;
}

/* The synthetic child `s` of dir (length dlen), if it is one. */
static bool synth_child(const struct synth *s, const char *dir, size_t dlen, struct child *c)
{
    const char *last = s->path;
    for (const char *p = s->path; *p; p++)
        if (*p == '/')
            last = p;
    size_t parent_len = last == s->path ? 1 : (size_t)(last - s->path);
    if (s->path[1] == 0 || parent_len != dlen || memcmp(s->path, dir, dlen))
        return false;
    c->name = last + 1;
    c->len = strlen(last + 1);
    c->type = dt_of(s->kind);
    return true;
}

/* Call fn for each child of dir, in a stable order; stop when it returns false. */
static void walk_children(const char *dir, bool (*fn)(const struct child *, void *), void *arg)
{
    size_t dlen = strlen(dir);
    struct child c, d;
    bool synthetic_only = false;
    for (size_t i = 0; i < ARRAY_SIZE(synth); i++) {
        if (synth_child(&synth[i], dir, dlen, &c) && !fn(&c, arg))
            return;
        if (i && synth[i].kind == FS_DIR && !strcmp(synth[i].path, dir))
            synthetic_only = true;
    }
    if (synthetic_only)
        return;

    const char *prefix = dir + 1;               /* "bin/" for "/bin", "" for "/" */
    size_t plen = dlen > 1 ? dlen : 0;          /* counts the '/' after the name */
    char pbuf[sizeof ((struct file *)0)->ird.path + 1];
    if (plen) {
        if (plen >= sizeof pbuf)
            return;
        memcpy(pbuf, prefix, plen - 1);
        pbuf[plen - 1] = '/';
        prefix = pbuf;
    }
    struct cpio_iter it, it2;
    struct cpio_entry e, e2;
    archive_iter(&it);
    for (size_t k = 0; cpio_next(&it, &e) == CPIO_ENTRY; k++) {
        if (!child_of(&e, prefix, plen, &c))
            continue;
        bool dup = false;
        for (size_t i = 0; i < ARRAY_SIZE(synth) && !dup; i++)
            dup = synth_child(&synth[i], dir, dlen, &d) && d.len == c.len &&
                  !memcmp(d.name, c.name, c.len);
        archive_iter(&it2);
        for (size_t j = 0; j < k && !dup && cpio_next(&it2, &e2) == CPIO_ENTRY; j++)
            dup = child_of(&e2, prefix, plen, &d) && d.len == c.len &&
                  !memcmp(d.name, c.name, c.len);
        if (!dup && !fn(&c, arg))
            return;
    }
}

/* ---- getdents64 ----------------------------------------------------------------- */

struct linux_dirent64_hdr {
    uint64_t d_ino;
    int64_t d_off;
    uint16_t d_reclen;
    uint8_t d_type;
} __attribute__((packed));
#define DIRENT_NAME_OFF 19

struct gd {
    struct mm *mm;
    uint64_t ubuf;
    size_t len, pos;
    uint64_t idx, start, resume;
    long err;
    uint64_t dir_hash;                          /* FNV state after "<dir>" or "" for "/" */
};

static bool emit(struct gd *g, const char *name, size_t nlen, uint8_t type, uint64_t ino)
{
    if (g->idx++ < g->start)
        return true;
    uint8_t rec[ALIGN_UP(DIRENT_NAME_OFF + NAME_MAX + 1, 8)];
    size_t reclen = ALIGN_UP(DIRENT_NAME_OFF + nlen + 1, 8);
    if (g->pos + reclen > g->len) {
        if (g->pos == 0)
            g->err = -EINVAL;                   /* not even one entry fits */
        return false;
    }
    memset(rec, 0, reclen);
    struct linux_dirent64_hdr h = { ino, (int64_t)g->idx, (uint16_t)reclen, type };
    memcpy(rec, &h, DIRENT_NAME_OFF);
    memcpy(rec + DIRENT_NAME_OFF, name, nlen);
    if (copyout(g->mm, g->ubuf + g->pos, rec, reclen) < 0) {
        g->err = -EFAULT;
        return false;
    }
    g->pos += reclen;
    g->resume = g->idx;
    return true;
}

static bool emit_child(const struct child *c, void *arg)
{
    struct gd *g = arg;
    uint64_t h = fnv(fnv(g->dir_hash, "/", 1), c->name, c->len);
    return emit(g, c->name, c->len, c->type, ino_of(h));
}

long file_getdents64(struct file *f, struct mm *mm, uint64_t ubuf, size_t len)
{
    if (f->type != FT_DIR)
        return -ENOTDIR;
    const char *dir = f->ird.path;
    size_t dlen = strlen(dir);
    const char *slash = dir;
    for (const char *p = dir; *p; p++)
        if (*p == '/')
            slash = p;
    struct gd g = { .mm = mm, .ubuf = ubuf, .len = len };
    g.dir_hash = dlen > 1 ? fnv(FNV_SEED, dir, dlen) : FNV_SEED;

    spin_lock(&f->lock);
    g.start = g.resume = f->off;
    if (emit(&g, ".", 1, DT_DIR, fs_ino(dir)) &&
        emit(&g, "..", 2, DT_DIR, ino_of(fnv(FNV_SEED, dir, slash == dir ? 1 : (size_t)(slash - dir)))))
        walk_children(dir, emit_child, &g);
    f->off = g.resume;
    spin_unlock(&f->lock);
    return g.pos ? (long)g.pos : g.err;
}
