/*
 * proc.h - processes and user threads.
 *
 * A process is an address space plus resources: its file table, cwd,
 * children and exit status.  A thread is a user register set and a task
 * in the kernel whose root future is, in effect,
 *
 *     loop { trap = await enter_user(thread); await handle_trap(thread, trap); }
 *
 * (src/proc/thread.c).  A blocked thread costs only its struct thread and task
 * header: no kernel stack.
 *
 * Process lifecycle:
 *
 *   clone/exec ---> ALIVE --- last thread exits ---> ZOMBIE --- wait4 ---> freed
 *                     |  (exit_group, fatal fault, kill)  ^
 *                     +-----------------------------------+
 */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "fs/file.h"
#include "fs/pagecache.h"
#include "core/future.h"
#include "mem/mm.h"
#include "lib/outbuf.h"
#include "core/timer.h"
#include "trapframe.h"
#include "mem/shootdown.h"
#include "uring/uring.h"
#include "proc/signal.h"

#define PROC_NAME 16

enum proc_state { PROC_ALIVE, PROC_ZOMBIE };

struct proc {
    int pid, pgid, sid;
    enum proc_state state;
    struct proc *parent;
    struct proc *children, *sibling;    /* under proc_lock */
    struct proc *all_next;              /* every process, for ps */
    struct mm *mm;
    struct fdtable *files;
    char cwd[128];
    char name[PROC_NAME];
    int nthreads;                       /* live threads */
    struct thread *threads;             /* under proc_lock */
    struct waitq threads_left;          /* execve waits here for the others to go */
    struct thread *execing;             /* that execve's thread (under proc_lock):
                                         * a thread cloned meanwhile ends at once */
    _Atomic int killed;                 /* signal number that ends it, 0 if none */
    bool did_exec;                      /* setpgid on a child: EACCES after execve */
    struct waitq stopq;                 /* threads waiting for SIGCONT */
    struct proc_signals sig;            /* actions, shared pending, stop state */
    uint8_t prio_ceiling;               /* highest task priority its threads may get */
    int8_t nice;                        /* setpriority: -20..19; sets prio_ceiling */
    uint8_t nice_rlim[2];               /* RLIMIT_NICE soft, hard: nice >= 20 - soft */
    int exit_code;                      /* wait4 status word */
    struct waitq child_exit;            /* wait4 waiters (in this, the parent) */
    uint64_t utime, stime;              /* ticks, for times() */
    uint64_t cutime, cstime;
    uint64_t start_time;
};

/* A new program image, built before the old one goes (exec.c). */
struct exec_image {
    struct mm *mm;                      /* one reference */
    uint64_t entry, sp;
    char name[PROC_NAME];
};

struct fscall;
struct poll_set;

/* The system call being served: its future lives here, one at a time. */
struct syscall_wait {
    struct future base;
    struct thread *th;
    long result;
    int kind;                           /* which union member below */
    bool holds_mm;                      /* took a reference to its thread's mm */
    uint8_t restart;                    /* enum sc_restart: if a signal interrupts it */
    uint64_t urem;                      /* nanosleep: where the time left goes */
    union {
        struct file_io io;
        struct sleep sleep;
        struct { struct waiter w; int pid; uint64_t ustatus; int options; } wait;
        struct {
            struct syscall_wait *next, *prev;   /* bucket list (futex.c) */
            struct mm *mm;
            uint64_t uaddr;
            struct sleep timeout;
            bool has_timeout, linked, woken;
        } futex;
        struct { struct file_io io; int fd; int16_t i, cnt; bool write; uint64_t iov; long total; int64_t pos; } vec;
        struct { struct enter_wait wait; struct file *f; long submitted; } uring;
        struct shootdown shootdown;
        struct { struct waiter w; } exec;       /* execve: the others are going */
        struct fscall *fsc;             /* file-system calls that may wait (sys_fs.c) */
        struct poll_set *poll;          /* ppoll, pselect6 (fs/sys_poll.c) */
        struct { struct waiter w; } stop;       /* waiting for SIGCONT, between calls */
        struct pc_wait pgfault;                 /* a page fault awaits a file page's fill */
        struct msync_call *msync;               /* msync (mem/sys_mem.c) */
        struct { uint64_t set, uinfo; struct sleep timeout; bool has_timeout; } sigwait;
    };
};

struct thread {
    struct future base;                 /* the thread's root future */
    struct trapframe tf;                /* user registers (saved by trapvec.S) */
    struct proc *proc;
    struct task *task;
    struct thread *sibling;             /* proc->threads */
    int tid;
    uint64_t clear_child_tid;           /* CLONE_CHILD_CLEARTID / set_tid_address */
    uint64_t cause;                     /* the trap enter_user returned */
    uint64_t *fp;                       /* FP registers + fcsr, once the thread used FP */
    uint16_t fp_hart;                   /* hart whose FP registers hold ours */
    uint8_t fp_eager;                   /* traps left that get FP loaded at entry (enter_user.c) */
    bool exiting;
    uint8_t sig_restart;                /* SIGRS_*: an interrupted call awaits delivery */
    bool restore_mask;                  /* sigsuspend/sigtimedwait: saved_mask is the real one */
    bool in_sigwait;                    /* rt_sigtimedwait: its set is only unblocked to wake us */
    bool yield_after;                   /* sched_yield: give way before user mode again */
    bool copy_wait;                     /* sc.pgfault: a system call to restart once read */
    _Atomic uint8_t sigwork;            /* a signal or a stop may be pending: look */
    int exit_status;                    /* exit(): the status if this thread is the last */
    uint64_t sig_blocked, saved_mask;
    struct sigpending sig_pending;      /* thread-directed */
    uint64_t ss_sp;                     /* sigaltstack */
    uint32_t ss_size, ss_flags;
    uint64_t entered;                   /* time of the last entry to user mode */
    struct uring *prio_ring;            /* whose control word carries our priority hint */
    struct syscall_wait sc;
};

extern struct spinlock proc_lock;

struct thread *thread_current(void);
struct proc *proc_alloc(struct proc *parent);     /* pid assigned; NULL: no memory */
struct thread *thread_alloc(struct proc *p);      /* a task with a thread future; NULL: no memory */
void thread_start(struct thread *th);
/* Its task's priority: the ring's hint (or PRIO_DEFAULT) under the
 * process's ceiling.  On each trap for ring threads; at creation and on
 * setpriority for the others. */
void thread_update_prio(struct thread *th);
/* Record exit of the whole process with status (wait4 word), kill others. */
void proc_exit_group(struct proc *p, int status);
void proc_report_ps(struct outbuf *o);
struct proc *proc_find(int pid);                   /* under proc_lock */
struct proc *proc_all(void);                       /* the list of every process, under proc_lock */
int proc_count(void);

/*
 * exec.c.  execve in two steps: exec_prepare builds the new image from
 * path and the caller's argv/envp (0 or -errno; the old image is intact on
 * error); exec_commit replaces th's process image with it - only once th
 * is the process's only thread (exec_end_other_threads).
 */
/* A program on an ext2 disk: an open file of it, its first page in the
 * page cache (VALID), its size.  NULL instead: a program of the initrd. */
struct exec_file {
    struct file *f;
    struct pc_page *head;
    uint64_t size;
};
int exec_prepare(struct thread *th, const char *path, uint64_t uargv, uint64_t uenvp,
                 const struct exec_file *xf, struct exec_image *img);
void exec_commit(struct thread *th, struct exec_image *img);
void exec_image_drop(struct exec_image *img);
void exec_abandon(struct thread *th, struct exec_image *img);  /* a cancelled wait; img may be NULL */
int exec_load(struct thread *th, const char *path, uint64_t uargv, uint64_t uenvp,
              const struct exec_file *xf);
/* Make every other thread of th's process leave (their pending system
 * calls are cancelled).  1: th is alone already; 0: the others are going
 * (await proc->threads_left until nthreads == 1); -EAGAIN: th itself is
 * being ended (another exec or an exit got there first). */
int exec_end_other_threads(struct thread *th);
int exec_init(const char *path);                   /* start pid 1 */
int exec_spawn(const char *path);                  /* a parentless process: pid */
int exec_spawn_argv(const char *path, int argc, const char *const argv[]);
/* Start pid 1 from an ext2 program (the root disk's /bin/init). */
int exec_init_file(const char *path, const struct exec_file *xf);

/* syscall.c: serve the ecall in th->tf.  SC_DONE: tf.a0 is set.  SC_WAIT:
 * th->sc is initialised, to be awaited.  SC_WAITING: th->sc was polled,
 * PENDING, and its waker registered: await it after the next wake. */
enum sc_start { SC_DONE, SC_WAIT, SC_WAITING };
enum sc_start syscall_start(struct thread *th);
void syscall_finish(struct thread *th, long result);

/* futex.c */
long futex_wake(struct mm *mm, uint64_t uaddr, int n);

/* Console ^C / ^Z and TIOCSPGRP: the foreground process group of the
 * console, whose session is init's (CONSOLE_SID). */
#define CONSOLE_SID 1
extern _Atomic int console_fg_pgrp;
