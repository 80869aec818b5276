/*
 * mount.c - the mount table (include/fs/vfs.h) and the boot of the root
 * file system: a task that mounts the first disk as /, reads /bin/init
 * from it and starts it (or falls back to the initrd).
 */
#include "core/task.h"
#include "fs/ext2_ops.h"
#include "fs/vfs.h"
#include "lib/errno.h"
#include "lib/klib.h"
#include "lib/printk.h"
#include "machine.h"
#include "instruments/monitor.h"
#include "proc/proc.h"

#define NMOUNT 8

static struct { char path[128]; size_t len; struct ext2_fs *fs; } mnts[NMOUNT];
static struct spinlock lock = SPINLOCK_INIT("mounts");

static bool under(const char *abs, const char *dir, size_t len)
{
    if (len == 1)                       /* "/" */
        return true;
    return !strncmp(abs, dir, len) && (abs[len] == 0 || abs[len] == '/');
}

struct ext2_fs *vfs_route(const char *abs, const char **rel, const char **mnt)
{
    if (under(abs, "/proc", 5) || under(abs, "/dev", 4))
        return NULL;
    struct ext2_fs *fs = NULL;
    size_t best = 0;
    spin_lock(&lock);
    for (int i = 0; i < NMOUNT; i++)
        if (mnts[i].fs && mnts[i].len > best && under(abs, mnts[i].path, mnts[i].len)) {
            best = mnts[i].len;
            fs = mnts[i].fs;
            *mnt = mnts[i].path;
            *rel = abs + (best == 1 ? 1 : best);
        }
    spin_unlock(&lock);
    if (fs)
        while (**rel == '/')
            (*rel)++;
    return fs;
}

int vfs_mount(const char *path, struct ext2_fs *fs)
{
    int r = -ENOMEM;
    spin_lock(&lock);
    for (int i = 0; i < NMOUNT; i++)
        if (mnts[i].fs && !strcmp(mnts[i].path, path)) {
            spin_unlock(&lock);
            return -EBUSY;
        }
    for (int i = 0; i < NMOUNT; i++)
        if (!mnts[i].fs) {
            strlcpy(mnts[i].path, path, sizeof mnts[i].path);
            mnts[i].len = strlen(path);
            mnts[i].fs = fs;
            r = 0;
            break;
        }
    spin_unlock(&lock);
    return r;
}

struct ext2_fs *vfs_umount(const char *path, int *err)
{
    struct ext2_fs *fs = NULL;
    *err = -EINVAL;
    spin_lock(&lock);
    for (int i = 0; i < NMOUNT; i++) {
        if (!mnts[i].fs || strcmp(mnts[i].path, path))
            continue;
        bool nested = false;
        for (int j = 0; j < NMOUNT; j++)
            nested |= j != i && mnts[j].fs && mnts[j].len > mnts[i].len &&
                      under(mnts[j].path, mnts[i].path, mnts[i].len);
        if (nested || atomic_load(&mnts[i].fs->busy) || mnts[i].len == 1) {
            *err = -EBUSY;
            break;
        }
        fs = mnts[i].fs;
        mnts[i].fs = NULL;
        *err = 0;
        break;
    }
    spin_unlock(&lock);
    return fs;
}

bool vfs_dev_mounted(struct blkdev *d)
{
    bool yes = false;
    spin_lock(&lock);
    for (int i = 0; i < NMOUNT; i++)
        yes |= mnts[i].fs && mnts[i].fs->dev == d;
    spin_unlock(&lock);
    return yes;
}

int vfs_mounted(struct ext2_fs **out, int n)
{
    int k = 0;
    spin_lock(&lock);
    for (int i = 0; i < NMOUNT && k < n; i++)
        if (mnts[i].fs)
            out[k++] = mnts[i].fs;
    spin_unlock(&lock);
    return k;
}

/* ---- the root file system at boot ------------------------------------------ */

struct rootboot {
    struct future base;
    struct ext2_mount m;
    struct x2op op;
    struct x2run run;
};

static void start_init(const struct exec_file *xf)
{
    int r = xf ? exec_init_file("/bin/init", xf) : exec_init("/bin/init");
    if (r == 0)
        return;
    printk("init: cannot start /bin/init (error %d); running the kernel monitor\n", r);
    monitor_start();
}

static enum poll rootboot_poll(struct future *base, struct cx *cx)
{
    struct rootboot *b = (struct rootboot *)base;
    ASYNC_BEGIN(b);
    ext2_mount_init(&b->m, blk_get(0));
    AWAIT(b, future_poll(&b->m.base, cx));
    if (b->m.result) {
        printk("root: %s holds no ext2 file system we can mount (error %d): using the initrd\n",
               blk_get(0)->name, b->m.result);
        start_init(NULL);
        break;
    }
    vfs_mount("/", b->m.fs);
    printk("root: ext2 on %s (%u KiB blocks, %u blocks, %u inodes)%s\n", blk_get(0)->name,
           b->m.fs->bsize / 1024, b->m.fs->blocks_count, b->m.fs->inodes_count,
           b->m.fs->ro ? ", read-only" : "");
    bc_writeback_start();
    b->op.kind = X2_EXEC;
    strlcpy(b->op.path, "/bin/init", sizeof b->op.path);
    b->op.fs = b->m.fs;
    b->op.rel = "bin/init";
    b->op.mnt = "/";
    x2run_init(&b->run, b->m.fs, false, x2_attempt, &b->op);
    AWAIT(b, future_poll(&b->run.base, cx));
    if (b->run.result) {
        start_init(NULL);
    } else {
        struct file *f = x2_file_new(b->m.fs, b->op.ino, b->op.ftype, b->op.path, 0 /* O_RDONLY */);
        struct exec_file xf = { f, b->op.pg0, b->op.size };
        if (f)
            start_init(&xf);
        else
            start_init(NULL);
        file_put(f);
    }
    pc_put(b->op.pg0);
    b->op.pg0 = NULL;
    ASYNC_END(b);
}

static const struct future_ops rootboot_ops = { rootboot_poll, NULL, "root" };

void vfs_boot_root(void)
{
    struct task *t;
    struct rootboot *b = blk_count() && !bootarg_has("noroot")
                             ? task_alloc(sizeof *b, "root", &t) : NULL;
    if (!b) {
        start_init(NULL);
        return;
    }
    memset(b, 0, sizeof *b);
    future_init(&b->base, &rootboot_ops);
    task_start(t, TASK_NO_HART, false);
}
