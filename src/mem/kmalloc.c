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
 */
#include <stdbool.h>
#include "mem/kmalloc.h"
#include "lib/klib.h"
#include "mem/page_alloc.h"
#include "core/spinlock.h"

#define NCLASSES 13
#define MAX_SMALL 2048
#define FREE_MAGIC ((uintptr_t)0x5ab1f7eeUL)

static const uint16_t class_size[NCLASSES] = {
    16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 2048,   /* 768: a user thread */
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
    void *mem = page_alloc();
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
        pg->slab_free = obj;
    }
    partial_push(c, pg);
    stats.slab_pages++;
    return true;
}

static void *alloc_large(size_t size)
{
    unsigned order = 0;
    while ((PAGE_SIZE << order) < size)
        order++;
    void *p = page_alloc_order(order);

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

void *kmalloc(size_t size)
{
    if (size > MAX_SMALL) {
        if (size > (PAGE_SIZE << PAGE_MAX_ORDER)) {
            spin_lock(&lock);
            stats.failed++;
            spin_unlock(&lock);
            return NULL;
        }
        return alloc_large(size);
    }

    int c = size_to_class(size);   /* size 0 gets the smallest class */
    uintptr_t *obj = NULL;

    spin_lock(&lock);
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
    return obj;
}

void *kzalloc(size_t size)
{
    void *p = kmalloc(size);
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

void kfree(void *p)
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
    size_t off = (uintptr_t)p - (uintptr_t)page_addr(pg);
    uintptr_t *obj = p;
    if (off % class_size[c] != 0 || off / class_size[c] >= objs_per_slab(c) ||
        pg->slab_inuse == 0 || (obj[1] == FREE_MAGIC && on_free_list(pg, obj))) {
        spin_unlock(&lock);         /* misaligned or double free: ignore */
        return;
    }

    bool was_full = pg->slab_free == NULL;
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

size_t ksize(const void *p)
{
    struct page *pg = p ? page_of(p) : NULL;
    size_t n = 0;

    if (!pg)
        return 0;
    spin_lock(&lock);
    if (pg->kind == PAGE_SLAB && pg->slab_class < NCLASSES)
        n = class_size[pg->slab_class];
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
