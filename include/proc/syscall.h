/*
 * syscall.h - system call handlers (src/sys_*.c), Linux riscv64 ABI.
 *
 * A handler returns its result, or SYSCALL_WAIT after initialising the
 * thread's syscall future (th->sc), which the thread then awaits: the
 * same future that would serve the call asynchronously.  A handler that
 * has polled th->sc itself, and got PENDING (so its waker is registered),
 * returns SYSCALL_WAITING instead: the thread then polls it only after a
 * wake, not once more at once for nothing.
 */
#pragma once
#include <limits.h>
#include <stdint.h>
#include "proc/proc.h"

#define SYSCALL_WAIT LONG_MIN
#define SYSCALL_WAITING (LONG_MIN + 1)

/* sys_time.c: ticks to add to arch_time() for CLOCK_REALTIME (else 0). */
uint64_t time_ticks_of_clock(int clock_realtime);

/* a[] is the caller's saved argument registers (user_syscall_args):
 * read it, never write it - a user's a1..a5 survive a system call. */
typedef long (*syscall_fn)(struct thread *th, uint64_t a[6]);

/* Start th->sc as a wait on `child` (embedded in th->sc); the result of
 * the call is computed by `done` from it when it completes. */
void sc_wait_init(struct thread *th, const struct future_ops *ops);

#define SYS(name) long sys_##name(struct thread *th, uint64_t a[6])
SYS(exit); SYS(exit_group); SYS(getpid); SYS(getppid); SYS(gettid); SYS(clone);
SYS(execve); SYS(wait4); SYS(kill); SYS(set_tid_address); SYS(sched_yield);
SYS(futex); SYS(setpgid); SYS(getpgid); SYS(rt_sigaction); SYS(rt_sigprocmask);
SYS(set_robust_list); SYS(prlimit64); SYS(getrlimit); SYS(setrlimit); SYS(getuid);
SYS(read); SYS(write); SYS(readv); SYS(writev); SYS(openat); SYS(close); SYS(dup);
SYS(dup3); SYS(pipe2); SYS(fstat); SYS(newfstatat); SYS(getcwd); SYS(chdir);
SYS(ioctl); SYS(getdents64); SYS(lseek); SYS(readlinkat); SYS(fcntl);
SYS(brk); SYS(mmap); SYS(munmap); SYS(mprotect); SYS(madvise); SYS(msync);
SYS(nanosleep); SYS(clock_gettime); SYS(gettimeofday); SYS(times); SYS(uname);
SYS(getrandom); SYS(clock_nanosleep); SYS(getcpu);
SYS(pread64); SYS(pwrite64); SYS(preadv); SYS(pwritev); SYS(statx); SYS(mkdirat);
SYS(unlinkat); SYS(symlinkat); SYS(linkat); SYS(renameat2); SYS(truncate); SYS(ftruncate);
SYS(sync); SYS(fsync); SYS(fdatasync); SYS(syncfs); SYS(fchmod); SYS(fchmodat);
SYS(utimensat); SYS(fchdir); SYS(statfs); SYS(fstatfs); SYS(faccessat); SYS(faccessat2);
SYS(mount); SYS(umount2);
/* sys_fs.c */
long fs_user_path(struct thread *th, int dirfd, uint64_t upath, char *abs, size_t cap);
long fs_execve(struct thread *th, uint64_t upath, uint64_t uargv, uint64_t uenvp);
long fs_shutdown(struct thread *th, bool restart);         /* reboot(2), after sync */
/* io_uring's OPENAT and STATX: an fscall for the submitter's mm, files and
 * cwd (path copied now), or NULL and *err; fs_uring_poll runs it (READY:
 * *result), fs_uring_cancel drops it (done or not).  STATX's copy-out of
 * its result can be run again (fs_uring_finish_again) once a file page
 * it met is read; OPENAT's finish installs the fd and must run once. */
struct fscall;
struct fscall *fs_uring_openat(struct mm *mm, struct fdtable *files, const char *cwd, int dirfd,
                               uint64_t upath, int flags, uint32_t mode, long *err);
struct fscall *fs_uring_statx(struct mm *mm, struct fdtable *files, const char *cwd, int dirfd,
                              uint64_t upath, int flags, uint64_t ubuf, long *err);
enum poll fs_uring_poll(struct fscall *fc, struct cx *cx, long *result);
void fs_uring_cancel(struct fscall *fc);
long fs_uring_finish_again(struct fscall *fc);
SYS(tkill); SYS(tgkill); SYS(sigaltstack); SYS(rt_sigsuspend); SYS(rt_sigpending);
SYS(rt_sigtimedwait); SYS(rt_sigqueueinfo); SYS(rt_sigreturn); SYS(rt_tgsigqueueinfo);
SYS(getsid); SYS(setsid); SYS(getitimer); SYS(setitimer); SYS(timer_create);
SYS(timer_gettime); SYS(timer_getoverrun); SYS(timer_settime); SYS(timer_delete);
SYS(io_uring_setup); SYS(io_uring_enter); SYS(io_uring_register); SYS(setpriority); SYS(getpriority);
SYS(reboot); SYS(sched_setaffinity); SYS(sched_getaffinity); SYS(ppoll); SYS(pselect6);
