/*
 * fdtable.c - file-descriptor tables (see file.h).
 *
 * Invariants: t->fd[i] holds one reference to its file; bit i of
 * t->cloexec is meaningful only while fd[i] is set.  t->lock guards the
 * slots and bits; files are put only after it is dropped (a put may
 * close a pipe end and wake its peers).  t->refs counts the processes
 * and threads sharing the table (CLONE_FILES); the last put closes all.
 *
 * fd_install takes over the caller's reference on success only: on
 * -EMFILE the caller still owns it (and must file_put it).
 */
#include "lib/errno.h"
#include "lib/klib.h"
#include "mem/kmalloc.h"
#include "fs/pipe.h"

struct fdtable *fdtable_create(void)
{
    struct fdtable *t = kzalloc(sizeof *t);
    if (!t)
        return NULL;
    spin_init(&t->lock, "fdtable");
    atomic_store(&t->refs, 1);
    return t;
}

struct fdtable *fdtable_copy(struct fdtable *t)
{
    struct fdtable *n = fdtable_create();
    if (!n)
        return NULL;
    spin_lock(&t->lock);
    for (int i = 0; i < NOFILE; i++)
        if (t->fd[i])
            n->fd[i] = file_get(t->fd[i]);
    n->cloexec = t->cloexec;
    spin_unlock(&t->lock);
    return n;
}

void fdtable_put(struct fdtable *t)
{
    if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
        return;
    for (int i = 0; i < NOFILE; i++)
        file_put(t->fd[i]);     /* nobody else can see t now */
    kfree(t);
}

static void set_cloexec(struct fdtable *t, int fd, bool on)
{
    if (on)
        t->cloexec |= 1ULL << fd;
    else
        t->cloexec &= ~(1ULL << fd);
}

int fd_install(struct fdtable *t, struct file *f, int min, bool cloexec)
{
    int fd = -EMFILE;
    if (min < 0)
        min = 0;
    spin_lock(&t->lock);
    for (int i = min; i < NOFILE; i++) {
        if (!t->fd[i]) {
            t->fd[i] = f;
            set_cloexec(t, i, cloexec);
            fd = i;
            break;
        }
    }
    spin_unlock(&t->lock);
    return fd;
}

int fd_install_published(struct fdtable *t, struct file **f, int n, bool cloexec, int *fds,
                         int (*publish)(void *arg, const int *fds), void *arg)
{
    int k = 0;
    spin_lock(&t->lock);
    for (int i = 0; i < NOFILE && k < n; i++)
        if (!t->fd[i])
            fds[k++] = i;
    int r = k < n ? -EMFILE : publish(arg, fds);
    if (r == 0)
        for (k = 0; k < n; k++) {
            t->fd[fds[k]] = f[k];
            set_cloexec(t, fds[k], cloexec);
        }
    spin_unlock(&t->lock);
    return r;
}

struct file *fd_get(struct fdtable *t, int fd)
{
    struct file *f = NULL;
    if (fd < 0 || fd >= NOFILE)
        return NULL;
    spin_lock(&t->lock);
    if (t->fd[fd])
        f = file_get(t->fd[fd]);
    spin_unlock(&t->lock);
    return f;
}

int fd_close(struct fdtable *t, int fd)
{
    struct file *f = NULL;
    if (fd < 0 || fd >= NOFILE)
        return -EBADF;
    spin_lock(&t->lock);
    f = t->fd[fd];
    t->fd[fd] = NULL;
    set_cloexec(t, fd, false);
    spin_unlock(&t->lock);
    if (!f)
        return -EBADF;
    file_put(f);
    return 0;
}

int fd_dup_to(struct fdtable *t, int oldfd, int newfd, bool cloexec)
{
    struct file *old = NULL;
    if (oldfd == newfd)
        return -EINVAL;
    if (oldfd < 0 || oldfd >= NOFILE || newfd < 0 || newfd >= NOFILE)
        return -EBADF;
    spin_lock(&t->lock);
    if (!t->fd[oldfd]) {
        spin_unlock(&t->lock);
        return -EBADF;
    }
    old = t->fd[newfd];
    t->fd[newfd] = file_get(t->fd[oldfd]);
    set_cloexec(t, newfd, cloexec);
    spin_unlock(&t->lock);
    file_put(old);
    return 0;
}

void fd_close_on_exec(struct fdtable *t)
{
    struct file *closing[NOFILE];
    int n = 0;
    spin_lock(&t->lock);
    for (int i = 0; i < NOFILE; i++) {
        if (t->fd[i] && (t->cloexec & (1ULL << i))) {
            closing[n++] = t->fd[i];
            t->fd[i] = NULL;
        }
    }
    t->cloexec = 0;
    spin_unlock(&t->lock);
    while (n)
        file_put(closing[--n]);
}
