/*
 * timer_heap.c - an intrusive pairing heap ordered by (deadline, seq).
 *
 * Each node's children form a doubly linked list: `child` is the
 * leftmost child, `sibling` the next one to the right, and `prev` is
 * the parent for a leftmost child and the left sibling otherwise, so a
 * node can be cut out in O(1) without knowing its parent.
 *
 * Invariants (the caller holds the heap's lock):
 *   - no node is ordered before its parent (min-heap on less()).
 *   - the root has prev == NULL and sibling == NULL.
 *   - n->linked iff n is in the heap; count is the number of such nodes.
 *   - seq numbers are unique, so less() is a strict total order and
 *     equal deadlines leave in insertion order.
 * Everything is iterative: the heap may be a 100,000-long child list
 * (e.g. after many inserts), and a recursive merge would overflow a
 * kernel stack.
 */
#include "core/timer_heap.h"

static inline bool less(const struct timer_node *a, const struct timer_node *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

/* Meld two roots; the loser becomes the winner's leftmost child. */
static struct timer_node *meld(struct timer_node *a, struct timer_node *b)
{
    if (!a)
        return b;
    if (!b)
        return a;
    if (less(b, a)) {
        struct timer_node *t = a;
        a = b;
        b = t;
    }
    b->prev = a;
    b->sibling = a->child;
    if (a->child)
        a->child->prev = b;
    a->child = b;
    a->prev = NULL;
    a->sibling = NULL;
    return a;
}

/*
 * Two-pass merge of a sibling list: meld pairs left to right, then meld
 * the results right to left.  The pass-one results are kept on a stack
 * threaded through `sibling`, so the last pair is on top for pass two.
 */
static struct timer_node *merge_pairs(struct timer_node *first)
{
    struct timer_node *stack = NULL;

    while (first) {
        struct timer_node *a = first, *b = a->sibling;
        first = b ? b->sibling : NULL;
        a->sibling = a->prev = NULL;
        if (b)
            b->sibling = b->prev = NULL;
        struct timer_node *m = meld(a, b);
        m->sibling = stack;
        stack = m;
    }

    struct timer_node *result = NULL;
    while (stack) {
        struct timer_node *next = stack->sibling;
        stack->sibling = NULL;
        result = meld(result, stack);
        stack = next;
    }
    return result;
}

static void unlink_clear(struct timer_node *n)
{
    n->child = n->sibling = n->prev = NULL;
    n->linked = false;
}

void timer_heap_init(struct timer_heap *h)
{
    h->root = NULL;
    h->count = 0;
    h->next_seq = 0;
}

void timer_heap_insert(struct timer_heap *h, struct timer_node *n, uint64_t deadline)
{
    /* Re-arming a linked node moves it rather than linking it twice. */
    if (n->linked)
        timer_heap_remove(h, n);
    n->deadline = deadline;
    n->seq = h->next_seq++;
    n->child = n->sibling = n->prev = NULL;
    n->linked = true;
    h->root = meld(h->root, n);
    h->count++;
}

bool timer_heap_remove(struct timer_heap *h, struct timer_node *n)
{
    if (!n->linked)
        return false;
    if (n == h->root) {
        h->root = merge_pairs(n->child);
    } else {
        /* Cut n (with its subtree) from its parent's child list. */
        if (n->prev->child == n)
            n->prev->child = n->sibling;
        else
            n->prev->sibling = n->sibling;
        if (n->sibling)
            n->sibling->prev = n->prev;
        h->root = meld(h->root, merge_pairs(n->child));
    }
    h->count--;
    unlink_clear(n);
    return true;
}

struct timer_node *timer_heap_pop_expired(struct timer_heap *h, uint64_t now)
{
    struct timer_node *n = h->root;

    if (!n || n->deadline > now)
        return NULL;
    timer_heap_remove(h, n);
    return n;
}
