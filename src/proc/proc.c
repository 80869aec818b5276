/*
 * proc.c - the process tree: pids, exit, zombies, reaping, kill, ps.
 *
 * proc_lock guards the tree (parent, children, sibling), the list of all
 * processes and each process's thread list.  A process is freed by the
 * wait4 that reaps it (or at once if its parent is gone and init is it).
 */
#include "arch.h"
#include "lib/errno.h"
#include "core/executor.h"
#include "lib/klib.h"
#include "mem/kmalloc.h"
#include "lib/printk.h"
#include "proc/proc.h"
#include "user_trap.h"

struct spinlock proc_lock = SPINLOCK_INIT("proc");
static struct proc *all_procs;
static struct proc *init_proc;
_Atomic int console_fg_pgrp;

int id_alloc(void);                 /* thread.c: pids and tids share one space */

struct proc *proc_alloc(struct proc *parent)
{
    struct proc *p = kzalloc(sizeof *p);
    if (!p)
        return NULL;
    p->pid = id_alloc();
    p->pgid = parent ? parent->pgid : p->pid;
    p->sid = parent ? parent->sid : p->pid;
    p->state = PROC_ALIVE;
    p->prio_ceiling = parent ? parent->prio_ceiling : PRIO_DEFAULT;
    /* there are no users: the limit is what init starts with (nice 0) */
    p->nice = parent ? parent->nice : 0;
    p->nice_rlim[0] = parent ? parent->nice_rlim[0] : 20;
    p->nice_rlim[1] = parent ? parent->nice_rlim[1] : 20;
    waitq_init(&p->child_exit, "proc.child_exit");
    waitq_init(&p->threads_left, "proc.threads_left");
    waitq_init(&p->stopq, "proc.stopq");
    p->start_time = arch_time();
    strlcpy(p->cwd, parent ? parent->cwd : "/", sizeof p->cwd);
    if (parent) {
        strlcpy(p->name, parent->name, sizeof p->name);
        signal_fork(p, parent);
    }
    spin_lock(&proc_lock);
    p->parent = parent;
    if (parent) {
        p->sibling = parent->children;
        parent->children = p;
    } else if (!init_proc) {
        init_proc = p;
    }
    p->all_next = all_procs;
    all_procs = p;
    spin_unlock(&proc_lock);
    return p;
}

struct proc *proc_all(void) { return all_procs; }

struct proc *proc_find(int pid)
{
    for (struct proc *p = all_procs; p; p = p->all_next)
        if (p->pid == pid)
            return p;
    return NULL;
}

int proc_count(void)
{
    int n = 0;
    spin_lock(&proc_lock);
    for (struct proc *p = all_procs; p; p = p->all_next)
        n++;
    spin_unlock(&proc_lock);
    return n;
}

/* Make every thread of p leave user mode and notice p is dying. */
static void kick_threads_locked(struct proc *p)
{
    for (struct thread *th = p->threads; th; th = th->sibling) {
        th->exiting = true;
        task_wake(th->task);
    }
    if (p->nthreads > 1 || (p->threads && p->threads->task->hart != this_hart()->index))
        for (unsigned i = 0; i < nharts; i++)   /* running elsewhere: make it trap */
            if (&harts[i] != this_hart())
                arch_send_ipi(i);
}

void proc_exit_group(struct proc *p, int status)
{
    spin_lock(&proc_lock);
    int expected = 0;
    if (atomic_compare_exchange_strong(&p->killed, &expected, -1))
        p->exit_code = status;
    kick_threads_locked(p);
    spin_unlock(&proc_lock);
}

static void free_proc(struct proc *p)
{
    for (struct proc **pp = &all_procs; *pp; pp = &(*pp)->all_next)
        if (*pp == p) {
            *pp = p->all_next;
            break;
        }
    signal_proc_free(p);
    kfree(p);
}

/* The last thread of p has exited (thread.c). */
void proc_became_zombie(struct proc *p)
{
    uring_cancel_owner(p);      /* its io_uring operations end with it */
    if (p->files) {
        fdtable_put(p->files);
        p->files = NULL;
    }
    if (p->mm) {
        user_mm_forget(p->mm);
        mm_put(p->mm);
        p->mm = NULL;
    }
    spin_lock(&proc_lock);
    /* orphans go to init, which reaps them */
    bool zombies_for_init = false;
    while (p->children) {
        struct proc *c = p->children;
        p->children = c->sibling;
        c->parent = init_proc;
        if (init_proc && init_proc != p) {
            c->sibling = init_proc->children;
            init_proc->children = c;
            zombies_for_init |= c->state == PROC_ZOMBIE;
        } else {
            c->parent = NULL;
        }
    }
    p->state = PROC_ZOMBIE;
    signal_proc_exit_locked(p);
    signal_child_exit_locked(p, p->exit_code);     /* SIGCHLD */
    struct proc *parent = p->parent;
    /* wake under proc_lock: the parent cannot be reaped and freed meanwhile */
    if (parent)
        waitq_wake_all(&parent->child_exit);
    if (zombies_for_init)
        waitq_wake_all(&init_proc->child_exit);
    /* a parent that ignores SIGCHLD (or asked SA_NOCLDWAIT) has no zombies */
    if (parent && parent != init_proc &&
        (signal_action(parent, SIGCHLD).handler == SIG_IGN_H ||
         (signal_action(parent, SIGCHLD).flags & SA_NOCLDWAIT))) {
        for (struct proc **pp = &parent->children; *pp; pp = &(*pp)->sibling)
            if (*pp == p) {
                *pp = p->sibling;
                break;
            }
        parent = NULL;
    }
    if (!parent)
        free_proc(p);           /* nobody will wait for it */
    spin_unlock(&proc_lock);
    if (p == init_proc)
        printk("init exited: the system has no user space any more\n");
}

/* wait4: find a zombie child matching pid (-1 any, >0 that one, 0/<-1 a group).
 * Returns its pid with status filled and the child freed; 0 if there are
 * matching children but none has exited; -ECHILD if there are none.
 * With WUNTRACED / WCONTINUED a child's stop or continuation is reported
 * (once) as well, and the child stays. */
int proc_reap(struct proc *p, int pid, int options, int *status, uint64_t *cutime)
{
    int found = 0;
    spin_lock(&proc_lock);
    for (struct proc **pp = &p->children; *pp; pp = &(*pp)->sibling) {
        struct proc *c = *pp;
        bool match = pid == -1 || (pid > 0 && c->pid == pid) ||
                     (pid == 0 && c->pgid == p->pgid) || (pid < -1 && c->pgid == -pid);
        if (!match)
            continue;
        found = -1;
        int rep = c->sig.report;
        if (c->state == PROC_ALIVE && ((rep == CLD_STOPPED && (options & 2 /* WUNTRACED */)) ||
                                       (rep == CLD_CONTINUED && (options & 8 /* WCONTINUED */)))) {
            *status = rep == CLD_STOPPED ? (c->sig.report_sig << 8) | 0x7f : 0xffff;
            *cutime = 0;
            c->sig.report = 0;
            spin_unlock(&proc_lock);
            return c->pid;
        }
        if (c->state != PROC_ZOMBIE)
            continue;
        *pp = c->sibling;
        int cpid = c->pid;
        *status = c->exit_code;
        *cutime = c->utime + c->cutime;
        free_proc(c);
        spin_unlock(&proc_lock);
        return cpid;
    }
    spin_unlock(&proc_lock);
    return found ? 0 : -ECHILD;
}

/* ^C and ^Z on the console: SIGINT / SIGTSTP to the foreground group. */
static void console_signal(int sig)
{
    int pg = atomic_load(&console_fg_pgrp);
    if (pg <= 0)
        return;
    spin_lock(&proc_lock);
    signal_send_group_locked(pg, sig);
    spin_unlock(&proc_lock);
}

void console_interrupt_hook(void) { console_signal(SIGINT); }
void console_suspend_hook(void) { console_signal(SIGTSTP); }

void proc_report_ps(struct outbuf *o)
{
    outf(o, "PID PPID THR STATE HART NAME\n");
    spin_lock(&proc_lock);
    for (struct proc *p = all_procs; p; p = p->all_next) {
        const char *state = "Z";
        int hart = -1;
        if (p->state == PROC_ALIVE) {
            state = p->sig.stopped ? "T" : "S";
            for (struct thread *th = p->threads; th; th = th->sibling) {
                uint32_t s = atomic_load(&th->task->state);
                if ((s & (TASK_RUNNING | TASK_QUEUED)) && !p->sig.stopped)
                    state = "R";
                if (th->task->hart != TASK_NO_HART)
                    hart = th->task->hart;
            }
        }
        char h[8] = "-";
        if (hart >= 0)
            snprintf(h, sizeof h, "%d", hart);
        outf(o, "%-3d %-4d %-3d %-5s %-4s %s\n", p->pid, p->parent ? p->parent->pid : 0,
             p->nthreads, state, h, p->name);
    }
    spin_unlock(&proc_lock);
}

/* Undo a proc_alloc whose clone failed half way (no thread ever ran). */
void proc_abort(struct proc *c)
{
    if (c->files)
        fdtable_put(c->files);
    if (c->mm)
        mm_put(c->mm);
    spin_lock(&proc_lock);
    if (c->parent)
        for (struct proc **pp = &c->parent->children; *pp; pp = &(*pp)->sibling)
            if (*pp == c) {
                *pp = c->sibling;
                break;
            }
    free_proc(c);
    spin_unlock(&proc_lock);
}
