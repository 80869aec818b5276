/*
 * signal.c - sending, queueing and delivering signals (see signal.h for
 * the model).
 *
 * Invariants (under proc_lock):
 *  1. A signal whose action is "ignore" (SIG_IGN, or SIG_DFL with an
 *     ignoring default) is never pending: it is dropped when sent, and
 *     flushed when the action becomes one.
 *  2. At most one record of a standard signal (1..31) is pending in a
 *     set; real-time signals queue, at most SIGQ_MAX records a process.
 *  3. Whoever makes a signal deliverable to a thread sets its sigwork
 *     *after* queueing and then wakes it; the thread clears sigwork
 *     *before* looking (signal_deliver), so no send is overlooked.
 *  4. A stopped process (sig.stopped) runs no user code: its threads
 *     wait on stopq before entering user mode; system calls they were
 *     in carry on (their results wait for SIGCONT).
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

#define SIGQ_MAX 1024
#define UNBLOCKABLE (SIGBIT(SIGKILL) | SIGBIT(SIGSTOP))
#define STOP_MASK (SIGBIT(SIGSTOP) | SIGBIT(SIGTSTP) | SIGBIT(SIGTTIN) | SIGBIT(SIGTTOU))
#define SYNC_MASK (SIGBIT(SIGSEGV) | SIGBIT(SIGBUS) | SIGBIT(SIGILL) | SIGBIT(SIGTRAP) | SIGBIT(SIGFPE))

enum def_action { D_TERM, D_CORE, D_IGN, D_STOP, D_CONT };

static enum def_action default_action(int sig)
{
    switch (sig) {
    case SIGQUIT: case SIGILL: case SIGTRAP: case SIGABRT: case SIGBUS: case SIGFPE:
    case SIGSEGV: case 24 /* XCPU */: case 25 /* XFSZ */: case 31 /* SYS */:
        return D_CORE;
    case SIGCHLD: case 23 /* URG */: case 28 /* WINCH */:
        return D_IGN;
    case SIGCONT:
        return D_CONT;
    case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU:
        return D_STOP;
    default:
        return D_TERM;
    }
}

/* ---- actions (under proc_lock) ------------------------------------------------ */

struct k_sigaction signal_action(struct proc *p, int sig)
{
    if (p->sig.actions)
        return p->sig.actions->a[sig - 1];
    return (struct k_sigaction){ .handler = (p->sig.ignored & SIGBIT(sig)) ? SIG_IGN_H : SIG_DFL_H };
}

int signal_set_action_locked(struct proc *p, int sig, const struct k_sigaction *act)
{
    struct sigactions *t = p->sig.actions;
    if (!t || atomic_load(&t->refs) > 1) {
        struct sigactions *n = kmalloc(sizeof *n);
        if (!n)
            return -ENOMEM;
        atomic_init(&n->refs, 1);
        for (int s = 1; s <= NSIG_K; s++)
            n->a[s - 1] = signal_action(p, s);
        if (t && atomic_fetch_sub(&t->refs, 1) == 1)
            kfree(t);           /* the other sharer went meanwhile */
        p->sig.actions = t = n;
    }
    t->a[sig - 1] = *act;
    return 0;
}

static void actions_put(struct sigactions *t)
{
    if (t && atomic_fetch_sub(&t->refs, 1) == 1)
        kfree(t);
}

bool signal_is_ignored(struct proc *p, int sig)
{
    uint64_t h = signal_action(p, sig).handler;
    if (h == SIG_IGN_H)
        return sig != SIGKILL && sig != SIGSTOP;
    if (h == SIG_DFL_H) {
        enum def_action d = default_action(sig);
        return d == D_IGN || d == D_CONT;
    }
    return false;
}

static bool is_init(struct proc *p) { return p->pid == 1; }

/* ---- pending sets ---------------------------------------------------------- */

/* Records come from the process's spare first: a signal at a time then
 * costs no allocation (a slab emptied and refilled per signal would). */
static struct sigq *sigq_alloc(struct proc *p)
{
    struct sigq *q = p->sig.spare;
    if (q) {
        p->sig.spare = NULL;
        return q;
    }
    return kmalloc(sizeof *q);
}

static void sigq_free(struct proc *p, struct sigq *q)
{
    if (!p->sig.spare)
        p->sig.spare = q;
    else
        kfree(q);
}

static void pending_flush_mask(struct proc *p, struct sigpending *sp, uint64_t mask)
{
    if (!(sp->set & mask))
        return;
    sp->set &= ~mask;
    for (struct sigq **pp = &sp->head; *pp;) {
        struct sigq *q = *pp;
        if (SIGBIT(q->info.signo) & mask) {
            *pp = q->next;
            sigq_free(p, q);
            p->sig.queued--;
        } else {
            pp = &q->next;
        }
    }
}

/* Drop `mask` from every pending set of p. */
void signal_flush_locked(struct proc *p, uint64_t mask)
{
    pending_flush_mask(p, &p->sig.shared, mask);
    for (struct thread *t = p->threads; t; t = t->sibling)
        pending_flush_mask(p, &t->sig_pending, mask);
}

static int enqueue(struct proc *p, struct sigpending *sp, int sig, const struct ksiginfo *info)
{
    bool rt = sig >= 32;
    if (!rt && (sp->set & SIGBIT(sig)))
        return 0;               /* a standard signal is pending once */
    struct sigq *q = p->sig.queued < SIGQ_MAX ? sigq_alloc(p) : NULL;
    if (!q) {
        if (rt)
            return -EAGAIN;
        sp->set |= SIGBIT(sig);     /* the signal without its details */
        return 0;
    }
    q->info = *info;
    q->info.signo = sig;
    q->next = NULL;
    struct sigq **pp = &sp->head;
    while (*pp)
        pp = &(*pp)->next;
    *pp = q;
    p->sig.queued++;
    sp->set |= SIGBIT(sig);
    return 0;
}

/* Take the oldest record of sig from sp; a record-less bit gives SI_USER. */
void signal_dequeue_locked(struct proc *p, struct sigpending *sp, int sig, struct ksiginfo *out)
{
    bool more = false;
    struct sigq *found = NULL;
    for (struct sigq **pp = &sp->head; *pp;) {
        struct sigq *q = *pp;
        if (q->info.signo == sig) {
            if (!found) {
                found = q;
                *pp = q->next;
                continue;
            }
            more = true;
        }
        pp = &q->next;
    }
    if (found) {
        *out = found->info;
        sigq_free(p, found);
        p->sig.queued--;
    } else {
        memset(out, 0, sizeof *out);
        out->signo = sig;
        out->code = SI_USER;
    }
    if (!more)
        sp->set &= ~SIGBIT(sig);
}

static int lowest(uint64_t set)
{
    if (set & SYNC_MASK)
        set &= SYNC_MASK;       /* faults first, as Linux does */
    return set ? __builtin_ctzl(set) + 1 : 0;
}

/* Next signal th may take (thread's own set first); 0 if none. */
static int next_signal(struct thread *th, uint64_t mask, struct ksiginfo *out)
{
    struct proc *p = th->proc;
    int sig = lowest(th->sig_pending.set & mask);
    if (sig) {
        signal_dequeue_locked(p, &th->sig_pending, sig, out);
        return sig;
    }
    sig = lowest(p->sig.shared.set & mask);
    if (sig)
        signal_dequeue_locked(p, &p->sig.shared, sig, out);
    return sig;
}

/* ---- waking the thread that will take it ----------------------------------- */

static void notify(struct thread *th)
{
    atomic_store(&th->sigwork, 1);
    if (th == thread_current())
        return;                 /* in the kernel now: it looks before returning */
    task_wake(th->task);
    /* running user code on another hart: make it trap */
    uint32_t s = atomic_load(&th->task->state);
    unsigned h = th->task->hart;
    if ((s & TASK_RUNNING) && h != TASK_NO_HART && h != this_hart()->index)
        arch_send_ipi(h);
}

static void notify_all(struct proc *p)
{
    for (struct thread *t = p->threads; t; t = t->sibling)
        notify(t);
}

/* A thread of p that does not block sig (NULL: all block it). */
static struct thread *wants(struct proc *p, int sig)
{
    for (struct thread *t = p->threads; t; t = t->sibling)
        if (!(t->sig_blocked & SIGBIT(sig)) && !t->exiting)
            return t;
    return NULL;
}

static void kill_now(struct proc *p, int sig)
{
    int expected = 0;
    if (atomic_compare_exchange_strong(&p->killed, &expected, sig))
        p->exit_code = sig;     /* wait4: terminated by signal sig */
    for (struct thread *t = p->threads; t; t = t->sibling) {
        t->exiting = true;
        notify(t);
    }
}

/* ---- stop and continue --------------------------------------------------- */

static void tell_parent_locked(struct proc *p, int code, int status)
{
    struct proc *parent = p->parent;
    if (!parent || parent->state != PROC_ALIVE)
        return;
    if (code == CLD_STOPPED || code == CLD_CONTINUED) {
        p->sig.report = code;
        p->sig.report_sig = status;
        waitq_wake_all(&parent->child_exit);
        if (signal_action(parent, SIGCHLD).flags & SA_NOCLDSTOP)
            return;
    }
    struct ksiginfo ci = { .signo = SIGCHLD, .code = code, .pid = p->pid, .status = status };
    signal_send_proc_locked(parent, SIGCHLD, &ci);
}

static void do_stop(struct proc *p, int sig)
{
    if (p->sig.stopped || atomic_load(&p->killed))
        return;
    p->sig.stopped = true;
    notify_all(p);              /* running threads trap and wait */
    tell_parent_locked(p, CLD_STOPPED, sig);
}

static void do_continue(struct proc *p)
{
    signal_flush_locked(p, STOP_MASK);
    if (!p->sig.stopped)
        return;
    p->sig.stopped = false;
    waitq_wake_all(&p->stopq);
    tell_parent_locked(p, CLD_CONTINUED, SIGCONT);
}

bool signal_stopped(struct thread *th)
{
    return th->proc->sig.stopped && !atomic_load(&th->proc->killed) && !th->exiting;
}

/* ---- sending -------------------------------------------------------------- */

/*
 * The one send path.  th: a thread-directed signal, else NULL.
 * from_user: kill & co., to which init is immune for default actions.
 */
static int send_locked(struct proc *p, struct thread *th, int sig, const struct ksiginfo *info,
                       bool from_user)
{
    if (p->state != PROC_ALIVE || atomic_load(&p->killed) || sig == 0)
        return 0;
    struct k_sigaction act = signal_action(p, sig);
    if (from_user && is_init(p) && (act.handler == SIG_DFL_H || sig == SIGKILL || sig == SIGSTOP))
        return 0;               /* Linux: init gets only the signals it handles */
    uint64_t bit = SIGBIT(sig);
    if (bit & STOP_MASK)
        signal_flush_locked(p, SIGBIT(SIGCONT));
    if (sig == SIGCONT)
        do_continue(p);
    if (signal_is_ignored(p, sig))
        return 0;
    if (sig == SIGKILL) {
        kill_now(p, sig);
        return 0;
    }
    struct thread *target = th ? (th->sig_blocked & bit ? NULL : th) : wants(p, sig);
    /* a thread in sigtimedwait takes the signal as a result, not an action */
    bool waited = target && target->in_sigwait && (target->saved_mask & bit);
    if (act.handler == SIG_DFL_H && target && !waited) {
        enum def_action d = default_action(sig);
        if (d == D_TERM || d == D_CORE) {
            kill_now(p, sig);
            return 0;
        }
        if (d == D_STOP) {
            do_stop(p, sig);
            return 0;
        }
    }
    struct ksiginfo k = *info;
    k.signo = sig;
    int r = enqueue(p, th ? &th->sig_pending : &p->sig.shared, sig, &k);
    if (r == 0 && target)
        notify(target);
    return r;
}

int signal_send_user_thread_locked(struct thread *th, int sig, const struct ksiginfo *info)
{
    return send_locked(th->proc, th, sig, info, true);
}

int signal_send_proc_locked(struct proc *p, int sig, const struct ksiginfo *info)
{
    struct ksiginfo k = { .signo = sig, .code = SI_KERNEL };
    return send_locked(p, NULL, sig, info ? info : &k, false);
}

int signal_send_thread_locked(struct thread *th, int sig, const struct ksiginfo *info)
{
    struct ksiginfo k = { .signo = sig, .code = SI_KERNEL };
    return send_locked(th->proc, th, sig, info ? info : &k, false);
}

void signal_send_thread(struct thread *th, int sig)
{
    spin_lock(&proc_lock);
    signal_send_thread_locked(th, sig, NULL);
    spin_unlock(&proc_lock);
}

int signal_send_group_locked(int pgid, int sig)
{
    int n = 0;
    struct ksiginfo k = { .signo = sig, .code = SI_KERNEL };
    for (struct proc *p = proc_all(); p; p = p->all_next)
        if (p->pgid == pgid && p->state == PROC_ALIVE) {
            send_locked(p, NULL, sig, &k, false);
            n++;
        }
    return n ? 0 : -ESRCH;
}

static void user_info(struct thread *from, int sig, struct ksiginfo *k)
{
    memset(k, 0, sizeof *k);
    k->signo = sig;
    k->code = SI_USER;
    k->pid = from ? from->proc->pid : 0;
}

/* kill(2): pid > 0 one process, 0 our group, -1 everyone but init and
 * us, < -1 a group.  Every process runs as root here, so anyone may
 * signal anyone; only init is protected (see send_locked). */
int signal_kill(struct thread *from, int pid, int sig, const struct ksiginfo *info)
{
    if (sig < 0 || sig > NSIG_K)
        return -EINVAL;
    struct ksiginfo k;
    if (info)
        k = *info;
    else
        user_info(from, sig, &k);
    int r = -ESRCH;
    spin_lock(&proc_lock);
    if (pid > 0) {
        struct proc *p = proc_find(pid);
        if (p)
            r = send_locked(p, NULL, sig, &k, true);
    } else {
        int pg = pid == 0 ? from->proc->pgid : -pid;
        int n = 0, err = 0;
        for (struct proc *p = proc_all(); p; p = p->all_next) {
            if (p->state != PROC_ALIVE)
                continue;
            if (pid == -1 ? (is_init(p) || p == from->proc) : p->pgid != pg)
                continue;
            int e = send_locked(p, NULL, sig, &k, true);
            if (e < 0)
                err = e;
            n++;
        }
        r = n ? err : -ESRCH;
    }
    spin_unlock(&proc_lock);
    return r;
}

int signal_kill_group(struct thread *from, int pgid, int sig)
{
    return signal_kill(from, -pgid, sig, NULL);
}

/* ---- the thread's side ----------------------------------------------------- */

/* Is a signal th would act on now pending?  (Ignored ones never are.) */
static bool deliverable_locked(struct thread *th)
{
    return ((th->sig_pending.set | th->proc->sig.shared.set) & ~th->sig_blocked) != 0;
}

bool signal_interrupts(struct thread *th)
{
    if (!atomic_load(&th->sigwork))
        return false;
    spin_lock(&proc_lock);
    bool r = deliverable_locked(th);
    spin_unlock(&proc_lock);
    return r;
}

/* The interrupted call's fate once we know whether a handler runs. */
static void finish_restart(struct thread *th, const struct k_sigaction *act)
{
    uint8_t rs = th->sig_restart;
    if (rs == SIGRS_NONE)
        return;
    th->sig_restart = SIGRS_NONE;
    bool restart = !act || rs == SIGRS_ALWAYS ||
                   (rs == SIGRS_SYS && (act->flags & SA_RESTART));
    if (restart)
        th->tf.sepc -= 4;       /* a0 still holds the first argument: ecall again */
    else
        user_syscall_return(th, -EINTR);
}

long signal_restart_call(struct thread *th)
{
    th->sig_restart = SIGRS_SYS;
    atomic_store(&th->sigwork, 1);
    return (long)th->tf.x[REG_A0];      /* the first argument, for the restart */
}

bool signal_deliver(struct thread *th)
{
    struct proc *p = th->proc;
    for (;;) {
        atomic_store(&th->sigwork, 0);
        spin_lock(&proc_lock);
        if (atomic_load(&p->killed) || th->exiting) {
            spin_unlock(&proc_lock);
            return false;
        }
        if (p->sig.stopped) {
            spin_unlock(&proc_lock);
            return true;
        }
        struct ksiginfo info;
        int sig = next_signal(th, ~th->sig_blocked, &info);
        if (!sig) {
            if (th->restore_mask) {
                th->sig_blocked = th->saved_mask;
                th->restore_mask = false;
                th->in_sigwait = false;
            }
            spin_unlock(&proc_lock);
            finish_restart(th, NULL);
            return false;
        }
        struct k_sigaction act = signal_action(p, sig);
        if (act.handler == SIG_IGN_H) {
            spin_unlock(&proc_lock);
            continue;
        }
        if (act.handler == SIG_DFL_H) {
            enum def_action d = default_action(sig);
            if (d == D_TERM || d == D_CORE)
                kill_now(p, sig);
            else if (d == D_STOP)
                do_stop(p, sig);
            spin_unlock(&proc_lock);
            if (d == D_IGN || d == D_CONT)
                continue;
            return d == D_STOP;
        }
        /* a handler: the frame remembers the mask to return to */
        uint64_t old = th->restore_mask ? th->saved_mask : th->sig_blocked;
        th->restore_mask = false;
        th->in_sigwait = false;
        th->sig_blocked |= act.mask;
        if (!(act.flags & SA_NODEFER))
            th->sig_blocked |= SIGBIT(sig);
        th->sig_blocked &= ~UNBLOCKABLE;
        if (act.flags & SA_RESETHAND) {
            struct k_sigaction dfl = { .handler = SIG_DFL_H };
            if (signal_set_action_locked(p, sig, &dfl) < 0) {
                /* a handler that must run once cannot stay: end it */
                kill_now(p, SIGKILL);
                spin_unlock(&proc_lock);
                return false;
            }
        }
        spin_unlock(&proc_lock);

        finish_restart(th, &act);
        uint64_t top = th->tf.x[REG_SP];
        bool on_alt = th->ss_size && top - th->ss_sp < th->ss_size;
        if ((act.flags & SA_ONSTACK) && th->ss_size && !on_alt)
            top = th->ss_sp + th->ss_size;
        if (arch_signal_frame(th, top, act.handler, &info, old) < 0) {
            printk("pid %d (%s): killed: cannot write the signal frame sepc=0x%lx sp=0x%lx\n",
                   p->pid, p->name, th->tf.sepc, th->tf.x[REG_SP]);
            proc_exit_group(p, SIGSEGV);
            return false;
        }
    }
}

void signal_fault(struct thread *th, int sig, int code, uint64_t addr, const char *cause)
{
    struct proc *p = th->proc;
    spin_lock(&proc_lock);
    struct k_sigaction act = signal_action(p, sig);
    /* Only a handler that can run now takes it; a fault in the handler
     * itself (signal blocked) kills, as Linux's force_sig does. */
    bool handled = act.handler > SIG_IGN_H && !(th->sig_blocked & SIGBIT(sig));
    if (handled) {
        struct ksiginfo k = { .signo = sig, .code = code, .value = addr, .fault = true };
        handled = enqueue(p, &th->sig_pending, sig, &k) == 0;
        atomic_store(&th->sigwork, 1);
    }
    spin_unlock(&proc_lock);
    if (!handled) {
        printk("pid %d (%s): killed: %s sepc=0x%lx stval=0x%lx\n", p->pid, p->name, cause,
               th->tf.sepc, th->tf.stval);
        proc_exit_group(p, sig);
    }
}

/* ---- process lifetime --------------------------------------------------------- */

/* Under proc_lock or before child is visible: parent's table does not
 * change meanwhile (the caller is a thread of parent). */
void signal_fork(struct proc *child, struct proc *parent)
{
    spin_lock(&proc_lock);
    child->sig.actions = parent->sig.actions;
    child->sig.ignored = parent->sig.ignored;
    if (child->sig.actions)
        atomic_fetch_add(&child->sig.actions->refs, 1);
    spin_unlock(&proc_lock);
}

void signal_proc_free(struct proc *p)
{
    actions_put(p->sig.actions);
    p->sig.actions = NULL;
}

/* execve: handlers go back to SIG_DFL (ignored stays ignored); the
 * alternate stack is forgotten; the trampoline is mapped again on use. */
void signal_exec(struct proc *p)
{
    spin_lock(&proc_lock);
    /* what is left is a set of ignored signals: no table needed */
    struct sigactions *t = p->sig.actions;
    if (t) {
        p->sig.ignored = 0;
        for (int s = 1; s <= NSIG_K; s++)
            if (t->a[s - 1].handler == SIG_IGN_H)
                p->sig.ignored |= SIGBIT(s);
        p->sig.actions = NULL;
        actions_put(t);
    }
    p->sig.tramp_mm = NULL;
    for (struct thread *t = p->threads; t; t = t->sibling)
        t->ss_sp = t->ss_size = 0;
    spin_unlock(&proc_lock);
}

void signal_thread_exit(struct thread *th)
{
    struct proc *p = th->proc;
    spin_lock(&proc_lock);
    pending_flush_mask(p, &th->sig_pending, ~0UL);
    /* a process-directed signal it was chosen for goes to another thread */
    for (struct thread *t = p->threads; t; t = t->sibling)
        if (t != th && !t->exiting && (p->sig.shared.set & ~t->sig_blocked)) {
            notify(t);
            break;
        }
    spin_unlock(&proc_lock);
}

/* The process is becoming a zombie: nothing more will be delivered. */
void signal_proc_exit_locked(struct proc *p)
{
    pending_flush_mask(p, &p->sig.shared, ~0UL);
    kfree(p->sig.spare);
    p->sig.spare = NULL;
    sigtimer_proc_exit_locked(p);
}

void signal_child_exit_locked(struct proc *p, int status)
{
    int code = (status & 0x7f) == 0 ? CLD_EXITED : CLD_KILLED;
    int st = code == CLD_EXITED ? (status >> 8) & 0xff : status & 0x7f;
    p->sig.report = 0;
    if (p->parent)
        tell_parent_locked(p, code, st);
}
