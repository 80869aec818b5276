/*
 * uring_ops.c - what each submitted operation does.  An operation is
 * the root future of its own task; READ and WRITE await the very
 * file_io future that read(2) and write(2) await, OPENAT and STATX the
 * path walk of openat(2) and statx(2) (sys_fs.c), copied in and checked
 * at submission (uring_op_prep).
 *
 *   op_poll:  cancel requested? -> cancel the inner future, -ECANCELED
 *             link timeout due? -> the same, and the timeout says -ETIME
 *             otherwise run the opcode (op_run) until it is done
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

/* One iovec of READV/WRITEV: start its file_io, or false when done. */
static bool vec_next(struct uring_op *op)
{
    while (op->vec_i < op->sqe.len) {
        uint64_t iov[2];
        if (copyin(op->mm, iov, op->sqe.addr + 16 * op->vec_i, 16)) {
            op->res = op->vec_total ? op->vec_total : -EFAULT;
            return false;
        }
        op->vec_i++;
        if (iov[1] == 0)
            continue;
        if (op->sqe.opcode == IORING_OP_WRITEV)
            file_write_init(&op->io, op->f, op->mm, iov[0], iov[1]);
        else
            file_read_init(&op->io, op->f, op->mm, iov[0], iov[1]);
        return true;
    }
    op->res = op->vec_total;
    return false;
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
            AWAIT(op, future_poll(&op->io.base, cx));
            op->res = op->io.result;
        }
    } else if (opc == IORING_OP_READV || opc == IORING_OP_WRITEV) {
        if (!op->f) {
            op->res = -EBADF;
        } else if (op->sqe.len > 1024) {
            op->res = -EINVAL;
        } else {
            while (vec_next(op)) {
                AWAIT(op, future_poll(&op->io.base, cx));
                if (op->io.result < 0) {
                    op->res = op->vec_total ? op->vec_total : op->io.result;
                    break;
                }
                op->vec_total += op->io.result;
                if ((size_t)op->io.result < op->io.len) {
                    op->res = op->vec_total;
                    break;
                }
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
            AWAIT(op, fs_uring_poll(op->fsc, cx, &op->vec_total));
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

static enum poll op_poll(struct future *base, struct cx *cx)
{
    struct uring_op *op = (struct uring_op *)base;
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
    op_finish(op, op->res);
    return READY;
}

const struct future_ops uring_op_ops = { op_poll, NULL, "uring_op" };
