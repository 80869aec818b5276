// SOURCES: src/mem/page_alloc.c src/mem/kmalloc.c
// CFLAGS: -DPOLLUX_POISON
/*
 * test_poison.c - the debug build's poisoning (POLLUX_POISON): a write to
 * a freed object or page is caught when the memory is handed out again,
 * and the report names the site that allocated it; memory nobody touched
 * after free is handed out without complaint, zeroed where promised.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>
#include "mem/kmalloc.h"
#include "mem/page_alloc.h"
#include "unit.h"

#define REGION_BYTES (4UL << 20)

static jmp_buf caught;
static char report[512];

/* The allocators' panic: keep the report, return to the test. */
void panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(report, sizeof report, fmt, ap);
    va_end(ap);
    longjmp(caught, 1);
}

/* The allocation site the report must name lies in this function. */
__attribute__((noinline)) static void *alloc_site_fn(size_t n) { return kmalloc(n); }
__attribute__((noinline)) static void *page_site_fn(void) { return page_alloc(); }

static int names_site(const char *what, void *fn)
{
    const char *at = strstr(report, what);
    if (!at)
        return 0;
    unsigned long a = strtoul(at + strlen(what), NULL, 16);
    return a >= (unsigned long)fn && a < (unsigned long)fn + 256;
}

static void test_untouched_objects_are_reused_quietly(void)
{
    for (int round = 0; round < 3; round++) {
        void *v[300];
        for (int i = 0; i < 300; i++) {
            v[i] = kzalloc(40 + i);
            CHECK(v[i] != NULL && ((uintptr_t)v[i] & 15) == 0);
            CHECK(((unsigned char *)v[i])[39] == 0);
            CHECK(ksize(v[i]) >= (size_t)(40 + i));
            memset(v[i], 0xee, ksize(v[i]));
        }
        for (int i = 0; i < 300; i++)
            kfree(v[i]);
    }
    unsigned char *p = page_alloc();
    CHECK(p != NULL);
    memset(p, 0xee, PAGE_SIZE);
    page_free(p);
    p = page_alloc();
    CHECK(p != NULL && p[0] == 0 && p[PAGE_SIZE - 1] == 0);   /* zeroed, not poison */
    page_free(p);
}

static void test_write_after_kfree_names_the_allocation_site(void)
{
    /* A second object keeps the slab alive, so the freed one is reused. */
    long *keep = kmalloc(64);
    long *p = alloc_site_fn(64);
    CHECK(keep && p);
    kfree(p);
    report[0] = 0;
    if (!setjmp(caught)) {
        p[3] = 42;                      /* the use after free */
        kmalloc(64);                    /* hands p out again: must panic */
    }
    CHECK(strstr(report, "kmalloc: use after free") != NULL);
    CHECK(strstr(report, "at +24 (0x2a)") != NULL);
    CHECK(names_site("last allocated at ", (void *)alloc_site_fn));
}

static void test_write_after_page_free_is_caught(void)
{
    unsigned char *p = page_site_fn();
    CHECK(p != NULL);
    page_free(p);
    report[0] = 0;
    if (!setjmp(caught)) {
        p[100] = 1;
        for (int i = 0; i < 2000; i++)  /* the buddy allocator reuses p soon */
            if (!page_alloc())
                break;
    }
    CHECK(strstr(report, "page_alloc: use after free") != NULL);
    CHECK(names_site("last allocated at ", (void *)page_site_fn));
}

static void test_check_live_tells_freed_objects(void)
{
    long *keep = kmalloc(100), *p = alloc_site_fn(100);
    CHECK(keep && p);
    report[0] = 0;
    kmalloc_check_live(p, "probe");
    CHECK(report[0] == 0);              /* live: quiet */
    kfree(p);
    if (!setjmp(caught))
        kmalloc_check_live(p, "probe");
    CHECK(strstr(report, "probe: object") != NULL);
    CHECK(strstr(report, "used after it was freed") != NULL);
    CHECK(names_site("last allocated at ", (void *)alloc_site_fn));
    kfree(keep);
}

int main(void)
{
    char *region = aligned_alloc(PAGE_SIZE, REGION_BYTES);
    if (!region)
        return 2;
    page_alloc_init((uintptr_t)region, (uintptr_t)region + REGION_BYTES);
    static const struct unit_test tests[] = {
        TEST(test_untouched_objects_are_reused_quietly),
        TEST(test_write_after_kfree_names_the_allocation_site),
        TEST(test_write_after_page_free_is_caught),
        TEST(test_check_live_tells_freed_objects),
    };
    return RUN_TESTS(tests);
}
