/*
 * page_alloc.c - the physical page allocator: a binary buddy allocator.
 *
 * Layout: the managed region [start, end) begins with an array of
 * struct page descriptors, one per managed page; the pages themselves
 * follow, from `base` on.  Buddies are paired by page index relative to
 * `base` (index ^ (1 << order)), so the region need not be aligned to
 * anything larger than a page, nor be a power of two in size: at init
 * the pages are cut into the largest naturally aligned blocks that fit,
 * and a buddy that would lie past the end simply never merges.
 *
 * Invariants (all under `lock`):
 *   - a descriptor is the head of a free block of order k iff
 *     kind == PAGE_FREE and order == k; that block is on free_list[k].
 *   - every page that is not the head of a block (free or allocated)
 *     has order == ORDER_NONE, so a stale descriptor can never look
 *     like a free buddy.
 *   - the head of an allocated block has kind != PAGE_FREE and records
 *     the order it was allocated with; page_free_order() checks both,
 *     so double frees and stray pointers are ignored, not merged.
 *   - stats.free_pages is the sum of the sizes of the free blocks.
 *   - debug build (POLLUX_POISON): a page with `poisoned` set holds
 *     PAGE_POISON in every byte; it is set when the page is freed and
 *     checked (then cleared) when the page is allocated.  Pages never
 *     freed since boot are not poisoned and not checked.
 */
#include "mem/page_alloc.h"
#include "lib/klib.h"
#include "core/spinlock.h"

#define ORDER_NONE 0xff

static struct spinlock lock = SPINLOCK_INIT("page_alloc");
static struct page *pages;      /* descriptor array, npages long */
static size_t npages;
static uintptr_t base;          /* address of page index 0 */
static struct page *free_list[PAGE_MAX_ORDER + 1];
static struct page_stats stats;
static size_t bad_frees;        /* ignored double/stray frees, for debugging */

static void list_push(unsigned order, struct page *pg)
{
    pg->prev = NULL;
    pg->next = free_list[order];
    if (pg->next)
        pg->next->prev = pg;
    free_list[order] = pg;
}

static void list_remove(unsigned order, struct page *pg)
{
    if (pg->prev)
        pg->prev->next = pg->next;
    else
        free_list[order] = pg->next;
    if (pg->next)
        pg->next->prev = pg->prev;
    pg->next = pg->prev = NULL;
}

/* Make pages[idx] the head of a free block of the given order. */
static void make_free(size_t idx, unsigned order)
{
    struct page *pg = &pages[idx];

    pg->kind = PAGE_FREE;
    pg->order = order;
    pg->refs = 0;
    pg->slab_class = 0;
    pg->slab_inuse = 0;
    pg->slab_free = NULL;
    list_push(order, pg);
}

void page_alloc_init(uintptr_t start, uintptr_t end)
{
    spin_init(&lock, "page_alloc");
    start = ALIGN_UP(start, PAGE_SIZE);
    end = ALIGN_DOWN(end, PAGE_SIZE);

    pages = NULL;
    npages = 0;
    base = 0;
    for (unsigned k = 0; k <= PAGE_MAX_ORDER; k++)
        free_list[k] = NULL;
    memset(&stats, 0, sizeof(stats));
    bad_frees = 0;
    if (end <= start)
        return;

    /* Each page costs PAGE_SIZE + one descriptor; the descriptor array
     * is rounded up to whole pages, so shrink until it all fits. */
    size_t total = (end - start) / PAGE_SIZE;
    size_t n = (size_t)(((uint64_t)total * PAGE_SIZE) / (PAGE_SIZE + sizeof(struct page)));
    while (n > 0 && ALIGN_UP(n * sizeof(struct page), PAGE_SIZE) / PAGE_SIZE + n > total)
        n--;
    if (n == 0)
        return;

    pages = (struct page *)start;
    npages = n;
    base = start + ALIGN_UP(n * sizeof(struct page), PAGE_SIZE);
    memset(pages, 0, n * sizeof(struct page));
    for (size_t i = 0; i < n; i++)
        pages[i].order = ORDER_NONE;

    /* Cut [0, n) into the largest aligned blocks that fit. */
    for (size_t i = 0; i < n;) {
        unsigned k = PAGE_MAX_ORDER;
        while (k > 0 && ((i & ((1UL << k) - 1)) != 0 || i + (1UL << k) > n))
            k--;
        make_free(i, k);
        i += 1UL << k;
    }
    stats.total_pages = n;
    stats.free_pages = n;
}

#ifdef POLLUX_POISON
#include "lib/printk.h"

/* Under `lock`: the freed block at idx is filled with poison. */
static void poison_block(size_t idx, unsigned order, const void *site)
{
    memset((void *)(base + (idx << PAGE_SHIFT)), PAGE_POISON, PAGE_SIZE << order);
    for (size_t i = idx; i < idx + (1UL << order); i++) {
        pages[i].poisoned = 1;
        pages[i].free_site = site;
    }
}

/* The block at idx was just taken off the free lists: every poisoned page
 * must still hold the poison, or something wrote it after it was freed. */
static void check_block(size_t idx, unsigned order, const void *site)
{
    const uint64_t pat = 0x0101010101010101ULL * PAGE_POISON;
    for (size_t i = idx; i < idx + (1UL << order); i++) {
        const uint64_t *w = (const uint64_t *)(base + (i << PAGE_SHIFT));
        if (pages[i].poisoned)
            for (size_t k = 0; k < PAGE_SIZE / 8; k++)
                if (w[k] != pat)
                    panic("page_alloc: use after free: page 0x%lx was written at +%lu "
                          "(0x%lx) after it was freed; last allocated at 0x%lx, freed at 0x%lx",
                          (uint64_t)w, k * 8, w[k], (uint64_t)pages[i].alloc_site,
                          (uint64_t)pages[i].free_site);
        pages[i].poisoned = 0;
        pages[i].alloc_site = site;
    }
}
#define NOINLINE_IF_POISON __attribute__((noinline))
#else
static inline void poison_block(size_t idx, unsigned order, const void *site)
{ (void)idx; (void)order; (void)site; }
static inline void check_block(size_t idx, unsigned order, const void *site)
{ (void)idx; (void)order; (void)site; }
#define NOINLINE_IF_POISON
#endif

NOINLINE_IF_POISON void *page_alloc_order(unsigned order)
{
    return page_alloc_from(order, __builtin_return_address(0));
}

#define MAX_SHRINKERS 4
static page_shrinker_fn shrinkers[MAX_SHRINKERS];
static _Atomic unsigned nshrinkers;

void page_alloc_add_shrinker(page_shrinker_fn fn)
{
    unsigned i = atomic_fetch_add(&nshrinkers, 1);
    if (i < MAX_SHRINKERS)
        shrinkers[i] = fn;
}

/* Ask the caches to give back pages; did any? */
bool page_reclaim(unsigned order)
{
    unsigned long want = (1UL << order) + 64, got = 0;
    unsigned n = MIN(atomic_load(&nshrinkers), MAX_SHRINKERS);
    for (unsigned i = 0; i < n && got < want; i++)
        if (shrinkers[i])
            got += shrinkers[i](want - got);
    return got > 0;
}

static struct page *take_block(unsigned order);
static void *alloc_block(unsigned order, const void *site, bool zero, bool reclaim);

void *page_alloc_from(unsigned order, const void *site)
{
    return alloc_block(order, site, true, true);
}

/* For a page about to be overwritten whole (a copy-on-write copy). */
NOINLINE_IF_POISON void *page_alloc_nozero(void)
{
    return alloc_block(0, __builtin_return_address(0), false, true);
}

NOINLINE_IF_POISON void *page_alloc_noreclaim(void)
{
    return alloc_block(0, __builtin_return_address(0), true, false);
}

static void *alloc_block(unsigned order, const void *site, bool zero, bool reclaim)
{
    (void)site;
    struct page *pg = take_block(order);
    if (!pg && reclaim && order <= PAGE_MAX_ORDER && page_reclaim(order))
        pg = take_block(order);
    if (!pg) {
        spin_lock(&lock);
        stats.failed_calls++;
        spin_unlock(&lock);
        return NULL;
    }
    /* Check and zero outside the lock: the block is ours alone now. */
    check_block((size_t)(pg - pages), order, site);
    void *p = page_addr(pg);
    if (zero)
        memset(p, 0, PAGE_SIZE << order);
    return p;
}

/* A block of 2^order pages off the free lists, or NULL. */
static struct page *take_block(unsigned order)
{
    struct page *pg = NULL;
    unsigned k;

    spin_lock(&lock);
    stats.alloc_calls++;
    if (order <= PAGE_MAX_ORDER) {
        for (k = order; k <= PAGE_MAX_ORDER; k++)
            if (free_list[k])
                break;
        if (k <= PAGE_MAX_ORDER) {
            pg = free_list[k];
            list_remove(k, pg);
            size_t idx = (size_t)(pg - pages);
            /* Split: the upper half of each level goes back free. */
            while (k > order) {
                k--;
                make_free(idx + (1UL << k), k);
            }
            pg->kind = PAGE_USED;
            pg->order = order;
            pg->refs = 1;
            stats.free_pages -= 1UL << order;
        }
    }
    spin_unlock(&lock);
    return pg;
}

NOINLINE_IF_POISON void page_free_order(void *p, unsigned order)
{
    if (!p)
        return;
    struct page *pg = page_of(p);

    spin_lock(&lock);
    size_t idx = pg ? (size_t)(pg - pages) : 0;
    if (!pg || order > PAGE_MAX_ORDER || (uintptr_t)p != (uintptr_t)page_addr(pg) ||
        (idx & ((1UL << order) - 1)) != 0 || pg->kind == PAGE_FREE ||
        pg->kind == PAGE_RESERVED || pg->order != order) {
        bad_frees++;
        spin_unlock(&lock);
        return;
    }
    stats.free_calls++;
    stats.free_pages += 1UL << order;
    poison_block(idx, order, __builtin_return_address(0));

    /* Merge with the buddy for as long as it is a whole free block;
     * whichever pages stop being heads lose their order. */
    pg->kind = PAGE_FREE;
    pg->order = ORDER_NONE;
    unsigned k = order;
    while (k < PAGE_MAX_ORDER) {
        size_t buddy = idx ^ (1UL << k);
        if (buddy + (1UL << k) > npages)
            break;
        struct page *bp = &pages[buddy];
        if (bp->kind != PAGE_FREE || bp->order != k)
            break;
        list_remove(k, bp);
        bp->order = ORDER_NONE;
        idx = idx < buddy ? idx : buddy;
        k++;
    }
    make_free(idx, k);
    spin_unlock(&lock);
}

struct page *page_of(const void *p)
{
    uintptr_t a = (uintptr_t)p;

    if (npages == 0 || a < base || a - base >= npages * PAGE_SIZE)
        return NULL;
    return &pages[(a - base) >> PAGE_SHIFT];
}

void *page_addr(const struct page *pg)
{
    if (!pg)
        return NULL;
    return (void *)(base + ((size_t)(pg - pages) << PAGE_SHIFT));
}

void page_ref_put(struct page *pg)
{
    if (atomic_fetch_sub_explicit(&pg->refs, 1, memory_order_acq_rel) == 1)
        page_free(page_addr(pg));
}

size_t page_free_count(void)
{
    return __atomic_load_n(&stats.free_pages, __ATOMIC_RELAXED);   /* a hint */
}

size_t page_total_count(void)
{
    return stats.total_pages;           /* set once at boot */
}

void page_get_stats(struct page_stats *out)
{
    spin_lock(&lock);
    *out = stats;
    spin_unlock(&lock);
}
