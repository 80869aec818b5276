/*
 * procfs.c - /proc/ps, /proc/harts, /proc/tasks, /proc/mem, /proc/console: FT_PROC
 * files whose text is generated once, at open, into a kmalloc'd buffer
 * (reads then see one consistent snapshot, as with Linux's seq_file).
 *
 * The buffer starts with a small header (the inode number, for fstat)
 * followed by the text; f->proc.buf points at the header and
 * f->proc.len is the text's length.  A report that did not fit is made
 * again into a bigger buffer (outbuf's len counts what was cut).
 */
#include "lib/errno.h"
#include "lib/klib.h"
#include "mem/kmalloc.h"
#include "instruments/monitor.h"
#include "dev/console.h"
#include "lib/outbuf.h"
#include "mem/page_alloc.h"
#include "fs/pipe.h"

struct procbuf {
    uint64_t ino;
    char text[];
};

/* The lead's proc.c overrides this with the real process table. */
__attribute__((weak)) void proc_report_ps(struct outbuf *o)
{
    outf(o, "PID PPID THR STATE HART NAME\n");
}

static const struct {
    const char *name;
    void (*report)(struct outbuf *o);
} reports[] = {
    { "ps", proc_report_ps },
    { "harts", report_harts },
    { "tasks", report_tasks },
    { "mem", report_mem },
    { "console", console_report },
};

#define MAX_TRIES 4

int procfs_fill(struct file *f, const char *name)
{
    size_t i;
    for (i = 0; i < ARRAY_SIZE(reports); i++)
        if (!strcmp(reports[i].name, name))
            break;
    if (i == ARRAY_SIZE(reports))
        return -ENOENT;
    size_t size = PAGE_SIZE;                    /* header + text, whole pages */
    for (int tries = 1;; tries++) {
        struct procbuf *b = kmalloc(size);
        if (!b)
            return -ENOMEM;
        struct outbuf o = { b->text, size - sizeof *b, 0 };
        reports[i].report(&o);
        if (o.len < o.cap || tries == MAX_TRIES) {
            char path[32];
            snprintf(path, sizeof path, "/proc/%s", name);
            b->ino = fs_ino(path);
            f->type = FT_PROC;
            f->proc.buf = (char *)b;
            f->proc.len = MIN(o.len, o.cap - 1);  /* complete, or cut after MAX_TRIES */
            return 0;
        }
        kfree(b);
        size = ALIGN_UP(sizeof *b + o.len + o.len / 4 + 64, PAGE_SIZE);
    }
}

const char *procfs_text(struct file *f, size_t *len)
{
    *len = f->proc.len;
    return ((struct procbuf *)f->proc.buf)->text;
}

uint64_t procfs_ino(struct file *f)
{
    return ((struct procbuf *)f->proc.buf)->ino;
}

void procfs_release(struct file *f)
{
    kfree(f->proc.buf);
    f->proc.buf = NULL;
}
