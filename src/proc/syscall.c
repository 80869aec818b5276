/*
 * syscall.c - the system-call table (Linux asm-generic numbers, from
 * Debian's linux-libc-dev-riscv64-cross unistd.h) and dispatch.
 */
#include "lib/errno.h"
#include "lib/printk.h"
#include "proc/syscall.h"
#include "instruments/trace.h"
#include "user_trap.h"

#define NR_MAX 460

static const struct { syscall_fn fn; const char *name; } table[NR_MAX] = {
#define E(nr, n) [nr] = { sys_##n, #n }
    E(17, getcwd), E(23, dup), E(24, dup3), E(25, fcntl), E(29, ioctl), E(49, chdir),
    E(56, openat), E(57, close), E(59, pipe2), E(61, getdents64), E(62, lseek),
    E(63, read), E(64, write), E(65, readv), E(66, writev), E(78, readlinkat),
    E(79, newfstatat), E(80, fstat), E(93, exit), E(94, exit_group),
    E(96, set_tid_address), E(98, futex), E(99, set_robust_list), E(101, nanosleep),
    E(113, clock_gettime), E(115, clock_nanosleep), E(124, sched_yield), E(129, kill),
    E(134, rt_sigaction), E(135, rt_sigprocmask), E(153, times), E(154, setpgid),
    E(155, getpgid), E(160, uname), E(169, gettimeofday), E(172, getpid),
    E(173, getppid), E(174, getuid), E(175, getuid), E(176, getuid), E(177, getuid),
    E(178, gettid), E(214, brk), E(215, munmap), E(220, clone), E(221, execve),
    E(222, mmap), E(226, mprotect), E(227, msync), E(233, madvise), E(260, wait4), E(261, prlimit64),
    E(278, getrandom), E(168, getcpu), E(425, io_uring_setup), E(426, io_uring_enter),
    E(427, io_uring_register), E(140, setpriority), E(141, getpriority),
    E(67, pread64), E(68, pwrite64), E(69, preadv), E(70, pwritev), E(291, statx),
    E(34, mkdirat), E(35, unlinkat), E(36, symlinkat), E(37, linkat), E(276, renameat2),
    E(45, truncate), E(46, ftruncate), E(81, sync), E(82, fsync), E(83, fdatasync),
    E(267, syncfs), E(52, fchmod), E(53, fchmodat), E(88, utimensat), E(50, fchdir),
    E(43, statfs), E(44, fstatfs), E(48, faccessat), E(439, faccessat2), E(40, mount),
    E(39, umount2),
    E(163, getrlimit), E(164, setrlimit),
    E(142, reboot), E(122, sched_setaffinity), E(123, sched_getaffinity), E(72, pselect6), E(73, ppoll),
    E(130, tkill), E(131, tgkill), E(132, sigaltstack), E(133, rt_sigsuspend),
    E(136, rt_sigpending), E(137, rt_sigtimedwait), E(138, rt_sigqueueinfo),
    E(139, rt_sigreturn), E(240, rt_tgsigqueueinfo), E(156, getsid), E(157, setsid),
    E(102, getitimer), E(103, setitimer), E(107, timer_create), E(108, timer_gettime),
    E(109, timer_getoverrun), E(110, timer_settime), E(111, timer_delete),
#undef E
};

/* Linux's names for every number (generated from unistd.h by build.mk). */
static const char *const linux_names[NR_MAX] = {
#include "syscall_names.h"
};

static _Atomic uint64_t enosys_logged[(NR_MAX + 63) / 64 + 1];

enum sc_start syscall_start(struct thread *th)
{
    long nr;
    uint64_t *a = user_syscall_args(th, &nr);
    trace_event(TR_SYSCALL_BEGIN, nr, th->tid);
    long r;
    if (nr >= 0 && nr < NR_MAX && table[nr].fn) {
        r = table[nr].fn(th, a);
        if (__builtin_expect(r <= SYSCALL_WAITING, 0))     /* (the two lowest longs) */
            return r == SYSCALL_WAIT ? SC_WAIT : SC_WAITING;
    } else {
        unsigned slot = nr >= 0 && nr < NR_MAX ? nr : NR_MAX;
        uint64_t bit = 1UL << (slot % 64);
        if (!(atomic_fetch_or(&enosys_logged[slot / 64], bit) & bit))
            printk("pid %d (%s): unimplemented system call %ld (%s): -ENOSYS\n",
                   th->proc->pid, th->proc->name, nr,
                   slot < NR_MAX && linux_names[slot] ? linux_names[slot] : "unknown");
        r = -ENOSYS;
    }
    trace_event(TR_SYSCALL_END, nr, r);
    user_syscall_return(th, r);
    return SC_DONE;
}

void syscall_finish(struct thread *th, long result)
{
    trace_event(TR_SYSCALL_END, 0, result);
    user_syscall_return(th, result);
}

void sc_wait_init(struct thread *th, const struct future_ops *ops)
{
    future_init(&th->sc.base, ops);
    th->sc.th = th;
    th->sc.restart = SC_RESTART_SYS;
    th->sc.result = 0;
    th->sc.holds_mm = false;
}
