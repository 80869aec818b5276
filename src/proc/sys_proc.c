/*
 * sys_proc.c - process and thread system calls: exit, clone, execve,
 * wait4, kill, ids, process groups, and the signal calls a libc makes.
 */
#include "arch.h"
#include "lib/errno.h"
#include "core/executor.h"
#include "lib/klib.h"
#include "mem/kmalloc.h"
#include "proc/syscall.h"
#include "core/hart.h"
#include "layout.h"
#include "user_trap.h"

#define CLONE_VM 0x100
#define CLONE_FS 0x200
#define CLONE_FILES 0x400
#define CLONE_SIGHAND 0x800
#define CLONE_VFORK 0x4000
#define CLONE_THREAD 0x10000
#define CLONE_SYSVSEM 0x40000
#define CLONE_SETTLS 0x80000
#define CLONE_PARENT_SETTID 0x100000
#define CLONE_CHILD_CLEARTID 0x200000
#define CLONE_DETACHED 0x400000
#define CLONE_CHILD_SETTID 0x01000000
#define CLONE_KNOWN (0xff | CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_VFORK | \
                     CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID | \
                     CLONE_CHILD_CLEARTID | CLONE_DETACHED | CLONE_CHILD_SETTID)

int proc_reap(struct proc *p, int pid, int options, int *status, uint64_t *cutime);
void proc_abort(struct proc *c);

/* exit ends this thread.  Its status becomes the process's if it turns
 * out to be the last thread (thread_exit decides, under proc_lock, so two
 * threads exiting at once cannot both think another one is left). */
SYS(exit)
{
    th->exit_status = (a[0] & 0xff) << 8;
    spin_lock(&proc_lock);
    bool last = th->proc->nthreads == 1;
    spin_unlock(&proc_lock);
    if (last)
        proc_exit_group(th->proc, th->exit_status);
    else
        th->exiting = true;     /* this thread only */
    return 0;
}

SYS(exit_group)
{
    proc_exit_group(th->proc, (a[0] & 0xff) << 8);
    return 0;
}

SYS(getpid) { (void)a; return th->proc->pid; }
SYS(gettid) { (void)a; return th->tid; }
SYS(getuid) { (void)a; (void)th; return 0; }

SYS(getppid)
{
    (void)a;
    spin_lock(&proc_lock);
    int ppid = th->proc->parent ? th->proc->parent->pid : 0;
    spin_unlock(&proc_lock);
    return ppid;
}

SYS(set_tid_address)
{
    th->clear_child_tid = a[0];
    return th->tid;
}

SYS(clone)
{
    uint64_t flags = a[0], newsp = a[1], ptid = a[2], tls = a[3], ctid = a[4];
    struct proc *p = th->proc;
    if (flags & ~(uint64_t)CLONE_KNOWN)
        return -EINVAL;
    if ((flags & CLONE_THREAD) && !(flags & CLONE_SIGHAND))
        return -EINVAL;
    if ((flags & CLONE_SIGHAND) && !(flags & CLONE_VM))
        return -EINVAL;
    if (newsp && newsp >= USER_TOP)
        return -EINVAL;

    struct thread *child;
    if (flags & CLONE_THREAD) {
        if (!(flags & CLONE_FILES))
            return -EINVAL;     /* threads share everything here */
        child = thread_alloc(p);
        if (!child)
            return -EAGAIN;
    } else {
        if (proc_count() >= 4096)
            return -EAGAIN;
        struct proc *c = proc_alloc(p);
        if (!c)
            return -ENOMEM;
        if (flags & CLONE_VM) {
            mm_get(p->mm);
            c->mm = p->mm;
        } else {
            c->mm = mm_fork_allowed() ? mm_fork(p->mm) : NULL;
        }
        c->files = (flags & CLONE_FILES) ? p->files : fdtable_copy(p->files);
        if (c->files && (flags & CLONE_FILES))
            atomic_fetch_add(&c->files->refs, 1);
        child = c->mm && c->files ? thread_alloc(c) : NULL;
        if (!child) {
            proc_abort(c);
            return -ENOMEM;
        }
    }
    child->tf = th->tf;         /* sepc already past the ecall */
    child->sig_blocked = th->sig_blocked;
    if (!(flags & CLONE_VM) || (flags & CLONE_VFORK)) {
        child->ss_sp = th->ss_sp;           /* fork keeps the alternate stack */
        child->ss_size = th->ss_size;
    }
    user_syscall_return(child, 0);
    if (newsp)
        user_set_sp(child, newsp);
    if (flags & CLONE_SETTLS)
        user_set_tls(child, tls);
    if (flags & CLONE_CHILD_CLEARTID)
        child->clear_child_tid = ctid;
    int tid = child->tid;
    if (flags & CLONE_PARENT_SETTID)
        (void)copyout(p->mm, ptid, &tid, 4);   /* Linux ignores a bad pointer here too */
    if (flags & CLONE_CHILD_SETTID)
        (void)copyout(child->proc->mm, ctid, &tid, 4);
    child->task->hart_mask = th->task->hart_mask;  /* affinity is inherited */
    thread_start(child);
    return tid;
}

/* ---- execve: end the other threads, then load (fs_execve) ------------ */

static bool alone(struct proc *p)
{
    spin_lock(&proc_lock);
    bool one = p->nthreads == 1;
    spin_unlock(&proc_lock);
    return one;
}

/* Wait until the other threads are gone, then restart the ecall: the
 * execve runs again with this thread alone (nobody can clone meanwhile). */
static enum poll exec_wait_poll(struct future *base, struct cx *cx)
{
    struct syscall_wait *sc = (struct syscall_wait *)base;
    ASYNC_BEGIN(sc);
    AWAIT_COND(sc, cx, &sc->th->proc->threads_left, &sc->exec.w, alone(sc->th->proc));
    exec_abandon(sc->th, NULL);         /* clears proc->execing */
    sc->th->tf.sepc -= 4;               /* back to the ecall; a0 is kept */
    ASYNC_END(sc);
}

static void exec_wait_cancel(struct future *base)
{
    struct syscall_wait *sc = (struct syscall_wait *)base;
    waitq_unregister(&sc->th->proc->threads_left, &sc->exec.w);
    exec_abandon(sc->th, NULL);
}

static const struct future_ops exec_wait_ops = { exec_wait_poll, exec_wait_cancel, "execve" };

SYS(execve)
{
    /* Other threads end first (their pending calls are cancelled); once
     * they are gone the call starts again from the ecall, alone. */
    int r = exec_end_other_threads(th);
    if (r < 0)
        return r;
    if (r == 0) {
        sc_wait_init(th, &exec_wait_ops);
        th->sc.exec.w.linked = false;
        th->sc.result = (long)a[0];     /* a0 stays the path: the call restarts */
        return SYSCALL_WAIT;
    }
    return fs_execve(th, a[0], a[1], a[2]);     /* may read the program from a disk */
}

/* ---- wait4: a future on the process's child_exit queue ------------------ */

static bool try_reap(struct syscall_wait *sc)
{
    struct proc *p = sc->th->proc;
    int status = 0;
    uint64_t cut = 0;
    int pid = proc_reap(p, sc->wait.pid, sc->wait.options, &status, &cut);
    if (pid == 0 && (sc->wait.options & 1 /* WNOHANG */)) {
        sc->result = 0;
        return true;
    }
    if (pid == 0)
        return false;
    if (pid > 0) {
        p->cutime += cut;
        if (sc->wait.ustatus && copyout(p->mm, sc->wait.ustatus, &status, 4)) {
            sc->result = -EFAULT;
            return true;
        }
    }
    sc->result = pid;
    return true;
}

static enum poll wait4_poll(struct future *base, struct cx *cx)
{
    struct syscall_wait *sc = (struct syscall_wait *)base;
    ASYNC_BEGIN(sc);
    AWAIT_COND(sc, cx, &sc->th->proc->child_exit, &sc->wait.w, try_reap(sc));
    ASYNC_END(sc);
}

static void wait4_cancel(struct future *base)
{
    struct syscall_wait *sc = (struct syscall_wait *)base;
    waitq_unregister(&sc->th->proc->child_exit, &sc->wait.w);
}

static const struct future_ops wait4_ops = { wait4_poll, wait4_cancel, "wait4" };

SYS(wait4)
{
    if (a[2] & ~(uint64_t)(1 | 2 | 8 | 0x40000000 | 0x80000000))
        return -EINVAL;
    if ((int)a[0] == INT32_MIN)
        return -ESRCH;
    sc_wait_init(th, &wait4_ops);
    th->sc.wait.pid = (int)a[0];
    th->sc.wait.ustatus = a[1];
    th->sc.wait.options = (int)a[2];
    th->sc.wait.w.linked = false;
    if (try_reap(&th->sc))      /* the common case needs no wait */
        return th->sc.result;
    return SYSCALL_WAIT;
}

/* ---- sched_yield: go behind every task queued on this hart -------------- */

/* The call itself is done at once (it returns 0); the thread's future
 * yields after it, before it enters user mode again (thread.c), which
 * costs no syscall future and no second poll of one. */
SYS(sched_yield)
{
    (void)a;
    th->yield_after = true;
    return 0;
}

/* ---- sched_setaffinity / sched_getaffinity: the harts a thread may use ---- */

/* The thread `tid` names (0: th), with proc_lock held: one of th's
 * process, or the main thread of another process.  NULL: none. */
static struct thread *thread_by_tid_locked(struct thread *th, int tid)
{
    if (tid == 0 || tid == th->tid)
        return th;
    for (struct thread *t = th->proc->threads; t; t = t->sibling)
        if (t->tid == tid)
            return t;
    struct proc *p = tid > 0 ? proc_find(tid) : NULL;
    if (!p || p->state != PROC_ALIVE)
        return NULL;
    for (struct thread *t = p->threads; t; t = t->sibling)
        if (t->tid == tid)
            return t;
    return NULL;
}

static uint64_t online_harts(void)
{
    return nharts >= 64 ? ~0ULL : (1ULL << nharts) - 1;
}

SYS(sched_setaffinity)
{
    uint64_t len = a[1], mask = 0;
    /* as Linux: a shorter mask is zero-extended, a longer one cut */
    if (copyin(th->proc->mm, &mask, a[2], len < 8 ? len : 8))
        return -EFAULT;
    mask &= online_harts();
    if (!mask)
        return -EINVAL;
    spin_lock(&proc_lock);
    struct thread *t = thread_by_tid_locked(th, (int)a[0]);
    if (t)
        t->task->hart_mask = mask == online_harts() ? 0 : (uint16_t)mask;
    spin_unlock(&proc_lock);
    if (!t)
        return -ESRCH;
    /* Another thread moves at its next wake or time slice; this one
     * leaves a hart it may no longer use at once (the yield requeues it
     * on an allowed hart, executor.c). */
    if (t == th && !task_may_run_on(th->task, this_hart()->index))
        th->yield_after = true;
    return 0;
}

SYS(sched_getaffinity)
{
    uint64_t len = a[1];
    if (len * 8 < nharts || (len & 7))
        return -EINVAL;
    spin_lock(&proc_lock);
    struct thread *t = thread_by_tid_locked(th, (int)a[0]);
    uint64_t mask = t ? (t->task->hart_mask ? t->task->hart_mask : online_harts()) : 0;
    spin_unlock(&proc_lock);
    if (!t)
        return -ESRCH;
    /* Linux writes its cpumask's size (8 bytes here) and returns it */
    return copyout(th->proc->mm, a[2], &mask, 8) ? -EFAULT : 8;
}

/* ---- process groups and sessions (Linux rules) -------------------------- */

static bool group_in_session_locked(int pgid, int sid)
{
    for (struct proc *p = proc_all(); p; p = p->all_next)
        if (p->pgid == pgid && p->sid == sid && p->state == PROC_ALIVE)
            return true;
    return false;
}

SYS(setpgid)
{
    int pid = (int)a[0], pgid = (int)a[1];
    if (pgid < 0)
        return -EINVAL;
    struct proc *me = th->proc;
    spin_lock(&proc_lock);
    struct proc *p = pid == 0 ? me : proc_find(pid);
    int r = 0;
    if (!p || p->state != PROC_ALIVE || (p != me && p->parent != me))
        r = -ESRCH;
    else if (p != me && p->sid != me->sid)
        r = -EPERM;
    else if (p != me && p->did_exec)
        r = -EACCES;
    else if (p->sid == p->pid)
        r = -EPERM;                     /* a session leader keeps its group */
    else {
        if (!pgid)
            pgid = p->pid;
        if (pgid != p->pid && !group_in_session_locked(pgid, me->sid))
            r = -EPERM;                 /* join only a group of our session */
        else
            p->pgid = pgid;
    }
    spin_unlock(&proc_lock);
    return r;
}

SYS(getpgid)
{
    int pid = (int)a[0];
    spin_lock(&proc_lock);
    struct proc *p = pid == 0 ? th->proc : proc_find(pid);
    int r = p ? p->pgid : -ESRCH;
    spin_unlock(&proc_lock);
    return r;
}

SYS(setsid)
{
    (void)a;
    struct proc *me = th->proc;
    spin_lock(&proc_lock);
    int r = me->pid;
    for (struct proc *p = proc_all(); p; p = p->all_next)
        if (p->pgid == me->pid && p->state == PROC_ALIVE)
            r = -EPERM;                 /* we lead a group already */
    if (r > 0)
        me->sid = me->pgid = me->pid;
    spin_unlock(&proc_lock);
    return r;
}

SYS(getsid)
{
    int pid = (int)a[0];
    spin_lock(&proc_lock);
    struct proc *p = pid == 0 ? th->proc : proc_find(pid);
    int r = p ? p->sid : -ESRCH;
    spin_unlock(&proc_lock);
    return r;
}

SYS(set_robust_list) { (void)th; (void)a; return -ENOSYS; }

/* Is p the caller's process or one of its descendants?  (proc_lock held)
 * Those are what it may re-prioritise or re-limit: there are no users. */
static bool is_own(struct thread *th, struct proc *p)
{
    for (; p; p = p->parent)
        if (p == th->proc)
            return true;
    return false;
}

/* The process `pid` names (0: the caller) with proc_lock held, or NULL
 * with *err set (-ESRCH, -EPERM) and the lock dropped. */
static struct proc *own_proc_lock(struct thread *th, int pid, long *err)
{
    spin_lock(&proc_lock);
    struct proc *p = pid == 0 ? th->proc : proc_find(pid);
    if (p && is_own(th, p))
        return p;
    spin_unlock(&proc_lock);
    *err = p ? -EPERM : -ESRCH;
    return NULL;
}

#define RLIMIT_STACK 3
#define RLIMIT_NOFILE 7
#define RLIMIT_NICE 13
#define RLIM_NLIMITS 16
#define RLIM_INFINITY (~0UL)

/*
 * getrlimit / setrlimit / prlimit64 on process `pid`.  Honoured:
 * RLIMIT_NOFILE (the descriptor table's limits, file.h) and RLIMIT_NICE
 * (how far setpriority may raise a priority).  RLIMIT_STACK reports the
 * fixed stack size; the others read as unlimited, and setting them is
 * accepted and ignored.  A soft limit above the hard one is -EINVAL; a
 * hard limit may only be lowered (-EPERM): nobody is privileged.
 */
static long rlimit(struct thread *th, int pid, unsigned res, uint64_t unew, uint64_t uold)
{
    uint64_t nw[2], old[2] = { RLIM_INFINITY, RLIM_INFINITY };
    long r = 0;
    if (res >= RLIM_NLIMITS)
        return -EINVAL;
    if (unew) {
        if (copyin(th->proc->mm, nw, unew, sizeof nw))
            return -EFAULT;
        if (nw[0] > nw[1])
            return -EINVAL;
    }
    struct proc *p = own_proc_lock(th, pid, &r);
    if (!p)
        return r;
    if (res == RLIMIT_STACK) {
        old[0] = old[1] = USER_STACK_MAX;
    } else if (res == RLIMIT_NOFILE && !p->files) {
        r = -ESRCH;             /* exiting */
    } else if (res == RLIMIT_NOFILE) {
        fd_get_limit(p->files, old);
        if (unew)
            r = fd_set_limit(p->files, nw);
    } else if (res == RLIMIT_NICE) {
        old[0] = p->nice_rlim[0];
        old[1] = p->nice_rlim[1];
        if (unew && nw[1] > old[1]) {
            r = -EPERM;
        } else if (unew) {
            p->nice_rlim[0] = nw[0];
            p->nice_rlim[1] = nw[1];
        }
    }
    spin_unlock(&proc_lock);
    if (r == 0 && uold && copyout(th->proc->mm, uold, old, sizeof old))
        r = -EFAULT;
    return r;
}

SYS(prlimit64) { return rlimit(th, (int)a[0], (unsigned)a[1], a[2], a[3]); }
SYS(getrlimit) { return rlimit(th, 0, (unsigned)a[0], 0, a[1]); }
SYS(setrlimit) { return rlimit(th, 0, (unsigned)a[0], a[1], 0); }

SYS(getcpu)
{
    unsigned cpu = this_hart()->index, node = 0;
    if (a[0] && copyout(th->proc->mm, a[0], &cpu, 4))
        return -EFAULT;
    if (a[1] && copyout(th->proc->mm, a[1], &node, 4))
        return -EFAULT;
    return 0;
}

/*
 * Priorities.  A process's nice value (-20..19, Linux's scale) sets the
 * ceiling on its threads' task priority, the level of the kernel's run
 * queues (0..7, higher first) they may reach:
 *
 *     nice   19..15  14..10   9..5   4..0   (< 0: never reachable)
 *     level     1       2       3      4 = PRIO_DEFAULT, the kernel's own
 *
 * A thread runs at PRIO_DEFAULT, or at its runtime's hint (0..7) clamped
 * to the ceiling.  A process may lower its priority, and raise it back
 * only to nice 20 - RLIMIT_NICE; the limit is what init starts with
 * (nice 0, RLIMIT_NICE 20) and can only be lowered, so no program gets
 * above PRIO_DEFAULT: no user thread outranks kernel tasks or the shell,
 * and among equals the run queue is FIFO and a thread yields when its
 * time slice ends (thread.c).
 */
static unsigned ceiling_of_nice(int nice)
{
    return nice <= 0 ? PRIO_DEFAULT : PRIO_DEFAULT - nice / 5;
}

SYS(setpriority)
{
    if (a[0] != 0 /* PRIO_PROCESS */)
        return -EINVAL;
    int nice = (int)a[2];
    if (nice < -20) nice = -20;
    if (nice > 19) nice = 19;
    long r = 0;
    struct proc *p = own_proc_lock(th, (int)a[1], &r);
    if (!p)
        return r;
    if (nice < p->nice && 20 - nice > p->nice_rlim[0]) {
        r = -EACCES;            /* Linux: beyond RLIMIT_NICE */
    } else {
        p->nice = nice;
        p->prio_ceiling = ceiling_of_nice(nice);
        for (struct thread *t = p->threads; t; t = t->sibling)
            thread_update_prio(t);
    }
    spin_unlock(&proc_lock);
    return r;
}

SYS(getpriority)
{
    if (a[0] != 0)
        return -EINVAL;
    spin_lock(&proc_lock);
    struct proc *p = a[1] == 0 ? th->proc : proc_find((int)a[1]);
    long r = p ? 20 - p->nice : -ESRCH;
    spin_unlock(&proc_lock);
    return r;                   /* Linux returns 20 - nice */
}
