/*
 * vfs.h - where a path lives: the mount table (src/fs/mount.c).
 *
 * Paths are absolute and normalised (path_resolve).  /proc and /dev are
 * always the kernel's own (procfs and the console); every other path
 * belongs to the ext2 file system mounted on its longest matching mount
 * point, or, when none matches (no disk as root), to the initrd.
 */
#pragma once
#include "fs/ext2.h"

/* The file system of abs (NULL: the initrd or /proc, /dev), the rest of
 * the path below its mount point and the mount point itself. */
struct ext2_fs *vfs_route(const char *abs, const char **rel, const char **mnt);
int vfs_mount(const char *path, struct ext2_fs *fs);       /* 0 / -EBUSY / -ENOMEM */
/* Take fs at path off the table: the fs, or NULL (*err: -EINVAL / -EBUSY). */
struct ext2_fs *vfs_umount(const char *path, int *err);
bool vfs_dev_mounted(struct blkdev *d);
/* Every mounted file system, for sync and power-off: up to n, count returned. */
int vfs_mounted(struct ext2_fs **out, int n);
/* Boot: mount the first disk as / if it holds ext2, then start /bin/init. */
void vfs_boot_root(void);
