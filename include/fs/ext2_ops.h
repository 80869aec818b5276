/*
 * ext2_ops.h - the file operations of ext2 as attempts (see ext2.h for
 * the restart discipline), one per system call, on a struct x2op that
 * carries the arguments, the progress and the results.  The system-call
 * side (src/fs/sys_fs.c) routes a path to its mounted file system, runs
 * the attempt under an x2run and follows symbolic links.
 */
#pragma once
#include "fs/ext2.h"
#include "fs/file.h"
#include "fs/pagecache.h"

enum x2kind {
    X2_OPEN, X2_STAT, X2_MKDIR, X2_UNLINK, X2_RMDIR, X2_RENAME, X2_LINK, X2_SYMLINK,
    X2_READLINK, X2_TRUNCATE, X2_CHMOD, X2_UTIMES, X2_ACCESS, X2_STATFS, X2_EXEC,
    X2_FSTAT, X2_FTRUNCATE, X2_FCHMOD, X2_GETDENTS, X2_FUTIMES, X2_EVICT,
};

struct kstatfs {
    int64_t f_type, f_bsize;
    uint64_t f_blocks, f_bfree, f_bavail, f_files, f_ffree;
    int32_t f_fsid[2];
    int64_t f_namelen, f_frsize, f_flags, f_spare[4];
};

struct x2op {
    enum x2kind kind;
    char path[X2_PATH_CAP];         /* absolute, normalised; rewritten at a symlink */
    char path2[X2_PATH_CAP];        /* rename/link target; symlink: the link's text */
    const char *rel, *mnt, *rel2, *mnt2;
    struct ext2_fs *fs;
    int flags;                      /* open flags; AT_* for stat/unlink */
    uint32_t mode;
    uint32_t ino;                   /* X2_F*: the open file's inode; results */
    uint64_t size;                  /* truncate length; exec: image size */
    uint64_t times[2];              /* utimes: atime, mtime in seconds (UINT64_MAX: now, -2: omit) */
    struct kstat st;
    struct kstatfs sfs;
    /* getdents */
    struct mm *mm;
    uint64_t ubuf, ulen, pos, written;
    /* readlink */
    char link[X2_PATH_CAP];
    struct pc_page *pg0;            /* exec: the program's first page (a reference) */
    uint32_t ftype;                 /* S_IFMT of the result */
    bool truncating;                /* progress of freeing an unlinked inode */
    bool opened;                    /* X2_OPEN took the open file's reference */
};

long x2_attempt(struct x2c *c, void *op);       /* dispatch on op->kind */
bool x2_excl(const struct x2op *op);              /* needs the lock exclusively? */

/* Reading and writing an open ext2 file (struct file_io, file.c). */
void x2_io_init(struct file_io *io, bool write);
/* An open file of inode ino (as openat makes), owning the open reference
 * the X2_EXEC attempt took under the inode's lock (so an unlink cannot
 * free the program between the attempt and here): NULL if there is no
 * memory (the reference is then given back). */
struct file *x2_file_new(struct ext2_fs *fs, uint32_t ino, uint32_t ftype, const char *path,
                         int flags);
