/*
 * enter_user.c - the future that enters user mode, and what a user trap
 * means.
 *
 * enter_user's poll loads the thread's address space, FP state and time
 * slice, and calls user_switch (trapvec.S), which saves the executor's
 * callee-saved registers on the hart stack and srets.  The next trap
 * from that thread returns *from user_switch*: the poll completes, READY,
 * with the trap cause in th->cause.  Switching processes is therefore
 * nothing but the executor polling another thread's task.
 *
 * Floating point: a thread starts with sstatus.FS = Off.  Its first FP
 * instruction traps as illegal; we give it an FP save area and retry.
 * From then on its FP registers are saved at a trap only if it dirtied
 * them, and restored only if this hart's FP registers hold someone else's
 * - at entry while it used FP lately (fp_eager: it dirtied them within
 * its last FP_EAGER traps), else lazily: it enters with FS = Off, and
 * its next FP instruction traps and brings them back (a thread that did
 * FP once, e.g. in glibc's start-up, does not pay ~35 instructions at
 * every switch for it).  th->fp holds its FP state whenever it is in the
 * kernel.
 */
#include "arch.h"
#include "csr.h"
#include "lib/errno.h"
#include "core/chaos.h"
#include "core/hart.h"
#include "mem/kmalloc.h"
#include "core/task.h"
#include "lib/klib.h"
#include "proc/proc.h"
#include "mem/shootdown.h"
#include "core/timer.h"
#include "instruments/trace.h"
#include "trap.h"
#include "user_trap.h"

#define SLICE_MS 10
#define FP_EAGER 16     /* traps after its last FP write that a thread gets its FP state at entry */

void fp_save(uint64_t *area);       /* fp.S */
void fp_restore(const uint64_t *area);

/* Per hart: which address space satp holds, at which generation. */
static struct { struct mm *mm; uint64_t gen; struct thread *slice_owner; } loaded[MAX_HARTS];

enum poll enter_user(struct thread *th, struct cx *cx)
{
    (void)cx;
    struct hart *h = this_hart();
    struct mm *mm = th->proc->mm;
    __typeof__(loaded[0]) *ld = &loaded[h->index];     /* once: fences below reload h->index */
    /* Interrupts stay masked from here to sret: an IPI (a shootdown's)
     * or the slice timer arriving once user_mm says "running mm" must
     * stay pending and trap us out of user mode, not be taken and
     * consumed in kernel mode on the way in. */
    arch_irq_disable();
    /* say which mm runs here before looking at its generation: a
     * shootdown either sees us here or we see its new generation */
    atomic_store(&h->user_mm, mm);
    atomic_thread_fence(memory_order_seq_cst);
    uint64_t gen = atomic_load(&mm->gen);
    if (ld->mm != mm || ld->gen != gen) {
        mm_activate(mm);
        ld->mm = mm;
        ld->gen = gen;
    }

    uint64_t fs = SSTATUS_FS_OFF;      /* (a lazy entry: FP traps, see the top) */
    if (th->fp) {
        if (h->fp_owner == th && th->fp_hart == h->index) {
            fs = SSTATUS_FS_CLEAN;
        } else if (th->fp_eager) {
            csr_set(sstatus, SSTATUS_FS_INITIAL);
            fp_restore(th->fp);
            h->fp_owner = th;
            th->fp_hart = h->index;
            fs = SSTATUS_FS_CLEAN;
        }
    }

    uint64_t now = arch_time();
    if (ld->slice_owner != th || now >= h->slice_end) {
        ld->slice_owner = th;
        static uint64_t slice_ticks;    /* time_ms(SLICE_MS), once: it divides */
        if (!slice_ticks)
            slice_ticks = time_ms(SLICE_MS);
        h->slice_end = now + (__builtin_expect(chaos_on, 0) ? chaos_slice(h) : slice_ticks);
        /* A timer armed for no later than the new slice's end re-arms for
         * it when it fires (timer_rearm looks at slice_end); so a switch
         * between threads, which starts a later slice, costs no re-arm.
         * (timer_armed is this hart's, and interrupts are masked.) */
        if (h->slice_end < h->timer_armed)
            timer_rearm();
    }
    th->entered = now;

    th->tf.sstatus = (csr_read(sstatus) & ~(SSTATUS_SPP | SSTATUS_SIE | SSTATUS_FS | SSTATUS_SUM))
                     | SSTATUS_SPIE | fs;
    trace_event(TR_TRAP_EXIT, th->tid, th->tf.sepc);
    th->cause = user_switch(&th->tf);
    trace_event(TR_TRAP_ENTER, th->tid, th->cause);
    /* back from user mode, interrupts masked */
    atomic_store(&h->user_mm, NULL);
    atomic_fetch_add(&h->user_traps, 1);
    shootdown_ack();
    if ((th->tf.sstatus & SSTATUS_FS) == SSTATUS_FS_DIRTY) {
        fp_save(th->fp);
        h->fp_owner = th;
        th->fp_hart = h->index;
        th->fp_eager = FP_EAGER;
    } else if (th->fp_eager) {
        th->fp_eager--;
    }
    csr_clear(sstatus, SSTATUS_FS);
    th->proc->utime += arch_time() - th->entered;
    return READY;
}

void user_trap_decode(struct thread *th, struct user_trap *t)
{
    uint64_t c = th->cause;
    t->addr = th->tf.stval;
    t->pc = th->tf.sepc;
    t->access = 0;
    if (c == EXC_ECALL_U) {     /* the common case first */
        t->kind = UT_SYSCALL;
        return;
    }
    if (c & SCAUSE_INTR) {
        t->kind = UT_INTERRUPT;
        return;
    }
    switch (c) {
    case EXC_ECALL_U:
        t->kind = UT_SYSCALL;
        return;
    case EXC_INST_PAGE:
        t->kind = UT_PAGE_FAULT; t->access = PROT_EXEC; return;
    case EXC_LOAD_PAGE:
        t->kind = UT_PAGE_FAULT; t->access = PROT_READ; return;
    case EXC_STORE_PAGE:
        t->kind = UT_PAGE_FAULT; t->access = PROT_WRITE; return;
    case EXC_ILLEGAL:
        /* no FP state yet, or a lazy entry (FS Off): maybe an FP
         * instruction; if it traps again with FS on, it is illegal */
        if (!th->fp || (th->tf.sstatus & SSTATUS_FS) == SSTATUS_FS_OFF) {
            t->kind = UT_FP_FIRST_USE;
            return;
        }
        t->kind = UT_FATAL; t->signal = 4; return;      /* SIGILL */
    case EXC_BREAKPOINT:
        t->kind = UT_FATAL; t->signal = 5; return;      /* SIGTRAP */
    case EXC_INST_MISALIGNED: case EXC_LOAD_MISALIGNED: case EXC_STORE_MISALIGNED:
        t->kind = UT_FATAL; t->signal = 7; return;      /* SIGBUS */
    default:
        t->kind = UT_FATAL; t->signal = 11; return;     /* SIGSEGV */
    }
}

const char *user_trap_name(struct thread *th)
{
    return trap_cause_name(th->cause);
}

void user_trap_irq(struct thread *th)
{
    irq_dispatch(th->cause);
}

bool user_slice_expired(void)
{
    return arch_time() >= this_hart()->slice_end;
}

/* FP use with FS Off: give the thread its save area (zeroed registers)
 * the first time; either way it enters with its FP state loaded next. */
int user_fp_enable(struct thread *th)
{
    if (!th->fp) {
        th->fp = kzalloc(33 * sizeof(uint64_t));
        if (!th->fp)
            return -ENOMEM;
        th->fp_hart = TASK_NO_HART;
    }
    th->fp_eager = FP_EAGER;
    return 0;
}

void user_fp_reload(struct thread *th)
{
    th->fp_hart = TASK_NO_HART;
}

void user_fp_release(struct thread *th)
{
    for (unsigned i = 0; i < nharts; i++)
        if (harts[i].fp_owner == th)
            harts[i].fp_owner = NULL;
    kfree(th->fp);
    th->fp = NULL;
}

/* Syscall ABI: number in a7, arguments a0..a5, result in a0.  a0..a5
 * are x10..x15, next to each other in the trapframe: the arguments are
 * read where the trap saved them, not copied (12 instructions a call). */
uint64_t *user_syscall_args(struct thread *th, long *nr)
{
    *nr = th->tf.x[REG_A7];
    return &th->tf.x[REG_A0];
}

void user_syscall_return(struct thread *th, long result)
{
    th->tf.x[REG_A0] = result;
}

void user_skip_ecall(struct thread *th) { th->tf.sepc += 4; }

void user_set_entry(struct thread *th, uint64_t pc, uint64_t sp)
{
    memset(&th->tf, 0, sizeof th->tf);
    th->tf.sepc = pc;
    th->tf.x[REG_SP] = sp;
}

void user_set_tls(struct thread *th, uint64_t tls) { th->tf.x[REG_TP] = tls; }
void user_set_sp(struct thread *th, uint64_t sp) { th->tf.x[REG_SP] = sp; }

/* A process's mm is going away: no hart may keep it loaded. */
void user_mm_forget(struct mm *mm)
{
    for (unsigned i = 0; i < MAX_HARTS; i++)
        if (loaded[i].mm == mm)
            loaded[i].mm = NULL;
}

void user_thread_forget(struct thread *th)
{
    for (unsigned i = 0; i < MAX_HARTS; i++)
        if (loaded[i].slice_owner == th)
            loaded[i].slice_owner = NULL;
}
