/*
 * pipe.c - pipes: a 4096-byte ring between a read end and a write end.
 *
 * Invariants, under p->lock: head and tail are free-running (they wrap
 * as u32), tail - head <= PIPE_SIZE is the number of bytes buffered;
 * readers and writers count the open files of each end.
 *
 * Waiting: the waiters live inside the file_io futures (io->w).  A read
 * waits on p->rq for data or for the last writer to go; a write waits on
 * p->wq for room or for the last reader to go.  The "try" functions check
 * and act in one critical section, and when they must wait they register
 * the waiter in that same critical section: a writer changes the ring
 * under p->lock and wakes after it, so it either comes first (the check
 * sees its data) or finds the waiter (no lost wake-up, and one check per
 * poll instead of a check, a registration and a second check).
 *
 * Copies to and from user memory happen under p->lock (copyin/copyout
 * never wait); wakes in the I/O paths happen after it is dropped.  The
 * close path wakes under the lock, because right after the unlock the
 * other end's close may free the pipe.
 *
 * Writes of at most PIPE_BUF (= PIPE_SIZE) bytes are atomic, as POSIX
 * requires: they wait until they fit whole.  Larger writes go in pieces.
 */
#include "lib/errno.h"
#include "lib/klib.h"
#include "mem/kmalloc.h"
#include "mem/mm.h"
#include "fs/pipe.h"

#define PIPE_SIZE 4096u         /* a power of two: indexes wrap freely */
#define PIPE_BUF PIPE_SIZE

struct pipe {
    struct spinlock lock;
    uint32_t head, tail;
    int readers, writers;
    uint64_t ino;
    struct waitq rq, wq;
    char *buf;
};

static _Atomic uint64_t next_ino = 1;

int pipe_create(struct file **rd, struct file **wr)
{
    struct pipe *p = kzalloc(sizeof *p);
    char *buf = kmalloc(PIPE_SIZE);
    struct file *r = kzalloc(sizeof *r), *w = kzalloc(sizeof *w);
    if (!p || !buf || !r || !w) {
        kfree(p);
        kfree(buf);
        kfree(r);
        kfree(w);
        return -ENOMEM;
    }
    spin_init(&p->lock, "pipe");
    waitq_init(&p->rq, "pipe.rd");
    waitq_init(&p->wq, "pipe.wr");
    p->buf = buf;
    p->readers = p->writers = 1;
    p->ino = atomic_fetch_add(&next_ino, 1);
    struct file *f[2] = { r, w };
    for (int i = 0; i < 2; i++) {
        atomic_store(&f[i]->refs, 1);
        spin_init(&f[i]->lock, "file");
        f[i]->type = i ? FT_PIPE_WRITE : FT_PIPE_READ;
        f[i]->flags = i ? O_WRONLY : O_RDONLY;
        f[i]->pipe = p;
    }
    *rd = r;
    *wr = w;
    return 0;
}

/* Under p->lock: n bytes from the ring (at head) to user memory. */
static int ring_out(struct pipe *p, struct mm *mm, uint64_t udst, uint32_t n)
{
    uint32_t at = p->head % PIPE_SIZE, first = MIN(n, PIPE_SIZE - at);
    if (copyout(mm, udst, p->buf + at, first) < 0)
        return -EFAULT;
    if (n > first && copyout(mm, udst + first, p->buf, n - first) < 0)
        return -EFAULT;
    return 0;
}

/* Under p->lock: n bytes of user memory into the ring (at tail). */
static int ring_in(struct pipe *p, struct mm *mm, uint64_t usrc, uint32_t n)
{
    uint32_t at = p->tail % PIPE_SIZE, first = MIN(n, PIPE_SIZE - at);
    if (copyin(mm, p->buf + at, usrc, first) < 0)
        return -EFAULT;
    if (n > first && copyin(mm, p->buf, usrc + first, n - first) < 0)
        return -EFAULT;
    return 0;
}

/* ---- read --------------------------------------------------------------- */

/* Take what is there.  true: finished (io->result set); false: wait
 * (io->w registered on p->rq for cx's task). */
static bool try_read(struct file_io *io, struct cx *cx)
{
    struct pipe *p = io->f->pipe;
    bool done = true;
    spin_lock(&p->lock);
    uint32_t avail = p->tail - p->head;
    if (avail) {
        uint32_t n = MIN((size_t)avail, io->len);
        if (ring_out(p, io->mm, io->ubuf, n) < 0) {
            io->result = -EFAULT;
        } else {
            p->head += n;
            io->result = n;
        }
    } else if (p->writers == 0) {
        io->result = 0;                         /* end of file */
    } else if (io->f->flags & O_NONBLOCK) {
        io->result = -EAGAIN;
    } else {
        done = false;
        waitq_register(&p->rq, &io->w, cx);
    }
    spin_unlock(&p->lock);
    if (done && io->result > 0)
        waitq_wake_all(&p->wq);
    return done;
}

static enum poll pipe_read_poll(struct future *base, struct cx *cx)
{
    struct file_io *io = (struct file_io *)base;
    ASYNC_BEGIN(io);
    while (!try_read(io, cx))
        SUSPEND(io);            /* a spurious poll tries again */
    waitq_unregister(&io->f->pipe->rq, &io->w);
    ASYNC_END(io);
}

static void pipe_read_cancel(struct future *base)
{
    struct file_io *io = (struct file_io *)base;
    waitq_unregister(&io->f->pipe->rq, &io->w);
}

static const struct future_ops pipe_read_ops = { pipe_read_poll, pipe_read_cancel, "pipe_read" };

/* ---- write -------------------------------------------------------------- */

/* Put in what fits.  true: finished (io->result set); false: wait
 * (io->w registered on p->wq for cx's task). */
static bool try_write(struct file_io *io, struct cx *cx)
{
    struct pipe *p = io->f->pipe;
    bool done = false, wrote = false;
    spin_lock(&p->lock);
    if (p->readers == 0) {
        io->result = io->done ? (long)io->done : -EPIPE;
        done = true;
    } else {
        uint32_t room = PIPE_SIZE - (p->tail - p->head);
        size_t want = io->len - io->done;
        bool atomic = io->len <= PIPE_BUF;      /* then io->done is 0 here */
        if (room && (!atomic || want <= room)) {
            uint32_t n = MIN(want, (size_t)room);
            if (ring_in(p, io->mm, io->ubuf + io->done, n) < 0) {
                io->result = io->done ? (long)io->done : -EFAULT;
                done = true;
            } else {
                p->tail += n;
                io->done += n;
                wrote = true;
                if (io->done == io->len) {
                    io->result = io->done;
                    done = true;
                }
            }
        }
        if (!done && (io->f->flags & O_NONBLOCK)) {
            io->result = io->done ? (long)io->done : -EAGAIN;
            done = true;
        }
        if (!done)
            waitq_register(&p->wq, &io->w, cx);
    }
    spin_unlock(&p->lock);
    if (wrote)
        waitq_wake_all(&p->rq);
    return done;
}

static enum poll pipe_write_poll(struct future *base, struct cx *cx)
{
    struct file_io *io = (struct file_io *)base;
    ASYNC_BEGIN(io);
    while (!try_write(io, cx))
        SUSPEND(io);            /* a spurious poll tries again */
    waitq_unregister(&io->f->pipe->wq, &io->w);
    ASYNC_END(io);
}

static void pipe_write_cancel(struct future *base)
{
    struct file_io *io = (struct file_io *)base;
    waitq_unregister(&io->f->pipe->wq, &io->w);
}

static const struct future_ops pipe_write_ops = {
    pipe_write_poll, pipe_write_cancel, "pipe_write",
};

void pipe_io_init(struct file_io *io)
{
    future_init(&io->base, io->f->type == FT_PIPE_WRITE ? &pipe_write_ops : &pipe_read_ops);
}

/* ---- close, readiness ---------------------------------------------------- */

void pipe_release(struct file *f)
{
    struct pipe *p = f->pipe;
    bool writer = f->type == FT_PIPE_WRITE;
    spin_lock(&p->lock);
    if (writer) {
        if (--p->writers == 0)
            waitq_wake_all(&p->rq);             /* readers see end of file */
    } else {
        if (--p->readers == 0)
            waitq_wake_all(&p->wq);             /* writers see EPIPE */
    }
    bool last = p->readers == 0 && p->writers == 0;
    spin_unlock(&p->lock);
    if (last) {
        kfree(p->buf);
        kfree(p);
    }
}

bool pipe_readable(struct pipe *p)
{
    spin_lock(&p->lock);
    bool r = p->tail != p->head || p->writers == 0;
    spin_unlock(&p->lock);
    return r;
}

bool pipe_writable(struct pipe *p)
{
    spin_lock(&p->lock);
    bool r = p->tail - p->head < PIPE_SIZE || p->readers == 0;
    spin_unlock(&p->lock);
    return r;
}

unsigned pipe_poll_events(struct pipe *p, bool write_end)
{
    spin_lock(&p->lock);
    unsigned m = 0;
    if (write_end) {
        if (p->tail - p->head < PIPE_SIZE)
            m |= POLL_OUT_MASK;
        if (p->readers == 0)
            m |= POLL_ERR;
    } else {
        if (p->tail != p->head)
            m |= POLL_IN_MASK;
        if (p->writers == 0)
            m |= POLL_HUP;
    }
    spin_unlock(&p->lock);
    return m;
}

uint64_t pipe_ino(struct pipe *p) { return p->ino; }

/* The queue a poll for input (out=false) or output waits on. */
struct waitq *pipe_poll_queue(struct pipe *p, bool out)
{
    return out ? &p->wq : &p->rq;
}
