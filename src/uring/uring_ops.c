/*
 * uring_ops.c - what each submitted operation does.  An operation is
 * the root future of its own task; READ and WRITE await the very
 * file_io future that read(2) and write(2) await, OPENAT and STATX the
 * path walk of openat(2) and statx(2) (sys_fs.c), copied in and checked
 * at submission (uring_op_prep).
 *
 *   op_poll:  cancel requested? -> cancel the inner future, -ECANCELED
 *             link timeout due? -> the same, and the timeout says -ETIME
 *             otherwise run the opcode (op_run) until it is done;
 *             then, if the address space owes a shootdown, await it
 *             before the completion is posted (op_flush)
 *
 * A copy into or out of user memory (a READ's buffer, a WRITE's source,
 * an iovec array, STATX's result) can meet a page of a file mapping that
 * is not in the page cache yet.  copyin/copyout cannot wait (they hold
 * the mm's spinlock): they fail with -EFAULT and leave the page in this
 * hart's copy_needs, as for a system call (thread.c).  The op then awaits
 * that page's one fill - the pc_wait the fault path awaits - with no lock
 * held, and copies again from where it stopped (copy_miss_*).
 */
#include "fs/pagecache.h"
#include "arch.h"
#include "lib/errno.h"
#include "core/executor.h"
#include "lib/klib.h"
#include "mem/mm.h"
#include "uring/uring.h"
#include "fs/bcache.h"
#include "fs/ext2.h"
#include "mem/kmalloc.h"
#include "proc/syscall.h"
#include "fs/pipe.h"          /* O_CLOEXEC */
#include "core/hart.h"
#include "mem/shootdown.h"

/*
 * What an op may await besides its opcode's own future, kmalloc'd when
 * needed (rarely: the common op pays one pointer):
 *   page: the fill of a file page a copy met (op_run; cancellable)
 *   sd:   the shootdown owed before the CQE (op_poll, after op_run)
 */
struct uring_op_wait {
    bool flush;                         /* sd, else page */
    union {
        struct pc_wait page;            /* holds a reference on page.pg */
        struct shootdown sd;
    };
};

static void wait_free(struct uring_op *op)
{
    struct uring_op_wait *w = op->wait;
    op->wait = NULL;
    if (!w->flush)
        pc_put(w->page.pg);
    kfree(w);
}

/* Cancel whatever op->wait is waiting for and free it. */
static void wait_release(struct uring_op *op)
{
    if (!op->wait)
        return;
    future_cancel(op->wait->flush ? &op->wait->sd.base : &op->wait->page.base);
    wait_free(op);
}

/* ---- copies that meet a file page not cached yet ------------------------------ */

/* Before a copying future starts: forget a page another copy on this hart
 * left (so that one seen afterwards is, almost always, ours; a stale one
 * costs only a harmless retry). */
static inline void copy_miss_clear(void)
{
    struct hart *h = this_hart();
    if (__builtin_expect(h->copy_needs != NULL, 0)) {
        pc_put(h->copy_needs);
        h->copy_needs = NULL;
    }
}

/* After a copy failed: did it meet a file page not cached?  Then start
 * that page's fill and set up op->wait for it: true. */
static bool copy_miss_take(struct uring_op *op)
{
    struct hart *h = this_hart();
    struct pc_page *pg = h->copy_needs;
    if (__builtin_expect(pg == NULL, 1))
        return false;
    h->copy_needs = NULL;
    struct uring_op_wait *w = kmalloc(sizeof *w);
    if (!w) {
        pc_put(pg);             /* the copy's -EFAULT stands */
        return false;
    }
    w->flush = false;
    pc_fill_start(pg);
    pc_wait_init(&w->page, pg);
    op->wait = w;
    return true;
}

/* Await the page copy_miss_take found.  READY with op->res 0 (copy
 * again; -EAGAIN: truncated meanwhile, and the copy's fault decides) or
 * -EFAULT (the page cannot be read). */
static enum poll copy_miss_wait(struct uring_op *op, struct cx *cx)
{
    if (future_poll(&op->wait->page.base, cx) == PENDING)
        return PENDING;
    int r = op->wait->page.result;
    wait_free(op);
    op->res = r < 0 && r != -EAGAIN ? -EFAULT : 0;
    return READY;
}

/* A file_io ended early (-EFAULT, or short) at a file page not cached:
 * count what it did and set up the wait.  true: await it, then redo the
 * rest (io_rest).  A short count is taken for a miss only from an ext2
 * file, where redoing the rest costs nothing if the count was short for
 * another reason (the end of the file); a pipe's short read must stay
 * short, and a page left by another task's copy must not turn it into a
 * wait for more bytes. */
static inline __attribute__((always_inline)) bool io_missed(struct uring_op *op)
{
    if (__builtin_expect(this_hart()->copy_needs == NULL, 1))
        return false;           /* the common case: no copy missed */
    long r = op->io.result;
    if (r != -EFAULT && (r < 0 || (size_t)r >= op->io.len || op->f->type != FT_EXT2))
        return false;
    if (!copy_miss_take(op))
        return false;
    if (r > 0)
        op->vec_total += r;
    return true;
}

/* Restart op->io for what it left undone (after io_missed and the wait). */
static void io_rest(struct uring_op *op, bool write)
{
    size_t did = op->io.result > 0 ? (size_t)op->io.result : 0;
    uint64_t ubuf = op->io.ubuf + did;
    size_t len = op->io.len - did;
    int64_t pos = op->io.pos;
    if (write)
        file_write_init(&op->io, op->f, op->mm, ubuf, len);
    else
        file_read_init(&op->io, op->f, op->mm, ubuf, len);
    if (pos >= 0)
        op->io.pos = pos + (int64_t)did;        /* -1: the file position moved itself */
}

/* The result of a READ/WRITE(V) whose last file_io gave op->io.result. */
static int32_t io_total(struct uring_op *op)
{
    long r = op->io.result;
    if (r < 0)
        return op->vec_total ? (int32_t)op->vec_total : (int32_t)r;
    return (int32_t)(op->vec_total + r);
}

#define POLLIN 0x1
#define POLLOUT 0x4

/*
 * POLL_ADD waits on the queue of each side it asks about: input readiness
 * is announced on one queue, output readiness on another (a pipe's
 * readers and writers), so POLLIN|POLLOUT needs both.  Asking for
 * neither waits on the input side (only a cancel ends it, as on Linux).
 */
static struct waitq *poll_in_q(struct uring_op *op)
{
    bool in = op->sqe.poll32_events & POLLIN, out = op->sqe.poll32_events & POLLOUT;
    return in || !out ? file_poll_queue(op->f, false) : NULL;
}

static struct waitq *poll_out_q(struct uring_op *op)
{
    return op->sqe.poll32_events & POLLOUT ? file_poll_queue(op->f, true) : NULL;
}

static void poll_unregister(struct uring_op *op)
{
    if (!op->f)
        return;
    struct waitq *qi = poll_in_q(op), *qo = poll_out_q(op);
    if (qi)
        waitq_unregister(qi, &op->w);
    if (qo)
        waitq_unregister(qo, &op->w_out);
}

/* Release whatever the opcode's inner future holds. */
static void op_cancel_inner(struct uring_op *op)
{
    wait_release(op);           /* a copy's wait for a page (op_run's) */
    if (op->base.resume == 0 || op->base.resume == RESUME_DONE)
        return;
    switch (op->sqe.opcode) {
    case IORING_OP_READ: case IORING_OP_WRITE: case IORING_OP_READV: case IORING_OP_WRITEV:
        future_cancel(&op->io.base);
        break;
    case IORING_OP_POLL_ADD:
        poll_unregister(op);
        break;
    case IORING_OP_FSYNC:
        if (op->sync) {
            future_cancel(&op->sync->base);
            kfree(op->sync);
            op->sync = NULL;
        }
        break;
    case IORING_OP_TIMEOUT:
        if (op->sleep.base.ops)
            future_cancel(&op->sleep.base);
        waitq_unregister(&op->ring->cq_wait, &op->w);
        break;
    }
}

/* ---- OPENAT, CLOSE, STATX ------------------------------------------------------ */

/*
 * At submission (the submitter's mm, file table and cwd are the ring's
 * for the length of io_uring_enter): check the SQE as Linux 6.1's prep
 * does, copy the path in once and make it absolute.  What goes wrong
 * here is the op's result (prep_err) when it runs.  OPENAT and CLOSE keep
 * a reference to the file table they change.
 */
void uring_op_prep(struct uring_op *op)
{
    struct uring *r = op->ring;
    const struct io_uring_sqe *s = &op->sqe;
    long err = 0;
    if (s->opcode == IORING_OP_OPENAT) {
        if (s->buf_index)
            err = -EINVAL;
        else if (s->file_index)         /* a fixed-file slot: none registered */
            err = (s->open_flags & O_CLOEXEC) ? -EINVAL : -ENXIO;
        else
            op->fsc = fs_uring_openat(r->sub->mm, r->sub->files, r->sub->cwd, s->fd, s->addr,
                                      (int)s->open_flags, s->len, &err);
    } else if (s->opcode == IORING_OP_STATX) {
        if (s->buf_index || s->splice_fd_in)
            err = -EINVAL;
        else
            op->fsc = fs_uring_statx(r->sub->mm, r->sub->files, r->sub->cwd, s->fd, s->addr,
                                     (int)s->statx_flags, s->addr2, &err);
    } else if (s->opcode == IORING_OP_CLOSE) {
        if (s->off || s->addr || s->len || s->rw_flags || s->buf_index)
            err = -EINVAL;
        else if (s->file_index)
            err = s->fd ? -EINVAL : -ENXIO;
    } else {
        return;
    }
    op->prep_err = (int32_t)err;
    if (!err && s->opcode != IORING_OP_STATX) {
        op->files = r->sub->files;
        atomic_fetch_add(&op->files->refs, 1);
    }
}

/* CLOSE: as close(2), but a ring cannot be closed through a ring (Linux). */
static int32_t close_fd(struct uring_op *op)
{
    struct file *f = fd_get(op->files, op->sqe.fd);
    if (!f)
        return -EBADF;
    bool ring = f->type == FT_URING;
    file_put(f);
    return ring ? -EBADF : fd_close(op->files, op->sqe.fd);
}

/* What an op holds besides its ring and address space: its file, the
 * file table, a path walk not run to its end. */
void uring_op_release(struct uring_op *op)
{
    if (op->f) {
        file_put(op->f);
        op->f = NULL;
    }
    if (op->files) {
        fdtable_put(op->files);
        op->files = NULL;
    }
    uint8_t opc = op->sqe.opcode;
    if ((opc == IORING_OP_OPENAT || opc == IORING_OP_STATX) && op->fsc) {
        fs_uring_cancel(op->fsc);
        op->fsc = NULL;
    }
}

static uint32_t poll_events(struct uring_op *op)
{
    uint32_t want = op->sqe.poll32_events, got = 0;
    if ((want & POLLIN) && file_readable(op->f))
        got |= POLLIN;
    if ((want & POLLOUT) && file_writable(op->f))
        got |= POLLOUT;
    op->res = got;
    return got;
}

static bool timeout_done(struct uring_op *op, struct cx *cx)
{
    if (op->timeout_target && op->ring->posted >= op->timeout_target) {
        future_cancel(&op->sleep.base);
        op->res = 0;
        return true;
    }
    if (future_poll(&op->sleep.base, cx) == READY) {
        op->res = -ETIME;
        return true;
    }
    return false;
}

static int32_t async_cancel(struct uring_op *op)
{
    struct uring *r = op->ring;
    int32_t res = -ENOENT;
    spin_lock(&r->lock);
    for (struct uring_op *o = r->inflight; o; o = o->inflight_next) {
        if (o == op || o->sqe.user_data != op->sqe.addr)
            continue;
        atomic_store(&o->cancel_req, true);
        if (o->started)
            task_wake(o->task);
        res = 0;
        break;
    }
    spin_unlock(&r->lock);
    return res;
}

/* MSG_RING: post (off, len) as (user_data, res) in the ring file f,
 * charged to the sending ring (see uring_post_msg for the bounds). */
int32_t uring_msg_ring(struct uring *from, struct file *f, const struct io_uring_sqe *sqe)
{
    if (!f)
        return -EBADF;
    if (f->type != FT_URING)
        return -EBADFD;
    return uring_post_msg(f->uring, sqe->off, (int32_t)sqe->len, from->charge);
}

int32_t uring_msg_ring_fd(struct uring *from, struct fdtable *files, const struct io_uring_sqe *sqe)
{
    struct file *f = fd_get(files, sqe->fd);
    int32_t res = uring_msg_ring(from, f, sqe);
    if (f)
        file_put(f);
    return res;
}

/* One iovec of READV/WRITEV: start its file_io. */
enum vec_step { VEC_IO, VEC_END, VEC_FAULT, VEC_MISS };
static enum vec_step vec_next(struct uring_op *op)
{
    while (op->vec_i < op->sqe.len) {
        uint64_t iov[2];
        if (copyin(op->mm, iov, op->sqe.addr + 16 * op->vec_i, 16))
            return copy_miss_take(op) ? VEC_MISS : VEC_FAULT;
        op->vec_i++;
        if (iov[1] == 0)
            continue;
        if (op->sqe.opcode == IORING_OP_WRITEV)
            file_write_init(&op->io, op->f, op->mm, iov[0], iov[1]);
        else
            file_read_init(&op->io, op->f, op->mm, iov[0], iov[1]);
        return VEC_IO;
    }
    return VEC_END;
}

static enum poll op_run(struct uring_op *op, struct cx *cx)
{
    uint8_t opc = op->sqe.opcode;
    ASYNC_BEGIN(op);
    op->res = 0;
    if (opc == IORING_OP_NOP) {
        op->res = 0;
    } else if (opc == IORING_OP_READ || opc == IORING_OP_WRITE) {
        if (!op->f) {
            op->res = -EBADF;
        } else {
            if (opc == IORING_OP_WRITE)
                file_write_init(&op->io, op->f, op->mm, op->sqe.addr, op->sqe.len);
            else
                file_read_init(&op->io, op->f, op->mm, op->sqe.addr, op->sqe.len);
            if ((int64_t)op->sqe.off >= 0)
                op->io.pos = (int64_t)op->sqe.off;     /* -1: the file position */
            copy_miss_clear();
            for (;;) {
                AWAIT(op, future_poll(&op->io.base, cx));
                if (!io_missed(op))
                    break;
                AWAIT(op, copy_miss_wait(op, cx));
                if (op->res < 0) {
                    op->io.result = -EFAULT;
                    break;
                }
                io_rest(op, opc == IORING_OP_WRITE);
            }
            op->res = io_total(op);
        }
    } else if (opc == IORING_OP_READV || opc == IORING_OP_WRITEV) {
        if (!op->f) {
            op->res = -EBADF;
        } else if (op->sqe.len > 1024) {
            op->res = -EINVAL;
        } else {
            copy_miss_clear();
            for (;;) {
                op->res = vec_next(op);         /* (op->res: scratch until the end) */
                if (op->res == VEC_MISS) {
                    AWAIT(op, copy_miss_wait(op, cx));
                    if (op->res == 0)
                        continue;               /* read the iovec again */
                    op->res = VEC_FAULT;
                }
                if (op->res == VEC_END) {
                    op->res = (int32_t)op->vec_total;
                    break;
                }
                if (op->res == VEC_FAULT) {
                    op->res = op->vec_total ? (int32_t)op->vec_total : -EFAULT;
                    break;
                }
                for (;;) {                      /* one iovec */
                    AWAIT(op, future_poll(&op->io.base, cx));
                    if (!io_missed(op))
                        break;
                    AWAIT(op, copy_miss_wait(op, cx));
                    if (op->res < 0) {
                        op->io.result = -EFAULT;
                        break;
                    }
                    io_rest(op, opc == IORING_OP_WRITEV);
                }
                if (op->io.result < 0 || (size_t)op->io.result < op->io.len) {
                    op->res = io_total(op);     /* an error or a short count ends it */
                    break;
                }
                op->vec_total += op->io.result;
            }
        }
    } else if (opc == IORING_OP_TIMEOUT) {
        /* the deadline and the count were taken at submission (uring.c) */
        if (!op->prep_err && !op->sleep.base.ops)   /* behind a link: from now */
            sleep_until_init(&op->sleep, deadline_after(op->timeout_rel));
        if (op->prep_err) {
            op->res = op->prep_err;
        } else if (op->timeout_target) {
            AWAIT_COND(op, cx, &op->ring->cq_wait, &op->w, timeout_done(op, cx));
        } else {
            /* only the clock ends it: not woken by every completion */
            AWAIT(op, future_poll(&op->sleep.base, cx));
            op->res = -ETIME;
        }
    } else if (opc == IORING_OP_ASYNC_CANCEL) {
        op->res = async_cancel(op);
    } else if (opc == IORING_OP_POLL_ADD) {
        if (!op->f) {
            op->res = -EBADF;
        } else if (!poll_in_q(op) && !poll_out_q(op)) {
            poll_events(op);    /* never waits: report what it is now */
        } else {
            /* AWAIT_COND on up to two queues: register on both before
             * the last check */
            while (!poll_events(op)) {
                if (poll_in_q(op))
                    waitq_register(poll_in_q(op), &op->w, cx);
                if (poll_out_q(op))
                    waitq_register(poll_out_q(op), &op->w_out, cx);
                if (poll_events(op))
                    break;
                SUSPEND(op);
            }
            poll_unregister(op);
        }
    } else if (opc == IORING_OP_FSYNC) {
        /* an ext2 file: its dirty mapped pages, then its disk's dirty
         * blocks, and flush; the
         * initrd and /proc: nothing to write; a console, pipe, ring: EINVAL
         * as on Linux */
        op->sync = NULL;
        if (!op->f) {
            op->res = -EBADF;
        } else if (op->f->type != FT_EXT2) {
            op->res = op->f->type == FT_INITRD || op->f->type == FT_DIR || op->f->type == FT_PROC
                          ? 0 : -EINVAL;
        } else {
            op->sync = kmalloc(sizeof *op->sync);
            if (!op->sync) {
                op->res = -ENOMEM;
            } else {
                pc_fsync_init(op->sync, op->f->x2.fs, op->f->x2.ino);
                AWAIT(op, future_poll(&op->sync->base, cx));
                op->res = op->sync->result;
                kfree(op->sync);
                op->sync = NULL;
            }
        }
    } else if (opc == IORING_OP_MSG_RING) {
        op->res = uring_msg_ring(op->ring, op->f, &op->sqe);
    } else if (opc == IORING_OP_OPENAT || opc == IORING_OP_STATX) {
        if (op->prep_err) {
            op->res = op->prep_err;
        } else {
            /* the walk of openat(2)/statx(2): waits for the disk as a
             * future; fs_uring_poll frees it when READY */
            copy_miss_clear();
            AWAIT(op, fs_uring_poll(op->fsc, cx, &op->vec_total));
            /* STATX's copy-out met a file page not cached: read it, copy again */
            while (opc == IORING_OP_STATX && op->vec_total == -EFAULT && copy_miss_take(op)) {
                AWAIT(op, copy_miss_wait(op, cx));
                if (op->res < 0)
                    break;
                op->vec_total = fs_uring_finish_again(op->fsc);
            }
            fs_uring_cancel(op->fsc);   /* done: frees it */
            op->fsc = NULL;
            op->res = (int32_t)op->vec_total;
        }
    } else if (opc == IORING_OP_CLOSE) {
        op->res = op->prep_err ? op->prep_err : close_fd(op);
    } else {
        op->res = -EINVAL;      /* an opcode we do not offer */
    }
    ASYNC_END(op);
}

static void op_finish(struct uring_op *op, int32_t res)
{
    /* the link timeout's sleep exists only once the op has been polled
     * (a cancelled op may never have been) */
    if (op->has_link_timeout && op->lt_sleep.base.ops)
        future_cancel(&op->lt_sleep.base);
    uring_op_release(op);
    op->base.resume = RESUME_DONE;
    uring_op_complete(op, res);
}

/*
 * Before the CQE: the shootdown the address space owes (mm_flush_owed).
 * The op's copyout may have broken copy-on-write (or copied a private
 * file page) while other harts ran the process: the old frame is retired
 * but a thread there may still read it through a stale TLB entry.  A
 * system call does not return to user mode before that shootdown
 * (thread.c); the CQE is the op's return to user mode - a thread that
 * reads it may at once read the buffer - so it waits the same way.  The
 * wait is short and bounded (every hart concerned has been sent an IPI
 * and acknowledges by trapping), and the op has done its work, so a
 * cancel (ASYNC_CANCEL, teardown, the owner's exit) arriving meanwhile
 * does not end it: the op posts its real result after the shootdown.
 * Out of memory for the wait, the completion goes without it (as before).
 */
#define RESUME_FLUSHING (RESUME_DONE - 1)      /* no line number of op_run */
static enum poll op_flush(struct uring_op *op, struct cx *cx)
{
    if (!op->wait) {
        struct shootdown sd;
        if (!shootdown_start(&sd, op->mm))
            return READY;       /* nobody else can hold the old frame */
        struct uring_op_wait *w = kmalloc(sizeof *w);
        if (!w) {
            future_cancel(&sd.base);
            return READY;
        }
        w->flush = true;
        w->sd = sd;             /* not registered anywhere yet: movable */
        op->wait = w;
    }
    if (future_poll(&op->wait->sd.base, cx) == PENDING) {
        /* op_run is done (RESUME_DONE), but the op is not: future_poll
         * must call op_poll again */
        op->base.resume = RESUME_FLUSHING;
        return PENDING;
    }
    wait_free(op);
    return READY;
}

static enum poll op_poll(struct future *base, struct cx *cx)
{
    struct uring_op *op = (struct uring_op *)base;
    if (__builtin_expect(op->wait != NULL, 0) && op->wait->flush)
        goto flush;
    if (atomic_load(&op->cancel_req)) {
        op_cancel_inner(op);
        op_finish(op, -ECANCELED);
        return READY;
    }
    if (op->has_link_timeout) {
        if (op->lt_sleep.base.ops == NULL)
            sleep_until_init(&op->lt_sleep, op->lt_deadline);
        if (future_poll(&op->lt_sleep.base, cx) == READY) {
            op->lt_fired = true;
            op_cancel_inner(op);
            op_finish(op, -ECANCELED);
            return READY;
        }
    }
    if (op_run(op, cx) == PENDING)
        return PENDING;
    if (__builtin_expect(mm_flush_owed(op->mm), 0)) {
flush:
        if (op_flush(op, cx) == PENDING)
            return PENDING;
    }
    op_finish(op, op->res);
    return READY;
}

const struct future_ops uring_op_ops = { op_poll, NULL, "uring_op" };
