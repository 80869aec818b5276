// SOURCES: src/mem/page_alloc.c src/mem/kmalloc.c
/*
 * test_kmalloc.c - host tests for the slab allocator: every size class,
 * large blocks, exhaustion, bad frees, and a randomized stress run with
 * content checks.  After each test every page must be back with the
 * buddy allocator and the kmalloc counters at zero.
 */
#include <stdlib.h>
#include <string.h>
#include "mem/kmalloc.h"
#include "mem/page_alloc.h"
#include "unit.h"

#define REGION_BYTES (16UL << 20)

static const size_t classes[] = { 16, 32, 48, 64, 80, 96, 112, 128, 192, 256, 384, 448, 512, 768, 1024, 2048 };
static char *region;
static size_t total_pages;

static struct kmalloc_stats kstats(void)
{
    struct kmalloc_stats s;
    kmalloc_get_stats(&s);
    return s;
}

static size_t free_pages(void)
{
    struct page_stats s;
    page_get_stats(&s);
    return s.free_pages;
}

/* Nothing live, no slab pages, every page back in the buddy allocator. */
static int at_baseline(void)
{
    struct kmalloc_stats s = kstats();
    return s.live_objects == 0 && s.live_bytes == 0 && s.slab_pages == 0 &&
           free_pages() == total_pages;
}

static size_t expected_class(size_t size)
{
    for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
        if (size <= classes[i])
            return classes[i];
    return 0;
}

static void test_every_class(void)
{
    CHECK(at_baseline());
    for (size_t size = 0; size <= 2048; size += (size < 300 ? 1 : 7)) {
        unsigned char *p = kmalloc(size);
        CHECK(p != NULL);
        CHECK(((uintptr_t)p & 15) == 0);
        size_t cs = expected_class(size ? size : 1);
        CHECK(ksize(p) == cs);
        CHECK(page_of(p)->kind == PAGE_SLAB);
        CHECK(kstats().live_bytes == cs);
        memset(p, 0x5a, cs);
        kfree(p);
        CHECK(at_baseline());
    }
}

/* Fill several slabs of each class, free in random order. */
static void test_many_per_class(void)
{
    for (size_t c = 0; c < sizeof(classes) / sizeof(classes[0]); c++) {
        size_t cs = classes[c], n = 3 * (PAGE_SIZE / cs) + 5;
        unsigned char **v = calloc(n, sizeof(*v));
        for (size_t i = 0; i < n; i++) {
            v[i] = kmalloc(cs);
            CHECK(v[i] != NULL && ((uintptr_t)v[i] & 15) == 0);
            memset(v[i], (int)(i & 0xff), cs);
        }
        struct kmalloc_stats s = kstats();
        CHECK(s.live_objects == n && s.live_bytes == n * cs);
        CHECK(s.slab_pages == (n + PAGE_SIZE / cs - 1) / (PAGE_SIZE / cs));
        for (size_t i = n; i > 1; i--) {
            size_t j = rnd_below(i);
            unsigned char *t = v[i - 1]; v[i - 1] = v[j]; v[j] = t;
        }
        for (size_t i = 0; i < n; i++) {
            /* Every byte still carries the value written for it. */
            unsigned char first = v[i][0];
            for (size_t k = 0; k < cs; k++)
                CHECK(v[i][k] == first);
            kfree(v[i]);
        }
        free(v);
        CHECK(at_baseline());
    }
}

static void test_large(void)
{
    static const size_t sizes[] = { 2049, 4095, 4096, 4097, 12000, 1UL << 20,
                                    (1UL << 20) + 1, PAGE_SIZE << PAGE_MAX_ORDER };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned char *p = kmalloc(sizes[i]);
        CHECK(p != NULL);
        CHECK(((uintptr_t)p & (PAGE_SIZE - 1)) == 0);
        struct page *pg = page_of(p);
        CHECK(pg->kind == PAGE_LARGE);
        CHECK(ksize(p) >= sizes[i] && ksize(p) == PAGE_SIZE << pg->order);
        CHECK(ksize(p) < 2 * sizes[i] || ksize(p) == PAGE_SIZE);
        CHECK(kstats().live_bytes == ksize(p));
        CHECK(ksize(p + 16) == 0);            /* interior pointer */
        memset(p, 0x77, sizes[i]);
        kfree(p + PAGE_SIZE / 2);             /* interior: ignored */
        CHECK(kstats().live_objects == 1);
        kfree(p);
        kfree(p);                             /* double free: ignored */
        CHECK(at_baseline());
    }
    size_t failed = kstats().failed;
    CHECK(kmalloc((PAGE_SIZE << PAGE_MAX_ORDER) + 1) == NULL);
    CHECK(kmalloc((size_t)-1) == NULL);
    CHECK(kstats().failed == failed + 2);
    CHECK(at_baseline());
}

static void test_kzalloc(void)
{
    unsigned char *p = kmalloc(200);
    memset(p, 0xee, 200);
    kfree(p);
    unsigned char *q = kzalloc(200);   /* likely the same slot, now dirty */
    CHECK(q != NULL);
    for (int i = 0; i < 200; i++)
        CHECK(q[i] == 0);
    kfree(q);
    q = kzalloc(10000);
    CHECK(q != NULL);
    for (int i = 0; i < 10000; i++)
        CHECK(q[i] == 0);
    kfree(q);
    CHECK(at_baseline());
}

static void test_bad_frees(void)
{
    int local;
    kfree(NULL);
    kfree(&local);                       /* not managed */
    kfree(region);                       /* descriptor area */
    void *pg = page_alloc();             /* a PAGE_USED page */
    kfree(pg);
    CHECK(free_pages() == total_pages - 1);
    page_free(pg);

    char *a = kmalloc(64), *b = kmalloc(64);
    CHECK(a && b && a != b);
    kfree(a + 8);                        /* misaligned in slab */
    char *x = kmalloc(48);               /* 85 objects, 16 bytes spare */
    kfree((char *)page_addr(page_of(x)) + 85 * 48);   /* past the last object */
    CHECK(kstats().live_objects == 3);
    kfree(x);
    CHECK(kstats().live_objects == 2);
    kfree(a);
    kfree(a);                            /* double free: ignored */
    CHECK(kstats().live_objects == 1);
    /* The free list is not corrupted: two allocations are distinct. */
    char *c = kmalloc(64), *d = kmalloc(64);
    CHECK(c && d && c != d && c != b && d != b);
    /* A live object whose word 1 happens to look free is still freed. */
    memset(c, 0, 64);
    ((uintptr_t *)c)[1] = 0x5ab1f7eeUL;
    kfree(c);
    kfree(d);
    kfree(b);
    CHECK(at_baseline());
}

static void test_exhaustion_and_recovery(void)
{
    size_t cap = total_pages * (PAGE_SIZE / 96) + 1;
    void **v = malloc(cap * sizeof(*v));
    size_t n = 0;
    size_t failed = kstats().failed;

    while ((v[n] = kmalloc(96)) != NULL) {
        n++;
        CHECK(n < cap);
    }
    CHECK(n == total_pages * (PAGE_SIZE / 96));
    CHECK(kstats().failed == failed + 1);
    CHECK(kmalloc(5000) == NULL);
    CHECK(free_pages() == 0);
    for (size_t i = 0; i < n; i++)
        kfree(v[i]);
    free(v);
    CHECK(at_baseline());
    void *big = kmalloc(PAGE_SIZE << PAGE_MAX_ORDER);   /* all merged back */
    CHECK(big != NULL);
    kfree(big);
    CHECK(at_baseline());
}

/* Random traffic over many sizes; each object holds a pattern derived
 * from its slot and size, verified in full before it is freed. */
static void test_random_stress(void)
{
    enum { SLOTS = 4096 };
    static struct { unsigned char *p; size_t size; unsigned char tag; } s[SLOTS];
    memset(s, 0, sizeof(s));
    size_t live = 0;

    for (int it = 0; it < 300000; it++) {
        int i = rnd_below(SLOTS);
        if (s[i].p) {
            for (size_t k = 0; k < s[i].size; k++)
                if (s[i].p[k] != (unsigned char)(s[i].tag + k))
                    CHECK(!"object contents changed");
            kfree(s[i].p);
            s[i].p = NULL;
            live--;
        } else {
            size_t size = rnd_below(100) < 97 ? rnd_below(2049) : 2049 + rnd_below(40000);
            unsigned char *p = kmalloc(size);
            CHECK(p != NULL);
            CHECK(((uintptr_t)p & 15) == 0 && ksize(p) >= size);
            s[i].p = p;
            s[i].size = size;
            s[i].tag = (unsigned char)rnd();
            for (size_t k = 0; k < size; k++)
                p[k] = (unsigned char)(s[i].tag + k);
            live++;
        }
        if (it % 50000 == 0)
            CHECK(kstats().live_objects == live);
    }
    for (int i = 0; i < SLOTS; i++)
        if (s[i].p)
            kfree(s[i].p);
    CHECK(at_baseline());
}

int main(void)
{
    region = aligned_alloc(PAGE_SIZE, REGION_BYTES);
    if (!region)
        return 2;
    page_alloc_init((uintptr_t)region, (uintptr_t)region + REGION_BYTES);
    struct page_stats ps;
    page_get_stats(&ps);
    total_pages = ps.total_pages;

    static const struct unit_test tests[] = {
        TEST(test_every_class),
        TEST(test_many_per_class),
        TEST(test_large),
        TEST(test_kzalloc),
        TEST(test_bad_frees),
        TEST(test_exhaustion_and_recovery),
        TEST(test_random_stress),
    };
    int rc = RUN_TESTS(tests);
    free(region);
    return rc;
}
