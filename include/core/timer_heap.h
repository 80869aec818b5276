/*
 * timer_heap.h - an intrusive pairing heap of deadlines.
 *
 * Each hart keeps one (src/core/timer.c) under its own lock.  Nodes live
 * inside the futures that sleep, so inserting allocates nothing and a
 * sleeper costs nothing while it sleeps.  Equal deadlines leave in
 * insertion order (the heap stamps a sequence number).  Remove is
 * O(log n) amortised, so cancelling a sleep is cheap.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct timer_node {
    uint64_t deadline;
    uint64_t seq;                 /* tie-break: insertion order */
    struct timer_node *child;     /* leftmost child */
    struct timer_node *sibling;   /* next sibling */
    struct timer_node *prev;      /* parent if leftmost, else left sibling; NULL for root/unlinked */
    bool linked;
};

struct timer_heap {
    struct timer_node *root;
    size_t count;
    uint64_t next_seq;
};

void timer_heap_init(struct timer_heap *h);
void timer_heap_insert(struct timer_heap *h, struct timer_node *n, uint64_t deadline);
/* Remove n if linked; returns whether it was. */
bool timer_heap_remove(struct timer_heap *h, struct timer_node *n);
static inline struct timer_node *timer_heap_min(struct timer_heap *h) { return h->root; }
/* Remove and return the earliest node whose deadline <= now, or NULL. */
struct timer_node *timer_heap_pop_expired(struct timer_heap *h, uint64_t now);
