/*
 * pipe.h - the inside of the file layer: Linux open flags and mode bits,
 * and the per-type operations that file.c dispatches to (pipes, console
 * user I/O, the initrd namespace, /proc).  Users of files need file.h
 * (and the O_* flags below); the rest is for src/{file,pipe,console,
 * initrd_fs,procfs}.c.
 *
 * Lifetime rule for struct file_io: whoever starts an io holds a
 * reference to io->f until the io is READY or cancelled (the pipe and
 * the /proc buffer are reached through it).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "fs/file.h"

/* Linux open(2) flags (asm-generic/fcntl.h). */
#ifndef O_ACCMODE
#define O_ACCMODE   00000003
#define O_RDONLY    00000000
#define O_WRONLY    00000001
#define O_RDWR      00000002
#define O_CREAT     00000100
#define O_EXCL      00000200
#define O_NOCTTY    00000400
#define O_TRUNC     00001000
#define O_APPEND    00002000
#define O_NONBLOCK  00004000
#define O_DIRECTORY 00200000
#define O_NOFOLLOW  00400000
#define O_CLOEXEC   02000000
#endif

/* st_mode bits and d_type values (Linux). */
#ifndef S_IFMT
#define S_IFMT   0170000
#define S_IFIFO  0010000
#define S_IFCHR  0020000
#define S_IFDIR  0040000
#define S_IFREG  0100000
#endif
#define DT_FIFO 1
#define DT_CHR  2
#define DT_DIR  4
#define DT_REG  8

static inline bool file_can_read(const struct file *f)
{
    return (f->flags & O_ACCMODE) != O_WRONLY;
}
static inline bool file_can_write(const struct file *f)
{
    int m = f->flags & O_ACCMODE;
    return m == O_WRONLY || m == O_RDWR;
}

/* ---- pipes (src/fs/pipe.c) ------------------------------------------------- */
void pipe_io_init(struct file_io *io);          /* read or write by f->type */
void pipe_release(struct file *f);              /* the last reference to an end went */
bool pipe_readable(struct pipe *p);             /* data, or no writers */
bool pipe_writable(struct pipe *p);             /* room, or no readers */
/* Linux's poll mask of one end: IN when data (HUP when no writers), OUT
 * when room (ERR when no readers). */
unsigned pipe_poll_events(struct pipe *p, bool write_end);
uint64_t pipe_ino(struct pipe *p);
struct waitq *pipe_poll_queue(struct pipe *p, bool out);

/* ---- console user I/O (src/dev/console.c) ----------------------------------- */
void console_io_init(struct file_io *io, bool write);
bool console_writable(void);                    /* room in the transmit ring */
struct waitq *console_poll_queue(bool out);

/* ---- the namespace: initrd, /dev, /proc (src/fs/initrd_fs.c) --------------- */
enum fs_kind { FS_DIR, FS_FILE, FS_CONSOLE, FS_PROC };
struct fs_node {
    enum fs_kind kind;
    const uint8_t *data;                        /* FS_FILE */
    size_t size;
};
/* An absolute, normalised path: 0, -ENOENT or -ENOTDIR. */
int fs_lookup(const char *path, struct fs_node *n);
uint64_t fs_ino(const char *path);              /* stable per path */
/* Why creating the missing `path` fails: -EROFS (its directory exists),
 * -ENOENT or -ENOTDIR. */
int fs_create_error(const char *path);

/* ---- /proc (src/fs/procfs.c) ----------------------------------------------- */
/* Make f an FT_PROC file holding a fresh report `name` ("ps", "harts", ...). */
int procfs_fill(struct file *f, const char *name);     /* 0 / -ENOENT / -ENOMEM */
const char *procfs_text(struct file *f, size_t *len);
uint64_t procfs_ino(struct file *f);
void procfs_release(struct file *f);
