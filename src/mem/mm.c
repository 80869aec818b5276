/*
 * mm.c - user address spaces: the region (VMA) list, page faults, brk,
 * mmap/munmap/mprotect and file mappings.  fork is in mm_fork.c, the
 * copy-in/copy-out helpers in uaccess.c; what they share with this file
 * is in mm_internal.h.
 *
 * Ownership.  A mapped page is either *owned* (an order-0 page from the
 * page allocator: anonymous memory and private copies of file bytes) or
 * *shared* (a read-only page of the initrd mapped in place, zero copy).
 * The two are told apart by page_of(): memory outside the allocator's
 * region (the initrd, the kernel image) has no descriptor.  Owned pages
 * are freed when unmapped; shared ones never are, and are never mapped
 * writable (a write fault on one after mprotect makes a private copy).
 * mm->user_pages counts the owned pages currently mapped.  A third kind,
 * *cached*, is a page of the page cache (its descriptor says PAGE_CACHE)
 * mapped by a file region (VMA_PAGECACHE): each entry that maps it holds
 * a page-cache reference, retired like an owned frame when the entry goes
 * (mm->deferred_pc), so the cache never reclaims a page a stale TLB entry
 * may reach.  MAP_SHARED regions may map it writable (the page is then
 * dirty); private ones map it read-only and copy it on a write.  A fault
 * on a file page that is not cached yet cannot wait here: it returns
 * MM_FAULT_IO to the thread, which awaits the page's fill (thread.c).
 *
 * Copy-on-write.  fork shares the parent's owned pages with the child:
 * each page's descriptor counts its references (page->refs: one per
 * mapping, plus deferred releases), and both sides map it read-only.
 * The invariant: an owned page of a private region is mapped writable
 * only while refs == 1.  A write fault on a read-only owned page whose
 * region allows writing then either copies it (refs > 1; the old
 * reference is dropped) or, refs == 1, makes it writable in place: the
 * count can only grow through a fork of an address space that maps the
 * page, and with refs == 1 that is this one, whose lock we hold, so the
 * test cannot go stale.  Two sharers faulting at once may both copy (the
 * last put frees the original); they can never both reuse it.  copyout
 * goes through the same fault, so the kernel's writes break COW too.
 * Page tables are still copied at fork.
 *
 * Fork and other harts.  Write-protecting the parent's pages is a
 * narrowing: a hart running the parent in user mode could still write
 * through a writable TLB entry after the child has been given the page.
 * So fork bumps mm->gen after protecting and then looks at the harts
 * (the retire protocol below): if none runs the parent in user mode, any
 * that enters later flushes first, and sharing is safe.  If one does (a
 * threaded parent whose other threads are running), fork throws the
 * child away and copies every owned page instead, as before COW - the
 * child gets a private snapshot and the running threads keep writing
 * their own pages, whose refs are back to 1.
 *
 * A copy-on-write fault changes which frame backs a page of a running
 * address space; a thread on another hart may still read the old frame
 * through a stale entry.  The old reference is therefore retired like an
 * unmapped page (kept on mm->deferred_refs until a shootdown), and the
 * faulting thread does not return to user mode - where its writes to the
 * new copy could become visible to that thread - until the shootdown
 * has completed (mm_flush_owed, checked by the thread loop).  An
 * io_uring operation, whose completion entry a thread on another hart may
 * read without a trap, awaits the same shootdown before it posts the
 * entry (uring_ops.c: op_flush).  Nothing pins user pages for in-flight
 * I/O: every kernel access goes through copyin/copyout, one page at a
 * time under the lock; a copy that meets a file page not cached fails and
 * leaves the page in this hart's copy_needs, and its caller (the thread
 * loop, an io_uring op) awaits the page's fill and copies again.
 *
 * Eager or lazy.  Everything that needs a page of its own - anonymous
 * memory, heap, stack, and file bytes that must be copied (writable data,
 * or pages that are partly file, partly zero) - is allocated on first
 * touch, so exec costs nothing per page it does not use and a forked
 * child that execs at once copies only what was touched.  The one
 * exception is read-only file pages that can be shared in place (program
 * text and read-only data): mm_map_region maps those at once.  That costs
 * one PTE store per page and no memory, where faulting them in costs a
 * trap per page (a few hundred for a static glibc program's text), so
 * eager is the cheaper choice there.  The prefault is best effort: if a
 * page-table page cannot be allocated the rest is simply left to faults.
 *
 * Locking.  mm->lock covers the VMA list and the page table.  Nothing
 * here sleeps; page_alloc and kmalloc have their own locks.  The copy
 * helpers hold the lock for one page at a time, so a page cannot be
 * unmapped and freed by another thread while it is being copied, and
 * interrupts are masked for at most one page's copy.
 *
 * TLBs.  When a mapping is removed, replaced or narrowed, mm->gen is
 * bumped and this hart flushes; other harts flush when they next enter
 * this address space (enter_user compares gen).  What was unmapped - owned
 * frames, and the references of removed shared (ring) regions - is
 * *retired*: released at once if no other hart runs this mm in user mode,
 * else kept on mm->deferred / mm->deferred_vmas until a shootdown has
 * seen those harts trap (see mm.h).  A newly valid or widened PTE needs no
 * flush: a stale TLB entry only causes a spurious fault, which mm_fault
 * recognises (the page is already there) and answers with a local flush.
 */
#include "arch.h"
#include "core/hart.h"
#include "lib/errno.h"
#include "lib/klib.h"
#include "lib/printk.h"
#include "mem/kmalloc.h"
#include "layout.h"
#include "mem/mm.h"
#include "mem/page_alloc.h"
#include "fs/pagecache.h"
#include "mm_internal.h"

#define MAP_SHARED          0x01
#define MAP_PRIVATE         0x02
#define MAP_TYPE            0x0f
#define MAP_FIXED           0x10
#define MAP_ANONYMOUS       0x20
#define MAP_FIXED_NOREPLACE 0x100000

#define PROT_ALL (PROT_READ | PROT_WRITE | PROT_EXEC)
#define MMAP_MIN_ADDR PAGE_SIZE     /* page 0 is never mapped by mmap */

/* ---- helpers ---------------------------------------------------------- */

/* The accesses a prot allows (W implies R, as in the PTE). */
static uint32_t allows(uint32_t prot)
{
    prot &= PROT_ALL;
    return prot & PROT_WRITE ? prot | PROT_READ : prot;
}

/* Page-align len; 0 if it is 0 or too large for the user half. */
static uint64_t page_len(uint64_t len)
{
    if (len == 0 || len > USER_TOP)
        return 0;
    return ALIGN_UP(len, PAGE_SIZE);
}

bool mm_running_elsewhere(struct mm *mm)
{
    /* Pairs with enter_user's store of user_mm, fence, load of gen: either
     * we see the hart here, or it sees the gen we bumped before this. */
    atomic_thread_fence(memory_order_seq_cst);
    struct hart *self = this_hart();
    for (unsigned i = 0; i < nharts; i++)
        if (&harts[i] != self && atomic_load(&harts[i].user_mm) == mm)
            return true;
    return false;
}

/* Page-cache references of removed page-table entries: a page may be
 * mapped in many places, so the list lives in batches of its own. */
#define PC_BATCH 29
struct pc_batch {
    struct pc_batch *next;
    uint64_t gen;               /* on mm->deferred_pc: the generation that removed them */
    uint32_t n, shared;         /* shared: bit i set if pg[i] was in a MAP_SHARED region */
    struct pc_page *pg[PC_BATCH];
};

/* A reference to a page that other address spaces share (refs > 1 when
 * it was unmapped), waiting for a shootdown: the page descriptor's own
 * links cannot hold it, since another mm may be retiring the same page. */
struct page_ref {
    struct page *pg;
    uint64_t gen;               /* the generation that removed it */
    struct page_ref *next;
};

static unsigned long leaked_refs;   /* references kept for ever: no memory for a page_ref */

/*
 * The PTE of shared page pg in mm is gone or points elsewhere: drop mm's
 * reference.  Called with mm->lock held.  As retire(): bump gen, then
 * release at once unless another hart runs mm in user mode; else keep it
 * on mm->deferred_refs for the shootdown, which the mm's threads then
 * await (mm_flush_owed).  The caller flushes this hart's TLB before
 * anything returns to user mode.
 */
static void drop_shared_ref(struct mm *mm, struct page *pg)
{
    uint64_t gen = atomic_fetch_add(&mm->gen, 1) + 1;
    if (!mm_running_elsewhere(mm)) {
        page_ref_put(pg);
        return;
    }
    struct page_ref *n = kmalloc(sizeof *n);
    if (!n) {
        /* Safe, not clean: the page stays referenced for ever. */
        if (leaked_refs++ == 0)
            printk("mm: out of memory: a copy-on-write page is leaked\n");
        return;
    }
    n->pg = pg;
    n->gen = gen;
    n->next = mm->deferred_refs;
    mm->deferred_refs = n;
}

/* What one operation took out of the address space. */
struct retired {
    struct page *pages;         /* owned frames, linked through page->next */
    struct vma *vmas;           /* removed VMA_SHARED / VMA_PAGECACHE regions (hold a reference) */
    struct pc_batch *cache;     /* page-cache references of removed entries */
};

static uint64_t pc_leaked;      /* references kept for ever: no memory to retire them */

static void retire_cache(struct retired *r, struct pc_page *pg, bool shared)
{
    struct pc_batch *b = r->cache;
    if (!b || b->n == PC_BATCH) {
        b = kzalloc(sizeof *b);
        if (!b) {               /* never release what a stale TLB may reach: leak it */
            pc_leaked++;
            return;
        }
        b->next = r->cache;
        r->cache = b;
    }
    if (shared)
        b->shared |= 1u << b->n;
    b->pg[b->n++] = pg;
}

static void release_cache(struct pc_batch *b)
{
    while (b) {
        struct pc_batch *next = b->next;
        for (uint32_t i = 0; i < b->n; i++)
            pc_unmap_put(b->pg[i], b->shared & (1u << i));
        kfree(b);
        b = next;
    }
}

static void release_retired(struct page *pages, struct vma *vmas)
{
    while (pages) {
        struct page *next = pages->next;
        pages->next = NULL;
        pages->slab_free = NULL;
        page_ref_put(pages);        /* refs was 1 when it was unmapped */
        pages = next;
    }
    while (vmas) {
        struct vma *next = vmas->next;
        vmas->sops->put(vmas->obj);
        kfree(vmas);
        vmas = next;
    }
}

/*
 * Called with mm->lock held once the PTEs are gone (or narrowed): bump the
 * generation, then free what was unmapped if no other hart can hold a
 * translation to it, else keep it for the shootdown the caller starts.
 */
static void retire(struct mm *mm, struct retired *r)
{
    uint64_t gen = atomic_fetch_add(&mm->gen, 1) + 1;
    pt_flush();
    if (!r->pages && !r->vmas && !r->cache)
        return;
    if (!mm_running_elsewhere(mm)) {
        release_retired(r->pages, r->vmas);
        release_cache(r->cache);
        return;
    }
    while (r->cache) {
        struct pc_batch *b = r->cache;
        r->cache = b->next;
        b->gen = gen;
        b->next = mm->deferred_pc;
        mm->deferred_pc = b;
    }
    /* the list lives in the page descriptors, out of any stale TLB's reach */
    while (r->pages) {
        struct page *pg = r->pages;
        r->pages = pg->next;
        pg->slab_free = (void *)(uintptr_t)gen;
        pg->next = mm->deferred;
        mm->deferred = pg;
    }
    while (r->vmas) {
        struct vma *v = r->vmas;
        r->vmas = v->next;
        v->dead_gen = gen;
        v->next = mm->deferred_vmas;
        mm->deferred_vmas = v;
    }
}

static struct vma *vma_find(struct mm *mm, uint64_t va)
{
    for (struct vma *v = mm->vmas; v && v->start <= va; v = v->next)
        if (va < v->end)
            return v;
    return NULL;
}

static bool range_free(struct mm *mm, uint64_t start, uint64_t end)
{
    for (struct vma *v = mm->vmas; v && v->start < end; v = v->next)
        if (start < v->end)
            return false;
    return true;
}

static void vma_link(struct mm *mm, struct vma *n)
{
    struct vma **pp = &mm->vmas;
    while (*pp && (*pp)->start < n->start)
        pp = &(*pp)->next;
    n->next = *pp;
    *pp = n;
}

/* Can b (which starts where a ends) be folded into a? */
static bool vma_mergeable(const struct vma *a, const struct vma *b)
{
    if (a->end != b->start || a->kind != b->kind || a->prot != b->prot)
        return false;
    if (a->kind == VMA_SHARED || a->kind == VMA_PAGECACHE)
        return false;                   /* each holds its own reference */
    if (a->kind != VMA_FILE)
        return true;
    if (b->file_len == 0)
        return true;                    /* b is zero fill: a's tail is too */
    return a->file_len == a->end - a->start && b->file == a->file + a->file_len;
}

/* Fold adjacent compatible regions together (keeps the list short under
 * glibc's mmap(PROT_NONE) + mprotect growth pattern). */
static void vma_merge(struct mm *mm)
{
    struct vma *v = mm->vmas;
    while (v && v->next) {
        struct vma *n = v->next;
        if (vma_mergeable(v, n)) {
            if (v->kind == VMA_FILE && n->file_len)
                v->file_len += n->file_len;
            v->end = n->end;
            v->next = n->next;
            kfree(n);
        } else {
            v = n;
        }
    }
}

/* Spare VMAs for the splits an operation on [start, end) needs, taken
 * before anything changes so the operation cannot fail half done. */
struct spares {
    struct vma *v[2];
};

static int spares_get(struct mm *mm, uint64_t start, uint64_t end, struct spares *s)
{
    s->v[0] = s->v[1] = NULL;
    int need = 0;
    for (struct vma *v = mm->vmas; v && v->start < end; v = v->next) {
        if (v->start < start && start < v->end)
            need++;
        if (v->start < end && end < v->end)
            need++;
    }
    for (int i = 0; i < need; i++)
        if (!(s->v[i] = kmalloc(sizeof(struct vma)))) {
            kfree(s->v[0]);
            s->v[0] = NULL;
            return -ENOMEM;
        }
    return 0;
}

static void spares_put(struct spares *s)
{
    kfree(s->v[0]);
    kfree(s->v[1]);
}

/* Make addr a region boundary, splitting the region that straddles it. */
static void split_at(struct mm *mm, uint64_t addr, struct spares *s)
{
    for (struct vma *v = mm->vmas; v && v->start < addr; v = v->next) {
        if (addr >= v->end)
            continue;
        struct vma *n = s->v[0] ? s->v[0] : s->v[1];
        if (s->v[0])
            s->v[0] = NULL;
        else
            s->v[1] = NULL;
        *n = *v;
        n->start = addr;
        v->end = addr;
        if (v->kind == VMA_FILE) {
            uint64_t off = addr - v->start;
            if (v->file_len > off) {
                n->file = v->file + off;
                n->file_len = v->file_len - off;
                v->file_len = off;
            } else {
                n->file = NULL;
                n->file_len = 0;
            }
        }
        if (v->kind == VMA_SHARED) {
            n->file = v->file + (addr - v->start);
            v->sops->get(v->obj);
        }
        if (v->kind == VMA_PAGECACHE) {
            uint64_t off = addr - v->start;
            n->pgoff = v->pgoff + off / PAGE_SIZE;
            n->file_len = v->file_len > off ? v->file_len - off : 0;
            v->file_len = MIN(v->file_len, off);
            v->sops->get(v->obj);
        }
        n->next = v->next;
        v->next = n;
        return;
    }
}

/* Unmap every page in [start, end) of region v.  Owned ones that are
 * this mm's alone go on r->pages (never freed here: see retire); shared
 * (copy-on-write) ones are dropped one by one (drop_shared_ref); page-cache
 * pages' references go on r->cache.  r NULL: no hart can reach the mm any
 * more (mm_put), drop every reference now.  Returns whether any PTE was
 * removed. */
static bool unmap_pages(struct mm *mm, const struct vma *v, uint64_t start, uint64_t end,
                        struct retired *r)
{
    bool any = false, shared = v->kind == VMA_SHARED;
    for (uint64_t va = pt_next(mm->pt, start, end); va < end;
         va = pt_next(mm->pt, va + PAGE_SIZE, end)) {
        uint64_t pa = pt_unmap(mm->pt, va);
        if (!pa)
            continue;
        any = true;
        struct pc_page *cp = shared ? NULL : cached(pa);
        if (cp && !r) {
            pc_unmap_put(cp, v->kind == VMA_PAGECACHE && v->mshared);
        } else if (cp) {
            retire_cache(r, cp, v->kind == VMA_PAGECACHE && v->mshared);
        } else if (owned(pa) && !shared) {
            mm->user_pages--;
            struct page *pg = page_of(pa_to_va(pa));
            if (!r) {
                page_ref_put(pg);
            } else if (page_refs(pg) == 1) {
                /* ours alone (nobody can fork it: we hold the lock), so
                 * its own links may carry it */
                pg->next = r->pages;
                r->pages = pg;
            } else {
                drop_shared_ref(mm, pg);
            }
        }
    }
    return any;
}

/* Remove all regions and pages in [start, end) (page aligned); the
 * splits must have spares.  If a page was unmapped, bumps gen and retires
 * what went. */
static void unmap_range(struct mm *mm, uint64_t start, uint64_t end, struct spares *s)
{
    split_at(mm, start, s);
    split_at(mm, end, s);
    bool any = false;
    struct retired r = { NULL, NULL, NULL };
    for (struct vma **pp = &mm->vmas; *pp && (*pp)->start < end;) {
        struct vma *v = *pp;
        if (v->start >= start && v->end <= end) {
            *pp = v->next;
            any |= unmap_pages(mm, v, v->start, v->end, &r);
            if (v->kind == VMA_SHARED || v->kind == VMA_PAGECACHE) {
                /* its pages' owner (a ring) may free them at the put:
                 * not before the harts have let go of them */
                v->next = r.vmas;
                r.vmas = v;
            } else {
                kfree(v);
            }
        } else {
            pp = &v->next;
        }
    }
    if (any || r.vmas)
        retire(mm, &r);
}

/* May file page va of v be mapped straight from the file (zero copy)?
 * Read-only, wholly file bytes, page aligned in the file, and not memory
 * the page allocator owns (so it is the initrd or the kernel image, which
 * live for ever and are never freed as user pages). */
static bool shareable(const struct vma *v, uint64_t va)
{
    if (v->kind != VMA_FILE || (v->prot & PROT_WRITE))
        return false;
    uint64_t off = va - v->start;
    if (off >= v->file_len || v->file_len - off < PAGE_SIZE)
        return false;
    const uint8_t *src = v->file + off;
    return ((uintptr_t)src & PAGE_MASK) == 0 && page_of(src) == NULL;
}

/* Give page va of region v its page.  0 or -ENOMEM. */
static int populate(struct mm *mm, struct vma *v, uint64_t va)
{
    if (v->kind == VMA_SHARED)
        return pt_map(mm->pt, va, va_to_pa(v->file + (va - v->start)), v->prot);
    if (shareable(v, va))
        return pt_map(mm->pt, va, va_to_pa(v->file + (va - v->start)), v->prot);
    uint8_t *page = page_alloc();               /* zeroed */
    if (!page)
        return -ENOMEM;
    uint64_t off = va - v->start;
    if (v->kind == VMA_FILE && off < v->file_len)
        memcpy(page, v->file + off, MIN(PAGE_SIZE, v->file_len - off));
    if (pt_map(mm->pt, va, va_to_pa(page), v->prot) < 0) {
        page_free(page);
        return -ENOMEM;
    }
    mm->user_pages++;
    return 0;
}

/* A private page of region v at va holding the file's bytes of page pg
 * (those of the region; the rest zero).  0 or -ENOMEM. */
static int private_copy(struct mm *mm, struct vma *v, uint64_t va, struct pc_page *pg)
{
    uint8_t *page = page_alloc();               /* zeroed */
    if (!page)
        return -ENOMEM;
    uint64_t off = va - v->start;
    memcpy(page, pg->data, MIN(PAGE_SIZE, v->file_len - off));
    if (pt_map(mm->pt, va, va_to_pa(page), v->prot) < 0) {
        page_free(page);
        return -ENOMEM;
    }
    mm->user_pages++;
    return 0;
}

/*
 * Give page va of file region v its page from the page cache.  A page not
 * cached yet: MM_FAULT_IO with *need (if the caller can wait), else -EFAULT.
 * A MAP_SHARED region maps the cache page itself (writable, and the page
 * dirty, only on a write access); a private one maps it read-only, or
 * copies it on a write access, or when the page is partly file, partly
 * zero (the end of a program's data).
 */
/* Fault-around: after a read fault, map the next pages of the region
 * that are cached already (read-only, as a read fault would), so a
 * program's second run takes a trap per FAULT_AROUND pages of its text,
 * not per page.  Best effort: it stops at the first page it cannot map. */
#define FAULT_AROUND 16
static void fault_around(struct mm *mm, struct vma *v, uint64_t va)
{
    for (int k = 1; k < FAULT_AROUND; k++) {
        uint64_t a = va + (uint64_t)k * PAGE_SIZE, off = a - v->start;
        uint32_t have;
        if (a >= v->end || off >= v->file_len || v->file_len - off < PAGE_SIZE ||
            pt_lookup(mm->pt, a, &have))
            return;
        struct pc_page *pg = pc_lookup(v->pc_fs, v->pc_ino, v->pgoff + off / PAGE_SIZE);
        if (!pg)
            return;
        int r = pt_map(mm->pt, a, va_to_pa(pg->data), v->prot & ~PROT_WRITE);
        if (r == 0)
            pc_map_get(pg, v->mshared, false);
        pc_put(pg);
        if (r)
            return;
    }
}

static int populate_file(struct mm *mm, struct vma *v, uint64_t va, uint32_t access,
                         struct pc_page **need)
{
    uint64_t off = va - v->start;
    if (off >= v->file_len)
        return populate(mm, v, va);             /* zero fill past the file's part */
    uint64_t index = v->pgoff + off / PAGE_SIZE;
    struct pc_page *pg = pc_lookup(v->pc_fs, v->pc_ino, index);
    if (!pg) {
        if (!need)
            return -EFAULT;
        *need = pc_get(v->pc_fs, v->pc_ino, index);
        return *need ? MM_FAULT_IO : -ENOMEM;
    }
    int r;
    bool write = access & PROT_WRITE;
    if (v->file_len - off < PAGE_SIZE || (!v->mshared && write)) {
        r = private_copy(mm, v, va, pg);
    } else {
        uint32_t prot = v->mshared && write ? v->prot : v->prot & ~PROT_WRITE;
        r = pt_map(mm->pt, va, va_to_pa(pg->data), prot);
        if (r == 0)
            pc_map_get(pg, v->mshared, v->mshared && write);
    }
    pc_put(pg);
    if (r == 0 && !write)
        fault_around(mm, v, va);
    return r;
}

/* A write to a present page-cache page of region v. */
static int write_cached(struct mm *mm, struct vma *v, uint64_t va, uint64_t pa)
{
    struct pc_page *cp = cached(pa);
    if (v->mshared) {
        pc_mark_dirty(cp);
        return pt_protect(mm->pt, va, v->prot);     /* widening: no flush */
    }
    /* private: copy; the cache page's entry is replaced, its reference
     * retired once no hart can reach it */
    uint8_t *page = page_alloc_nozero();
    if (!page)
        return -ENOMEM;
    memcpy(page, cp->data, PAGE_SIZE);
    pt_map(mm->pt, va, va_to_pa(page), v->prot);   /* slot exists */
    mm->user_pages++;
    struct retired r = { NULL, NULL, NULL };
    retire_cache(&r, cp, false);
    retire(mm, &r);
    return 0;
}

/* A write to page va of v, backed by pg, which other address spaces
 * share: give this one a copy. */
static int cow_copy(struct mm *mm, struct vma *v, uint64_t va, struct page *pg)
{
    uint8_t *page = page_alloc_nozero();
    if (!page)
        return -ENOMEM;
    memcpy(page, page_addr(pg), PAGE_SIZE);
    pt_map(mm->pt, va, va_to_pa(page), v->prot);   /* the slot exists */
    drop_shared_ref(mm, pg);
    pt_flush();                 /* the read-only translation is gone */
    return 0;
}

int mm_fault_locked(struct mm *mm, uint64_t va, uint32_t access, struct pc_page **need)
{
    if (va >= USER_TOP)
        return -EFAULT;
    va &= ~PAGE_MASK;
    access &= PROT_ALL;
    if (!access)
        access = PROT_READ;
    /* No region: unmapped, or just below the stack (an overflow). */
    struct vma *v = vma_find(mm, va);
    if (!v || (access & ~allows(v->prot)))
        return -EFAULT;
    uint32_t have = 0;
    uint64_t pa = pt_lookup(mm->pt, va, &have);
    if (!pa && v->kind == VMA_PAGECACHE)
        return populate_file(mm, v, va, access, need);
    if (!pa)
        return populate(mm, v, va);
    if (!(access & ~have)) {
        pt_flush();                     /* spurious: a stale TLB entry here */
        return 0;
    }
    if (v->kind == VMA_SHARED)
        return pt_protect(mm->pt, va, v->prot);
    if (v->kind == VMA_PAGECACHE && cached(pa)) {
        if (access & PROT_WRITE)
            return write_cached(mm, v, va, pa);
        return pt_protect(mm->pt, va, v->mshared ? have | (v->prot & ~PROT_WRITE)
                                                 : v->prot & ~PROT_WRITE);
    }
    if (!owned(pa)) {
        if (access & PROT_WRITE) {
            /* a shared file page made writable by mprotect: copy it */
            uint8_t *page = page_alloc();
            if (!page)
                return -ENOMEM;
            memcpy(page, pa_to_va(pa), PAGE_SIZE);
            pt_map(mm->pt, va, va_to_pa(page), v->prot);   /* slot exists */
            mm->user_pages++;
            bump_gen(mm);               /* the old translation is gone */
            return 0;
        }
        return pt_protect(mm->pt, va, v->prot & ~PROT_WRITE);
    }
    /* An owned page: writable only while it is ours alone (see the top). */
    uint32_t prot = v->prot;
    struct page *pg = page_of(pa_to_va(pa));
    if ((prot & PROT_WRITE) && page_refs(pg) > 1) {
        if (access & PROT_WRITE)
            return cow_copy(mm, v, va, pg);
        prot &= ~PROT_WRITE;
    }
    return pt_protect(mm->pt, va, prot);
}

/* ---- lifecycle ------------------------------------------------------------ */

/* Every address space, for mm_unmap_file.  Lock order: all_lock, then
 * mm->lock - but mm_fork creates and puts a child under its parent's
 * lock, so the walker only tries each mm's lock (and starts over). */
static struct spinlock all_lock = SPINLOCK_INIT("mm_all");
static struct mm all_mms = { .all_prev = &all_mms, .all_next = &all_mms };

struct mm *mm_create(void)
{
    struct mm *mm = kzalloc(sizeof *mm);
    if (!mm)
        return NULL;
    mm->pt = pt_create();
    if (!mm->pt) {
        kfree(mm);
        return NULL;
    }
    spin_init(&mm->lock, "mm");
    atomic_store(&mm->refs, 1);
    atomic_store(&mm->gen, 0);
    mm->mmap_next = USER_MMAP_TOP;
    spin_lock(&all_lock);
    mm->all_next = all_mms.all_next;
    mm->all_prev = &all_mms;
    all_mms.all_next->all_prev = mm;
    all_mms.all_next = mm;
    spin_unlock(&all_lock);
    return mm;
}

void mm_get(struct mm *mm)
{
    atomic_fetch_add(&mm->refs, 1);
}

void mm_put(struct mm *mm)
{
    if (!mm || atomic_fetch_sub(&mm->refs, 1) != 1)
        return;
    spin_lock(&all_lock);           /* first: a walker may be in it till then */
    mm->all_prev->all_next = mm->all_next;
    mm->all_next->all_prev = mm->all_prev;
    spin_unlock(&all_lock);
    /* The last reference: no thread runs it, so no hart is in user mode
     * in it, and a hart that ran it reloads satp and flushes before it
     * next enters user mode.  Everything can go at once. */
    struct vma *shared = NULL;
    while (mm->vmas) {
        struct vma *v = mm->vmas;
        mm->vmas = v->next;
        unmap_pages(mm, v, v->start, v->end, NULL);
        if (v->kind == VMA_SHARED || v->kind == VMA_PAGECACHE) {
            v->next = shared;
            shared = v;
        } else {
            kfree(v);
        }
    }
    release_retired(NULL, shared);
    mm_free_deferred(mm, UINT64_MAX);
    pt_destroy(mm->pt);
    kfree(mm);
}

void mm_activate(struct mm *mm)
{
    pt_activate(mm ? mm->pt : NULL);
}

/* ---- regions ---------------------------------------------------------------- */

int mm_map_region(struct mm *mm, uint64_t start, uint64_t len, uint32_t prot,
                  enum vma_kind kind, const void *file, uint64_t file_len)
{
    len = page_len(len);
    if (!len || (start & PAGE_MASK) || start >= USER_TOP || len > USER_TOP - start)
        return -EINVAL;
    if (kind == VMA_FILE && file_len && !file)
        return -EINVAL;
    struct vma *v = kzalloc(sizeof *v);
    if (!v)
        return -ENOMEM;
    v->start = start;
    v->end = start + len;
    v->prot = prot & PROT_ALL;
    v->kind = kind;
    if (kind == VMA_FILE) {
        v->file = file;
        v->file_len = MIN(file_len, len);
    }
    spin_lock(&mm->lock);
    if (!range_free(mm, v->start, v->end)) {
        spin_unlock(&mm->lock);
        kfree(v);
        return -EINVAL;
    }
    vma_link(mm, v);
    /* Prefault the zero-copy pages (see the top of the file). */
    if (kind == VMA_FILE && !(v->prot & PROT_WRITE))
        for (uint64_t va = start; va < v->end && shareable(v, va); va += PAGE_SIZE)
            if (populate(mm, v, va) < 0)
                break;                          /* faults will retry */
    spin_unlock(&mm->lock);
    return 0;
}

int mm_fault(struct mm *mm, uint64_t va, uint32_t access)
{
    spin_lock(&mm->lock);
    int r = mm_fault_locked(mm, va, access, NULL);
    spin_unlock(&mm->lock);
    return r;
}

int mm_fault_io(struct mm *mm, uint64_t va, uint32_t access, struct pc_page **need)
{
    *need = NULL;
    spin_lock(&mm->lock);
    int r = mm_fault_locked(mm, va, access, need);
    spin_unlock(&mm->lock);
    return r;
}

long mm_brk(struct mm *mm, uint64_t newbrk)
{
    spin_lock(&mm->lock);
    uint64_t cur = mm->brk;
    if (newbrk < mm->brk_start || newbrk >= USER_TOP - PAGE_SIZE)
        goto out;
    uint64_t old_end = ALIGN_UP(cur, PAGE_SIZE), new_end = ALIGN_UP(newbrk, PAGE_SIZE);
    if (new_end > old_end) {
        if (!range_free(mm, old_end, new_end))
            goto out;
        struct vma *prev = NULL;
        for (struct vma *v = mm->vmas; v && v->start < old_end; v = v->next)
            prev = v;
        if (prev && prev->end == old_end && prev->kind == VMA_HEAP &&
            prev->prot == (PROT_READ | PROT_WRITE)) {
            prev->end = new_end;
        } else {
            struct vma *v = kzalloc(sizeof *v);
            if (!v)
                goto out;
            v->start = old_end;
            v->end = new_end;
            v->prot = PROT_READ | PROT_WRITE;
            v->kind = VMA_HEAP;
            vma_link(mm, v);
        }
    } else if (new_end < old_end) {
        struct spares s;
        if (spares_get(mm, new_end, old_end, &s) < 0)
            goto out;
        unmap_range(mm, new_end, old_end, &s);
        spares_put(&s);
    }
    mm->brk = cur = newbrk;
out:
    spin_unlock(&mm->lock);
    return (long)cur;
}

/* The highest start of a free [start, start + len) within
 * [MMAP_MIN_ADDR, top), or 0. */
static uint64_t find_gap(struct mm *mm, uint64_t len, uint64_t top)
{
    uint64_t best = 0, lo = MMAP_MIN_ADDR;
    for (struct vma *v = mm->vmas;; v = v->next) {
        uint64_t hi = v && v->start < top ? v->start : top;
        if (hi > lo && hi - lo >= len)
            best = hi - len;
        if (!v || v->end >= top)
            break;
        lo = MAX(lo, v->end);
    }
    return best;
}

static long mmap_vma(struct mm *mm, uint64_t addr, uint64_t len, int flags, struct vma *v);

long mm_mmap(struct mm *mm, uint64_t addr, uint64_t len, int prot, int flags,
             int fd, uint64_t off)
{
    if (len == 0 || (off & PAGE_MASK))
        return -EINVAL;
    len = page_len(len);
    if (!len)
        return -ENOMEM;
    if (!(flags & MAP_ANONYMOUS))
        return fd < 0 ? -EBADF : -ENODEV;       /* files: mm_map_file */
    if ((flags & MAP_TYPE) != MAP_PRIVATE)
        return -EINVAL;                         /* shared anonymous: not yet */
    struct vma *v = kzalloc(sizeof *v);
    if (!v)
        return -ENOMEM;
    v->prot = (uint32_t)prot & PROT_ALL;
    v->kind = VMA_ANON;
    return mmap_vma(mm, addr, len, flags, v);
}

/* Place v (len bytes, page aligned) as mmap's flags say, link it and take
 * its reference (sops); v is freed on failure.  Address or -errno. */
static long mmap_vma(struct mm *mm, uint64_t addr, uint64_t len, int flags, struct vma *v)
{
    bool fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
    long r;
    if (fixed) {
        r = addr & PAGE_MASK ? -EINVAL : addr < MMAP_MIN_ADDR ? -EPERM
          : addr >= USER_TOP || len > USER_TOP - addr ? -ENOMEM : 0;
        if (r) {
            kfree(v);
            return r;
        }
    }
    uint64_t start = 0;
    spin_lock(&mm->lock);
    if (flags & MAP_FIXED_NOREPLACE) {
        if (!range_free(mm, addr, addr + len)) {
            r = -EEXIST;
            goto fail;
        }
        start = addr;
    } else if (fixed) {
        struct spares s;
        if (spares_get(mm, addr, addr + len, &s) < 0) {
            r = -ENOMEM;
            goto fail;
        }
        unmap_range(mm, addr, addr + len, &s);
        spares_put(&s);
        start = addr;
    } else {
        uint64_t hint = ALIGN_UP(addr, PAGE_SIZE);
        if (hint >= MMAP_MIN_ADDR && hint < USER_TOP && len <= USER_TOP - hint &&
            range_free(mm, hint, hint + len))
            start = hint;
        else
            start = find_gap(mm, len, mm->mmap_next);
        if (!start)                     /* the low GiB is full: above the stack */
            start = find_gap(mm, len, USER_TOP);
        if (!start) {
            r = -ENOMEM;
            goto fail;
        }
    }
    v->start = start;
    v->end = start + len;
    if (v->sops)
        v->sops->get(v->obj);
    vma_link(mm, v);
    vma_merge(mm);                      /* may free v */
    spin_unlock(&mm->lock);
    return (long)start;
fail:
    spin_unlock(&mm->lock);
    kfree(v);
    return r;
}

long mm_map_file(struct mm *mm, uint64_t addr, uint64_t len, uint32_t prot, int flags,
                 struct ext2_fs *fs, uint32_t ino, uint64_t pgoff, uint64_t file_len,
                 const struct vma_shared_ops *sops, void *obj)
{
    int type = flags & MAP_TYPE;
    if (len == 0 || (prot & ~PROT_ALL) || (type != MAP_SHARED && type != MAP_PRIVATE))
        return -EINVAL;
    if (!(len = page_len(len)))
        return -ENOMEM;
    struct vma *v = kzalloc(sizeof *v);
    if (!v)
        return -ENOMEM;
    v->prot = prot;
    v->kind = VMA_PAGECACHE;
    v->pc_fs = fs;
    v->pc_ino = ino;
    v->pgoff = pgoff;
    v->file_len = MIN(file_len, len);
    v->mshared = type == MAP_SHARED;
    v->sops = sops;
    v->obj = obj;
    return mmap_vma(mm, addr, len, flags, v);
}

long mm_shared_files(struct mm *mm, uint64_t addr, uint64_t len,
                     void (*fn)(struct ext2_fs *fs, uint32_t ino, void *arg), void *arg)
{
    if ((addr & PAGE_MASK) || addr >= USER_TOP || len > USER_TOP - addr)
        return -EINVAL;
    uint64_t end = addr + ALIGN_UP(len, PAGE_SIZE), covered = addr;
    spin_lock(&mm->lock);
    for (struct vma *v = mm->vmas; v && v->start < end; v = v->next) {
        if (v->end <= addr)
            continue;
        if (v->start > covered)
            break;
        covered = v->end;
        if (v->kind == VMA_PAGECACHE && v->mshared)
            fn(v->pc_fs, v->pc_ino, arg);
    }
    spin_unlock(&mm->lock);
    return covered >= end ? 0 : -ENOMEM;
}

long mm_munmap(struct mm *mm, uint64_t addr, uint64_t len)
{
    if ((addr & PAGE_MASK) || !(len = page_len(len)) || addr >= USER_TOP ||
        len > USER_TOP - addr)
        return -EINVAL;
    struct spares s;
    spin_lock(&mm->lock);
    if (spares_get(mm, addr, addr + len, &s) < 0) {
        spin_unlock(&mm->lock);
        return -ENOMEM;
    }
    unmap_range(mm, addr, addr + len, &s);
    spin_unlock(&mm->lock);
    spares_put(&s);
    return 0;
}

long mm_mprotect(struct mm *mm, uint64_t addr, uint64_t len, int prot)
{
    /* Linux accepts PROT_SEM and the PROT_GROWS* bits; we ignore them. */
    const uint32_t known = PROT_ALL | 0x8 | 0x01000000 | 0x02000000;
    if ((addr & PAGE_MASK) || ((uint32_t)prot & ~known))
        return -EINVAL;
    if (len == 0)
        return 0;
    if (!(len = page_len(len)) || addr >= USER_TOP || len > USER_TOP - addr)
        return -ENOMEM;
    uint32_t nprot = (uint32_t)prot & PROT_ALL;
    uint64_t end = addr + len;

    spin_lock(&mm->lock);
    /* The whole range must be mapped. */
    uint64_t covered = addr;
    for (struct vma *v = mm->vmas; v && v->start <= covered && covered < end; v = v->next)
        if (v->end > covered)
            covered = v->end;
    if (covered < end) {
        spin_unlock(&mm->lock);
        return -ENOMEM;
    }
    struct spares s;
    if (spares_get(mm, addr, end, &s) < 0) {
        spin_unlock(&mm->lock);
        return -ENOMEM;
    }
    split_at(mm, addr, &s);
    split_at(mm, end, &s);
    bool narrowed = false;
    for (struct vma *v = mm->vmas; v && v->start < end; v = v->next) {
        if (v->end <= addr)
            continue;
        v->prot = nprot;
        for (uint64_t va = pt_next(mm->pt, v->start, v->end); va < v->end;
             va = pt_next(mm->pt, va + PAGE_SIZE, v->end)) {
            uint32_t have = 0;
            uint64_t pa = pt_lookup(mm->pt, va, &have);
            if (!pa)
                continue;
            /* initrd pages, and pages shared copy-on-write, stay read-only */
            uint32_t p = nprot;
            if (v->kind != VMA_SHARED &&
                (!owned(pa) || page_refs(page_of(pa_to_va(pa))) > 1))
                p &= ~PROT_WRITE;
            pt_protect(mm->pt, va, p);
            if (have & ~allows(p))
                narrowed = true;
        }
    }
    vma_merge(mm);
    if (narrowed)
        bump_gen(mm);
    spin_unlock(&mm->lock);
    spares_put(&s);
    return 0;
}

long mm_dontneed(struct mm *mm, uint64_t addr, uint64_t len)
{
    if ((addr & PAGE_MASK) || addr >= USER_TOP)
        return -EINVAL;
    if (len == 0)
        return 0;
    if (!(len = page_len(len)) || len > USER_TOP - addr)
        return -EINVAL;
    uint64_t end = addr + len;
    bool any = false;
    struct retired r = { NULL, NULL, NULL };
    spin_lock(&mm->lock);
    for (struct vma *v = mm->vmas; v && v->start < end; v = v->next)
        if (v->end > addr)
            any |= unmap_pages(mm, v, MAX(v->start, addr), MIN(v->end, end), &r);
    if (any)
        retire(mm, &r);
    spin_unlock(&mm->lock);
    return 0;
}

void mm_unmap_file(struct ext2_fs *fs, uint32_t ino, uint64_t from)
{
again:
    spin_lock(&all_lock);
    for (struct mm *mm = all_mms.all_next; mm != &all_mms; mm = mm->all_next) {
        if (!spin_trylock(&mm->lock)) {
            spin_unlock(&all_lock);     /* its holder may want all_lock (fork) */
            arch_relax();
            goto again;                 /* what was unmapped stays unmapped */
        }
        bool any = false;
        struct retired r = { NULL, NULL, NULL };
        for (struct vma *v = mm->vmas; v; v = v->next) {
            if (v->kind != VMA_PAGECACHE || v->pc_fs != fs || v->pc_ino != ino)
                continue;
            /* the region's file pages from index `from` on (not the zero
             * tail of a program's data segment past file_len) */
            uint64_t npg = ALIGN_UP(v->file_len, PAGE_SIZE) / PAGE_SIZE, skip = 0;
            if (from > v->pgoff)
                skip = from - v->pgoff;
            if (skip < npg)
                any |= unmap_pages(mm, v, v->start + skip * PAGE_SIZE,
                                   v->start + npg * PAGE_SIZE, &r);
        }
        if (any)
            retire(mm, &r);
        spin_unlock(&mm->lock);
    }
    spin_unlock(&all_lock);
}

/* ---- shared kernel memory (io_uring rings) ---------------------------------- */

long mm_map_shared(struct mm *mm, uint64_t pa, uint64_t len, uint32_t prot,
                   const struct vma_shared_ops *sops, void *obj)
{
    if (len == 0 || (len & PAGE_MASK) || (prot & ~PROT_ALL))
        return -EINVAL;
    struct vma *n = kzalloc(sizeof *n);
    if (!n)
        return -ENOMEM;
    spin_lock(&mm->lock);
    uint64_t addr = find_gap(mm, len, mm->mmap_next);
    if (!addr)
        addr = find_gap(mm, len, USER_TOP);
    if (!addr) {
        spin_unlock(&mm->lock);
        kfree(n);
        return -ENOMEM;
    }
    n->start = addr;
    n->end = addr + len;
    n->prot = prot;
    n->kind = VMA_SHARED;
    n->file = pa_to_va(pa);
    n->sops = sops;
    n->obj = obj;
    vma_link(mm, n);
    sops->get(obj);
    int r = 0;
    for (uint64_t off = 0; off < len && r == 0 && (prot & PROT_ALL); off += PAGE_SIZE)
        r = pt_map(mm->pt, addr + off, pa + off, prot);
    spin_unlock(&mm->lock);
    if (r < 0) {
        mm_munmap(mm, addr, len);
        return r;
    }
    return addr;
}

void mm_free_deferred(struct mm *mm, uint64_t upto_gen)
{
    struct page *keep = NULL, *done = NULL;
    struct vma *vkeep = NULL, *vdone = NULL;
    spin_lock(&mm->lock);
    while (mm->deferred) {
        struct page *pg = mm->deferred;
        mm->deferred = pg->next;
        if ((uint64_t)(uintptr_t)pg->slab_free <= upto_gen) {
            pg->next = done;
            done = pg;
        } else {
            pg->next = keep;
            keep = pg;
        }
    }
    mm->deferred = keep;
    while (mm->deferred_vmas) {
        struct vma *v = mm->deferred_vmas;
        mm->deferred_vmas = v->next;
        if (v->dead_gen <= upto_gen) {
            v->next = vdone;
            vdone = v;
        } else {
            v->next = vkeep;
            vkeep = v;
        }
    }
    mm->deferred_vmas = vkeep;
    struct pc_batch *bkeep = NULL, *bdone = NULL;
    while (mm->deferred_pc) {
        struct pc_batch *b = mm->deferred_pc;
        mm->deferred_pc = b->next;
        if (b->gen <= upto_gen) {
            b->next = bdone;
            bdone = b;
        } else {
            b->next = bkeep;
            bkeep = b;
        }
    }
    mm->deferred_pc = bkeep;
    struct page_ref *rkeep = NULL, *rdone = NULL;
    while (mm->deferred_refs) {
        struct page_ref *n = mm->deferred_refs;
        mm->deferred_refs = n->next;
        if (n->gen <= upto_gen) {
            n->next = rdone;
            rdone = n;
        } else {
            n->next = rkeep;
            rkeep = n;
        }
    }
    mm->deferred_refs = rkeep;
    spin_unlock(&mm->lock);
    release_retired(done, vdone);
    release_cache(bdone);
    while (rdone) {
        struct page_ref *n = rdone;
        rdone = n->next;
        page_ref_put(n->pg);
        kfree(n);
    }
}
