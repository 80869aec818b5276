/*
 * kmalloc.h - the small-object allocator for tasks, futures and kernel
 * records.  Size classes of 16..2048 bytes are served from slab pages
 * (one page per slab, class recorded in struct page); anything larger
 * takes a whole block of pages from the buddy allocator.  Failure returns
 * NULL to the caller, never panics.
 *
 * Debug build (POLLUX_POISON: `make POISON=1`, the kernel the tests boot):
 * freed objects are filled with a poison pattern that is checked when they
 * are handed out again, so a write after free panics, naming the object's
 * last allocation and free sites (src/mem/kmalloc.c).
 */
#pragma once
#include <stddef.h>

void *kmalloc(size_t size);          /* uninitialised, 16-byte aligned */
/* The same, naming the caller's caller for the debug build's poison
 * report (wrappers such as task_alloc pass __builtin_return_address(0)). */
void *kmalloc_from(size_t size, const void *site);
void *kzalloc(size_t size);          /* zeroed */
void kfree(void *p);                 /* NULL is fine */
#ifdef POLLUX_POISON
/* Panic if p (a kmalloc'd pointer) has been freed, naming `what` and the
 * object's allocation and free sites.  Debug build only. */
void kmalloc_check_live(const void *p, const char *what);
#endif
size_t ksize(const void *p);         /* usable size of a live object */

struct kmalloc_stats {
    size_t live_objects;  /* allocated and not yet freed */
    size_t live_bytes;    /* sum of their class sizes */
    size_t slab_pages;    /* pages currently used by slabs */
    size_t failed;        /* allocations that returned NULL */
};
void kmalloc_get_stats(struct kmalloc_stats *out);
