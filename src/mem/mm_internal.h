/*
 * mm_internal.h - what mm.c (regions, faults, mappings) shares with the
 * other files of the address-space code: mm_fork.c (fork, copy-on-write
 * sharing) and uaccess.c (copyin/copyout).  Only src/mem includes it.
 */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include "arch.h"
#include "layout.h"
#include "fs/pagecache.h"
#include "mem/mm.h"
#include "mem/page_alloc.h"

#define PAGE_MASK (PAGE_SIZE - 1)

/* An order-0 page of the allocator that mm owns (anonymous memory, a
 * private copy): not the initrd, the kernel image or a page-cache page. */
static inline bool owned(uint64_t pa)
{
    struct page *pg = page_of(pa_to_va(pa));
    return pg && pg->kind != PAGE_CACHE;
}

/* The page-cache page mapped at pa, or NULL. */
static inline struct pc_page *cached(uint64_t pa) { return pc_page_of(pa_to_va(pa)); }

/* A mapping was removed or narrowed: harts entering mm flush first. */
static inline void bump_gen(struct mm *mm)
{
    atomic_fetch_add(&mm->gen, 1);
    pt_flush();
}

/* The fault of mm_fault_io with mm->lock held: 0, -errno, or MM_FAULT_IO
 * with *need the page-cache page to await (a reference). */
int mm_fault_locked(struct mm *mm, uint64_t va, uint32_t access, struct pc_page **need);
