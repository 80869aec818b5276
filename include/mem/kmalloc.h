/*
 * kmalloc.h - the small-object allocator for tasks, futures and kernel
 * records.  Size classes of 16..2048 bytes are served from slab pages
 * (one page per slab, class recorded in struct page); anything larger
 * takes a whole block of pages from the buddy allocator.  Failure returns
 * NULL to the caller, never panics.
 */
#pragma once
#include <stddef.h>

void *kmalloc(size_t size);          /* uninitialised, 16-byte aligned */
void *kzalloc(size_t size);          /* zeroed */
void kfree(void *p);                 /* NULL is fine */
size_t ksize(const void *p);         /* usable size of a live object */

struct kmalloc_stats {
    size_t live_objects;  /* allocated and not yet freed */
    size_t live_bytes;    /* sum of their class sizes */
    size_t slab_pages;    /* pages currently used by slabs */
    size_t failed;        /* allocations that returned NULL */
};
void kmalloc_get_stats(struct kmalloc_stats *out);
