/*
 * page_alloc.h - the physical page allocator (a binary buddy allocator).
 *
 * Pages are PAGE_SIZE bytes.  Blocks of 2^order contiguous pages
 * (order 0 .. PAGE_MAX_ORDER) come from per-order free lists; each page
 * has a small descriptor (struct page) in an array carved from the start
 * of the managed region, so kfree() can tell a slab page from a large
 * block.  Running out returns NULL, never panics.  One spinlock.
 */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT)
#define PAGE_MAX_ORDER 10           /* largest block: 4 MiB */

/* struct page.kind */
enum page_kind { PAGE_FREE, PAGE_USED, PAGE_SLAB, PAGE_LARGE, PAGE_RESERVED,
                 PAGE_CACHE /* a page-cache page: slab_free points at its pc_page */ };

struct page {
    uint8_t kind;        /* enum page_kind */
    uint8_t order;       /* order of the block this page heads */
    union {
        struct {
            uint16_t slab_class; /* kmalloc size class, for PAGE_SLAB pages */
            uint16_t slab_inuse; /* objects in use in this slab page */
        };
        /* PAGE_USED order-0 user pages: the mappings (and deferred
         * releases) holding the page; 1 when allocated.  Copy-on-write
         * fork shares a page by taking a reference (mm.c). 32 bits so
         * the atomics need no libatomic. */
        _Atomic uint32_t refs;
    };
    void *slab_free;     /* free-object list of this slab page */
    struct page *next, *prev; /* free-list / partial-slab links */
#ifdef POLLUX_POISON
    uint8_t poisoned;    /* filled with PAGE_POISON when freed: checked when handed out */
    const void *alloc_site, *free_site;  /* who last allocated / freed it */
#endif
};

/* Debug build (POLLUX_POISON, `make POISON=1`, the tests' kernel): a freed
 * page is filled with this byte and checked when it is allocated again;
 * a byte that changed meanwhile is a use-after-free: panic, naming the
 * page's last allocation and free sites. */
#define PAGE_POISON 0x5a

struct page_stats {
    size_t total_pages;  /* pages managed (after descriptors) */
    size_t free_pages;
    size_t alloc_calls, free_calls, failed_calls;
};

/* Manage [start, end); both rounded inward to PAGE_SIZE. */
void page_alloc_init(uintptr_t start, uintptr_t end);

/* A block of 2^order zeroed pages, or NULL. */
void *page_alloc_order(unsigned order);
/* The same, naming the allocation site for the poison report (kmalloc). */
void *page_alloc_from(unsigned order, const void *site);
void page_free_order(void *p, unsigned order);
/* One page, not zeroed: for a caller that fills all of it at once. */
void *page_alloc_nozero(void);

static inline void *page_alloc(void) { return page_alloc_order(0); }
static inline void page_free(void *p) { page_free_order(p, 0); }

/* Descriptor of the page holding address p, or NULL if p is not managed. */
struct page *page_of(const void *p);
void *page_addr(const struct page *pg);

void page_get_stats(struct page_stats *out);

/* A shrinker frees up to `pages` pages of a cache and returns how many it
 * freed.  When an allocation finds no block, the shrinkers are asked in
 * turn (without the allocator's lock held) and the allocation is retried
 * once.  A shrinker must not allocate, and none may be called with a lock
 * a shrinker takes. */
typedef unsigned long (*page_shrinker_fn)(unsigned long pages);
void page_alloc_add_shrinker(page_shrinker_fn fn);
/* Ask the shrinkers for 2^order pages (and some); did they free any? */
bool page_reclaim(unsigned order);
/* One page without asking the shrinkers (callers holding a lock a
 * shrinker may take: kmalloc's). */
void *page_alloc_noreclaim(void);
/* Free and managed pages, read without the lock (a hint). */
size_t page_free_count(void);
size_t page_total_count(void);

/* References to a PAGE_USED page (see refs above).  page_ref_put frees
 * the page when it drops the last one.  Acquire/release, so whatever a
 * holder did with the page happens before the next holder sees the count
 * fall (mm.c's "refs == 1: the page is mine alone" test relies on it). */
static inline void page_ref_get(struct page *pg)
{
    atomic_fetch_add_explicit(&pg->refs, 1, memory_order_relaxed);
}
static inline uint32_t page_refs(struct page *pg)
{
    return atomic_load_explicit(&pg->refs, memory_order_acquire);
}
void page_ref_put(struct page *pg);
