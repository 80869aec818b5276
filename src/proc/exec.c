/*
 * exec.c - execve: load a static ELF program from the initrd into a new
 * address space, build its stack (argc, argv, envp, auxv) and point the
 * thread at its entry.
 *
 * In a multi-threaded process the other threads are ended first (each
 * one's pending system call is cancelled, releasing what it holds; see
 * SYS(execve)), and only then is the image built and the address space
 * replaced: the new image runs as the only thread, with the process's pid.
 *
 * Every field of the ELF file is untrusted: a malformed file gives
 * -ENOEXEC and leaves the caller's old image intact.  Program text is
 * mapped straight from the initrd (its pages are 4 KiB aligned there), or,
 * for a program on an ext2 disk, from the page cache: its segments become
 * private file regions (VMA_PAGECACHE) whose pages are read on demand and
 * shared by every process running the program; only the ELF header and
 * program headers (the first page) must be read before exec.
 */
#include "fs/vfs.h"
#include "fs/ext2_ops.h"
#include "fs/pagecache.h"
#include "arch.h"
#include "core/executor.h"
#include "lib/errno.h"
#include "lib/klib.h"
#include "mem/kmalloc.h"
#include "mem/page_alloc.h"
#include "lib/printk.h"
#include "proc/proc.h"
#include "user_trap.h"

#define EM_RISCV 243
#define PT_LOAD 1
#define PF_X 1
#define PF_W 2
#define PF_R 4
#define MAX_ARGS 256
#define ARG_BYTES (64 * 1024)

struct elf64_ehdr {
    uint8_t ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct elf64_phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

/* Arguments gathered in kernel memory before the old image goes away. */
struct args {
    int argc, envc;
    size_t bytes;
    char *buf;                  /* all strings, NUL-separated: argv then envp */
};

static int args_add(struct args *a, const char *s, size_t n)
{
    if (a->bytes + n + 1 > ARG_BYTES)
        return -E2BIG;
    memcpy(a->buf + a->bytes, s, n);
    a->buf[a->bytes + n] = 0;
    a->bytes += n + 1;
    return 0;
}

static int args_copyin(struct args *a, struct mm *mm, uint64_t uvec, int *count)
{
    *count = 0;
    if (!uvec)
        return 0;
    char tmp[256];
    for (int i = 0;; i++) {
        uint64_t up;
        if (i >= MAX_ARGS)
            return -E2BIG;
        if (copyin(mm, &up, uvec + 8 * i, 8))
            return -EFAULT;
        if (!up)
            break;
        /* strings longer than tmp are copied in pieces */
        size_t start = a->bytes;
        for (uint64_t off = 0;; off += sizeof tmp - 1) {
            long n = copyin_str(mm, tmp, up + off, sizeof tmp);
            if (n == -EFAULT)
                return -EFAULT;
            if (n >= 0) {
                if (a->bytes + n + 1 > ARG_BYTES)
                    return -E2BIG;
                memcpy(a->buf + a->bytes, tmp, n + 1);
                a->bytes += n + 1;
                break;
            }
            /* -ENAMETOOLONG: take sizeof tmp - 1 bytes and go on */
            if (copyin(mm, tmp, up + off, sizeof tmp - 1))
                return -EFAULT;
            if (a->bytes + sizeof tmp > ARG_BYTES)
                return -E2BIG;
            memcpy(a->buf + a->bytes, tmp, sizeof tmp - 1);
            a->bytes += sizeof tmp - 1;
        }
        (void)start;
        (*count)++;
    }
    return 0;
}

/* Check the ELF header and program headers against the file size. */
static int elf_check(const uint8_t *data, size_t size, const struct elf64_ehdr **eh)
{
    if (size < sizeof(struct elf64_ehdr))
        return -ENOEXEC;
    const struct elf64_ehdr *e = (const void *)data;
    if (memcmp(e->ident, "\177ELF", 4) || e->ident[4] != 2 /* 64-bit */ ||
        e->ident[5] != 1 /* little-endian */ || e->machine != EM_RISCV)
        return -ENOEXEC;
    if (e->type != 2 /* ET_EXEC: static, not PIE */)
        return -ENOEXEC;
    if (e->phentsize != sizeof(struct elf64_phdr) || e->phnum == 0 || e->phnum > 32)
        return -ENOEXEC;
    if (e->phoff > size || e->phnum * sizeof(struct elf64_phdr) > size - e->phoff)
        return -ENOEXEC;
    if (e->phoff % 8)
        return -ENOEXEC;
    *eh = e;
    return 0;
}

static int load_segments(struct mm *mm, const uint8_t *data, size_t size,
                         const struct elf64_ehdr *e, const struct exec_file *xf,
                         uint64_t *phdr_va, uint64_t *brk)
{
    const struct elf64_phdr *ph = (const void *)(data + e->phoff);
    uint64_t end = 0;
    *phdr_va = 0;
    for (int i = 0; i < e->phnum; i++) {
        const struct elf64_phdr *p = &ph[i];
        if (p->type != PT_LOAD || p->memsz == 0)
            continue;
        if (p->filesz > p->memsz || p->offset > size || p->filesz > size - p->offset)
            return -ENOEXEC;
        if (p->vaddr >= USER_MMAP_TOP || p->memsz >= USER_MMAP_TOP - p->vaddr)
            return -ENOEXEC;
        if ((p->vaddr % PAGE_SIZE) != (p->offset % PAGE_SIZE))
            return -ENOEXEC;
        uint64_t delta = p->vaddr % PAGE_SIZE;
        uint64_t start = p->vaddr - delta;
        uint64_t len = ALIGN_UP(p->vaddr + p->memsz, PAGE_SIZE) - start;
        uint32_t prot = (p->flags & PF_R ? PROT_READ : 0) | (p->flags & PF_W ? PROT_WRITE : 0) |
                        (p->flags & PF_X ? PROT_EXEC : 0);
        long r;
        if (xf) {
            r = mm_map_file(mm, start, len, prot, 0x02 /* MAP_PRIVATE */ | 0x100000 /* MAP_FIXED_NOREPLACE */,
                            xf->f->x2.fs, xf->f->x2.ino, (p->offset - delta) / PAGE_SIZE,
                            p->filesz + delta, &pc_file_vma_ops, xf->f);
            if (r > 0)
                r = 0;
        } else {
            r = mm_map_region(mm, start, len, prot, VMA_FILE, data + p->offset - delta,
                              p->filesz + delta);
        }
        if (r < 0)
            return r == -ENOMEM ? (int)r : -ENOEXEC;
        if (e->phoff >= p->offset && e->phoff < p->offset + p->filesz)
            *phdr_va = p->vaddr + (e->phoff - p->offset);
        if (p->vaddr + p->memsz > end)
            end = p->vaddr + p->memsz;
    }
    if (!end || e->entry >= USER_MMAP_TOP)
        return -ENOEXEC;
    *brk = ALIGN_UP(end, PAGE_SIZE);
    return 0;
}

/* Build the initial stack: returns sp, or -errno. */
static long build_stack(struct mm *mm, struct args *a, const struct elf64_ehdr *e, uint64_t phdr_va)
{
    int r = mm_map_region(mm, USER_STACK_TOP - USER_STACK_MAX, USER_STACK_MAX,
                          PROT_READ | PROT_WRITE, VMA_STACK, NULL, 0);
    if (r < 0)
        return r;
    uint64_t sp = USER_STACK_TOP;
    sp -= ALIGN_UP(a->bytes, 16);
    uint64_t strings = sp;
    if (copyout(mm, strings, a->buf, a->bytes))
        return -ENOMEM;
    uint64_t rnd[2] = { arch_time() * 0x9e3779b97f4a7c15ULL, arch_instret() ^ 0xa5a5a5a5deadbeefULL };
    sp -= 16;
    uint64_t random = sp;
    if (copyout(mm, random, rnd, 16))
        return -ENOMEM;

    uint64_t auxv[][2] = {
        { 3, phdr_va },         /* AT_PHDR */
        { 4, sizeof(struct elf64_phdr) },   /* AT_PHENT */
        { 5, e->phnum },        /* AT_PHNUM */
        { 6, PAGE_SIZE },       /* AT_PAGESZ */
        { 9, e->entry },        /* AT_ENTRY */
        { 11, 0 }, { 12, 0 }, { 13, 0 }, { 14, 0 },  /* AT_UID, EUID, GID, EGID */
        { 16, 0 },              /* AT_HWCAP */
        { 17, 100 },            /* AT_CLKTCK */
        { 23, 0 },              /* AT_SECURE */
        { 25, random },         /* AT_RANDOM */
        { 0, 0 },               /* AT_NULL */
    };
    size_t words = 1 + a->argc + 1 + a->envc + 1 + 2 * ARRAY_SIZE(auxv);
    sp = ALIGN_DOWN(sp - words * 8, 16);
    uint64_t *vec = kmalloc(words * 8);
    if (!vec)
        return -ENOMEM;
    size_t w = 0;
    vec[w++] = a->argc;
    uint64_t s = strings;
    /* argv[0..argc) NULL envp[0..envc) NULL: both nulls are written even
     * when a vector is empty */
    for (int i = 0; i < a->argc + a->envc; i++) {
        if (i == a->argc)
            vec[w++] = 0;
        vec[w++] = s;
        s += strlen(a->buf + (s - strings)) + 1;
    }
    if (a->envc == 0)
        vec[w++] = 0;           /* argv's null, not written in the loop */
    vec[w++] = 0;
    memcpy(&vec[w], auxv, sizeof auxv);
    r = copyout(mm, sp, vec, words * 8);
    kfree(vec);
    return r ? -ENOMEM : (long)sp;
}

/* Build the image of `path` (xf: an ext2 program) with arguments a. */
static int exec_args(const char *path, struct args *a, const struct exec_file *xf,
                     struct exec_image *img)
{
    const uint8_t *data;
    size_t size, head;
    const char *rel, *mnt;
    int r = 0;
    if (xf) {
        data = xf->head->data;          /* the headers must be in the first page */
        size = xf->size;
        head = MIN(size, PAGE_SIZE);
    } else if (vfs_route(path, &rel, &mnt)) {
        return -ENOENT;                 /* an ext2 path needs its file (fs_execve) */
    } else {
        r = initrd_lookup(path, &data, &size);
        head = size;
    }
    if (r < 0)
        return r;
    const struct elf64_ehdr *e;
    if ((r = elf_check(data, head, &e)) < 0)
        return r;
    struct mm *mm = mm_create();
    if (!mm)
        return -ENOMEM;
    uint64_t phdr_va, brk;
    if ((r = load_segments(mm, data, size, e, xf, &phdr_va, &brk)) < 0) {
        mm_put(mm);
        return r;
    }
    mm->brk_start = mm->brk = brk;
    long sp = build_stack(mm, a, e, phdr_va);
    if (sp < 0) {
        mm_put(mm);
        return sp;
    }
    const char *base = path;
    for (const char *c = path; *c; c++)
        if (*c == '/')
            base = c + 1;
    img->mm = mm;
    img->entry = e->entry;
    img->sp = (uint64_t)sp;
    strlcpy(img->name, base, sizeof img->name);
    return 0;
}

void exec_image_drop(struct exec_image *img)
{
    mm_put(img->mm);
    img->mm = NULL;
}

void exec_abandon(struct thread *th, struct exec_image *img)
{
    spin_lock(&proc_lock);
    if (th->proc->execing == th)
        th->proc->execing = NULL;
    spin_unlock(&proc_lock);
    if (img)
        exec_image_drop(img);
}

/* execve's last step (fs_execve): build and commit; the caller is the
 * process's only thread (sys_proc.c ended the others first). */
int exec_load(struct thread *th, const char *path, uint64_t uargv, uint64_t uenvp,
              const struct exec_file *xf)
{
    struct exec_image img;
    int r = exec_prepare(th, path, uargv, uenvp, xf, &img);
    if (r == 0)
        exec_commit(th, &img);
    return r;
}

/* The point of no return: the new image replaces the old.  th is the
 * only thread of its process. */
void exec_commit(struct thread *th, struct exec_image *img)
{
    struct proc *p = th->proc;
    struct mm *old = p->mm;
    if (p->execing) {                   /* only th sets it: no race to read it */
        spin_lock(&proc_lock);
        p->execing = NULL;
        spin_unlock(&proc_lock);
    }
    p->mm = img->mm;                    /* the process's reference */
    mm_get(img->mm);                    /* the thread's (th is the only one) */
    img->mm = NULL;
    if (old) {
        user_mm_forget(old);
        mm_put(old);                    /* the thread's */
        mm_put(old);                    /* the process's */
    }
    uring_cancel_owner(p);      /* as Linux: the old image's io_uring operations end */
    /* the leader may have been another thread: the survivor takes the pid;
     * the old image's CLONE_CHILD_CLEARTID word is gone with it */
    th->tid = p->pid;
    th->clear_child_tid = 0;
    strlcpy(p->name, img->name, sizeof p->name);
    if (p->files)
        fd_close_on_exec(p->files);
    if (th->fp)
        user_fp_release(th);
    user_set_entry(th, img->entry, img->sp);
}

int exec_end_other_threads(struct thread *th)
{
    struct proc *p = th->proc;
    spin_lock(&proc_lock);
    if (th->exiting || atomic_load(&p->killed)) {
        spin_unlock(&proc_lock);
        return -EAGAIN;
    }
    if (p->nthreads == 1) {
        spin_unlock(&proc_lock);
        return 1;
    }
    bool elsewhere = false;
    p->execing = th;
    for (struct thread *o = p->threads; o; o = o->sibling) {
        if (o == th)
            continue;
        o->exiting = true;              /* its loop ends; a pending call is cancelled */
        task_wake(o->task);
        elsewhere |= o->task->hart != this_hart()->index;
    }
    spin_unlock(&proc_lock);
    if (elsewhere)                      /* one may be in user mode there: make it trap */
        for (unsigned i = 0; i < nharts; i++)
            if (&harts[i] != this_hart())
                arch_send_ipi(i);
    return 0;
}

int exec_prepare(struct thread *th, const char *path, uint64_t uargv, uint64_t uenvp,
                 const struct exec_file *xf, struct exec_image *img)
{
    struct args a = { 0 };
    a.buf = kmalloc(ARG_BYTES);
    if (!a.buf)
        return -ENOMEM;
    int r = args_copyin(&a, th->proc->mm, uargv, &a.argc);
    if (r == 0)
        r = args_copyin(&a, th->proc->mm, uenvp, &a.envc);
    if (r == 0)
        r = exec_args(path, &a, xf, img);
    kfree(a.buf);
    return r;
}

/* Start `path` with arguments argv[0..argc) as a new process with no
 * parent (pid 1 the first time), fds 0-2 on the console.  Pid or -errno. */
static int spawn(const char *path, int argc, const char *const argv[], const struct exec_file *xf)
{
    struct proc *p = proc_alloc(NULL);
    if (!p)
        return -ENOMEM;
    strlcpy(p->name, "init", sizeof p->name);
    p->files = fdtable_create();
    if (!p->files)
        return -ENOMEM;
    for (int fd = 0; fd < 3; fd++) {
        struct file *f = console_file_open();
        if (!f || fd_install(p->files, f, fd, false) != fd)
            return -ENOMEM;
    }
    struct thread *th = thread_alloc(p);
    if (!th)
        return -ENOMEM;
    struct args a = { 0 };
    a.buf = kmalloc(ARG_BYTES);
    if (!a.buf)
        return -ENOMEM;
    int r = 0;
    for (int i = 0; i < argc && r == 0; i++)
        r = args_add(&a, argv[i], strlen(argv[i]));
    a.argc = argc;
    if (r == 0)
        r = args_add(&a, "PATH=/bin", 9);
    if (r == 0)
        r = args_add(&a, "HOME=/", 6);
    a.envc = 2;
    struct exec_image img;
    if (r == 0)
        r = exec_args(path, &a, xf, &img);
    kfree(a.buf);
    if (r < 0)
        return r;
    exec_commit(th, &img);
    if (p->pid == 1)
        atomic_store(&console_fg_pgrp, p->pgid);
    thread_start(th);
    return p->pid;
}

int exec_spawn_argv(const char *path, int argc, const char *const argv[])
{
    return spawn(path, argc, argv, NULL);
}

int exec_init_file(const char *path, const struct exec_file *xf)
{
    int r = spawn(path, 1, &path, xf);
    return r < 0 ? r : 0;
}

int exec_spawn(const char *path)
{
    return exec_spawn_argv(path, 1, &path);
}

int exec_init(const char *path)
{
    int r = exec_spawn(path);
    return r < 0 ? r : 0;
}
