/*
 * sys_file.c - file system calls.  read and write await the file's
 * file_io future (the same future an asynchronous read would use).
 */
#include "lib/errno.h"
#include "lib/klib.h"
#include "mem/kmalloc.h"
#include "proc/syscall.h"

#define AT_FDCWD (-100)
#define AT_EMPTY_PATH 0x1000
#define O_CLOEXEC 02000000
#define O_NONBLOCK 04000
#define IOV_MAX 1024

/* ---- read / write -------------------------------------------------------- */

/* A read or write holds a reference to its file from its start, and to
 * the address space of its buffer once it waits (until then the calling
 * thread's own reference covers it), until it is READY or cancelled. */
static void io_hold(struct syscall_wait *sc, struct file_io *io)
{
    mm_get(io->mm);
    sc->holds_mm = true;
}

static void io_release(struct syscall_wait *sc, struct file_io *io)
{
    file_put(io->f);
    if (sc->holds_mm) {
        sc->holds_mm = false;
        mm_put(io->mm);
    }
}

static enum poll io_poll(struct future *base, struct cx *cx)
{
    struct syscall_wait *sc = (struct syscall_wait *)base;
    if (future_poll(&sc->io.base, cx) == PENDING)
        return PENDING;
    sc->result = sc->io.result;
    if (sc->result == -EPIPE)
        signal_send_thread(sc->th, SIGPIPE);    /* and the write still fails with EPIPE */
    io_release(sc, &sc->io);
    base->resume = RESUME_DONE;
    return READY;
}

/* Cancelled (a signal): bytes already written are the call's result. */
static void io_cancel(struct future *base)
{
    struct syscall_wait *sc = (struct syscall_wait *)base;
    future_cancel(&sc->io.base);
    io_release(sc, &sc->io);
    if (sc->io.done > 0)
        sc->result = sc->io.done;
}

static const struct future_ops io_ops = { io_poll, io_cancel, "read/write" };

/*
 * A read of the console from outside its foreground group: SIGTTIN to our
 * group, and the read is tried again once we are continued (Linux's
 * job control); -EIO if SIGTTIN is ignored or blocked.  0: go ahead,
 * 1: restart after the signal.
 */
static long tty_read_check(struct thread *th, struct file *f)
{
    if (f->type != FT_CONSOLE)
        return 0;
    struct proc *p = th->proc;
    long r = 0;
    spin_lock(&proc_lock);
    int fg = atomic_load(&console_fg_pgrp);
    if (p->sid == CONSOLE_SID && fg > 0 && p->pgid != fg) {
        if (signal_is_ignored(p, SIGTTIN) || (th->sig_blocked & SIGBIT(SIGTTIN)))
            r = -EIO;
        else {
            signal_send_group_locked(p->pgid, SIGTTIN);
            r = 1;
        }
    }
    spin_unlock(&proc_lock);
    return r;
}

static long start_io(struct thread *th, int fd, uint64_t ubuf, uint64_t len, bool write, int64_t pos)
{
    struct file *f = fd_get(th->proc->files, fd);
    if (!f)
        return -EBADF;
    long tr = write ? 0 : tty_read_check(th, f);
    if (tr) {
        file_put(f);
        return tr == 1 ? signal_restart_call(th) : tr;
    }
    sc_wait_init(th, &io_ops);
    if (write)
        file_write_init(&th->sc.io, f, th->proc->mm, ubuf, len);
    else
        file_read_init(&th->sc.io, f, th->proc->mm, ubuf, len);
    if (pos >= 0)
        th->sc.io.pos = pos;
    /* most reads and writes finish at once: no need to come back */
    struct cx cx = { .task = th->task };
    if (io_poll(&th->sc.base, &cx) == READY)
        return th->sc.result;
    io_hold(&th->sc, &th->sc.io);
    return SYSCALL_WAITING;     /* polled: its waker is registered */
}

SYS(read) { return start_io(th, (int)a[0], a[1], a[2], false, -1); }
SYS(write) { return start_io(th, (int)a[0], a[1], a[2], true, -1); }

/* pread64/pwrite64: at an offset, the file position unchanged; only files
 * with positions (not pipes, the console) */
static long start_pio(struct thread *th, uint64_t a[6], bool write)
{
    if ((int64_t)a[3] < 0)
        return -EINVAL;
    struct file *f = fd_get(th->proc->files, (int)a[0]);
    if (!f)
        return -EBADF;
    bool seekable = f->type == FT_EXT2 || f->type == FT_INITRD || f->type == FT_PROC;
    file_put(f);
    if (!seekable)
        return -ESPIPE;
    return start_io(th, (int)a[0], a[1], a[2], write, (int64_t)a[3]);
}

SYS(pread64) { return start_pio(th, a, false); }
SYS(pwrite64) { return start_pio(th, a, true); }

/* readv / writev: one file_io per iovec, in order, stopping at a short one. */
static bool vec_next(struct syscall_wait *sc)
{
    struct thread *th = sc->th;
    while (sc->vec.i < sc->vec.cnt) {
        uint64_t iov[2];
        if (copyin(th->proc->mm, iov, sc->vec.iov + 16 * sc->vec.i, 16)) {
            sc->result = sc->vec.total ? sc->vec.total : -EFAULT;
            return false;
        }
        sc->vec.i++;
        if (iov[1] == 0)
            continue;
        if ((int64_t)iov[1] < 0) {
            sc->result = -EINVAL;
            return false;
        }
        struct file *f = fd_get(th->proc->files, sc->vec.fd);
        if (!f) {
            sc->result = -EBADF;
            return false;
        }
        if (sc->vec.write)
            file_write_init(&sc->vec.io, f, th->proc->mm, iov[0], iov[1]);
        else
            file_read_init(&sc->vec.io, f, th->proc->mm, iov[0], iov[1]);
        if (sc->vec.pos >= 0)
            sc->vec.io.pos = sc->vec.pos + sc->vec.total;
        io_hold(sc, &sc->vec.io);
        return true;
    }
    sc->result = sc->vec.total;
    return false;
}

static enum poll vec_poll(struct future *base, struct cx *cx)
{
    struct syscall_wait *sc = (struct syscall_wait *)base;
    ASYNC_BEGIN(sc);
    while (vec_next(sc)) {
        AWAIT(sc, future_poll(&sc->vec.io.base, cx));
        io_release(sc, &sc->vec.io);
        if (sc->vec.io.result < 0) {
            sc->result = sc->vec.total ? sc->vec.total : sc->vec.io.result;
            break;
        }
        sc->vec.total += sc->vec.io.result;
        if ((size_t)sc->vec.io.result < sc->vec.io.len) {
            sc->result = sc->vec.total;
            break;
        }
    }
    ASYNC_END(sc);
}

static void vec_cancel(struct future *base)
{
    struct syscall_wait *sc = (struct syscall_wait *)base;
    if (sc->base.resume != 0) {         /* an iovec's io is in flight */
        future_cancel(&sc->vec.io.base);
        io_release(sc, &sc->vec.io);
        if (sc->vec.total + (long)sc->vec.io.done > 0)
            sc->result = sc->vec.total + sc->vec.io.done;    /* bytes done so far */
    }
}

static const struct future_ops vec_ops = { vec_poll, vec_cancel, "readv/writev" };

static long start_vec(struct thread *th, uint64_t a[6], bool write, int64_t pos)
{
    int cnt = (int)a[2];
    if (cnt < 0 || cnt > IOV_MAX)
        return -EINVAL;
    struct file *f = fd_get(th->proc->files, (int)a[0]);
    if (!f)
        return -EBADF;
    file_put(f);
    sc_wait_init(th, &vec_ops);
    th->sc.vec.fd = (int)a[0];
    th->sc.vec.iov = a[1];
    th->sc.vec.cnt = cnt;
    th->sc.vec.i = 0;
    th->sc.vec.total = 0;
    th->sc.vec.write = write;
    th->sc.vec.pos = pos;
    struct cx cx = { .task = th->task };
    if (vec_poll(&th->sc.base, &cx) == READY)
        return th->sc.result;
    return SYSCALL_WAIT;
}

SYS(readv) { return start_vec(th, a, false, -1); }
SYS(writev) { return start_vec(th, a, true, -1); }

static long start_pvec(struct thread *th, uint64_t a[6], bool write)
{
    if ((int64_t)a[3] < 0)
        return -EINVAL;
    struct file *f = fd_get(th->proc->files, (int)a[0]);
    if (!f)
        return -EBADF;
    bool seekable = f->type == FT_EXT2 || f->type == FT_INITRD || f->type == FT_PROC;
    file_put(f);
    if (!seekable)
        return -ESPIPE;
    return start_vec(th, a, write, (int64_t)a[3]);
}

SYS(preadv) { return start_pvec(th, a, false); }
SYS(pwritev) { return start_pvec(th, a, true); }

/* ---- names ---------------------------------------------------------------- */

SYS(close) { return fd_close(th->proc->files, (int)a[0]); }

SYS(dup)
{
    struct file *f = fd_get(th->proc->files, (int)a[0]);
    if (!f)
        return -EBADF;
    long r = fd_install(th->proc->files, f, 0, false);
    if (r < 0)
        file_put(f);
    return r;
}

SYS(dup3)
{
    if (a[2] & ~(uint64_t)O_CLOEXEC)
        return -EINVAL;
    int r = fd_dup_to(th->proc->files, (int)a[0], (int)a[1], a[2] & O_CLOEXEC);
    return r < 0 ? r : (long)a[1];
}

#define F_DUPFD 0
#define F_GETFD 1
#define F_SETFD 2
#define F_GETFL 3
#define F_SETFL 4
#define F_DUPFD_CLOEXEC 1030
#define FD_CLOEXEC 1

SYS(fcntl)
{
    int fd = (int)a[0], cmd = (int)a[1];
    struct fdtable *t = th->proc->files;
    struct file *f = fd_get(t, fd);
    if (!f)
        return -EBADF;
    long r;
    switch (cmd) {
    case F_DUPFD: case F_DUPFD_CLOEXEC: {
        /* Linux reads the minimum as unsigned: a negative one is huge */
        uint64_t lim[2];
        fd_get_limit(t, lim);
        if ((uint64_t)(uint32_t)a[2] >= lim[0]) {
            r = -EINVAL;
            break;
        }
        r = fd_install(t, f, (int)a[2], cmd == F_DUPFD_CLOEXEC);
        if (r >= 0)
            return r;           /* the table has our reference now */
        break;
    }
    case F_GETFD:
        r = fd_get_cloexec(t, fd);
        r = r > 0 ? FD_CLOEXEC : r;
        break;
    case F_SETFD:
        r = fd_set_cloexec(t, fd, a[2] & FD_CLOEXEC);
        break;
    case F_GETFL: r = f->flags; break;
    case F_SETFL: f->flags = (f->flags & ~O_NONBLOCK) | ((int)a[2] & O_NONBLOCK); r = 0; break;
    default: r = -EINVAL;
    }
    file_put(f);
    return r;
}

/* pipe2 tells the fds before they exist (fd_install_published): once
 * installed, another thread may close one and reuse its number, so a
 * failed copy-out can no longer take them back by number. */
struct fds_out { struct mm *mm; uint64_t uaddr; };

static int copyout_fds(void *arg, const int *fds)
{
    struct fds_out *o = arg;
    return copyout(o->mm, o->uaddr, fds, 2 * sizeof *fds) ? -EFAULT : 0;
}

SYS(pipe2)
{
    if (a[1] & ~(uint64_t)(O_CLOEXEC | O_NONBLOCK))
        return -EINVAL;
    struct file *f[2];
    int r = pipe_create(&f[0], &f[1]);
    if (r < 0)
        return r;
    if (a[1] & O_NONBLOCK) {
        f[0]->flags |= O_NONBLOCK;
        f[1]->flags |= O_NONBLOCK;
    }
    int fds[2];
    struct fds_out o = { th->proc->mm, a[0] };
    r = fd_install_published(th->proc->files, f, 2, a[1] & O_CLOEXEC, fds, copyout_fds, &o);
    if (r < 0) {
        file_put(f[0]);
        file_put(f[1]);
    }
    return r;
}

SYS(getcwd)
{
    size_t n = strlen(th->proc->cwd) + 1;
    if (a[1] < n)
        return -ERANGE;
    if (copyout(th->proc->mm, a[0], th->proc->cwd, n))
        return -EFAULT;
    return n;
}


#define TCGETS 0x5401
#define TCSETS 0x5402
#define TCSETSW 0x5403
#define TCSETSF 0x5404
#define TIOCGPGRP 0x540F
#define TIOCSPGRP 0x5410
#define TIOCGWINSZ 0x5413

SYS(ioctl)
{
    struct file *f = fd_get(th->proc->files, (int)a[0]);
    if (!f)
        return -EBADF;
    bool tty = file_is_tty(f);
    file_put(f);
    if (!tty)
        return -ENOTTY;
    struct mm *mm = th->proc->mm;
    switch (a[1]) {
    case TCGETS: {
        /* struct termios (asm-generic): canonical mode with echo */
        uint32_t t[4] = { 0x500 /* ICRNL|IXON */, 0x5 /* OPOST|ONLCR */, 0xbf /* CS8|CREAD|B38400 */,
                          0x8a3b /* ISIG|ICANON|ECHO|ECHOE|ECHOK|ECHOCTL|ECHOKE|IEXTEN */ };
        uint8_t buf[36] = { 0 };
        memcpy(buf, t, sizeof t);
        buf[17 + 0] = 3; buf[17 + 2] = 0x7f; buf[17 + 4] = 4;   /* VINTR, VERASE, VEOF */
        return copyout(mm, a[2], buf, sizeof buf) ? -EFAULT : 0;
    }
    case TCSETS: case TCSETSW: case TCSETSF:
        return 0;
    case TIOCGPGRP: {
        int pg = atomic_load(&console_fg_pgrp);
        return copyout(mm, a[2], &pg, 4) ? -EFAULT : 0;
    }
    case TIOCSPGRP: {
        /* Linux: only for our own terminal (our session is the console's),
         * only to a group of that session, and from the background only if
         * SIGTTOU is ignored or blocked (else SIGTTOU stops our group). */
        int pg;
        if (copyin(mm, &pg, a[2], 4))
            return -EFAULT;
        if (pg < 0)
            return -EINVAL;
        struct proc *p = th->proc;
        long r = 0;
        spin_lock(&proc_lock);
        int fg = atomic_load(&console_fg_pgrp);
        bool exists = false;
        for (struct proc *q = proc_all(); q && !exists; q = q->all_next)
            exists = q->pgid == pg && q->sid == p->sid && q->state == PROC_ALIVE;
        if (p->sid != CONSOLE_SID)
            r = -ENOTTY;
        else if (!exists)
            r = -EPERM;
        else if (fg > 0 && p->pgid != fg && !signal_is_ignored(p, SIGTTOU) &&
                 !(th->sig_blocked & SIGBIT(SIGTTOU))) {
            signal_send_group_locked(p->pgid, SIGTTOU);
            r = 1;
        } else {
            atomic_store(&console_fg_pgrp, pg);
        }
        spin_unlock(&proc_lock);
        return r == 1 ? signal_restart_call(th) : r;
    }
    case TIOCGWINSZ: {
        uint16_t ws[4] = { 24, 80, 0, 0 };
        return copyout(mm, a[2], ws, sizeof ws) ? -EFAULT : 0;
    }
    default:
        return -ENOTTY;
    }
}
