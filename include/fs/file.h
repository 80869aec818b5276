/*
 * file.h - open files and file-descriptor tables.
 *
 * A file is a console, a pipe end, an initrd file or directory, a
 * /proc report, a ring, or an ext2 inode (file, directory).  Reading and writing a file is a future (struct
 * file_io): the same future serves the blocking read/write system calls
 * (the thread awaits it) and, later, the asynchronous ring operations.
 * Files that never wait (initrd, /proc) complete on the first poll.
 */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/future.h"
#include "core/spinlock.h"

struct mm;
struct pipe;
struct uring;

enum file_type { FT_CONSOLE, FT_PIPE_READ, FT_PIPE_WRITE, FT_INITRD, FT_DIR, FT_PROC, FT_URING, FT_EXT2 };

struct ext2_fs;

struct file {
    _Atomic int refs;
    enum file_type type;
    int flags;                  /* O_ACCMODE bits, O_NONBLOCK, O_APPEND */
    struct spinlock lock;       /* off */
    uint64_t off;
    union {
        struct pipe *pipe;
        struct { const uint8_t *data; size_t size; char path[96]; } ird;   /* FT_INITRD, FT_DIR */
        struct { char *buf; size_t len; } proc;                            /* FT_PROC */
        struct uring *uring;                                               /* FT_URING */
        struct { struct ext2_fs *fs; uint32_t ino, mode; char path[128]; } x2; /* FT_EXT2 */
    };
};

/* One read or write, as a future.  result: bytes, or -errno. */
struct file_io {
    struct future base;
    struct file *f;
    struct mm *mm;              /* whose user buffer */
    uint64_t ubuf;
    size_t len, done;
    int64_t pos;                /* file offset (pread, io_uring); -1: the file position */
    long result;
    struct waiter w;
    void *bounce;               /* per-type scratch (freed on completion/cancel) */
};
void file_read_init(struct file_io *io, struct file *f, struct mm *mm, uint64_t ubuf, size_t len);
void file_write_init(struct file_io *io, struct file *f, struct mm *mm, uint64_t ubuf, size_t len);

struct file *file_alloc(enum file_type type, int flags);  /* one reference; NULL: no memory */
struct file *file_get(struct file *f);
void file_put(struct file *f);

/* Open an absolute, normalised path: initrd files and directories,
 * /dev/console, /proc/{ps,harts,tasks,mem}.  0 or -errno. */
int file_open(const char *path, int flags, struct file **out);
struct file *console_file_open(void);           /* NULL: no memory */
int pipe_create(struct file **rd, struct file **wr);   /* 0 / -ENOMEM */

/* Linux struct stat (asm-generic), for fstat/newfstatat. */
struct kstat {
    uint64_t st_dev, st_ino;
    uint32_t st_mode, st_nlink, st_uid, st_gid;
    uint64_t st_rdev, __pad1;
    int64_t st_size;
    int32_t st_blksize, __pad2;
    int64_t st_blocks;
    int64_t st_atime; uint64_t st_atime_nsec;
    int64_t st_mtime; uint64_t st_mtime_nsec;
    int64_t st_ctime; uint64_t st_ctime_nsec;
    uint32_t __unused4, __unused5;
};
_Static_assert(sizeof(struct kstat) == 128, "asm-generic struct stat");
int file_stat(struct file *f, struct kstat *st);
int path_stat(const char *path, struct kstat *st);          /* 0 / -ENOENT */
/* getdents64 into user memory: bytes written, 0 at end, -errno. */
long file_getdents64(struct file *f, struct mm *mm, uint64_t ubuf, size_t len);
/* Is the file ready to read / write without waiting (for poll)? */
bool file_readable(struct file *f);
bool file_writable(struct file *f);
bool file_is_tty(struct file *f);
/* Linux poll(2) bits (asm-generic/poll.h). */
#define POLL_IN      0x001
#define POLL_PRI     0x002
#define POLL_OUT     0x004
#define POLL_ERR     0x008
#define POLL_HUP     0x010
#define POLL_NVAL    0x020
#define POLL_RDNORM  0x040
#define POLL_WRNORM  0x100
#define POLL_IN_MASK  (POLL_IN | POLL_RDNORM)
#define POLL_OUT_MASK (POLL_OUT | POLL_WRNORM)
/* The file's readiness as Linux's poll mask (IN, OUT, HUP, ERR bits). */
unsigned file_poll_events(struct file *f);
/* The wait queue readiness changes are announced on; NULL: never waits. */
struct waitq *file_poll_queue(struct file *f, bool out);

/* The executable for execve: data of an initrd file.  0 / -ENOENT / -EACCES. */
int initrd_lookup(const char *path, const uint8_t **data, size_t *size);

/* Resolve `path` against `cwd` into an absolute path without ".", ".."
 * or repeated '/'.  0, or -ENAMETOOLONG. */
int path_resolve(const char *cwd, const char *path, char *out, size_t cap);

/* ---- file-descriptor tables ------------------------------------------ */

/*
 * A table starts with FDTABLE_INLINE slots inside itself and grows (by
 * doubling) only when a descriptor beyond them is asked for, up to its
 * RLIMIT_NOFILE soft limit: three descriptors do not pay for 1024.
 * A fork's copy is sized to the highest open descriptor, not to the
 * parent's capacity.
 * The limits live in the table because they govern exactly it; a table
 * shared with CLONE_FILES shares them.
 */
#define NOFILE_DEFAULT 1024     /* soft limit a process starts with (Linux's) */
#define NOFILE_MAX 4096         /* hard limit; no table is ever bigger */
/* 8: stdio and a few pipes, and the whole table fits kmalloc's 128-byte
 * class (a blocked forked child costs little); at most 64, what one
 * cloexec word covers */
#define FDTABLE_INLINE 8

struct fdtable {
    struct spinlock lock;
    _Atomic int refs;           /* processes/threads sharing it (CLONE_FILES) */
    unsigned cap;               /* slots in fd[]: a power of two */
    unsigned limit, limit_max;  /* RLIMIT_NOFILE soft and hard */
    struct file **fd;           /* fd_inline, or a kmalloc'd array of cap */
    uint64_t *cloexec;          /* cap bits: &cloexec_inline or kmalloc'd */
    struct file *fd_inline[FDTABLE_INLINE];
    uint64_t cloexec_inline;
};

struct fdtable *fdtable_create(void);
struct fdtable *fdtable_copy(struct fdtable *t);        /* fork */
void fdtable_put(struct fdtable *t);
/* Lowest free fd >= min: fd, -EMFILE (none below the soft limit) or
 * -ENOMEM.  Takes over the caller's reference on success only. */
int fd_install(struct fdtable *t, struct file *f, int min, bool cloexec);
/* Install n files at the n lowest free fds, but only if publish(arg, fds)
 * (called under the table's lock, e.g. to copy the numbers out) returns
 * 0: no other thread ever sees an fd whose number could not be told.
 * 0, -EMFILE or publish's error; the caller keeps its references on error. */
int fd_install_published(struct fdtable *t, struct file **f, int n, bool cloexec, int *fds,
                         int (*publish)(void *arg, const int *fds), void *arg);
/* The file at fd with a new reference, or NULL (EBADF). */
struct file *fd_get(struct fdtable *t, int fd);
int fd_close(struct fdtable *t, int fd);                 /* 0 / -EBADF */
/* dup3 semantics: 0 / -EBADF / -EINVAL / -ENOMEM. */
int fd_dup_to(struct fdtable *t, int oldfd, int newfd, bool cloexec);
void fd_close_on_exec(struct fdtable *t);
/* FD_CLOEXEC of fd: 0 or 1, or -EBADF; and setting it: 0 / -EBADF. */
int fd_get_cloexec(struct fdtable *t, int fd);
int fd_set_cloexec(struct fdtable *t, int fd, bool on);
/* RLIMIT_NOFILE: read, and set (soft <= hard, hard never raised):
 * 0 / -EINVAL / -EPERM. */
void fd_get_limit(struct fdtable *t, uint64_t lim[2]);
int fd_set_limit(struct fdtable *t, const uint64_t lim[2]);
