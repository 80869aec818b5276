/*
 * uring.h - asynchronous system calls with the io_uring ABI.
 *
 * A ring is a file (io_uring_setup) whose memory the process maps at the
 * IORING_OFF_* offsets.  Every submission gets a kernel task whose root
 * future is the operation (struct uring_op): for READ and WRITE the same
 * file_io future a blocking read/write awaits.  io_uring_enter polls each
 * once (task_poll_inline) and returns: what completes at once does there,
 * without a trip through a run queue; nothing waits synchronously; a
 * pending op's task is polled again when its waker fires (or by the
 * waiting enter that owns it: struct enter_wait).  Completions are
 * written as operations finish, in any order; one that finds the
 * completion ring full waits on the ring's overflow list (a small record,
 * never lost) and the SQ ring says IORING_SQ_CQ_OVERFLOW.  NOP and
 * MSG_RING, which never wait, complete during io_uring_enter itself
 * (no task) unless they are part of a link chain.
 *
 * Trust: the rings are user-writable.  The kernel keeps its own copies
 * of the SQ head and CQ tail, reads the user's SQ tail and CQ head once
 * per use, bounds every index by the ring mask, and treats a CQ head that
 * makes no sense as "full".  Each SQ array slot and each SQE is read
 * once, into a kernel copy, and only the copy is used from then on.
 *
 * Overflow is bounded: a ring's own completions by back-pressure (-EBUSY
 * while ops in flight plus overflow records reach 4 x cq_entries); the
 * records MSG_RING leaves in a full ring by the target's cq_entries and by
 * the sender's charge (at most its own cq_entries outstanding anywhere).
 * Past either bound the sender's MSG_RING completes with -EOVERFLOW.
 *
 * Ownership: every operation belongs to the process that submitted it;
 * when that process ends or execs (uring_cancel_owner) or the ring's file goes,
 * the operation is cancelled, completes and frees what it holds.
 *
 * Pollux extension (include/uring/uring_abi.h): with IORING_FEAT_POLLUX_PRIO
 * in the features, sq_off.resv1 is the offset of a 32-bit word in the
 * ring memory where the user runtime publishes the highest priority of
 * its ready coroutines (0..7); the kernel reads it as a hint, clamped by
 * the process's ceiling.
 */
#pragma once
#include <stdatomic.h>
#include <stdint.h>
#include <linux/io_uring.h>
#include "uring/uring_abi.h"
#include "core/future.h"
#include "fs/file.h"
#include "core/timer.h"

#define URING_MAX_ENTRIES 4096
#define URING_PRIO_LEVELS 8

struct uring_op;
struct uring_cqe_rec;
struct uring_charge;
struct mm;

/* Who submits (io_uring_enter, under the ring's submit_lock): what the
 * operations take from the submitter. */
struct uring_submitter {
    struct mm *mm;
    struct fdtable *files;
    const char *cwd;            /* relative paths (OPENAT, STATX) */
    const void *owner;          /* its process */
    struct enter_wait *wait;    /* its wait, if it will wait (GETEVENTS) */
};

struct uring {
    _Atomic int refs;           /* the file, mappings, ops in flight */
    struct spinlock lock;       /* CQ tail, overflow list, in-flight list */
    void *mem;                  /* SQ ring + CQ ring + control word */
    unsigned mem_order;
    struct io_uring_sqe *sqes;
    unsigned sqes_order;
    uint32_t sq_entries, cq_entries;
    uint32_t sq_head;           /* kernel's own: next submission to take */
    uint32_t cq_tail;           /* kernel's own: next completion slot */
    struct io_uring_params p;   /* offsets, as given to the user */
    struct waitq cq_wait;       /* io_uring_enter waiting for completions */
    struct uring_cqe_rec *overflow_head, *overflow_tail;   /* CQEs waiting for room */
    uint32_t noverflow;
    uint32_t nmsg;              /* of those, MSG_RING's: at most cq_entries */
    struct uring_charge *charge;/* records this ring's MSG_RINGs hold anywhere */
    struct uring *all_next, *all_prev;  /* every ring (uring_cancel_owner) */
    struct uring_op *inflight;  /* submitted, not yet completed */
    uint32_t ninflight;
    /* Finished ops' blocks (task + op), kept for the next submissions: a
     * lock-free stack anyone pushes on, which the submitter (under
     * submit_lock) empties into its own list `spare`.  Each holds the
     * ring's reference to its task (uring.c: op_block_get). */
    _Atomic(struct uring_op *) done_ops;
    _Atomic uint32_t ndone;
    struct uring_op *spare;
    uint64_t posted;            /* completions ever posted (TIMEOUT counts) */
    bool dead;                  /* the file is closed: post nothing more */
    struct spinlock submit_lock;/* io_uring_enter's submissions, one at a time */
    const struct uring_submitter *sub;  /* while io_uring_enter submits, else NULL */
};

/* One submission, as a task's root future. */
struct pc_fsync;
struct fscall;
struct uring_op_wait;

struct uring_op {
    struct future base;
    struct uring *ring;
    struct io_uring_sqe sqe;            /* copied at submission: stable */
    struct task *task;
    struct mm *mm;                      /* the submitter's: the buffers' address space */
    const void *owner;                  /* the submitter's process (an identity only) */
    /* (op_new sets the fields above and zeroes the rest) */
    struct uring_op *link_next;         /* IOSQE_IO_LINK: starts when this succeeds */
    struct uring_op *inflight_next, *inflight_prev;
    _Atomic bool cancel_req;            /* ASYNC_CANCEL or ring teardown */
    bool started;
    int32_t res;
    struct file *f;
    struct fdtable *files;              /* OPENAT, CLOSE: the submitter's table (a reference) */
    bool has_link_timeout;
    uint64_t lt_user_data;
    uint64_t lt_rel;                    /* its length in ticks: the clock starts with the op */
    uint64_t lt_deadline;
    bool lt_fired;                      /* the LINK_TIMEOUT expired first */
    uint64_t timeout_target;            /* TIMEOUT: completions to wait for */
    int32_t prep_err;                   /* TIMEOUT, OPENAT, STATX: bad argument found at submission */
    uint64_t timeout_rel;               /* TIMEOUT behind a link: ticks from its start */
    struct sleep lt_sleep;              /* LINK_TIMEOUT deadline */
    union {
        struct file_io io;              /* READ, WRITE, READV, WRITEV (one iovec at a time) */
        struct {
            struct waiter w;            /* POLL_ADD (input side), TIMEOUT (with a count) */
            union {
                struct waiter w_out;    /* POLL_ADD: output side */
                struct sleep sleep;     /* TIMEOUT: its deadline, from submission on */
            };
        };
        struct pc_fsync *sync;          /* FSYNC of an ext2 file (kmalloc'd) */
        struct fscall *fsc;             /* OPENAT, STATX: the path walk (sys_fs.c) */
    };
    uint32_t vec_i;                     /* READV/WRITEV progress */
    int64_t vec_total;                  /* READ/WRITE/READV/WRITEV: bytes done so far */
    struct uring_op_wait *wait;         /* a copy's wait for a file page, or the owed
                                         * shootdown before the CQE (uring_ops.c; rare) */
};

/*
 * io_uring_enter's wait for completions (lives in the thread's syscall).
 *
 * It owns up to ENTER_OWNED pipe READs/WRITEs submitted by the same call
 * that had to wait: their tasks stay RUNNING, their wakers are the
 * thread's, and this future polls them when the thread is woken, so such
 * an op costs one waiter registration and its completion is posted from
 * here (no run-queue trip for its task, no second wake for the thread).
 * Whatever is still pending when the wait ends (or is cancelled) is
 * handed to its own task (task_poll_inline re-registers its wakers).
 */
#define ENTER_OWNED 4
struct enter_wait {
    struct future base;
    struct uring *r;
    uint32_t min;
    uint8_t nowned;
    bool fresh;                         /* not polled yet: the owned ops just were */
    struct waiter w;
    struct uring_op *owned[ENTER_OWNED];
};

/* The new ring's fd, or -errno.  *ring (if not NULL and the call succeeds)
 * gets a reference to the ring, taken before the fd exists. */
long uring_setup(uint32_t entries, struct mm *mm, uint64_t uparams, struct fdtable *files,
                 struct uring **ring);
/* owner: the submitting process (an identity for uring_cancel_owner). */
long uring_enter(struct uring *r, struct mm *mm, struct fdtable *files, const char *cwd, const void *owner,
                 uint32_t to_submit, uint32_t min_complete, uint32_t flags, struct enter_wait *e,
                 bool *must_wait);
/* A process is gone: cancel every operation it submitted, in every ring. */
void uring_cancel_owner(const void *owner);
long uring_mmap(struct uring *r, struct mm *mm, uint64_t len, uint64_t off, int prot);
void uring_release(struct uring *r);            /* the file's last reference */
void uring_put(struct uring *r);
/* The priority hint the runtime published, 0..7 (0 when none). */
unsigned uring_prio_hint(struct uring *r);

/* src/uring/uring_ops.c */
extern const struct future_ops uring_op_ops;
/* At submission: what OPENAT, CLOSE and STATX take from the submitter. */
void uring_op_prep(struct uring_op *op);
/* An op that never ran (a broken link): drop what it holds. */
void uring_op_release(struct uring_op *op);
/* MSG_RING from ring `from`: post (off, len) as a completion on the ring
 * file f (or the one at sqe->fd); 0, -EBADF, -EBADFD or -EOVERFLOW. */
int32_t uring_msg_ring(struct uring *from, struct file *f, const struct io_uring_sqe *sqe);
int32_t uring_msg_ring_fd(struct uring *from, struct fdtable *files, const struct io_uring_sqe *sqe);

/* src/uring/uring.c */
void uring_op_complete(struct uring_op *op, int32_t res);
/* Post a completion (held in order if the CQ ring is full); false if it
 * was dropped: ring closed, or no memory for the overflow record. */
bool uring_post(struct uring *r, uint64_t user_data, int32_t res);
/* MSG_RING's post into r, charged to `charge`: 0 or -EOVERFLOW. */
int uring_post_msg(struct uring *r, uint64_t user_data, int32_t res, struct uring_charge *charge);
