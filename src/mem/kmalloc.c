/*
 * kmalloc.c - the small-object allocator.
 *
 * Requests up to 2048 bytes are rounded up to one of the size classes
 * below and served from slabs: one slab is one page from the buddy
 * allocator, cut into equal objects from its first byte (every class
 * is a multiple of 16, so every object is 16-byte aligned).  The slab's
 * struct page records its class, how many objects are in use, and the
 * list of its free objects, threaded through the objects themselves.
 * Anything larger is a whole 2^order block of pages marked PAGE_LARGE.
 *
 * Invariants (all under `lock`):
 *   - partial[c] lists exactly the class-c slabs with at least one free
 *     object and at least one in use; a full slab is on no list, and a
 *     slab whose last object is freed goes straight back to the page
 *     allocator, so freeing everything returns every page.
 *   - a free object holds the next-free pointer in word 0 and FREE_MAGIC
 *     in word 1; a live object never has FREE_MAGIC there unless its
 *     owner wrote it, in which case kfree() checks the free list itself.
 *     This is what lets a double free be ignored instead of corrupting
 *     the list.
 *   - debug build (POLLUX_POISON): every object starts with a HDR-byte
 *     header the caller never sees,
 *
 *         word 0: next free (free) / 0     word 2: site of the last kmalloc
 *         word 1: FREE_MAGIC (free) / 0    word 3: site of the last kfree
 *
 *     and the rest of a free object holds KMALLOC_POISON in every byte,
 *     checked when the object is handed out again: a byte that changed
 *     is a use-after-free, and the panic names both sites.
 */
#include <stdbool.h>
#include "mem/kmalloc.h"
#include "lib/klib.h"
#include "mem/page_alloc.h"
#include "core/spinlock.h"

#define NCLASSES 16
#define MAX_SMALL 2048
#define FREE_MAGIC ((uintptr_t)0x5ab1f7eeUL)

#ifdef POLLUX_POISON
#include "lib/printk.h"
#define HDR 32
#define KMALLOC_POISON 0x6b
#define NOINLINE_IF_POISON __attribute__((noinline))
#else
#define HDR 0
#define NOINLINE_IF_POISON
#endif

/* The in-between classes fit what every process has, so that a blocked
 * forked child wastes little: 80 a vma, 112 a struct mm, 448 a struct
 * proc, 768 a user thread with its task. */
static const uint16_t class_size[NCLASSES] = {
    16, 32, 48, 64, 80, 96, 112, 128, 192, 256, 384, 448, 512, 768, 1024, 2048,
};

static struct spinlock lock = SPINLOCK_INIT("kmalloc");
static struct page *partial[NCLASSES];
static struct kmalloc_stats stats;

static void partial_push(int c, struct page *pg)
{
    pg->prev = NULL;
    pg->next = partial[c];
    if (pg->next)
        pg->next->prev = pg;
    partial[c] = pg;
}

static void partial_remove(int c, struct page *pg)
{
    if (pg->prev)
        pg->prev->next = pg->next;
    else
        partial[c] = pg->next;
    if (pg->next)
        pg->next->prev = pg->prev;
    pg->next = pg->prev = NULL;
}

static int size_to_class(size_t size)
{
    for (int c = 0; c < NCLASSES; c++)
        if (size <= class_size[c])
            return c;
    return -1;
}

static inline unsigned objs_per_slab(int c)
{
    return PAGE_SIZE / class_size[c];
}

/* Turn a fresh page into an empty class-c slab on the partial list. */
static bool new_slab(int c)
{
    void *mem = page_alloc_noreclaim();     /* under our lock: the shrinkers kfree */
    if (!mem)
        return false;
    struct page *pg = page_of(mem);
    unsigned n = objs_per_slab(c);

    pg->kind = PAGE_SLAB;
    pg->slab_class = c;
    pg->slab_inuse = 0;
    pg->slab_free = NULL;
    /* Thread back to front so objects go out in address order. */
    for (unsigned i = n; i-- > 0;) {
        uintptr_t *obj = (uintptr_t *)((char *)mem + (size_t)i * class_size[c]);
        obj[0] = (uintptr_t)pg->slab_free;
        obj[1] = FREE_MAGIC;
#ifdef POLLUX_POISON
        obj[2] = obj[3] = 0;
        memset(obj + 4, KMALLOC_POISON, class_size[c] - HDR);
#endif
        pg->slab_free = obj;
    }
    partial_push(c, pg);
    stats.slab_pages++;
    return true;
}

#ifdef POLLUX_POISON
/* A free object of class c is about to be handed out: it must still
 * hold the poison everywhere past its header. */
static void check_poison(uintptr_t *obj, int c)
{
    const uint64_t pat = 0x0101010101010101ULL * KMALLOC_POISON;
    for (size_t k = HDR / 8; k < class_size[c] / 8u; k++)
        if (obj[k] != pat)
            panic("kmalloc: use after free: %u-byte object 0x%lx was written at +%lu "
                  "(0x%lx) after it was freed; last allocated at 0x%lx, freed at 0x%lx",
                  class_size[c] - HDR, (uint64_t)(obj + HDR / 8), k * 8 - HDR, obj[k],
                  (uint64_t)obj[2], (uint64_t)obj[3]);
}
#endif

static void *alloc_large(size_t size, const void *site)
{
    unsigned order = 0;
    while ((PAGE_SIZE << order) < size)
        order++;
    void *p = page_alloc_from(order, site);

    spin_lock(&lock);
    if (p) {
        page_of(p)->kind = PAGE_LARGE;   /* page_alloc recorded the order */
        stats.live_objects++;
        stats.live_bytes += PAGE_SIZE << order;
    } else {
        stats.failed++;
    }
    spin_unlock(&lock);
    return p;
}

NOINLINE_IF_POISON void *kmalloc(size_t size)
{
    return kmalloc_from(size, __builtin_return_address(0));
}

void *kmalloc_from(size_t size, const void *site)
{
    if (size > MAX_SMALL - HDR) {
        if (size > (PAGE_SIZE << PAGE_MAX_ORDER)) {
            spin_lock(&lock);
            stats.failed++;
            spin_unlock(&lock);
            return NULL;
        }
        return alloc_large(size, site);
    }

    int c = size_to_class(size + HDR);   /* size 0 gets the smallest class */
    uintptr_t *obj = NULL;

    spin_lock(&lock);
    if (!partial[c] && !new_slab(c)) {
        spin_unlock(&lock);             /* let the caches give memory back, then retry */
        page_reclaim(0);
        spin_lock(&lock);
    }
    if (partial[c] || new_slab(c)) {
        struct page *pg = partial[c];
        obj = pg->slab_free;
        pg->slab_free = (void *)obj[0];
        obj[1] = 0;                 /* no longer looks free */
        pg->slab_inuse++;
        if (!pg->slab_free)
            partial_remove(c, pg);  /* now full */
        stats.live_objects++;
        stats.live_bytes += class_size[c];
    } else {
        stats.failed++;
    }
    spin_unlock(&lock);
#ifdef POLLUX_POISON
    if (obj) {
        check_poison(obj, c);
        obj[2] = (uintptr_t)site;
        return obj + HDR / 8;
    }
#endif
    (void)site;
    return obj;
}

NOINLINE_IF_POISON void *kzalloc(size_t size)
{
    void *p = kmalloc_from(size, __builtin_return_address(0));
    if (p)
        memset(p, 0, size);
    return p;
}

/* Is obj on pg's free list?  Only asked when obj carries FREE_MAGIC. */
static bool on_free_list(struct page *pg, void *obj)
{
    for (uintptr_t *f = pg->slab_free; f; f = (uintptr_t *)f[0])
        if ((void *)f == obj)
            return true;
    return false;
}

NOINLINE_IF_POISON void kfree(void *p)
{
    if (!p)
        return;
    struct page *pg = page_of(p);
    if (!pg)
        return;                     /* not ours: ignore */

    spin_lock(&lock);
    if (pg->kind == PAGE_LARGE) {
        unsigned order = pg->order;
        if (p != page_addr(pg) || order > PAGE_MAX_ORDER) {
            spin_unlock(&lock);
            return;
        }
        pg->kind = PAGE_USED;       /* a second kfree now sees no large block */
        stats.live_objects--;
        stats.live_bytes -= PAGE_SIZE << order;
        spin_unlock(&lock);
        page_free_order(p, order);
        return;
    }
    if (pg->kind != PAGE_SLAB || pg->slab_class >= NCLASSES) {
        spin_unlock(&lock);
        return;
    }

    int c = pg->slab_class;
    p = (char *)p - HDR;            /* the header is ours (debug build) */
    size_t off = (uintptr_t)p - (uintptr_t)page_addr(pg);
    uintptr_t *obj = p;
    if (off % class_size[c] != 0 || off / class_size[c] >= objs_per_slab(c) ||
        pg->slab_inuse == 0 || (obj[1] == FREE_MAGIC && on_free_list(pg, obj))) {
        spin_unlock(&lock);         /* misaligned or double free: ignore */
        return;
    }

    bool was_full = pg->slab_free == NULL;
#ifdef POLLUX_POISON
    obj[3] = (uintptr_t)__builtin_return_address(0);
    memset(obj + HDR / 8, KMALLOC_POISON, class_size[c] - HDR);
#endif
    obj[0] = (uintptr_t)pg->slab_free;
    obj[1] = FREE_MAGIC;
    pg->slab_free = obj;
    pg->slab_inuse--;
    stats.live_objects--;
    stats.live_bytes -= class_size[c];

    if (pg->slab_inuse == 0) {
        /* Empty: give the page back now rather than caching it. */
        if (!was_full)
            partial_remove(c, pg);
        pg->kind = PAGE_USED;
        pg->slab_free = NULL;
        stats.slab_pages--;
        spin_unlock(&lock);
        page_free(page_addr(pg));
        return;
    }
    if (was_full)
        partial_push(c, pg);
    spin_unlock(&lock);
}

#ifdef POLLUX_POISON
void kmalloc_check_live(const void *p, const char *what)
{
    struct page *pg = p ? page_of(p) : NULL;
    if (!pg || pg->kind != PAGE_SLAB)
        return;                     /* a large block, or not ours: no header */
    const uintptr_t *obj = (const uintptr_t *)p - HDR / 8;
    if (obj[1] == FREE_MAGIC)
        panic("%s: object 0x%lx is used after it was freed; last allocated at 0x%lx, freed at 0x%lx",
              what, (uint64_t)p, (uint64_t)obj[2], (uint64_t)obj[3]);
}
#endif

size_t ksize(const void *p)
{
    struct page *pg = p ? page_of(p) : NULL;
    size_t n = 0;

    if (!pg)
        return 0;
    spin_lock(&lock);
    if (pg->kind == PAGE_SLAB && pg->slab_class < NCLASSES)
        n = class_size[pg->slab_class] - HDR;
    else if (pg->kind == PAGE_LARGE && p == page_addr(pg))
        n = PAGE_SIZE << pg->order;
    spin_unlock(&lock);
    return n;
}

void kmalloc_get_stats(struct kmalloc_stats *out)
{
    spin_lock(&lock);
    *out = stats;
    spin_unlock(&lock);
}
