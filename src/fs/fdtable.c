/*
 * fdtable.c - file-descriptor tables (see file.h).
 *
 * Invariants: t->fd[i] (i < t->cap) holds one reference to its file; bit
 * i of t->cloexec is meaningful only while fd[i] is set.  t->lock guards
 * the slots, the bits, cap and the arrays themselves (growing swaps them
 * under it); files are put and memory is allocated or freed only after
 * it is dropped (a put may close a pipe end and wake its peers).
 * t->refs counts the processes and threads sharing the table
 * (CLONE_FILES); the last put closes all.
 *
 * Descriptors are below the soft limit when created (open, dup, dup3,
 * F_DUPFD); lowering the limit leaves higher ones open, as on Linux.
 *
 * fd_install takes over the caller's reference on success only: on
 * -EMFILE the caller still owns it (and must file_put it).
 */
#include "lib/errno.h"
#include "lib/klib.h"
#include "mem/kmalloc.h"
#include "fs/pipe.h"

#define CLOEXEC_WORDS(cap) (((cap) + 63) / 64)

struct fdtable *fdtable_create(void)
{
    struct fdtable *t = kzalloc(sizeof *t);
    if (!t)
        return NULL;
    spin_init(&t->lock, "fdtable");
    atomic_store(&t->refs, 1);
    t->cap = FDTABLE_INLINE;
    t->fd = t->fd_inline;
    t->cloexec = &t->cloexec_inline;
    t->limit = NOFILE_DEFAULT;
    t->limit_max = NOFILE_MAX;
    return t;
}

/*
 * Make slot `need` exist (need < NOFILE_MAX).  Called without the lock;
 * allocates the bigger arrays first, then swaps them in under the lock
 * unless another thread grew the table meanwhile.  0 or -ENOMEM.
 */
static int grow(struct fdtable *t, unsigned need)
{
    spin_lock(&t->lock);
    unsigned cap = t->cap;
    spin_unlock(&t->lock);
    if (need < cap)
        return 0;
    unsigned ncap = cap;
    while (ncap <= need)
        ncap *= 2;
    struct file **nfd = kzalloc(ncap * sizeof *nfd);
    uint64_t *nce = kzalloc(CLOEXEC_WORDS(ncap) * sizeof *nce);
    if (!nfd || !nce) {
        kfree(nfd);
        kfree(nce);
        return -ENOMEM;
    }
    struct file **ofd = NULL;
    uint64_t *oce = NULL;
    spin_lock(&t->lock);
    if (t->cap < ncap) {
        memcpy(nfd, t->fd, t->cap * sizeof *nfd);
        memcpy(nce, t->cloexec, CLOEXEC_WORDS(t->cap) * sizeof *nce);
        ofd = t->fd;
        oce = t->cloexec;
        t->fd = nfd;
        t->cloexec = nce;
        t->cap = ncap;
        nfd = NULL;
        nce = NULL;
    }
    spin_unlock(&t->lock);
    kfree(nfd);                 /* NULL unless another grow won */
    kfree(nce);
    if (ofd != t->fd_inline)
        kfree(ofd);
    if (oce != &t->cloexec_inline)
        kfree(oce);
    return 0;
}

/* Under t->lock. */
static unsigned used_slots(struct fdtable *t)
{
    unsigned n = t->cap;
    while (n && !t->fd[n - 1])
        n--;
    return n;
}

struct fdtable *fdtable_copy(struct fdtable *t)
{
    struct fdtable *n = fdtable_create();
    if (!n)
        return NULL;
    unsigned used;              /* 1 + the highest open descriptor */
    for (;;) {
        spin_lock(&t->lock);
        used = used_slots(t);
        spin_unlock(&t->lock);
        if (used && grow(n, used - 1) < 0) {
            fdtable_put(n);
            return NULL;
        }
        spin_lock(&t->lock);
        used = used_slots(t);
        if (used <= n->cap)
            break;              /* still fits: copy under the lock */
        spin_unlock(&t->lock);
    }
    for (unsigned i = 0; i < used; i++)
        if (t->fd[i])
            n->fd[i] = file_get(t->fd[i]);
    memcpy(n->cloexec, t->cloexec, CLOEXEC_WORDS(used) * sizeof *n->cloexec);
    n->limit = t->limit;
    n->limit_max = t->limit_max;
    spin_unlock(&t->lock);
    return n;
}

void fdtable_put(struct fdtable *t)
{
    if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
        return;
    for (unsigned i = 0; i < t->cap; i++)
        file_put(t->fd[i]);     /* nobody else can see t now */
    if (t->fd != t->fd_inline)
        kfree(t->fd);
    if (t->cloexec != &t->cloexec_inline)
        kfree(t->cloexec);
    kfree(t);
}

static void set_cloexec(struct fdtable *t, unsigned fd, bool on)
{
    if (on)
        t->cloexec[fd / 64] |= 1ULL << (fd % 64);
    else
        t->cloexec[fd / 64] &= ~(1ULL << (fd % 64));
}

static bool is_cloexec(struct fdtable *t, unsigned fd)
{
    return t->cloexec[fd / 64] & (1ULL << (fd % 64));
}

int fd_install(struct fdtable *t, struct file *f, int min, bool cloexec)
{
    if (min < 0)
        min = 0;
    for (;;) {
        spin_lock(&t->lock);
        unsigned end = MIN(t->cap, t->limit), i;
        for (i = min; i < end; i++) {
            if (!t->fd[i]) {
                t->fd[i] = f;
                set_cloexec(t, i, cloexec);
                spin_unlock(&t->lock);
                return i;
            }
        }
        bool full = i >= t->limit;
        spin_unlock(&t->lock);
        if (full)
            return -EMFILE;
        if (grow(t, i) < 0)     /* every slot below cap is taken */
            return -ENOMEM;
    }
}

int fd_install_published(struct fdtable *t, struct file **f, int n, bool cloexec, int *fds,
                         int (*publish)(void *arg, const int *fds), void *arg)
{
    for (;;) {
        int k = 0;
        spin_lock(&t->lock);
        unsigned end = MIN(t->cap, t->limit), i;
        for (i = 0; i < end && k < n; i++)
            if (!t->fd[i])
                fds[k++] = (int)i;
        if (k == n) {
            int r = publish(arg, fds);
            if (r == 0)
                for (k = 0; k < n; k++) {
                    t->fd[fds[k]] = f[k];
                    set_cloexec(t, (unsigned)fds[k], cloexec);
                }
            spin_unlock(&t->lock);
            return r;
        }
        bool full = i >= t->limit;
        spin_unlock(&t->lock);
        if (full)
            return -EMFILE;
        if (grow(t, i) < 0)     /* every slot below cap is taken */
            return -ENOMEM;
    }
}

struct file *fd_get(struct fdtable *t, int fd)
{
    struct file *f = NULL;
    spin_lock(&t->lock);
    if (fd >= 0 && (unsigned)fd < t->cap && t->fd[fd])
        f = file_get(t->fd[fd]);
    spin_unlock(&t->lock);
    return f;
}

int fd_close(struct fdtable *t, int fd)
{
    struct file *f = NULL;
    spin_lock(&t->lock);
    if (fd >= 0 && (unsigned)fd < t->cap) {
        f = t->fd[fd];
        t->fd[fd] = NULL;
        set_cloexec(t, fd, false);
    }
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
    spin_lock(&t->lock);
    unsigned limit = t->limit;
    spin_unlock(&t->lock);
    if (oldfd < 0 || newfd < 0 || (unsigned)newfd >= limit)
        return -EBADF;
    if (grow(t, newfd) < 0)
        return -ENOMEM;
    spin_lock(&t->lock);
    if ((unsigned)oldfd >= t->cap || !t->fd[oldfd]) {
        spin_unlock(&t->lock);
        return -EBADF;
    }
    old = t->fd[newfd];         /* slots never shrink: newfd < cap still */
    t->fd[newfd] = file_get(t->fd[oldfd]);
    set_cloexec(t, newfd, cloexec);
    spin_unlock(&t->lock);
    file_put(old);
    return 0;
}

void fd_close_on_exec(struct fdtable *t)
{
    /* a bounded batch at a time: the kernel stack is small */
    struct file *closing[32];
    unsigned next = 0;
    for (;;) {
        int n = 0;
        spin_lock(&t->lock);
        for (; next < t->cap && n < (int)ARRAY_SIZE(closing); next++) {
            if (t->fd[next] && is_cloexec(t, next)) {
                closing[n++] = t->fd[next];
                t->fd[next] = NULL;
                set_cloexec(t, next, false);
            }
        }
        bool more = next < t->cap;
        spin_unlock(&t->lock);
        while (n)
            file_put(closing[--n]);
        if (!more)
            return;
    }
}

int fd_get_cloexec(struct fdtable *t, int fd)
{
    int r = -EBADF;
    spin_lock(&t->lock);
    if (fd >= 0 && (unsigned)fd < t->cap && t->fd[fd])
        r = is_cloexec(t, fd);
    spin_unlock(&t->lock);
    return r;
}

int fd_set_cloexec(struct fdtable *t, int fd, bool on)
{
    int r = -EBADF;
    spin_lock(&t->lock);
    if (fd >= 0 && (unsigned)fd < t->cap && t->fd[fd]) {
        set_cloexec(t, fd, on);
        r = 0;
    }
    spin_unlock(&t->lock);
    return r;
}

void fd_get_limit(struct fdtable *t, uint64_t lim[2])
{
    spin_lock(&t->lock);
    lim[0] = t->limit;
    lim[1] = t->limit_max;
    spin_unlock(&t->lock);
}

int fd_set_limit(struct fdtable *t, const uint64_t lim[2])
{
    int r = 0;
    spin_lock(&t->lock);
    if (lim[0] > lim[1])
        r = -EINVAL;
    else if (lim[1] > t->limit_max)
        r = -EPERM;             /* nobody may raise a hard limit here */
    else {
        t->limit = lim[0];
        t->limit_max = lim[1];
    }
    spin_unlock(&t->lock);
    return r;
}
