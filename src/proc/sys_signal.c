/*
 * sys_signal.c - the signal system calls: actions, masks, waiting for
 * signals, sending them, the alternate stack and rt_sigreturn.
 */
#include "arch.h"
#include "lib/errno.h"
#include "core/executor.h"
#include "lib/klib.h"
#include "lib/printk.h"
#include "proc/syscall.h"
#include "user_trap.h"

#define UNBLOCKABLE (SIGBIT(SIGKILL) | SIGBIT(SIGSTOP))
#define MINSIGSTKSZ 2048
#define SS_ONSTACK 1
#define SS_DISABLE 2
#define SS_AUTODISARM (1U << 31)

static bool bad_sig(int sig) { return sig < 1 || sig > NSIG_K; }

/* Under proc_lock: our mask changed; look for what it let through. */
static void mask_changed_locked(struct thread *th)
{
    struct proc *p = th->proc;
    if ((th->sig_pending.set | p->sig.shared.set) & ~th->sig_blocked)
        atomic_store(&th->sigwork, 1);
}

SYS(rt_sigaction)
{
    int sig = (int)a[0];
    uint64_t uact = a[1], uold = a[2];
    if (bad_sig(sig) || a[3] != 8)
        return -EINVAL;
    struct k_sigaction act;
    if (uact) {
        if (sig == SIGKILL || sig == SIGSTOP)
            return -EINVAL;
        uint64_t w[3];
        if (copyin(th->proc->mm, w, uact, sizeof w))
            return -EFAULT;
        act.handler = w[0];
        act.flags = w[1];
        act.mask = w[2] & ~UNBLOCKABLE;
    }
    struct proc *p = th->proc;
    spin_lock(&proc_lock);
    struct k_sigaction old = signal_action(p, sig);
    if (uact) {
        if (signal_set_action_locked(p, sig, &act) < 0) {
            spin_unlock(&proc_lock);
            return -ENOMEM;
        }
        if (signal_is_ignored(p, sig))      /* nothing ignored stays pending */
            signal_flush_locked(p, SIGBIT(sig));
    }
    spin_unlock(&proc_lock);
    if (uold) {
        uint64_t w[3] = { old.handler, old.flags, old.mask };
        if (copyout(p->mm, uold, w, sizeof w))
            return -EFAULT;
    }
    return 0;
}

SYS(rt_sigprocmask)
{
    int how = (int)a[0];
    if (a[3] != 8)
        return -EINVAL;
    uint64_t set = 0;
    if (a[1]) {
        if (how < 0 || how > 2)
            return -EINVAL;
        if (copyin(th->proc->mm, &set, a[1], 8))
            return -EFAULT;
    }
    spin_lock(&proc_lock);
    uint64_t old = th->sig_blocked;
    if (a[1]) {
        if (how == 0)           /* SIG_BLOCK */
            th->sig_blocked |= set;
        else if (how == 1)      /* SIG_UNBLOCK */
            th->sig_blocked &= ~set;
        else
            th->sig_blocked = set;
        th->sig_blocked &= ~UNBLOCKABLE;
        mask_changed_locked(th);
    }
    spin_unlock(&proc_lock);
    if (a[2] && copyout(th->proc->mm, a[2], &old, 8))
        return -EFAULT;
    return 0;
}

SYS(rt_sigpending)
{
    if (a[1] != 8)
        return -EINVAL;
    spin_lock(&proc_lock);
    uint64_t set = (th->sig_pending.set | th->proc->sig.shared.set) & th->sig_blocked;
    spin_unlock(&proc_lock);
    return copyout(th->proc->mm, a[0], &set, 8) ? -EFAULT : 0;
}

/* ---- rt_sigsuspend: wait with a temporary mask until a handler runs ------ */

static enum poll forever_poll(struct future *base, struct cx *cx)
{
    (void)base; (void)cx;
    return PENDING;             /* only a signal ends it (it is cancelled) */
}
static const struct future_ops sigsuspend_ops = { forever_poll, NULL, "rt_sigsuspend" };

SYS(rt_sigsuspend)
{
    uint64_t mask;
    if (a[1] != 8)
        return -EINVAL;
    if (copyin(th->proc->mm, &mask, a[0], 8))
        return -EFAULT;
    spin_lock(&proc_lock);
    th->saved_mask = th->sig_blocked;
    th->restore_mask = true;
    th->sig_blocked = mask & ~UNBLOCKABLE;
    mask_changed_locked(th);
    spin_unlock(&proc_lock);
    sc_wait_init(th, &sigsuspend_ops);
    th->sc.restart = SC_RESTART_NEVER;
    return SYSCALL_WAIT;
}

/* ---- rt_sigtimedwait ------------------------------------------------------- */

/* Take a pending signal of `set`; 0 if none. */
static int take_locked(struct thread *th, uint64_t set, struct ksiginfo *k)
{
    struct proc *p = th->proc;
    uint64_t t = th->sig_pending.set & set, s = p->sig.shared.set & set;
    if (t) {
        int sig = __builtin_ctzl(t) + 1;
        signal_dequeue_locked(p, &th->sig_pending, sig, k);
        return sig;
    }
    if (s) {
        int sig = __builtin_ctzl(s) + 1;
        signal_dequeue_locked(p, &p->sig.shared, sig, k);
        return sig;
    }
    return 0;
}

static long sigwait_done(struct thread *th, int sig, const struct ksiginfo *k, uint64_t uinfo)
{
    if (uinfo) {
        uint8_t si[128];
        signal_siginfo(si, k);
        if (copyout(th->proc->mm, uinfo, si, sizeof si))
            return -EFAULT;
    }
    return sig;
}

static enum poll sigwait_poll(struct future *base, struct cx *cx)
{
    struct syscall_wait *sc = (struct syscall_wait *)base;
    struct thread *th = sc->th;
    struct ksiginfo k;
    spin_lock(&proc_lock);
    int sig = take_locked(th, sc->sigwait.set, &k);
    bool timed_out = !sig && sc->sigwait.has_timeout &&
                     future_poll(&sc->sigwait.timeout.base, cx) == READY;
    if (sig || timed_out) {
        th->sig_blocked = th->saved_mask;
        th->restore_mask = false;
        th->in_sigwait = false;
    }
    spin_unlock(&proc_lock);
    if (!sig && !timed_out)
        return PENDING;         /* a send wakes our task */
    if (sc->sigwait.has_timeout)
        future_cancel(&sc->sigwait.timeout.base);
    sc->result = sig ? sigwait_done(th, sig, &k, sc->sigwait.uinfo) : -EAGAIN;
    base->resume = RESUME_DONE;
    return READY;
}

static void sigwait_cancel(struct future *base)
{
    struct syscall_wait *sc = (struct syscall_wait *)base;
    sc->th->in_sigwait = false;         /* the mask comes back on delivery */
    if (sc->sigwait.has_timeout)
        future_cancel(&sc->sigwait.timeout.base);
}

static const struct future_ops sigwait_ops = { sigwait_poll, sigwait_cancel, "rt_sigtimedwait" };

SYS(rt_sigtimedwait)
{
    uint64_t set;
    if (a[3] != 8)
        return -EINVAL;
    if (copyin(th->proc->mm, &set, a[0], 8))
        return -EFAULT;
    set &= ~UNBLOCKABLE;
    int64_t ts[2] = { 0, 0 };
    if (a[2]) {
        if (copyin(th->proc->mm, ts, a[2], sizeof ts))
            return -EFAULT;
        if (ticks_of_timespec(ts, &(uint64_t){ 0 }) < 0)
            return -EINVAL;
    }
    struct ksiginfo k;
    spin_lock(&proc_lock);
    int sig = take_locked(th, set, &k);
    if (!sig && !(a[2] && ts[0] == 0 && ts[1] == 0)) {
        /* wait with the set unblocked, so that senders pick and wake us */
        th->saved_mask = th->sig_blocked;
        th->restore_mask = true;
        th->in_sigwait = true;
        th->sig_blocked &= ~set;
        mask_changed_locked(th);
    }
    spin_unlock(&proc_lock);
    if (sig)
        return sigwait_done(th, sig, &k, a[1]);
    if (a[2] && ts[0] == 0 && ts[1] == 0)
        return -EAGAIN;
    sc_wait_init(th, &sigwait_ops);
    th->sc.restart = SC_RESTART_NEVER;
    th->sc.sigwait.set = set;
    th->sc.sigwait.uinfo = a[1];
    th->sc.sigwait.has_timeout = a[2] != 0;
    if (a[2]) {
        uint64_t ticks;
        ticks_of_timespec(ts, &ticks);      /* checked above */
        sleep_init(&th->sc.sigwait.timeout, ticks);
    }
    return SYSCALL_WAIT;
}

/* ---- sending ------------------------------------------------------------- */

SYS(kill)
{
    int pid = (int)a[0], sig = (int)a[1];
    if (pid == INT32_MIN)
        return -ESRCH;
    return signal_kill(th, pid, sig, NULL);
}

static long thread_kill(struct thread *th, int tgid, int tid, int sig, const struct ksiginfo *info)
{
    if (tid <= 0 || sig < 0 || sig > NSIG_K)
        return -EINVAL;
    struct ksiginfo k;
    if (info) {
        k = *info;
    } else {
        memset(&k, 0, sizeof k);
        k.code = SI_TKILL;
        k.pid = th->proc->pid;
    }
    k.signo = sig;
    long r = -ESRCH;
    spin_lock(&proc_lock);
    for (struct proc *p = proc_all(); p && r == -ESRCH; p = p->all_next) {
        if (p->state != PROC_ALIVE || (tgid > 0 && p->pid != tgid))
            continue;
        for (struct thread *t = p->threads; t; t = t->sibling)
            if (t->tid == tid) {
                r = signal_send_user_thread_locked(t, sig, &k);
                break;
            }
    }
    spin_unlock(&proc_lock);
    return r;
}

SYS(tkill) { return thread_kill(th, -1, (int)a[0], (int)a[1], NULL); }

SYS(tgkill)
{
    if ((int)a[0] <= 0)
        return -EINVAL;
    return thread_kill(th, (int)a[0], (int)a[1], (int)a[2], NULL);
}

/* Copy a user siginfo for sigqueueinfo; Linux refuses forged kernel codes. */
static long queue_info(struct thread *th, int target_pid, uint64_t uinfo, int sig, struct ksiginfo *k)
{
    uint8_t si[128];
    if (copyin(th->proc->mm, si, uinfo, sizeof si))
        return -EFAULT;
    int code;
    memcpy(&code, si + 8, 4);
    if ((code >= 0 || code == SI_TKILL) && target_pid != th->proc->pid)
        return -EPERM;
    memset(k, 0, sizeof *k);
    k->signo = sig;
    k->code = code;
    k->pid = th->proc->pid;
    memcpy(&k->value, si + 24, 8);
    return 0;
}

SYS(rt_sigqueueinfo)
{
    int pid = (int)a[0], sig = (int)a[1];
    struct ksiginfo k;
    long r = queue_info(th, pid, a[2], sig, &k);
    if (r < 0)
        return r;
    if (pid <= 0)
        return -ESRCH;
    return signal_kill(th, pid, sig, &k);
}

SYS(rt_tgsigqueueinfo)
{
    struct ksiginfo k;
    long r = queue_info(th, (int)a[0], a[3], (int)a[2], &k);
    if (r < 0)
        return r;
    return thread_kill(th, (int)a[0], (int)a[1], (int)a[2], &k);
}

/* ---- the alternate stack and the return from a handler ------------------- */

static bool on_altstack(struct thread *th)
{
    return th->ss_size && th->tf.x[REG_SP] - th->ss_sp < th->ss_size;
}

SYS(sigaltstack)
{
    struct mm *mm = th->proc->mm;
    uint64_t old[3] = { th->ss_sp, (uint64_t)(th->ss_size ? (on_altstack(th) ? SS_ONSTACK : 0) : SS_DISABLE),
                        th->ss_size };
    if (a[0]) {
        uint64_t ss[3];
        if (copyin(mm, ss, a[0], sizeof ss))
            return -EFAULT;
        if (on_altstack(th))
            return -EPERM;
        uint32_t flags = (uint32_t)ss[1] & ~SS_AUTODISARM;
        if (flags != 0 && flags != SS_DISABLE && flags != SS_ONSTACK)
            return -EINVAL;
        if (flags == SS_DISABLE) {
            th->ss_sp = 0;
            th->ss_size = 0;
        } else {
            if (ss[2] < MINSIGSTKSZ)
                return -ENOMEM;
            if (ss[2] > UINT32_MAX || ss[0] + ss[2] < ss[0])
                return -EINVAL;
            th->ss_sp = ss[0];
            th->ss_size = (uint32_t)ss[2];
        }
    }
    if (a[1] && copyout(mm, a[1], old, sizeof old))
        return -EFAULT;
    return 0;
}

SYS(rt_sigreturn)
{
    (void)a;
    uint64_t mask, ss[3];
    if (arch_sigreturn(th, &mask, ss) < 0) {
        printk("pid %d (%s): killed: bad signal frame sp=0x%lx\n", th->proc->pid,
               th->proc->name, th->tf.x[REG_SP]);
        proc_exit_group(th->proc, SIGSEGV);
        return 0;
    }
    spin_lock(&proc_lock);
    th->sig_blocked = mask & ~UNBLOCKABLE;
    mask_changed_locked(th);
    spin_unlock(&proc_lock);
    return (long)th->tf.x[REG_A0];      /* the interrupted code's a0, unchanged */
}
