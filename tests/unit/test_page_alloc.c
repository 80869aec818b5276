// SOURCES: src/mem/page_alloc.c
/*
 * test_page_alloc.c - host tests for the buddy allocator: exhaustion
 * and recovery, coalescing back to maximal blocks, zeroing, page_of
 * bounds, and that bad frees leave the state intact.
 */
#include <stdlib.h>
#include <string.h>
#include "lib/klib.h"
#include "mem/page_alloc.h"
#include "unit.h"

/* 8 MiB plus an odd 37 pages: not a power of two, yet it must hold at
 * least one aligned order-PAGE_MAX_ORDER block. */
#define REGION_BYTES ((2UL << (PAGE_SHIFT + PAGE_MAX_ORDER)) + 37 * PAGE_SIZE + 64 * PAGE_SIZE)

static char *region;
static uintptr_t rstart, rend;

/* Start from an unaligned address to exercise the inward rounding. */
static void fresh(void)
{
    rstart = (uintptr_t)region + 100;
    rend = (uintptr_t)region + REGION_BYTES - 5;
    page_alloc_init(rstart, rend);
}

static struct page_stats stats(void)
{
    struct page_stats s;
    page_get_stats(&s);
    return s;
}

static int all_zero(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i])
            return 0;
    return 1;
}

static void test_init_counts(void)
{
    fresh();
    struct page_stats s = stats();
    CHECK(s.total_pages > 0);
    CHECK(s.free_pages == s.total_pages);
    /* Descriptors cost a few pages, never more than ~1%. */
    size_t avail = (ALIGN_DOWN(rend, PAGE_SIZE) - ALIGN_UP(rstart, PAGE_SIZE)) / PAGE_SIZE;
    CHECK(s.total_pages < avail);
    CHECK(s.total_pages + avail / 100 + 1 >= avail);
}

static void test_exhaust_and_recover(void)
{
    fresh();
    struct page_stats s0 = stats();
    void **pp = calloc(s0.total_pages + 1, sizeof(void *));
    size_t n = 0;
    void *p;

    while ((p = page_alloc()) != NULL) {
        CHECK(n < s0.total_pages);
        CHECK(((uintptr_t)p & (PAGE_SIZE - 1)) == 0);
        CHECK((uintptr_t)p >= rstart && (uintptr_t)p + PAGE_SIZE <= rend);
        CHECK(all_zero(p, PAGE_SIZE));
        memset(p, 0xa5, PAGE_SIZE);
        pp[n++] = p;
    }
    CHECK(n == s0.total_pages);
    struct page_stats s1 = stats();
    CHECK(s1.free_pages == 0);
    CHECK(s1.failed_calls == s0.failed_calls + 1);
    CHECK(page_alloc_order(0) == NULL);
    CHECK(page_alloc_order(PAGE_MAX_ORDER) == NULL);

    for (size_t i = 0; i < n; i++)
        page_free(pp[i]);
    struct page_stats s2 = stats();
    CHECK(s2.free_pages == s0.total_pages);
    CHECK(s2.free_calls == n);
    free(pp);

    /* Recovered pages come back zeroed despite the 0xa5 fill. */
    p = page_alloc();
    CHECK(p && all_zero(p, PAGE_SIZE));
    page_free(p);
    CHECK(stats().free_pages == s0.total_pages);
}

static void test_coalesce_to_max_order(void)
{
    fresh();
    struct page_stats s0 = stats();
    void **pp = calloc(s0.total_pages, sizeof(void *));
    size_t n = 0;
    void *p;

    while ((p = page_alloc()) != NULL)
        pp[n++] = p;
    /* Free in a scrambled order so merges happen from both sides. */
    for (size_t i = n; i > 1; i--) {
        size_t j = rnd_below(i);
        void *t = pp[i - 1]; pp[i - 1] = pp[j]; pp[j] = t;
    }
    for (size_t i = 0; i < n; i++)
        page_free(pp[i]);
    free(pp);

    /* Everything merged back: take the largest blocks until none left. */
    size_t maxblocks = 0;
    void *blocks[64];
    while ((p = page_alloc_order(PAGE_MAX_ORDER)) != NULL && maxblocks < 64) {
        CHECK(all_zero(p, PAGE_SIZE << PAGE_MAX_ORDER));
        CHECK(page_of(p)->order == PAGE_MAX_ORDER);
        blocks[maxblocks++] = p;
    }
    CHECK(maxblocks >= 1);
    CHECK(maxblocks == s0.total_pages >> PAGE_MAX_ORDER);
    /* The odd remainder is still there in smaller blocks. */
    CHECK(stats().free_pages == s0.total_pages - (maxblocks << PAGE_MAX_ORDER));
    for (size_t i = 0; i < maxblocks; i++)
        page_free_order(blocks[i], PAGE_MAX_ORDER);
    CHECK(stats().free_pages == s0.total_pages);
}

static void test_orders_and_bounds(void)
{
    fresh();
    CHECK(page_alloc_order(PAGE_MAX_ORDER + 1) == NULL);
    for (unsigned k = 0; k <= PAGE_MAX_ORDER; k++) {
        char *p = page_alloc_order(k);
        CHECK(p != NULL);
        struct page *pg = page_of(p);
        CHECK(pg && pg->order == k && pg->kind == PAGE_USED);
        CHECK(page_addr(pg) == p);
        CHECK(page_of(p + 123) == pg);
        CHECK(page_of(p + (PAGE_SIZE << k) - 1) == pg + (1UL << k) - 1);
        CHECK(all_zero(p, PAGE_SIZE << k));
        memset(p, 0xff, PAGE_SIZE << k);
        page_free_order(p, k);
    }
    struct page_stats s = stats();
    CHECK(s.free_pages == s.total_pages);

    /* Outside the managed pages: the descriptor array, past the end,
     * and a stack address. */
    int local;
    CHECK(page_of((void *)rstart) == NULL);
    CHECK(page_of((void *)(rend + PAGE_SIZE)) == NULL);
    CHECK(page_of(&local) == NULL);
    CHECK(page_of(NULL) == NULL);
    CHECK(page_addr(NULL) == NULL);
}

static void test_bad_frees_ignored(void)
{
    fresh();
    struct page_stats s0 = stats();
    char *a = page_alloc(), *b = page_alloc_order(2);
    CHECK(a && b);
    int local;

    page_free(a);
    page_free(a);                     /* double free */
    page_free(&local);                /* not managed */
    page_free(NULL);
    page_free((void *)rstart);        /* descriptor area */
    page_free(b + 8);                 /* misaligned */
    page_free_order(b, 1);            /* wrong order */
    page_free_order(b + PAGE_SIZE, 0);/* tail of a block */
    page_free_order(b, PAGE_MAX_ORDER + 3);
    CHECK(stats().free_pages == s0.total_pages - 4);
    page_free_order(b, 2);
    page_free_order(b, 2);            /* double free of a block */
    CHECK(stats().free_pages == s0.total_pages);

    /* State is intact: exactly total_pages distinct pages come out. */
    size_t n = 0;
    void **pp = calloc(s0.total_pages + 1, sizeof(void *));
    while ((pp[n] = page_alloc()) != NULL)
        n++;
    CHECK(n == s0.total_pages);
    for (size_t i = 0; i < n; i++)
        page_free(pp[i]);
    free(pp);
    CHECK(stats().free_pages == s0.total_pages);
}

/* Random mixed-order traffic; each block carries a fill pattern that
 * must survive until it is freed, which catches overlapping blocks. */
static void test_random_mixed(void)
{
    fresh();
    struct page_stats s0 = stats();
    enum { SLOTS = 512 };
    static struct { unsigned char *p; unsigned order; unsigned char tag; } slot[SLOTS];
    memset(slot, 0, sizeof(slot));

    for (int it = 0; it < 20000; it++) {
        int i = rnd_below(SLOTS);
        if (slot[i].p) {
            size_t len = PAGE_SIZE << slot[i].order;
            for (size_t off = 0; off < len; off += 512)
                CHECK(slot[i].p[off] == slot[i].tag);
            page_free_order(slot[i].p, slot[i].order);
            slot[i].p = NULL;
        } else {
            unsigned order = rnd_below(5);
            unsigned char *p = page_alloc_order(order);
            if (!p)
                continue;
            CHECK(all_zero(p, PAGE_SIZE << order));
            slot[i].p = p;
            slot[i].order = order;
            slot[i].tag = (unsigned char)(1 + rnd_below(255));
            memset(p, slot[i].tag, PAGE_SIZE << order);
        }
    }
    for (int i = 0; i < SLOTS; i++)
        if (slot[i].p)
            page_free_order(slot[i].p, slot[i].order);
    CHECK(stats().free_pages == s0.total_pages);
    void *p = page_alloc_order(PAGE_MAX_ORDER);
    CHECK(p != NULL);
    page_free_order(p, PAGE_MAX_ORDER);
}

static void test_tiny_regions(void)
{
    /* Too small for even one page after its descriptor. */
    page_alloc_init((uintptr_t)region, (uintptr_t)region + PAGE_SIZE + 10);
    CHECK(stats().total_pages == 0);
    CHECK(page_alloc() == NULL);
    CHECK(page_of(region) == NULL);
    page_alloc_init((uintptr_t)region, (uintptr_t)region);
    CHECK(page_alloc() == NULL);

    /* Seven pages: one descriptor page, six usable, blocks 4+2. */
    uintptr_t s = ALIGN_UP((uintptr_t)region, PAGE_SIZE);
    page_alloc_init(s, s + 7 * PAGE_SIZE);
    CHECK(stats().total_pages == 6);
    void *a = page_alloc_order(2), *b = page_alloc_order(1);
    CHECK(a && b);
    CHECK(page_alloc() == NULL);
    page_free_order(a, 2);
    page_free_order(b, 1);
    CHECK(page_alloc_order(3) == NULL);     /* 6 pages never make 8 */
    CHECK(stats().free_pages == 6);
}

/* A cache the allocator may ask for pages: it holds `held` pages and
 * frees them when asked (a shrinker). */
static void *held[64];
static int nheld, shrink_calls;

static unsigned long test_shrinker(unsigned long want)
{
    unsigned long got = 0;
    shrink_calls++;
    while (nheld > 0 && got < want) {
        page_free(held[--nheld]);
        got++;
    }
    return got;
}

/* An allocation that finds memory full asks the shrinkers and then
 * succeeds with what they gave back; with nothing to give it fails. */
static void test_shrinker_gives_pages_back_before_failing(void)
{
    fresh();
    static int registered;
    if (!registered++)
        page_alloc_add_shrinker(test_shrinker);
    struct page_stats s0 = stats();
    void **pp = calloc(s0.total_pages + 1, sizeof(void *));
    size_t n = 0;
    for (void *p; (p = page_alloc_noreclaim());)
        pp[n++] = p;
    CHECK(stats().free_pages == 0);
    /* the cache takes 8 of them */
    for (int i = 0; i < 8; i++)
        held[nheld++] = pp[--n];
    CHECK(page_alloc_noreclaim() == NULL);      /* it does not ask */
    CHECK(shrink_calls == 0);
    void *p = page_alloc();                     /* this one asks */
    CHECK(p != NULL && shrink_calls == 1 && all_zero(p, PAGE_SIZE));
    CHECK(nheld == 0);                          /* all 8 given (it wants some slack) */
    pp[n++] = p;
    while ((p = page_alloc_order(0)))
        pp[n++] = p;
    CHECK(shrink_calls >= 2 && n == s0.total_pages);
    for (size_t i = 0; i < n; i++)
        page_free(pp[i]);
    CHECK(stats().free_pages == s0.total_pages);
    free(pp);
}

int main(void)
{
    region = aligned_alloc(PAGE_SIZE, REGION_BYTES);
    if (!region)
        return 2;
    static const struct unit_test tests[] = {
        TEST(test_init_counts),
        TEST(test_exhaust_and_recover),
        TEST(test_coalesce_to_max_order),
        TEST(test_orders_and_bounds),
        TEST(test_bad_frees_ignored),
        TEST(test_random_mixed),
        TEST(test_tiny_regions),
        TEST(test_shrinker_gives_pages_back_before_failing),
    };
    int rc = RUN_TESTS(tests);
    free(region);
    return rc;
}
