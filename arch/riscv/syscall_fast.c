/*
 * syscall_fast.c - system calls served from the trap itself.
 *
 * A call that only reads the calling thread's own state (getpid, gettid,
 * getuid...) never waits, so trapvec.S offers it here first, on the hart
 * stack below user_switch's frame, with interrupts masked, before the trap
 * returns to the thread's enter_user future.  If we answer, trapvec.S
 * restores the user registers and srets: the thread's future never sees
 * the trap (its round trip was ~290 instructions, mostly leaving and
 * re-entering that future; this one is the trap's register save and
 * restore plus a few checks).
 *
 * Invariants: we answer only when the normal path would have done nothing
 * else - no signal work, no kill or exit, no interrupt pending (a
 * shootdown IPI, a wake-up, the slice timer: the normal path acknowledges
 * those), the time slice not over, no task of higher priority queued here,
 * no priority ring to read, tracing off.  Otherwise we return false and
 * the trap goes the normal way.  Nothing here touches user memory, the FP
 * registers or sstatus (SPP = user and SPIE = 1 from the trap stand), and
 * the thread never leaves this hart.
 */
#include "arch.h"
#include "csr.h"
#include "core/executor.h"
#include "core/hart.h"
#include "core/task.h"
#include "instruments/trace.h"
#include "proc/proc.h"
#include "trapframe.h"

#define NR_GETPID 172
#define NR_GETUID 174       /* 174..177: getuid, geteuid, getgid, getegid */
#define NR_GETEGID 177
#define NR_GETTID 178

/* Called from trapvec.S for an ecall from user mode with a7 in 172..178
 * (a range check there keeps the other calls from paying for this one). */
__attribute__((optimize("omit-frame-pointer")))     /* a leaf: see spin_lock */
bool syscall_fast(struct trapframe *tf)
{
    uint64_t nr = tf->x[REG_A7];
    if (nr < NR_GETPID || nr > NR_GETTID || nr == NR_GETPID + 1)
        return false;       /* getppid (173) takes proc_lock: the normal path */
    struct thread *th = (struct thread *)((char *)tf - offsetof(struct thread, tf));
    struct hart *h = this_hart();
    /* Relaxed loads: a sender stores sigwork or killed, then interrupts
     * us (an IPI shows in sip, or is taken right after the sret, which
     * takes the normal path), so no ordering here would catch more. */
    if (__builtin_expect(trace_on, 0) || csr_read(sip) ||
        atomic_load_explicit(&th->sigwork, memory_order_relaxed) ||
        atomic_load_explicit(&th->proc->killed, memory_order_relaxed) ||
        th->exiting || th->prio_ring ||
        arch_time() >= h->slice_end || runq_has_higher(h, th->task->prio))
        return false;
    long r;
    if (nr == NR_GETPID)
        r = th->proc->pid;
    else if (nr == NR_GETTID)
        r = th->tid;
    else
        r = 0;              /* every process runs as root */
    tf->x[REG_A0] = r;
    tf->sepc += 4;
    return true;
}
