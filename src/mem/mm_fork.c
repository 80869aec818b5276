/*
 * mm_fork.c - fork of an address space: the child gets the regions and,
 * with copy-on-write, the parent's private pages shared read-only with a
 * reference each (a write fault in mm.c copies or reclaims the page).
 * mm.c's header explains ownership, locking and the TLB rules kept here.
 */
#include "lib/errno.h"
#include "lib/klib.h"
#include "mem/kmalloc.h"
#include "mm_internal.h"

/*
 * Give c the regions and pages of mm, with mm->lock held.  cow: share
 * owned private pages (read-only on both sides, a reference each;
 * *narrowed says whether a parent PTE lost its write permission); else
 * copy them.  Pages mm maps from the initrd and shared (ring) regions are
 * mapped as they are.  0 or -ENOMEM (c then holds what it got so far,
 * consistently: mm_put frees it).
 */
static int fork_pages(struct mm *mm, struct mm *c, bool cow, bool *narrowed)
{
    c->brk_start = mm->brk_start;
    c->brk = mm->brk;
    c->mmap_next = mm->mmap_next;
    struct vma **tail = &c->vmas;
    for (struct vma *v = mm->vmas; v; v = v->next) {
        struct vma *n = kmalloc(sizeof *n);
        if (!n)
            return -ENOMEM;
        *n = *v;
        n->next = NULL;
        *tail = n;
        tail = &n->next;
        if (v->kind == VMA_SHARED || v->kind == VMA_PAGECACHE)
            v->sops->get(v->obj);
        uint32_t prot = 0;
        uint64_t pa;
        for (uint64_t va = pt_next_leaf(mm->pt, v->start, v->end, &pa, &prot); va < v->end;
             va = pt_next_leaf(mm->pt, va + PAGE_SIZE, v->end, &pa, &prot)) {
            if (!pa)
                continue;
            if (!owned(pa) || v->kind == VMA_SHARED) {  /* initrd, cache page or shared memory */
                if (pt_map(c->pt, va, pa, prot) < 0)
                    return -ENOMEM;
                struct pc_page *cp = v->kind == VMA_SHARED ? NULL : cached(pa);
                if (cp)
                    pc_map_get(cp, v->kind == VMA_PAGECACHE && v->mshared, false);
                continue;
            }
            if (cow) {
                uint32_t ro = prot & ~PROT_WRITE;
                if (pt_map(c->pt, va, pa, ro) < 0)
                    return -ENOMEM;
                page_ref_get(page_of(pa_to_va(pa)));
                c->user_pages++;
                if (prot & PROT_WRITE) {
                    pt_protect(mm->pt, va, ro);
                    *narrowed = true;
                }
                continue;
            }
            void *page = page_alloc_nozero();
            if (!page)
                return -ENOMEM;
            memcpy(page, pa_to_va(pa), PAGE_SIZE);
            if (pt_map(c->pt, va, va_to_pa(page), prot) < 0) {
                page_free(page);
                return -ENOMEM;
            }
            c->user_pages++;
        }
    }
    return 0;
}

/*
 * Copy-on-write overcommits: a fork costs little now and its pages are
 * paid for at the first writes, when a failure can only kill whoever
 * wrote.  So fork (clone) fails with -ENOMEM while less than a reserve is
 * free: what is left lets the processes already forked reach their first
 * blocking call, and a fork bomb stops at fork, not with its parent
 * killed at a fault.
 */
bool mm_fork_allowed(void)
{
    size_t reserve = page_total_count() / 64;
    return page_free_count() >= (reserve < 128 ? 128 : reserve);
}

struct mm *mm_fork(struct mm *mm)
{
    struct mm *c = mm_create();
    if (!c)
        return NULL;
    spin_lock(&mm->lock);
    /* Copy-on-write unless another hart runs mm in user mode: its
     * writable TLB entries could write a page after the child got it. */
    bool cow = !mm_running_elsewhere(mm), narrowed = false;
    int r = fork_pages(mm, c, cow, &narrowed);
    if (r == 0 && narrowed) {
        /* The retire protocol: new generation, then look.  A hart that
         * enters mm after this sees the new gen and flushes first. */
        bump_gen(mm);
        if (mm_running_elsewhere(mm)) {
            /* One entered between the two looks and may hold writable
             * entries: undo the sharing (the parent's pages go back to
             * refs 1; a write fault makes them writable again) and copy. */
            mm_put(c);
            c = mm_create();
            r = c ? fork_pages(mm, c, false, &narrowed) : -ENOMEM;
        }
    }
    spin_unlock(&mm->lock);
    if (r < 0) {
        mm_put(c);              /* consistent so far: frees what it holds */
        return NULL;
    }
    return c;
}
