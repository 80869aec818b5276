/*
 * uring.c - io_uring rings: setup, mapping, submission and completion.
 * The operations themselves are in uring_ops.c.
 *
 * Ring memory (one block of pages, IORING_FEAT_SINGLE_MMAP):
 *
 *     0     SQ: head tail mask entries flags dropped     (u32 each)
 *     24    ctl: the Pollux control word (priority hint, sq_off.resv1,
 *           announced by IORING_FEAT_POLLUX_PRIO: uring/uring_abi.h)
 *     64    SQ array: sq_entries u32 indexes into the SQE array
 *     cq    CQ: head tail mask entries overflow flags     (u32 each)
 *     cq+64 CQEs: cq_entries x 16 bytes
 *
 * Every word lies inside the length the Linux-defined fields imply (the
 * end of the CQEs), so a program that sizes its mapping as it would on
 * Linux sees the control word too.
 *
 * The SQE array is a second block (IORING_OFF_SQES).
 *
 * Lifetime: refs counts the file, each mapping of the ring memory and
 * each operation in flight; the memory is freed at zero.  Closing the
 * file cancels every operation in flight, and so does the end of the
 * process that submitted it (uring_cancel_owner): an operation may hold
 * the ring's own file (a linked op naming the ring's fd, or a ring's fd
 * in another ring's op), so waiting for the file alone could wait for
 * ever.  Each operation in flight holds the submitter's address space
 * (the mappings hold the ring: a ring holding the address space for good
 * would be a cycle).
 *
 * Completions that find the CQ ring full wait, in order, as small
 * records on the overflow list; while the list and the operations in
 * flight reach 4 x cq_entries, io_uring_enter submits nothing (-EBUSY).
 * MSG_RING's records are bounded apart (uring_post_msg).
 *
 * Shared memory: every value the kernel takes from the rings (SQ tail,
 * an SQ array slot, an SQE, the CQ head) is read once per use into a
 * kernel copy, then checked and used from the copy only (sqe_take).
 */
#include "arch.h"
#include "lib/errno.h"
#include "core/executor.h"
#include "lib/klib.h"
#include "mem/kmalloc.h"
#include "layout.h"
#include "mem/mm.h"
#include "mem/page_alloc.h"
#include "lib/printk.h"
#include "instruments/trace.h"
#include "uring/uring.h"

#define SQ_CTL_OFF 24
#define SQ_ARRAY_OFF 64
#define RING_U32(r, off) ((_Atomic uint32_t *)((char *)(r)->mem + (off)))
#define MAX_INFLIGHT(r) (4 * (r)->cq_entries)

/* A completion that found the CQ ring full, or others waiting before it:
 * kept, in order, until the user makes room (IORING_FEAT_NODROP). */
struct uring_cqe_rec {
    struct uring_cqe_rec *next;
    uint64_t user_data;
    int32_t res;
    struct uring_charge *charge;        /* MSG_RING's: the sender's, else NULL */
};

/*
 * What one ring's MSG_RINGs hold in full rings (its own included): at
 * most `limit` records (its cq_entries), so a sender can keep no more
 * undelivered messages than it could itself hold completions.  The ring
 * holds a reference and so does each record, which may outlive the
 * sender.
 */
struct uring_charge {
    _Atomic int refs;
    _Atomic uint32_t used;
    uint32_t limit;
};

static void charge_put(struct uring_charge *c)
{
    if (atomic_fetch_sub(&c->refs, 1) == 1)
        kfree(c);
}

/* Take one record's worth of c: false past its limit. */
static bool charge_take(struct uring_charge *c)
{
    uint32_t u = atomic_load(&c->used);
    do {
        if (u >= c->limit)
            return false;
    } while (!atomic_compare_exchange_weak(&c->used, &u, u + 1));
    atomic_fetch_add(&c->refs, 1);
    return true;
}

static void charge_give_back(struct uring_charge *c)
{
    atomic_fetch_sub(&c->used, 1);
    charge_put(c);
}

/* A record off every list: free it and give its charge back. */
static void rec_free(struct uring_cqe_rec *rec)
{
    if (rec->charge)
        charge_give_back(rec->charge);
    kfree(rec);
}

/* Every ring, so that a process's end finds its operations wherever they
 * are.  Lock order: all_rings_lock, then a ring's lock. */
static struct spinlock all_rings_lock = SPINLOCK_INIT("uring.all");
static struct uring *all_rings;

static unsigned order_for(size_t bytes)
{
    unsigned o = 0;
    while ((PAGE_SIZE << o) < bytes)
        o++;
    return o;
}

static uint32_t round_pow2(uint32_t n)
{
    uint32_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

long uring_setup(uint32_t entries, struct mm *mm, uint64_t uparams, struct fdtable *files,
                 struct uring **ring)
{
    struct io_uring_params p;
    if (copyin(mm, &p, uparams, sizeof p))
        return -EFAULT;
    for (unsigned i = 0; i < 3; i++)
        if (p.resv[i])
            return -EINVAL;
    if (p.flags & ~(uint32_t)(IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP))
        return -EINVAL;         /* SQPOLL, IOPOLL, ... not offered */
    if (entries == 0)
        return -EINVAL;
    if (entries > URING_MAX_ENTRIES) {
        if (!(p.flags & IORING_SETUP_CLAMP))
            return -EINVAL;
        entries = URING_MAX_ENTRIES;
    }
    uint32_t sq = round_pow2(entries), cq = 2 * sq;
    if (p.flags & IORING_SETUP_CQSIZE) {
        if (p.cq_entries == 0 || (p.cq_entries > 2 * URING_MAX_ENTRIES && !(p.flags & IORING_SETUP_CLAMP)))
            return -EINVAL;
        cq = round_pow2(MIN(p.cq_entries, 2 * URING_MAX_ENTRIES));
        if (cq < sq)
            return -EINVAL;
    }

    struct uring *r = kzalloc(sizeof *r);
    if (!r)
        return -ENOMEM;
    uint32_t cq_off = ALIGN_UP(SQ_ARRAY_OFF + 4 * sq, 64);
    r->mem_order = order_for(cq_off + 64 + 16 * cq);
    r->sqes_order = order_for(sq * sizeof(struct io_uring_sqe));
    r->mem = page_alloc_order(r->mem_order);
    r->sqes = page_alloc_order(r->sqes_order);
    r->charge = kzalloc(sizeof *r->charge);
    if (!r->mem || !r->sqes || !r->charge) {
        if (r->mem) page_free_order(r->mem, r->mem_order);
        if (r->sqes) page_free_order(r->sqes, r->sqes_order);
        kfree(r->charge);
        kfree(r);
        return -ENOMEM;
    }
    atomic_store(&r->charge->refs, 1);
    r->charge->limit = cq;
    atomic_store(&r->refs, 1);
    spin_init(&r->lock, "uring");
    spin_init(&r->submit_lock, "uring.submit");
    waitq_init(&r->cq_wait, "uring.cq");
    r->sq_entries = sq;
    r->cq_entries = cq;
    r->sub = NULL;              /* the submitter's, during io_uring_enter only */

    memset(&p, 0, sizeof p - 0);
    p.sq_entries = sq;
    p.cq_entries = cq;
    p.features = IORING_FEAT_SINGLE_MMAP | IORING_FEAT_NODROP | IORING_FEAT_SUBMIT_STABLE |
                 IORING_FEAT_POLLUX_PRIO;
    p.sq_off = (struct io_sqring_offsets){ .head = 0, .tail = 4, .ring_mask = 8, .ring_entries = 12,
                                           .flags = 16, .dropped = 20, .array = SQ_ARRAY_OFF,
                                           .resv1 = SQ_CTL_OFF };
    p.cq_off = (struct io_cqring_offsets){ .head = cq_off, .tail = cq_off + 4, .ring_mask = cq_off + 8,
                                           .ring_entries = cq_off + 12, .overflow = cq_off + 16,
                                           .flags = cq_off + 20, .cqes = cq_off + 64 };
    r->p = p;
    *RING_U32(r, p.sq_off.ring_mask) = sq - 1;
    *RING_U32(r, p.sq_off.ring_entries) = sq;
    *RING_U32(r, p.cq_off.ring_mask) = cq - 1;
    *RING_U32(r, p.cq_off.ring_entries) = cq;
    /* The priority hint starts at the default: a program that never
     * writes it (any Linux program, liburing's) keeps its thread at the
     * level of every other thread instead of the lowest, where a busy
     * sibling on its hart would starve it for ever. */
    *RING_U32(r, p.sq_off.resv1) = PRIO_DEFAULT;
    spin_lock(&all_rings_lock);
    r->all_next = all_rings;
    if (all_rings)
        all_rings->all_prev = r;
    all_rings = r;
    spin_unlock(&all_rings_lock);

    struct file *f = file_alloc(FT_URING, 2 /* O_RDWR */);
    if (!f) {
        uring_put(r);
        return -ENOMEM;
    }
    f->uring = r;
    /* Tell the user first, then install, as Linux does: once the fd is in
     * the table another thread may close it and reuse its number, so it
     * is never taken back by number. */
    if (copyout(mm, uparams, &p, sizeof p)) {
        file_put(f);
        return -EFAULT;
    }
    if (ring)
        atomic_fetch_add(&r->refs, 1);
    int fd = fd_install(files, f, 0, false);
    if (fd < 0) {
        if (ring)
            uring_put(r);
        file_put(f);
        return fd;
    }
    if (ring)
        *ring = r;
    return fd;
}

/* ---- operation blocks ---------------------------------------------------- */

/*
 * An op's block is its task (task + struct uring_op, one allocation).
 * Each op holds two references to its task: the run's (dropped by the
 * executor's task_finish, by task_poll_inline when it completes inline,
 * or by task_cancel for a link never started) and the ring's, which
 * op_block_retire keeps on done_ops for the next submission, so that a
 * steady stream of operations allocates nothing (and does not make the
 * allocator give a slab page back and zero a new one each time).  A block
 * is reused only once the run's reference is gone (task_renew).
 */
#define OP_CACHE 16

static void op_block_retire(struct uring *r, struct uring_op *op)
{
    if (atomic_load_explicit(&r->ndone, memory_order_relaxed) >= OP_CACHE) {
        task_put(op->task);
        return;
    }
    atomic_fetch_add_explicit(&r->ndone, 1, memory_order_relaxed);
    struct uring_op *head = atomic_load_explicit(&r->done_ops, memory_order_relaxed);
    do {
        op->inflight_next = head;
    } while (!atomic_compare_exchange_weak_explicit(&r->done_ops, &head, op, memory_order_release,
                                                    memory_order_relaxed));
}

/* A block for a new op (under submit_lock), holding both references. */
static struct uring_op *op_block_get(struct uring *r, struct task **t)
{
    struct uring_op *op = r->spare;
    if (!op && atomic_load_explicit(&r->done_ops, memory_order_relaxed)) {
        /* take the whole stack: only this side pops, so no ABA */
        op = atomic_exchange_explicit(&r->done_ops, NULL, memory_order_acquire);
        r->spare = op;
    }
    if (op && task_renew(op->task, "uring_op")) {
        r->spare = op->inflight_next;
        atomic_fetch_sub_explicit(&r->ndone, 1, memory_order_relaxed);
        *t = op->task;
    } else {
        /* none, or the newest is still being finished elsewhere */
        op = task_alloc(sizeof *op, "uring_op", t);
        if (!op)
            return NULL;
    }
    task_get(*t);
    return op;
}

static void op_blocks_free(struct uring *r)
{
    struct uring_op *lists[2] = { r->spare, atomic_exchange(&r->done_ops, NULL) };
    for (int i = 0; i < 2; i++)
        for (struct uring_op *op = lists[i], *next; op; op = next) {
            next = op->inflight_next;
            task_put(op->task);
        }
    r->spare = NULL;
}

void uring_put(struct uring *r)
{
    if (atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    op_blocks_free(r);
    spin_lock(&all_rings_lock);
    if (r->all_prev)
        r->all_prev->all_next = r->all_next;
    else
        all_rings = r->all_next;
    if (r->all_next)
        r->all_next->all_prev = r->all_prev;
    spin_unlock(&all_rings_lock);
    page_free_order(r->mem, r->mem_order);
    page_free_order(r->sqes, r->sqes_order);
    charge_put(r->charge);
    kfree(r);
}

/* An operation in flight holds the ring and the address space whose
 * buffers it uses; its block goes back to the ring first. */
static void op_ref_put(struct uring_op *op)
{
    struct uring *r = op->ring;
    mm_put(op->mm);
    op_block_retire(r, op);
    uring_put(r);
}

/* The file's last reference: cancel everything in flight. */
void uring_release(struct uring *r)
{
    spin_lock(&r->lock);
    r->dead = true;
    struct uring_cqe_rec *ov = r->overflow_head;
    r->overflow_head = r->overflow_tail = NULL;
    r->noverflow = r->nmsg = 0;
    for (struct uring_op *op = r->inflight; op; op = op->inflight_next) {
        atomic_store(&op->cancel_req, true);
        /* a link not started yet is cancelled by its predecessor's
         * completion; waking it here would complete it twice */
        if (op->started)
            task_wake(op->task);
    }
    spin_unlock(&r->lock);
    while (ov) {                /* completions nobody will read */
        struct uring_cqe_rec *next = ov->next;
        rec_free(ov);
        ov = next;
    }
    waitq_wake_all(&r->cq_wait);
    /*
     * The mappings of the ring hold the ring, and the ring held the
     * address space: a cycle a process exiting without munmap would leak.
     * From here only the operations still in flight need the address
     * space, and each holds its own reference (op_new).
     */
    uring_put(r);
}

unsigned uring_prio_hint(struct uring *r)
{
    uint32_t v = atomic_load_explicit(RING_U32(r, r->p.sq_off.resv1), memory_order_relaxed);
    return v < URING_PRIO_LEVELS ? v : URING_PRIO_LEVELS - 1;
}

/* ---- mapping -------------------------------------------------------------- */

static void map_get(void *obj) { atomic_fetch_add(&((struct uring *)obj)->refs, 1); }
static void map_put(void *obj) { uring_put(obj); }
static const struct vma_shared_ops ring_mapping = { map_get, map_put };

long uring_mmap(struct uring *r, struct mm *mm, uint64_t len, uint64_t off, int prot)
{
    void *base;
    unsigned order;
    if (off == IORING_OFF_SQ_RING || off == IORING_OFF_CQ_RING) {
        base = r->mem;
        order = r->mem_order;
    } else if (off == IORING_OFF_SQES) {
        base = r->sqes;
        order = r->sqes_order;
    } else {
        return -EINVAL;
    }
    if (len == 0 || len > (PAGE_SIZE << order))
        return -EINVAL;
    return mm_map_shared(mm, va_to_pa(base), ALIGN_UP(len, PAGE_SIZE), prot, &ring_mapping, r);
}

/* ---- completions ---------------------------------------------------------- */

/* Room in the CQ ring, reading the user's head once; nonsense means full. */
static uint32_t cq_room_locked(struct uring *r)
{
    uint32_t head = atomic_load_explicit(RING_U32(r, r->p.cq_off.head), memory_order_acquire);
    uint32_t used = r->cq_tail - head;
    return used > r->cq_entries ? 0 : r->cq_entries - used;
}

/* Fill the next CQE; the user sees it at the next cq_publish_locked(). */
static inline void cq_put_locked(struct uring *r, uint64_t user_data, int32_t res)
{
    struct io_uring_cqe *cqes = (void *)((char *)r->mem + r->p.cq_off.cqes);
    struct io_uring_cqe *c = &cqes[r->cq_tail & (r->cq_entries - 1)];
    c->user_data = user_data;
    c->res = res;
    c->flags = 0;
    r->cq_tail++;
    r->posted++;
}

static inline void cq_publish_locked(struct uring *r)
{
    atomic_store_explicit(RING_U32(r, r->p.cq_off.tail), r->cq_tail, memory_order_release);
}

static void cq_write_locked(struct uring *r, uint64_t user_data, int32_t res)
{
    cq_put_locked(r, user_data, res);
    cq_publish_locked(r);
}

static void set_overflow_flag_locked(struct uring *r, bool on)
{
    _Atomic uint32_t *flags = RING_U32(r, r->p.sq_off.flags);
    if (on)
        atomic_fetch_or(flags, IORING_SQ_CQ_OVERFLOW);
    else
        atomic_fetch_and(flags, ~IORING_SQ_CQ_OVERFLOW);
}

/* Move overflowed completions into the CQ ring while there is room; the
 * records used are chained on *done for the caller to free (unlocked). */
static void flush_overflow_locked(struct uring *r, struct uring_cqe_rec **done)
{
    while (r->overflow_head && cq_room_locked(r)) {
        struct uring_cqe_rec *rec = r->overflow_head;
        r->overflow_head = rec->next;
        if (!r->overflow_head)
            r->overflow_tail = NULL;
        r->noverflow--;
        if (rec->charge)
            r->nmsg--;
        cq_write_locked(r, rec->user_data, rec->res);
        rec->next = *done;
        *done = rec;
    }
    set_overflow_flag_locked(r, r->overflow_head != NULL);
}

static __attribute__((noinline)) void flush_overflow(struct uring *r)
{
    struct uring_cqe_rec *done = NULL;
    spin_lock(&r->lock);
    if (r->overflow_head)
        flush_overflow_locked(r, &done);
    spin_unlock(&r->lock);
    while (done) {
        struct uring_cqe_rec *next = done->next;
        rec_free(done);
        done = next;
    }
}

/*
 * Write a completion, or queue it behind the ones already waiting.  No
 * wake-up: the caller wakes cq_wait.  With charge NULL (the ring's own
 * completions, bounded by back-pressure) only a closed ring or no memory
 * for a record drops it (then counted in the CQ ring's overflow field):
 * false.  With a charge (MSG_RING) a record is queued only while the ring
 * holds fewer than cq_entries of them and the charge allows one more;
 * else nothing is queued and the sender hears -EOVERFLOW: false.
 */
static void inflight_del_locked(struct uring *r, struct uring_op *op);

/* retire: an op whose completion this is, taken off the in-flight list
 * under the same lock (or NULL). */
static bool post_retire_nowake(struct uring *r, uint64_t user_data, int32_t res, struct uring_charge *charge,
                               struct uring_op *retire)
{
    struct uring_cqe_rec *rec = NULL;
    bool ok = false;
    spin_lock(&r->lock);
    while (!r->dead) {
        if (!r->overflow_head && cq_room_locked(r)) {
            cq_write_locked(r, user_data, res);
            ok = true;
            break;
        }
        if (charge && r->nmsg >= r->cq_entries)
            break;                      /* the target holds enough messages */
        if (rec) {
            rec->next = NULL;
            rec->user_data = user_data;
            rec->res = res;
            if (r->overflow_tail)
                r->overflow_tail->next = rec;
            else
                r->overflow_head = rec;
            r->overflow_tail = rec;
            r->noverflow++;
            if (rec->charge)
                r->nmsg++;
            set_overflow_flag_locked(r, true);
            rec = NULL;
            ok = true;
            break;
        }
        spin_unlock(&r->lock);          /* full: allocate a record, look again */
        if (charge && !charge_take(charge)) {
            spin_lock(&r->lock);
            break;                      /* the sender holds enough */
        }
        rec = kmalloc(sizeof *rec);
        if (rec)
            rec->charge = charge;
        else if (charge)
            charge_give_back(charge);
        spin_lock(&r->lock);
        if (!rec) {
            if (!r->dead && !charge)
                atomic_fetch_add(RING_U32(r, r->p.cq_off.overflow), 1);
            break;
        }
    }
    if (retire)
        inflight_del_locked(r, retire);
    spin_unlock(&r->lock);
    if (rec)                            /* not needed after all */
        rec_free(rec);
    trace_event(TR_URING_COMPLETE, (uint32_t)user_data, res);
    return ok;
}

static bool post_nowake(struct uring *r, uint64_t user_data, int32_t res, struct uring_charge *charge)
{
    return post_retire_nowake(r, user_data, res, charge, NULL);
}

bool uring_post(struct uring *r, uint64_t user_data, int32_t res)
{
    bool ok = post_nowake(r, user_data, res, NULL);
    waitq_wake_all(&r->cq_wait);
    return ok;
}

int uring_post_msg(struct uring *r, uint64_t user_data, int32_t res, struct uring_charge *charge)
{
    if (!post_nowake(r, user_data, res, charge))
        return -EOVERFLOW;
    waitq_wake_all(&r->cq_wait);
    return 0;
}

static void inflight_del_locked(struct uring *r, struct uring_op *op)
{
    if (op->inflight_prev)
        op->inflight_prev->inflight_next = op->inflight_next;
    else if (r->inflight == op)
        r->inflight = op->inflight_next;
    if (op->inflight_next)
        op->inflight_next->inflight_prev = op->inflight_prev;
    op->inflight_next = op->inflight_prev = NULL;
    r->ninflight--;
}

/*
 * Start an op.  `now` (at submission): poll it here, inside
 * io_uring_enter, so one that can complete at once does (its CQE is
 * there when the call returns) and never reaches a run queue; one that
 * must wait has registered its task's waker where it waits, and its task
 * is polled again only when woken.  Otherwise (a link started by its
 * predecessor's completion, which may itself run inline: no recursion
 * down a chain) its task is queued.
 *
 * `started` says whether its task may be woken (ASYNC_CANCEL, ring
 * teardown): set under the lock once the task is RUNNING (inline) or
 * queued, so no waker can slip in between and queue it twice.  A linked
 * timeout's clock starts here, when the op it guards starts (Linux arms
 * it when the request is issued), not when it was submitted.
 */
static void start_op(struct uring *r, struct uring_op *op, bool now)
{
    if (op->has_link_timeout)
        op->lt_deadline = deadline_after(op->lt_rel);
    struct task *t = op->task;
    if (now)
        task_inline_begin(t);
    spin_lock(&r->lock);
    op->started = true;
    if (!now)
        task_start(t, TASK_NO_HART, false);
    spin_unlock(&r->lock);
    if (now)
        task_poll_inline(t);    /* op may be gone after this */
}

/* Called by the op's future when it is done: CQE, then the link chain. */
void uring_op_complete(struct uring_op *op, int32_t res)
{
    struct uring *r = op->ring;
    op->res = res;
    if (op->has_link_timeout)
        uring_post(r, op->lt_user_data, op->lt_fired ? -ETIME : -ECANCELED);
    /* its CQE and its leaving the in-flight list: one critical section */
    post_retire_nowake(r, op->sqe.user_data, res, NULL, op);
    waitq_wake_all(&r->cq_wait);
    /* the chain: the next link runs only if this one fully succeeded
     * (a short read or write breaks it, as on Linux) */
    bool rw = op->sqe.opcode == IORING_OP_READ || op->sqe.opcode == IORING_OP_WRITE;
    bool ok = res >= 0 && !(rw && (uint64_t)res < op->sqe.len);
    struct uring_op *next = op->link_next;
    op->link_next = NULL;
    while (next) {
        if (ok && !r->dead) {
            start_op(r, next, false);
            break;
        }
        struct uring_op *after = next->link_next;
        next->link_next = NULL;
        /* every SQE gets its completion: the op's, and its LINK_TIMEOUT's */
        uring_post(r, next->sqe.user_data, -ECANCELED);
        if (next->has_link_timeout)
            uring_post(r, next->lt_user_data, -ECANCELED);
        spin_lock(&r->lock);
        inflight_del_locked(r, next);
        spin_unlock(&r->lock);
        uring_op_release(next);
        struct uring_op *dead = next;
        next = after;
        struct task *t = dead->task;
        task_get(t);            /* task_cancel drops the run's reference ... */
        task_cancel(t);
        op_ref_put(dead);       /* ... and this may give the block to the ring */
        task_put(t);
    }
    op_ref_put(op);             /* the op's references */
}

/* ---- submission ----------------------------------------------------------- */

static uint32_t cq_ready(struct uring *r)
{
    uint32_t head = atomic_load_explicit(RING_U32(r, r->p.cq_off.head), memory_order_acquire);
    uint32_t n = r->cq_tail - head;
    return n > r->cq_entries ? 0 : n;
}

/*
 * Reading the shared SQ ring.  The user may change any of it at any time,
 * so each SQ array slot and each SQE word is loaded exactly once (an
 * atomic or volatile load: the compiler may not load it again instead of
 * keeping the value), and everything after works on that copy.
 */
_Static_assert(offsetof(struct io_uring_sqe, opcode) == 0 && offsetof(struct io_uring_sqe, flags) == 1 &&
               offsetof(struct io_uring_sqe, user_data) == 32 && sizeof(struct io_uring_sqe) == 64,
               "SQE layout: 8 words, opcode and flags in word 0, user_data word 4");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "opcode is the low byte of word 0");

static inline uint32_t sq_slot(struct uring *r, uint32_t head)
{
    return atomic_load_explicit(&RING_U32(r, SQ_ARRAY_OFF)[head & (r->sq_entries - 1)], memory_order_relaxed);
}

#define LINKED (IOSQE_IO_LINK | IOSQE_IO_HARDLINK)

/* Word 0 holds opcode, flags, ioprio, fd: is it an unlinked NOP? */
static inline bool word0_is_lone_nop(uint64_t w0)
{
    return (uint8_t)w0 == IORING_OP_NOP && !((uint8_t)(w0 >> 8) & LINKED);
}

/* Take the next SQE into *out (the kernel's copy); false when the user's
 * tail says there is none.  A bad index is dropped and counted, as Linux
 * does. */
static bool sqe_take(struct uring *r, uint32_t tail, struct io_uring_sqe *out)
{
    while (r->sq_head != tail) {
        uint32_t idx = sq_slot(r, r->sq_head);
        r->sq_head++;
        if (idx < r->sq_entries) {
            /* volatile, word by word: a plain struct copy lets the compiler
             * load a field from the ring again instead of from the copy */
            const volatile uint64_t *in = (const volatile uint64_t *)&r->sqes[idx];
            uint64_t *o = (uint64_t *)out;  /* (built with -fno-strict-aliasing) */
#pragma GCC unroll 8
            for (unsigned i = 0; i < 8; i++)
                o[i] = in[i];
            return true;
        }
        atomic_fetch_add(RING_U32(r, r->p.sq_off.dropped), 1);
    }
    return false;
}

/* now: the op starts at once (submit polls it inline right after): it is
 * RUNNING and `started` from the moment it is in flight (see start_op). */
static struct uring_op *op_new(struct uring *r, const struct io_uring_sqe *sqe, bool now)
{
    struct task *t;
    struct uring_op *op = op_block_get(r, &t);
    if (!op)
        return NULL;
    /* from link_next to the end (through the op's bytes, not the member:
     * a pointer to the member would make the compiler object) */
    memset((char *)op + offsetof(struct uring_op, link_next), 0,
           sizeof *op - offsetof(struct uring_op, link_next));
    future_init(&op->base, &uring_op_ops);
    op->ring = r;
    op->task = t;
    op->sqe = *sqe;                     /* (already the kernel's copy) */
    atomic_fetch_add(&r->refs, 1);
    /* The op keeps the submitter's address space (its buffers) and the
     * files its fds name, resolved now as Linux does; it holds no file
     * table.  It belongs to the submitting process, whose end cancels it
     * (uring_cancel_owner), as does the ring's. */
    op->mm = r->sub->mm;
    op->owner = r->sub->owner;
    mm_get(op->mm);
    uint8_t opc = op->sqe.opcode;
    if (opc == IORING_OP_READ || opc == IORING_OP_WRITE || opc == IORING_OP_READV ||
        opc == IORING_OP_WRITEV || opc == IORING_OP_POLL_ADD || opc == IORING_OP_MSG_RING ||
        opc == IORING_OP_FSYNC)
        op->f = fd_get(r->sub->files, op->sqe.fd);   /* NULL: the op says -EBADF */
    uring_op_prep(op);
    if (now)
        task_inline_begin(t);
    spin_lock(&r->lock);
    op->started = now;
    op->inflight_next = r->inflight;
    if (r->inflight)
        r->inflight->inflight_prev = op;
    r->inflight = op;
    r->ninflight++;
    spin_unlock(&r->lock);
    return op;
}

/*
 * The fast path for NOPs: a run of unlinked NOP SQEs completes here under
 * one lock, each CQE written as any other and the CQ tail published once.
 * Of each entry it reads the SQ slot, word 0 (opcode, flags) and
 * user_data, each once.  It stops, consuming nothing more, at anything
 * else (the general path then takes that entry afresh, whole), at a full
 * CQ ring (the general path queues overflow records) and when tracing
 * (the general path traces).  Returns how many SQEs it took.
 */
static uint32_t nop_run(struct uring *r, uint32_t tail, uint32_t max)
{
    /* Locals, not r's fields (the CQE stores could alias *r), and 64-bit
     * index arithmetic (no zero-extensions): this loop is the NOP figure. */
    const volatile uint64_t *words = (const volatile uint64_t *)r->sqes;     /* 8 per SQE */
    const _Atomic uint32_t *array = RING_U32(r, SQ_ARRAY_OFF);
    struct io_uring_cqe *cqes = (void *)((char *)r->mem + r->p.cq_off.cqes);
    uint64_t smask = r->sq_entries - 1, cmask = r->cq_entries - 1;
    uint64_t head = r->sq_head, avail = MIN(tail - r->sq_head, max);
    if (!avail)
        return 0;
    uint64_t idx = atomic_load_explicit(&array[head & smask], memory_order_relaxed);
    if (idx > smask || !word0_is_lone_nop(words[8 * idx]))
        return 0;               /* a bad index (sqe_take drops and counts it) or not a NOP */
    spin_lock(&r->lock);
    uint64_t room = !r->dead && !r->overflow_head ? cq_room_locked(r) : 0;
    uint64_t ctail = r->cq_tail, n = 0;
    room = MIN(room, avail);
    while (n < room) {
        struct io_uring_cqe *c = &cqes[(ctail + n) & cmask];
        c->user_data = words[8 * idx + 4];
        c->res = 0;
        c->flags = 0;
        if (++n == room)
            break;
        idx = atomic_load_explicit(&array[(head + n) & smask], memory_order_relaxed);
        if (idx > smask || !word0_is_lone_nop(words[8 * idx]))
            break;
    }
    r->sq_head = (uint32_t)(head + n);
    r->cq_tail = (uint32_t)(ctail + n);
    r->posted += n;
    cq_publish_locked(r);
    spin_unlock(&r->lock);
    return (uint32_t)n;
}

/*
 * TIMEOUT reads its timespec at submission and, unless it waits behind a
 * link, starts its clock and its count there, as Linux does: not at the
 * op's first poll, which may come a time slice later (and NOPs of the
 * same batch complete before it).  Behind a link, a relative timeout
 * starts when the op does (op_run).
 */
static void timeout_prep(struct uring *r, struct uring_op *op, bool behind_link)
{
    int64_t ts[2];
    uint64_t ticks;
    if (op->sqe.len != 1) {
        op->prep_err = -EINVAL;
    } else if (copyin(r->sub->mm, ts, op->sqe.addr, sizeof ts)) {
        op->prep_err = -EFAULT;
    } else if (ticks_of_timespec(ts, &ticks) < 0) {
        op->prep_err = -EINVAL;
    } else {
        if (op->sqe.timeout_flags & IORING_TIMEOUT_ABS)
            sleep_until_init(&op->sleep, ticks);
        else if (!behind_link)
            sleep_until_init(&op->sleep, deadline_after(ticks));
        else
            op->timeout_rel = ticks;    /* the sleep is set up when it starts */
        if (op->sqe.off)
            op->timeout_target = r->posted + op->sqe.off;
    }
}

static bool busy(struct uring *r)
{
    return r->ninflight + r->noverflow >= MAX_INFLIGHT(r);
}


/*
 * An op the submitting io_uring_enter may keep (struct enter_wait): a
 * READ or WRITE of a pipe, whose only wait is a wait-queue registration
 * (re-targeted at every poll).  Polled with the thread's waker; if it
 * must wait it stays with the enter's wait (true), else it is done.
 */
static bool own_pending(struct uring *r, struct uring_op *op)
{
    struct enter_wait *e = r->sub->wait;
    uint8_t opc = op->sqe.opcode;
    if (!e || e->nowned == ENTER_OWNED || !task_current() || !op->f ||
        (op->f->type != FT_PIPE_READ && op->f->type != FT_PIPE_WRITE) ||
        (opc != IORING_OP_READ && opc != IORING_OP_WRITE))
        return false;
    struct task *t = op->task;
    struct cx cx = { .task = task_current() };      /* the thread's, which will wait */
    if (task_poll_for(t, &cx) == PENDING)
        e->owned[e->nowned++] = op;     /* (t stays RUNNING: op stays valid) */
    return true;
}

/*
 * Submit up to n SQEs; returns how many were consumed, or -errno if none.
 *
 * NOP and MSG_RING never wait, so outside a link chain they complete
 * right here, without a task (their CQE is written exactly as any other;
 * runs of NOPs in nop_run).  Every other operation gets a task (a block
 * reused from finished ops) and is polled here once (start_op): what can
 * complete at once does, and only what must wait is left to its task.
 */
static long submit(struct uring *r, uint32_t n)
{
    uint32_t tail = atomic_load_explicit(RING_U32(r, r->p.sq_off.tail), memory_order_acquire);
    /* a corrupt tail can claim at most one ring's worth */
    if (tail - r->sq_head > r->sq_entries)
        tail = r->sq_head + r->sq_entries;
    if (r->overflow_head)
        flush_overflow(r);      /* the user may have made room */
    long done = 0;
    bool posted = false;
    struct uring_op *chain_head = NULL, *chain_tail = NULL;
    struct io_uring_sqe sqe;            /* the kernel's copy of the entry at hand */
    while ((uint32_t)done < n) {
        if (!chain_tail && !trace_on) {
            uint32_t k = nop_run(r, tail, n - (uint32_t)done);
            if (k) {
                done += k;
                posted = true;
                continue;
            }
        }
        if (busy(r))
            break;              /* back-pressure: the user must reap first */
        if (!sqe_take(r, tail, &sqe))
            break;
        done++;
        uint8_t opc = sqe.opcode;
        trace_event(TR_URING_SUBMIT, (uint32_t)sqe.user_data, opc);
        bool alone = !chain_tail && !(sqe.flags & LINKED);
        if ((opc == IORING_OP_NOP || opc == IORING_OP_MSG_RING) && alone) {
            /* never waits: completes here (a NOP gets here when the CQ
             * ring is full, or when tracing) */
            post_nowake(r, sqe.user_data,
                        opc == IORING_OP_NOP ? 0 : uring_msg_ring_fd(r, r->sub->files, &sqe), NULL);
            posted = true;
            continue;
        }
        if (opc == IORING_OP_LINK_TIMEOUT) {
            /* attaches to the previous linked op; its clock starts when
             * that op starts (start_op) */
            struct uring_op *prev = chain_tail;
            int64_t ts[2];
            uint64_t ticks;
            if (!prev || prev->has_link_timeout || copyin(r->sub->mm, ts, sqe.addr, sizeof ts) ||
                ticks_of_timespec(ts, &ticks) < 0) {
                post_nowake(r, sqe.user_data, -EINVAL, NULL);
                posted = true;
                continue;
            }
            prev->has_link_timeout = true;
            prev->lt_user_data = sqe.user_data;
            prev->lt_rel = ticks;
            if (!(sqe.flags & IOSQE_IO_LINK)) {
                start_op(r, chain_head, true);
                chain_head = chain_tail = NULL;
            }
            continue;
        }
        struct uring_op *op = op_new(r, &sqe, alone);
        if (!op) {
            post_nowake(r, sqe.user_data, -ENOMEM, NULL);
            posted = true;
            continue;
        }
        if (opc == IORING_OP_TIMEOUT)
            timeout_prep(r, op, chain_tail != NULL);
        if (alone) {
            /* start_op(r, op, true), its lock done by op_new */
            if (!own_pending(r, op))
                task_poll_inline(op->task);
            continue;
        }
        if (chain_tail)
            chain_tail->link_next = op;
        else
            chain_head = op;
        chain_tail = op;
        if (!(sqe.flags & LINKED)) {
            start_op(r, chain_head, true);
            chain_head = chain_tail = NULL;
        }
    }
    if (chain_head)             /* a link left open at the end of the batch */
        start_op(r, chain_head, true);
    atomic_store_explicit(RING_U32(r, r->p.sq_off.head), r->sq_head, memory_order_release);
    if (posted)                 /* TIMEOUTs counting completions, other waiters */
        waitq_wake_all(&r->cq_wait);
    if (done == 0 && busy(r))
        return -EBUSY;
    return done;
}

/* ---- io_uring_enter's wait: a future on the ring's CQ queue ---------------- */


static inline __attribute__((always_inline)) bool enough(struct enter_wait *e)
{
    struct uring *r = e->r;
    if (r->overflow_head)
        flush_overflow(r);
    return r->dead || cq_ready(r) >= e->min;
}

/* Poll the ops this wait owns; those done (their CQEs posted) leave. */
static void owned_poll(struct enter_wait *e, struct cx *cx)
{
    unsigned k = 0;
    for (unsigned i = 0; i < e->nowned; i++) {
        struct uring_op *op = e->owned[i];
        if (task_poll_for(op->task, cx) == PENDING)
            e->owned[k++] = op;
    }
    e->nowned = (uint8_t)k;
}

/* The wait is over: each op still pending goes to its own task. */
static void owned_release(struct enter_wait *e)
{
    uint8_t n = e->nowned;
    e->nowned = 0;
    for (unsigned i = 0; i < n; i++)
        task_poll_inline(e->owned[i]->task);
}

static enum poll enter_wait_poll(struct future *base, struct cx *cx)
{
    struct enter_wait *e = (struct enter_wait *)base;
    struct uring *r = e->r;
    if (base->resume == RESUME_DONE)
        return READY;
    if (e->fresh) {
        e->fresh = false;       /* the owned ops were polled at submission; a
                                 * wake since then is remembered: we run again */
    } else if (e->nowned) {
        /* (off the CQ queue first: their CQEs need not wake us, we run) */
        waitq_unregister(&r->cq_wait, &e->w);
        owned_poll(e, cx);
    }
    if (!enough(e)) {
        waitq_register(&r->cq_wait, &e->w, cx);
        if (!enough(e))
            return PENDING;
    }
    waitq_unregister(&r->cq_wait, &e->w);
    owned_release(e);
    base->resume = RESUME_DONE;
    return READY;
}

static void enter_wait_cancel(struct future *base)
{
    struct enter_wait *e = (struct enter_wait *)base;
    waitq_unregister(&e->r->cq_wait, &e->w);
    owned_release(e);
}

static const struct future_ops enter_wait_ops = { enter_wait_poll, enter_wait_cancel, "uring_wait" };


/*
 * io_uring_enter: submit, then (GETEVENTS) set up e, a future that
 * completes when min_complete completions are there; *must_wait says
 * whether the caller has to await it.
 */
long uring_enter(struct uring *r, struct mm *mm, struct fdtable *files, const char *cwd, const void *owner,
                 uint32_t to_submit, uint32_t min_complete, uint32_t flags, struct enter_wait *e,
                 bool *must_wait)
{
    *must_wait = false;
    long submitted = 0;
    if (flags & ~(uint32_t)(IORING_ENTER_GETEVENTS | IORING_ENTER_SQ_WAKEUP))
        return -EINVAL;
    bool waits = (flags & IORING_ENTER_GETEVENTS) && min_complete;
    if (waits) {
        future_init(&e->base, &enter_wait_ops);
        e->r = r;
        e->min = MIN(min_complete, r->cq_entries);
        e->w.linked = false;
        e->nowned = 0;
        e->fresh = true;
    }
    if (to_submit) {
        /* one submitter at a time: the SQ head is the kernel's alone */
        spin_lock(&r->submit_lock);
        struct uring_submitter sub = { mm, files, cwd, owner, waits ? e : NULL };
        r->sub = &sub;
        submitted = submit(r, MIN(to_submit, r->sq_entries));
        r->sub = NULL;
        spin_unlock(&r->submit_lock);
        if (submitted < 0)
            return submitted;   /* (nothing submitted: nothing owned) */
    }
    if (!waits)
        return submitted;
    *must_wait = !enough(e);    /* then the caller awaits e */
    if (!*must_wait && e->nowned)
        owned_release(e);
    return submitted;
}

/* ---- the end of a process ------------------------------------------------------ */

/*
 * Cancel every operation `owner` submitted, in every ring: the process is
 * gone, and its operations may hold the very files (rings) whose release
 * would otherwise cancel them.  A started op is woken to see cancel_req;
 * one not started yet (behind a link) is cancelled by its predecessor,
 * which is the owner's too.  Each then completes and frees what it holds.
 */
void uring_cancel_owner(const void *owner)
{
    spin_lock(&all_rings_lock);
    for (struct uring *r = all_rings; r; r = r->all_next) {
        spin_lock(&r->lock);
        for (struct uring_op *op = r->inflight; op; op = op->inflight_next) {
            if (op->owner != owner || atomic_load(&op->cancel_req))
                continue;
            atomic_store(&op->cancel_req, true);
            if (op->started)
                task_wake(op->task);
        }
        spin_unlock(&r->lock);
    }
    spin_unlock(&all_rings_lock);
}
