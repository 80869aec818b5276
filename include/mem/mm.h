/*
 * mm.h - user address spaces: Sv39 page tables (arch/riscv/pagetable.c)
 * plus the list of mapped regions (src/mem/mm.c).
 *
 * The kernel's upper half is shared by every page table, so switching
 * address space never unmaps the kernel and a trap never switches satp.
 * Kernel pages are never user-accessible.  User memory is touched only
 * through copyin/copyout, which walk the page table in software and
 * turn any bad pointer into -EFAULT (they never fault the kernel).
 * Anonymous memory (heap, stack, mmap) is allocated on first touch.
 */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/spinlock.h"

#define PROT_READ  1    /* Linux values */
#define PROT_WRITE 2
#define PROT_EXEC  4

enum vma_kind { VMA_ANON, VMA_HEAP, VMA_STACK, VMA_FILE, VMA_SHARED, VMA_PAGECACHE };

/* VMA_SHARED: kernel pages shared with user space (io_uring rings).  The
 * pages belong to `obj`; each region holds one reference (get/put), so
 * they outlive every mapping, fork included. */
struct page_ref;                /* mm.c: a deferred reference to a shared page */

struct vma_shared_ops {
    void (*get)(void *obj);
    void (*put)(void *obj);
};

struct vma {
    uint64_t start, end;        /* page aligned, [start, end) */
    uint32_t prot;              /* PROT_* */
    uint32_t kind;              /* enum vma_kind */
    /* VMA_FILE: bytes [start, start + file_len) come from file (the
     * initrd), the rest is zero.  Read-only page-aligned file pages are
     * mapped straight from the initrd; others are copied on first touch. */
    const uint8_t *file;
    uint64_t file_len;
    const struct vma_shared_ops *sops;  /* VMA_SHARED: file is the pages' kernel VA */
    void *obj;
    /* VMA_PAGECACHE: a file of an ext2 file system, through the page
     * cache.  Bytes [start, start + file_len) are the file's from page
     * pgoff on, the rest zero-filled private memory.  obj (a struct
     * file, one reference per region through sops) keeps the inode.
     * mshared: MAP_SHARED (writes land in the cache page); else private
     * (read-only cache pages, a write fault copies). */
    struct ext2_fs *pc_fs;
    uint32_t pc_ino;
    bool mshared;
    uint64_t pgoff;
    uint64_t dead_gen;          /* on mm->deferred_vmas: the generation that removed it */
    struct vma *next;           /* sorted by start */
};

/*
 * Stack and mmap area sit at the top of the lowest GiB, not of the whole
 * Sv39 user half as on Linux: a static program (text at 0x10000), its
 * heap, stack and mappings then hang off one level-1 page table, so a
 * forked child costs one page-table page less (a blocked child: root,
 * one L1, two L0).  Nothing in the ABI fixes where the stack is; mmap
 * falls back to the space above the stack when this GiB is full.
 */
#define USER_STACK_TOP  0x3fff0000UL    /* top of the main thread's stack */
#define USER_STACK_MAX  (8UL << 20)
#define USER_MMAP_TOP   0x3f000000UL    /* mmap grows down from here */

struct mm {
    struct spinlock lock;       /* vmas and page table */
    _Atomic int refs;           /* each thread running it (of any process:
                                 * CLONE_VM), each in-flight operation
                                 * using its memory (io_uring), creators */
    uint64_t *pt;               /* root page table, kernel VA */
    struct vma *vmas;
    uint64_t brk_start, brk;
    uint64_t mmap_next;         /* next top-down mmap candidate */
    size_t user_pages;          /* pages mapped (for ps / leak checks) */
    struct page *deferred;      /* unmapped pages other harts may still reach
                                 * through stale TLB entries (shootdown.c) */
    struct vma *deferred_vmas;  /* removed shared regions (rings), likewise:
                                 * their pages' owner is put only after */
    struct pc_batch *deferred_pc;   /* page-cache references of unmapped
                                     * entries, likewise */
    struct page_ref *deferred_refs; /* references to copy-on-write pages
                                 * unmapped or copied away, likewise: while
                                 * set, this mm's threads owe a shootdown
                                 * before they go back to user mode */
    _Atomic uint64_t gen;       /* bumped when a mapping is removed or
                                 * narrowed: enter_user reloads satp and
                                 * flushes the TLB when it changed */
    struct mm *all_prev, *all_next; /* every mm (mm_unmap_file), under mm.c's list lock */
};

struct mm *mm_create(void);                     /* NULL: no memory */
void mm_get(struct mm *mm);
void mm_put(struct mm *mm);                     /* frees everything at zero */
struct mm *mm_fork(struct mm *mm);              /* copy-on-write copy; NULL: no memory */
/* Is enough memory free for a fork (a reserve is kept for the
 * copy-on-write faults of the processes already forked)? */
bool mm_fork_allowed(void);
void mm_activate(struct mm *mm);                /* load satp (arch) */

/* Add a region (exec: segments, stack).  0 or -errno. */
int mm_map_region(struct mm *mm, uint64_t start, uint64_t len, uint32_t prot,
                  enum vma_kind kind, const void *file, uint64_t file_len);
/* A user page fault at va for `access` (PROT_READ/WRITE/EXEC): 0 if the
 * page is now mapped, -EFAULT if the access is not allowed, -ENOMEM. */
int mm_fault(struct mm *mm, uint64_t va, uint32_t access);
/* The same for a thread's trap: a file page that is not in the page cache
 * yet gives MM_FAULT_IO and *need (a page-cache page with a reference):
 * the caller awaits its fill, without mm->lock, and faults again. */
#define MM_FAULT_IO 1
struct pc_page;
int mm_fault_io(struct mm *mm, uint64_t va, uint32_t access, struct pc_page **need);

/* Map [addr, addr + len) of file (fs, ino) from page pgoff, through the
 * page cache (mmap of an ext2 file, exec).  flags: Linux MAP_* (placement:
 * a hint, MAP_FIXED, MAP_FIXED_NOREPLACE; MAP_SHARED or MAP_PRIVATE).
 * file_len: bytes of the region that come from the file (the rest is
 * zero).  Takes a reference on obj through sops.  Address or -errno. */
struct ext2_fs;
long mm_map_file(struct mm *mm, uint64_t addr, uint64_t len, uint32_t prot, int flags,
                 struct ext2_fs *fs, uint32_t ino, uint64_t pgoff, uint64_t file_len,
                 const struct vma_shared_ops *sops, void *obj);
/* The regions of [addr, addr + len) that are MAP_SHARED file mappings:
 * calls fn(fs, ino, arg) for each (msync).  0 or -ENOMEM (not all mapped). */
long mm_shared_files(struct mm *mm, uint64_t addr, uint64_t len,
                     void (*fn)(struct ext2_fs *fs, uint32_t ino, void *arg), void *arg);

/* The file (fs, ino) shrank to `from` pages: unmap its pages from index
 * `from` on in every address space (cache pages and private copies), so
 * the next access faults, finds no page and gets SIGBUS (truncate; the
 * caller has already taken those pages out of the page cache). */
void mm_unmap_file(struct ext2_fs *fs, uint32_t ino, uint64_t from);

long mm_brk(struct mm *mm, uint64_t newbrk);    /* Linux brk: returns the break */
long mm_mmap(struct mm *mm, uint64_t addr, uint64_t len, int prot, int flags,
             int fd, uint64_t off);             /* anonymous only; address or -errno */
long mm_munmap(struct mm *mm, uint64_t addr, uint64_t len);
long mm_mprotect(struct mm *mm, uint64_t addr, uint64_t len, int prot);
/* madvise(MADV_DONTNEED): drop the pages of [addr, addr + len), keeping
 * the regions; the next touch sees zeros (file regions: the file). */
long mm_dontneed(struct mm *mm, uint64_t addr, uint64_t len);

/* Map physically contiguous kernel memory [pa, pa+len) shared into mm at
 * an address of the kernel's choice; takes a reference on obj.  Address
 * or -errno. */
long mm_map_shared(struct mm *mm, uint64_t pa, uint64_t len, uint32_t prot,
                   const struct vma_shared_ops *sops, void *obj);

int copyin(struct mm *mm, void *dst, uint64_t usrc, size_t len);        /* 0 / -EFAULT */
int copyout(struct mm *mm, uint64_t udst, const void *src, size_t len); /* 0 / -EFAULT */
/* A NUL-terminated string of at most max-1 bytes: length, -EFAULT or -ENAMETOOLONG. */
long copyin_str(struct mm *mm, char *dst, uint64_t usrc, size_t max);

/*
 * Stale translations.  A frame is never reused while any hart may still
 * hold a translation to it.  Whenever a mapping is removed or narrowed
 * (munmap, MAP_FIXED over a mapping, mprotect, MADV_DONTNEED, brk shrink,
 * a ring unmapped, COW of a shared page), mm->gen is bumped and then the
 * harts are looked at: if no other hart runs this mm in user mode, the
 * frames (and ring mappings' references) are released at once - a hart
 * that enters it later sees the new gen and flushes first.  Otherwise they
 * are kept, stamped with that generation, until a TLB shootdown
 * (src/mem/shootdown.c) has seen every such hart trap; then
 * mm_free_deferred frees them.  This holds whoever shares the mm: threads,
 * CLONE_VM processes, or both; it never depends on counting sharers.
 */
void mm_free_deferred(struct mm *mm, uint64_t upto_gen);
/* Does a hart other than this one run mm in user mode right now? */
bool mm_running_elsewhere(struct mm *mm);
/* Must a thread of mm wait for a shootdown before it goes back to user
 * mode?  True while a copy-on-write page it copied away (or unmapped) may
 * still be read through another hart's stale translation: the thread's
 * writes to its new copy must not become visible to the others first.
 * The same holds for a page-cache page a private file mapping copied away
 * (mm->deferred_pc).  A racy read; the thread loop (thread.c) checks it
 * before enter_user. */
static inline bool mm_flush_owed(struct mm *mm)
{
    return __builtin_expect(*(struct page_ref *volatile *)&mm->deferred_refs != NULL ||
                            *(struct pc_batch *volatile *)&mm->deferred_pc != NULL, 0);
}

/* ---- arch/riscv/pagetable.c: the page-table primitives mm.c uses ---- */
uint64_t *pt_create(void);                      /* user half empty, kernel half shared */
void pt_destroy(uint64_t *pt);                  /* frees table pages only */
/* Map one 4 KiB page; 0, -ENOMEM.  prot: PROT_*; user-accessible. */
int pt_map(uint64_t *pt, uint64_t va, uint64_t pa, uint32_t prot);
/* Unmap one page; returns its physical address or 0 if none. */
uint64_t pt_unmap(uint64_t *pt, uint64_t va);
/* Physical address and prot of a mapped user page, or 0. */
uint64_t pt_lookup(uint64_t *pt, uint64_t va, uint32_t *prot);
int pt_protect(uint64_t *pt, uint64_t va, uint32_t prot);
void pt_activate(uint64_t *pt);                 /* satp + sfence.vma; NULL: kernel table */
void pt_idle(void);                             /* before wfi: drop a dead root */
size_t pt_page_count(void);                     /* page-table pages allocated */
void pt_flush(void);                            /* sfence.vma on this hart */
/* First page in [va, end) with a mapping (any prot), or end; skips absent
 * tables, so walking a huge sparse range is cheap. */
uint64_t pt_next(uint64_t *pt, uint64_t va, uint64_t end);
/* pt_next, and that page's pt_lookup answers in *pa and *prot (*pa = 0 for
 * a page pt_lookup would not report) - one walk instead of two. */
uint64_t pt_next_leaf(uint64_t *pt, uint64_t va, uint64_t end, uint64_t *pa, uint32_t *prot);
