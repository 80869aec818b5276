// SOURCES: src/core/timer_heap.c
/*
 * test_timer_heap.c - host tests for the pairing heap: ordering of 100k
 * random deadlines, ties leaving in insertion order, random removes,
 * degenerate shapes (long child lists, long chains) that would break a
 * recursive merge, and a randomized comparison against brute force.
 */
#include <stdlib.h>
#include <string.h>
#include "core/timer_heap.h"
#include "unit.h"

#define BIG 100000

static struct timer_node *nodes;   /* BIG zeroed nodes, fresh per test */

static void reset_nodes(void)
{
    memset(nodes, 0, BIG * sizeof(*nodes));
}

/* Pop everything; check (deadline, seq) strictly increases.  Returns
 * the number popped, or -1 on an ordering error. */
static long drain_ordered(struct timer_heap *h)
{
    long n = 0;
    struct timer_node *prev = NULL, *t;
    while ((t = timer_heap_pop_expired(h, UINT64_MAX)) != NULL) {
        if (t->linked || (prev && (t->deadline < prev->deadline ||
                                   (t->deadline == prev->deadline && t->seq <= prev->seq))))
            return -1;
        prev = t;
        n++;
    }
    return n;
}

static void test_empty(void)
{
    struct timer_heap h;
    timer_heap_init(&h);
    CHECK(timer_heap_min(&h) == NULL);
    CHECK(timer_heap_pop_expired(&h, UINT64_MAX) == NULL);
    struct timer_node n;
    memset(&n, 0, sizeof(n));
    CHECK(!timer_heap_remove(&h, &n));
    timer_heap_insert(&h, &n, 7);
    CHECK(timer_heap_min(&h) == &n && h.count == 1);
    CHECK(timer_heap_pop_expired(&h, 6) == NULL);
    CHECK(timer_heap_pop_expired(&h, 7) == &n);
    CHECK(!n.linked && h.count == 0 && timer_heap_min(&h) == NULL);
}

static void test_random_100k_ordered(void)
{
    struct timer_heap h;
    timer_heap_init(&h);
    reset_nodes();
    for (int i = 0; i < BIG; i++)
        timer_heap_insert(&h, &nodes[i], rnd());
    CHECK(h.count == BIG);
    CHECK(drain_ordered(&h) == BIG);
    CHECK(h.count == 0 && h.root == NULL);
}

static void test_pop_expired_respects_now(void)
{
    struct timer_heap h;
    timer_heap_init(&h);
    reset_nodes();
    for (int i = 0; i < BIG; i++)
        timer_heap_insert(&h, &nodes[i], rnd_below(1000000));
    uint64_t now = 0;
    long popped = 0;
    while (h.count) {
        now += rnd_below(5000);
        struct timer_node *t;
        uint64_t last = 0;
        while ((t = timer_heap_pop_expired(&h, now)) != NULL) {
            CHECK(t->deadline <= now && t->deadline >= last);
            last = t->deadline;
            popped++;
        }
        CHECK(h.root == NULL || h.root->deadline > now);
    }
    CHECK(popped == BIG);
}

static void test_ties_in_insertion_order(void)
{
    struct timer_heap h;
    timer_heap_init(&h);
    reset_nodes();
    /* Three deadlines, interleaved; within each, index order = insertion. */
    for (int i = 0; i < BIG; i++)
        timer_heap_insert(&h, &nodes[i], 100 + rnd_below(3));
    long last_idx[3] = { -1, -1, -1 };
    uint64_t last_deadline = 0;
    struct timer_node *t;
    long n = 0;
    while ((t = timer_heap_pop_expired(&h, UINT64_MAX)) != NULL) {
        long idx = t - nodes;
        int d = (int)(t->deadline - 100);
        CHECK(t->deadline >= last_deadline);
        CHECK(idx > last_idx[d]);
        last_idx[d] = idx;
        last_deadline = t->deadline;
        n++;
    }
    CHECK(n == BIG);
}

static void test_random_removes(void)
{
    struct timer_heap h;
    timer_heap_init(&h);
    reset_nodes();
    for (int i = 0; i < BIG; i++)
        timer_heap_insert(&h, &nodes[i], rnd_below(1u << 20));
    /* A few pops give the heap real structure before the removes. */
    for (int i = 0; i < 10; i++)
        CHECK(timer_heap_pop_expired(&h, UINT64_MAX) != NULL);

    static char removed[BIG];
    memset(removed, 0, sizeof(removed));
    size_t expect = h.count;
    for (int i = 0; i < BIG / 2; i++) {
        int k = rnd_below(BIG);
        bool was = nodes[k].linked;
        CHECK(timer_heap_remove(&h, &nodes[k]) == was);
        CHECK(!nodes[k].linked);
        if (was) {
            removed[k] = 1;
            expect--;
        }
        CHECK(h.count == expect);
    }
    size_t n = 0;
    struct timer_node *prev = NULL, *t;
    while ((t = timer_heap_pop_expired(&h, UINT64_MAX)) != NULL) {
        CHECK(!removed[t - nodes]);
        CHECK(!prev || t->deadline > prev->deadline ||
              (t->deadline == prev->deadline && t->seq > prev->seq));
        prev = t;
        n++;
    }
    CHECK(n == expect);
}

/* Decreasing inserts make a 100k-deep chain; increasing ones make a
 * 100k-long child list.  Both must pop and remove without recursion. */
static void test_degenerate_shapes(void)
{
    struct timer_heap h;
    timer_heap_init(&h);
    reset_nodes();
    for (int i = 0; i < BIG; i++)
        timer_heap_insert(&h, &nodes[i], (uint64_t)(BIG - i));
    CHECK(timer_heap_remove(&h, &nodes[BIG / 2]));      /* deep inside */
    CHECK(timer_heap_remove(&h, &nodes[0]));            /* deepest leaf */
    CHECK(drain_ordered(&h) == BIG - 2);

    reset_nodes();
    for (int i = 0; i < BIG; i++)
        timer_heap_insert(&h, &nodes[i], (uint64_t)i);
    CHECK(timer_heap_remove(&h, &nodes[BIG - 1]));
    CHECK(timer_heap_remove(&h, &nodes[BIG / 3]));
    CHECK(drain_ordered(&h) == BIG - 2);
}

static void test_reinsert_moves(void)
{
    struct timer_heap h;
    timer_heap_init(&h);
    reset_nodes();
    for (int i = 0; i < 100; i++)
        timer_heap_insert(&h, &nodes[i], 1000 + i);
    timer_heap_insert(&h, &nodes[50], 5);   /* re-arm a linked node */
    CHECK(h.count == 100);
    CHECK(timer_heap_min(&h) == &nodes[50]);
    timer_heap_insert(&h, &nodes[50], 5000);
    CHECK(h.count == 100 && timer_heap_min(&h) == &nodes[0]);
    CHECK(drain_ordered(&h) == 100);
}

/* Random inserts, removes and pops on a small population, each checked
 * against a brute-force minimum over the linked nodes. */
static void test_against_brute_force(void)
{
    enum { N = 300 };
    struct timer_heap h;
    timer_heap_init(&h);
    reset_nodes();
    for (int it = 0; it < 60000; it++) {
        int k = rnd_below(N);
        int op = rnd_below(4);
        if (op == 0 || op == 1)
            timer_heap_insert(&h, &nodes[k], rnd_below(50));
        else if (op == 2)
            timer_heap_remove(&h, &nodes[k]);
        else
            timer_heap_pop_expired(&h, rnd_below(60));

        struct timer_node *best = NULL;
        size_t cnt = 0;
        for (int i = 0; i < N; i++) {
            if (!nodes[i].linked)
                continue;
            cnt++;
            if (!best || nodes[i].deadline < best->deadline ||
                (nodes[i].deadline == best->deadline && nodes[i].seq < best->seq))
                best = &nodes[i];
        }
        CHECK(cnt == h.count);
        CHECK(timer_heap_min(&h) == best);
    }
}

int main(void)
{
    nodes = calloc(BIG, sizeof(*nodes));
    if (!nodes)
        return 2;
    static const struct unit_test tests[] = {
        TEST(test_empty),
        TEST(test_random_100k_ordered),
        TEST(test_pop_expired_respects_now),
        TEST(test_ties_in_insertion_order),
        TEST(test_random_removes),
        TEST(test_degenerate_shapes),
        TEST(test_reinsert_moves),
        TEST(test_against_brute_force),
    };
    int rc = RUN_TESTS(tests);
    free(nodes);
    return rc;
}
