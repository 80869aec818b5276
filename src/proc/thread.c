/*
 * thread.c - a user thread is a task whose future is
 *
 *     loop { trap = await enter_user(thread); await handle_trap(thread, trap); }
 *
 * Handling a trap is: an interrupt's top half (and a yield if the time
 * slice is over), a system call (awaiting its future if it must wait),
 * a page fault (filled in, or the process dies), or a fatal fault.
 */
#include "arch.h"
#include "lib/errno.h"
#include "core/executor.h"
#include "core/hart.h"
#include "lib/klib.h"
#include "mem/kmalloc.h"
#include "lib/printk.h"
#include "proc/proc.h"
#include "user_trap.h"

struct thread *thread_current(void)
{
    struct task *t = task_current();
    return t ? t->owner : NULL;
}

static void thread_exit(struct thread *th) __attribute__((cold, noinline));   /* (keeps its set-up off the loop) */

/* A fault: the process's handler runs if it has one, else it dies. */
static void fault(struct thread *th, int sig, const char *cause)
{
    signal_fault(th, sig, sig == SIGSEGV ? SEGV_MAPERR : 0, th->tf.stval, cause);
}

static void fatal(struct thread *th, int sig, const char *cause)
{
    struct proc *p = th->proc;
    printk("pid %d (%s): killed: %s sepc=0x%lx stval=0x%lx\n", p->pid, p->name, cause,
           th->tf.sepc, th->tf.stval);
    proc_exit_group(p, sig);
}

/*
 * The syscall's future.  READY at once (the future cancelled) if the
 * process is being killed, or if a signal that will run a handler or end
 * the process arrived meanwhile: then sig_restart tells signal_deliver to
 * restart the call or make it return -EINTR - unless the cancelled future
 * left a positive result (work done), which the call then returns.
 */
static enum poll await_syscall(struct thread *th, struct cx *cx)
{
    if (atomic_load(&th->proc->killed) || th->exiting) {
        future_cancel(&th->sc.base);
        return READY;
    }
    if (future_poll(&th->sc.base, cx) == READY)
        return READY;
    if (signal_interrupts(th)) {
        future_cancel(&th->sc.base);
        if (th->sc.result > 0)
            return READY;       /* work was done (bytes written, entries submitted): that is the result */
        th->sig_restart = th->sc.restart == SC_RESTART_SYS ? SIGRS_SYS : SIGRS_NEVER;
        atomic_store(&th->sigwork, 1);
        return READY;
    }
    return PENDING;
}

/*
 * A system call that failed with -EFAULT because a copy met a file page
 * that is not cached yet (this hart's copy_needs) is run again once the
 * page is read: th->sc.pgfault waits for it, a0 gets back the call's
 * first argument (a synchronous call overwrote it).  false: no such page.
 * (A page left in the slot by a copy of another task only causes one
 * harmless rerun of a call that failed with -EFAULT anyway.)
 * The calls that copy do so before they change anything they cannot
 * redo, or report the bytes done instead of -EFAULT.
 */
static bool copy_restart(struct thread *th, uint64_t a0)
{
    struct pc_page *pg = this_hart()->copy_needs;
    this_hart()->copy_needs = NULL;
    if (!pg)
        return false;
    th->tf.x[REG_A0] = a0;
    th->copy_wait = true;
    pc_fill_start(pg);
    pc_wait_init(&th->sc.pgfault, pg);
    return true;
}

/*
 * A page fault's wait for a file page (the page cache's one fill of it):
 * READY at once, the wait cancelled, if the process is being killed - the
 * fill goes on and just populates the cache.
 */
static enum poll await_page(struct thread *th, struct cx *cx)
{
    if (atomic_load(&th->proc->killed) || th->exiting) {
        future_cancel(&th->sc.pgfault.base);
        th->sc.pgfault.result = 0;
        return READY;
    }
    return future_poll(&th->sc.pgfault.base, cx);
}

/*
 * The thread's scheduling priority: what its runtime says its best ready
 * coroutine deserves (a hint in the ring's control word), never above the
 * ceiling the kernel set for the process.
 */
void thread_update_prio(struct thread *th)
{
    unsigned p = th->prio_ring ? uring_prio_hint(th->prio_ring) : PRIO_DEFAULT;
    th->task->prio = p > th->proc->prio_ceiling ? th->proc->prio_ceiling : p;
}

/*
 * The shootdown a thread owes before it returns to user mode after it (or
 * another thread of its address space) copied a copy-on-write page away
 * while other harts ran the address space (mm_flush_owed).  Cancelled if
 * the process is being killed meanwhile.
 */
static enum poll await_flush(struct thread *th, struct cx *cx)
{
    if (atomic_load(&th->proc->killed) || th->exiting) {
        future_cancel(&th->sc.shootdown.base);
        return READY;
    }
    return future_poll(&th->sc.shootdown.base, cx);
}

static enum poll thread_poll(struct future *base, struct cx *cx)
{
    struct thread *th = (struct thread *)base;
    struct user_trap t;
    ASYNC_BEGIN(th);
    for (;;) {
        /* Relaxed looks at killed and sigwork: whoever sets them wakes us
         * after (or interrupts us in user mode), and we come back here. */
        if (atomic_load_explicit(&th->proc->killed, memory_order_relaxed) || th->exiting)
            break;
        /* signals: handlers become frames on the user stack; a stopped
         * process waits here for SIGCONT */
        if (atomic_load_explicit(&th->sigwork, memory_order_relaxed)) {   /* also set with sig_restart */
            if (signal_deliver(th)) {
                th->sc.stop.w.linked = false;
                AWAIT_COND(th, cx, &th->proc->stopq, &th->sc.stop.w, !signal_stopped(th));
                atomic_store(&th->sigwork, 1);  /* continued: look again (a restart, a handler) */
                continue;
            }
            if (atomic_load(&th->proc->killed) || th->exiting)
                break;
        }
        if (mm_flush_owed(th->proc->mm) && shootdown_start(&th->sc.shootdown, th->proc->mm)) {
            AWAIT(th, await_flush(th, cx));
            continue;           /* killed meanwhile, a signal: look again */
        }
        AWAIT(th, enter_user(th, cx));
        user_trap_decode(th, &t);
        if (th->prio_ring)      /* others change only with setpriority */
            thread_update_prio(th);
        if (t.kind == UT_INTERRUPT) {
            user_trap_irq(th);
            arch_irq_enable();
        } else if (t.kind == UT_SYSCALL) {
            arch_irq_enable();
            user_skip_ecall(th);
            uint64_t a0 = th->tf.x[REG_A0];
            enum sc_start s = syscall_start(th);
            if (s != SC_DONE) {
                /* A call that has polled its future already waits for a
                 * wake (a signal or a kill wakes us too) before the next
                 * poll: polling it again now would only find it PENDING. */
                if (s == SC_WAITING)
                    SUSPEND(th);
                AWAIT(th, await_syscall(th, cx));
                if (!atomic_load(&th->proc->killed) && !th->exiting && !th->sig_restart &&
                    !(th->sc.result == -EFAULT && copy_restart(th, th->tf.x[REG_A0])))
                    syscall_finish(th, th->sc.result);
            } else if ((long)th->tf.x[REG_A0] == -EFAULT) {
                copy_restart(th, a0);
            }
            if (th->copy_wait) {
                /* the call met a file page not cached: read it, then run
                 * the call again from its start */
                th->copy_wait = false;
                AWAIT(th, await_page(th, cx));
                pc_put(th->sc.pgfault.pg);
                if (th->sc.pgfault.result < 0 && th->sc.pgfault.result != -EAGAIN)
                    user_syscall_return(th, -EFAULT);   /* not again: the page cannot be read */
                else
                    th->tf.sepc -= 4;
            }
        } else if (t.kind == UT_PAGE_FAULT) {
            arch_irq_enable();
            struct pc_page *need;
            int r = mm_fault_io(th->proc->mm, t.addr, t.access, &need);
            if (r == MM_FAULT_IO) {
                /* the file page is on the disk: wait for it without the
                 * mm's lock (the hart runs others), then fault again */
                pc_fill_start(need);
                pc_wait_init(&th->sc.pgfault, need);
                AWAIT(th, await_page(th, cx));
                pc_put(th->sc.pgfault.pg);
                r = th->sc.pgfault.result;
                if (r == -ENOMEM)
                    fatal(th, 9, "out of memory");
                else if (r < 0 && r != -EAGAIN)   /* -EAGAIN: truncated meanwhile: fault again */
                    signal_fault(th, SIGBUS, BUS_ADRERR, th->tf.stval,
                                 r == -EFAULT ? "access past the end of a mapped file"
                                              : "I/O error reading a mapped file");
            } else if (r == -ENOMEM) {
                fatal(th, 9, "out of memory");
            } else if (r < 0) {
                fault(th, SIGSEGV, user_trap_name(th));
            }
        } else if (t.kind == UT_FP_FIRST_USE) {
            arch_irq_enable();
            if (user_fp_enable(th) < 0)
                fatal(th, 9, "out of memory");
        } else {
            arch_irq_enable();
            fault(th, t.signal, user_trap_name(th));
        }
        /* sched_yield asked for it, the time slice is over (its timer may
         * have fired in user mode or during a system call), or a task of
         * higher priority is waiting here: let the others run. */
        if (th->yield_after || user_slice_expired() ||
            runq_has_higher(this_hart(), th->task->prio)) {
            th->yield_after = false;
            YIELD(th, cx);
        }
    }
    thread_exit(th);
    ASYNC_END(th);
}

static const struct future_ops thread_ops = { thread_poll, NULL, "thread" };

/* A thread and its task fit kmalloc's 768-byte class. */
_Static_assert(sizeof(struct thread) + sizeof(struct task) <= 768, "thread size");

static _Atomic int next_id = 1;
int id_alloc(void) { return atomic_fetch_add(&next_id, 1); }

struct thread *thread_alloc(struct proc *p)
{
    struct task *task;
    struct thread *th = task_alloc(sizeof *th, p->name, &task);
    if (!th)
        return NULL;
    memset(th, 0, sizeof *th);
    future_init(&th->base, &thread_ops);
    th->task = task;
    task->owner = th;
    task->name = p->name;
    th->proc = p;
    if (p->mm)                  /* each thread holds proc->mm (exec moves it) */
        mm_get(p->mm);          /* (none yet for a process exec gives its first image) */
    thread_update_prio(th);     /* under the process's ceiling from the start */
    th->tid = p->nthreads == 0 ? p->pid : id_alloc();
    spin_lock(&proc_lock);
    th->exiting = p->execing != NULL;   /* an execve is ending the others */
    th->sibling = p->threads;
    p->threads = th;
    p->nthreads++;
    spin_unlock(&proc_lock);
    return th;
}

void thread_start(struct thread *th)
{
    task_start(th->task, TASK_NO_HART, false);
}

void proc_became_zombie(struct proc *p);    /* proc.c */

static void thread_exit(struct thread *th)
{
    struct proc *p = th->proc;
    struct mm *mm = p->mm;      /* ours: stable while we live (exec waits for us) */
    if (th->clear_child_tid && !atomic_load(&p->killed)) {
        uint32_t zero = 0;
        if (copyout(p->mm, th->clear_child_tid, &zero, sizeof zero) == 0)
            futex_wake(p->mm, th->clear_child_tid, 1);
    }
    if (th->fp)
        user_fp_release(th);
    if (th->prio_ring)
        uring_put(th->prio_ring);
    user_thread_forget(th);
    signal_thread_exit(th);
    spin_lock(&proc_lock);
    for (struct thread **pp = &p->threads; *pp; pp = &(*pp)->sibling)
        if (*pp == th) {
            *pp = th->sibling;
            break;
        }
    bool last = --p->nthreads == 0;
    if (last && atomic_load(&p->killed) == 0)
        p->exit_code = th->exit_status;     /* the last exit() gives the status */
    if (!last)      /* an execve may wait for us (under the lock: p stays) */
        waitq_wake_all(&p->threads_left);
    spin_unlock(&proc_lock);
    /* our system call was cancelled or finished: nothing uses mm now */
    mm_put(mm);
    if (last)
        proc_became_zombie(p);
}
