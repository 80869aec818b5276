/*
 * ext2_dir.h - directory iteration and the path walk inside ext2
 * (src/fs/ext2_dir.c).  Attempt-side helpers: they may return -EMISS.
 */
#pragma once
#include "fs/ext2.h"

struct x2dir {
    struct x2ino *dir;
    uint64_t lblk, nblk;
    uint32_t off, cur_off, start_off;
    struct buf *b;
    struct ext2_dirent *prev, *last;     /* the records before and at cur_off */
};
void x2_dir_open(struct x2dir *it, struct ext2_fs *fs, struct x2ino *dir, uint64_t start_byte);
/* 1: *out is the next live entry; 0: the end; <0: error. */
long x2_dir_next(struct x2c *c, struct x2dir *it, struct ext2_dirent **out);
void x2_dir_close(struct x2dir *it);
long x2_dir_find(struct x2c *c, struct x2ino *dir, const char *name, size_t len, uint32_t *ino, uint8_t *type);
long x2_dir_prepare_add(struct x2c *c, struct x2ino *dir);
long x2_dir_add(struct x2c *c, struct x2ino *dir, const char *name, size_t len, uint32_t ino, uint8_t type);
long x2_dir_remove(struct x2c *c, struct x2ino *dir, const char *name, size_t len);
long x2_dir_retarget(struct x2c *c, struct x2ino *dir, const char *name, size_t len, uint32_t ino, uint8_t type);
long x2_dir_empty(struct x2c *c, struct x2ino *dir);
long x2_readlink(struct x2c *c, struct x2ino *ix, char *out, size_t cap);
uint8_t x2_ftype(uint16_t mode);

enum { X2_LK_NONE, X2_LK_SHARED, X2_LK_EXCL };

struct x2walk {
    const char *rel;            /* path below the mount point */
    const char *mnt;            /* the mount point ("/" or "/mnt") */
    char *path;                 /* -ESYMLINK: X2_PATH_CAP bytes to write the new path */
    bool follow;                /* follow a symlink in the last component */
    bool want_parent;           /* a missing last component is not an error */
    uint8_t plock, clock;       /* X2_LK_*: keep the parent's / the last's lock */
    uint32_t ino, parent;
    const char *name;
    size_t len;
};
long x2_walk(struct x2c *c, struct x2walk *w);
