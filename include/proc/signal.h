/*
 * signal.h - POSIX signals, Linux semantics (src/proc/signal.c,
 * src/proc/sigtimer.c).
 *
 * What a signal is here:
 *  - Sending queues a record (struct ksiginfo) on the target thread's or
 *    the process's pending set, sets the chosen thread's `sigwork` flag,
 *    wakes its task and, if it runs user code on another hart, sends that
 *    hart an IPI.  Ignored signals are dropped at once; SIGKILL and a
 *    fatal default action end the process at once (proc_exit_group);
 *    stop signals stop it at once; SIGCONT resumes it.
 *  - A thread looks at `sigwork` before every entry to user mode.  A
 *    signal with a handler is delivered by writing a Linux riscv64
 *    struct rt_sigframe on the user stack and editing the saved user
 *    registers (pc = handler, a0..a2, sp, ra = the sigreturn trampoline).
 *  - A thread waiting in a system call is woken by the send; its
 *    syscall future is then *cancelled* (releasing every waker and
 *    reference) and the call returns -EINTR or is restarted after the
 *    handler (SA_RESTART), as th->sc.restart says.
 *
 * Locking: proc_lock guards every pending set, the actions, the masks
 * of other threads and the stop state.  A thread reads its own mask
 * without the lock (only it writes it, under the lock).
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct proc;
struct thread;

#define NSIG_K 64
#define SIGHUP 1
#define SIGINT 2
#define SIGQUIT 3
#define SIGILL 4
#define SIGTRAP 5
#define SIGABRT 6
#define SIGBUS 7
#define SIGFPE 8
#define SIGKILL 9
#define SIGUSR1 10
#define SIGSEGV 11
#define SIGUSR2 12
#define SIGPIPE 13
#define SIGALRM 14
#define SIGTERM 15
#define SIGCHLD 17
#define SIGCONT 18
#define SIGSTOP 19
#define SIGTSTP 20
#define SIGTTIN 21
#define SIGTTOU 22

#define SIGBIT(s) (1UL << ((s) - 1))

/* si_code values (asm-generic/siginfo.h) */
#define SI_USER 0
#define SI_KERNEL 0x80
#define SI_QUEUE -1
#define SI_TIMER -2
#define SI_TKILL -6
#define CLD_EXITED 1
#define CLD_KILLED 2
#define CLD_DUMPED 3
#define CLD_STOPPED 5
#define CLD_CONTINUED 6
#define SEGV_MAPERR 1
#define SEGV_ACCERR 2
#define BUS_ADRERR 2

/* The kernel's compact siginfo; expanded to Linux's 128 bytes on delivery. */
struct ksiginfo {
    int signo, code;
    int pid, uid;
    int status;                 /* SIGCHLD */
    int overrun;                /* timers */
    uint64_t value;             /* sigval, or the fault address */
    bool fault;                 /* value is si_addr */
};

struct sigq {
    struct sigq *next;
    struct ksiginfo info;
};

/* A pending set: the bitmap, and the records (at most one per standard
 * signal; real-time signals queue). */
struct sigpending {
    uint64_t set;
    struct sigq *head;
};

struct k_sigaction {
    uint64_t handler;           /* 0 SIG_DFL, 1 SIG_IGN, else an address */
    uint64_t flags;
    uint64_t mask;
};

#define SIG_DFL_H 0
#define SIG_IGN_H 1
#define SA_NOCLDSTOP 0x00000001
#define SA_NOCLDWAIT 0x00000002
#define SA_SIGINFO 0x00000004
#define SA_ONSTACK 0x08000000
#define SA_RESTART 0x10000000
#define SA_NODEFER 0x40000000
#define SA_RESETHAND 0x80000000

/* th->sc.restart: what an interrupted system call does (unless its
 * cancel left sc.result > 0: work done, returned as the result). */
enum sc_restart {
    SC_RESTART_SYS = 0,         /* restart if the handler has SA_RESTART, else -EINTR */
    SC_RESTART_NEVER,           /* -EINTR whatever the handler says */
};
/* th->sig_restart: an interrupted call is waiting for the delivery's verdict. */
enum { SIGRS_NONE = 0, SIGRS_SYS, SIGRS_NEVER, SIGRS_ALWAYS };

/* The actions of a process: 1.5 KiB that most processes never change,
 * so it is allocated on the first sigaction that sets one and shared
 * copy-on-write by fork (a table with refs > 1 is never written). */
struct sigactions {
    _Atomic int refs;
    struct k_sigaction a[NSIG_K];
};

/* Process state (in struct proc). */
struct proc_signals {
    struct sigactions *actions; /* NULL: every action is SIG_DFL, or SIG_IGN for
                                 * the bits of `ignored` (all execve can leave) */
    uint64_t ignored;           /* only while actions is NULL */
    struct sigpending shared;
    bool stopped;               /* group stop in effect */
    int report;                 /* for the parent's wait4: CLD_STOPPED/CLD_CONTINUED, 0 */
    int report_sig;
    struct mm *tramp_mm;        /* the mm the sigreturn trampoline is mapped in */
    struct sigtimer *itimer;    /* ITIMER_REAL / alarm */
    struct sigtimer *timers;    /* timer_create */
    int next_timer_id;
    int queued;                 /* records queued, for the real-time limit */
    struct sigq *spare;         /* one free record kept: no allocation per signal */
};

/* ---- sending (any context; takes proc_lock) ------------------------------ */
/* From user space (kill & co): permission and init rules apply. */
int signal_kill(struct thread *from, int pid, int sig, const struct ksiginfo *info);
int signal_kill_group(struct thread *from, int pgid, int sig);
/* A process-directed signal from the kernel (timers, ^C, SIGCHLD). */
int signal_send_proc_locked(struct proc *p, int sig, const struct ksiginfo *info);
int signal_send_group_locked(int pgid, int sig);
/* A thread-directed signal (tkill, SIGPIPE, faults). */
int signal_send_thread_locked(struct thread *th, int sig, const struct ksiginfo *info);
void signal_send_thread(struct thread *th, int sig);
int signal_send_user_thread_locked(struct thread *th, int sig, const struct ksiginfo *info);
/* Pending sets, under proc_lock. */
void signal_flush_locked(struct proc *p, uint64_t mask);
void signal_dequeue_locked(struct proc *p, struct sigpending *sp, int sig, struct ksiginfo *out);
/* Linux's 128-byte siginfo for k (arch/riscv/sigframe.c). */
void signal_siginfo(uint8_t *buf, const struct ksiginfo *k);

/* ---- the thread's side (thread.c) ---------------------------------------- */
/* Deliver what is deliverable.  Returns true if the thread must wait
 * for SIGCONT (the process is stopped). */
bool signal_deliver(struct thread *th);
/* Should th's waiting system call be interrupted now? */
bool signal_interrupts(struct thread *th);
/* A synchronous fault: run the handler if there is one, else kill with
 * the line faults print.  */
void signal_fault(struct thread *th, int sig, int code, uint64_t addr, const char *cause);
bool signal_stopped(struct thread *th);
void signal_thread_exit(struct thread *th);
/* Process lifetime: fork copies, exec resets handlers, exit frees. */
void signal_fork(struct proc *child, struct proc *parent);
void signal_exec(struct proc *p);
void signal_proc_exit_locked(struct proc *p);
void signal_proc_free(struct proc *p);          /* the struct proc goes */
/* The action for sig (under proc_lock). */
struct k_sigaction signal_action(struct proc *p, int sig);
/* Set it (under proc_lock): 0, or -ENOMEM when a private table is needed
 * and there is no memory for it. */
int signal_set_action_locked(struct proc *p, int sig, const struct k_sigaction *act);
void signal_proc_free(struct proc *p);
/* The last thread of p exited with wait status `status`: tell the parent. */
void signal_child_exit_locked(struct proc *p, int status);
bool signal_is_ignored(struct proc *p, int sig);

/* A system call that sent its caller a signal (SIGTTIN, SIGTTOU) and
 * must be tried again after it, or fail with EINTR if a handler without
 * SA_RESTART runs.  Returns what the call returns: a0 unchanged. */
long signal_restart_call(struct thread *th);

/* sigtimer.c */
void sigtimer_proc_exit_locked(struct proc *p);
