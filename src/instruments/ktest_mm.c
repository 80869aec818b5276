/*
 * ktest_mm.c - self-test of user address spaces (src/mem/mm.c and
 * arch/riscv/pagetable.c), run without any user process: it builds an
 * mm, maps file, heap, stack and mmap regions, and checks every access
 * through the software walk (copyin/copyout) and once through the MMU.
 *
 * ktest_mm() returns NULL on success or what failed.  It takes pages
 * until none are left (for the fork-failure part), so it must run
 * alone, as the other allocator tests do.
 */
#include "csr.h"
#include "core/hart.h"
#include "lib/errno.h"
#include "lib/klib.h"
#include "mem/kmalloc.h"
#include "layout.h"
#include "mem/mm.h"
#include "mem/page_alloc.h"

#define MAP_PRIVATE         0x02
#define MAP_FIXED           0x10
#define MAP_ANONYMOUS       0x20
#define MAP_STACK           0x20000
#define MAP_FIXED_NOREPLACE 0x100000
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

#define P PAGE_SIZE
#define CHECK(c, why) do { if (!(c)) { fail = (why); goto out; } } while (0)

/* Stands in for an initrd file: outside the page allocator, page aligned. */
static uint8_t file_img[3 * 4096] __attribute__((aligned(4096)));

#define TEXT_VA  0x10000UL          /* file, R|X: 2 shared pages, 1 copied, 2 zero */
#define DATA_VA  0x40000UL          /* file, R|W: copied */
#define FILE_LEN (2 * 4096 + 100)
#define SPLIT_VA 0x80000UL          /* file, R|W, split by mprotect */
#define BRK_VA   0x100000UL

static size_t vma_count(struct mm *mm)
{
    size_t n = 0;
    for (struct vma *v = mm->vmas; v; v = v->next)
        n++;
    return n;
}

/* A stand-in for a ring: counts the references its mappings hold. */
static int shared_refs;
static void shared_get(void *obj) { (void)obj; shared_refs++; }
static void shared_put(void *obj) { (void)obj; shared_refs--; }
static const struct vma_shared_ops shared_ops = { shared_get, shared_put };

static bool deferred_holds(struct mm *mm, uint64_t pa)
{
    for (struct page *pg = mm->deferred; pg; pg = pg->next)
        if (pg == page_of(pa_to_va(pa)))
            return true;
    return false;
}

/*
 * While another hart runs mm in user mode (pretended: its user_mm is set;
 * no user process exists during ktest), nothing that munmap, MAP_FIXED,
 * MADV_DONTNEED, brk or a ring unmap takes away may be freed: it waits for
 * the shootdown (here: mm_free_deferred once the hart has "left").  With
 * no other hart in it, everything is freed at once.
 */
static const char *stale_translations(struct mm *mm)
{
    const char *fail = NULL;
    uint8_t *ring = NULL;
    unsigned other = (this_hart()->index + 1) % nharts;
    bool pretend = nharts > 1;
    long r = mm_mmap(mm, 0, 4 * P, PROT_READ | PROT_WRITE, ANON, -1, 0);
    uint64_t c = (uint64_t)r, pa[4];
    CHECK(r > 0, "stale: mmap");
    for (int i = 0; i < 4; i++) {
        CHECK(copyout(mm, c + i * P, "T", 2) == 0, "stale: touch");
        pa[i] = pt_lookup(mm->pt, c + i * P, NULL);
    }
    CHECK(mm_brk(mm, mm->brk + 2 * P) > 0 && copyout(mm, mm->brk - P, "H", 2) == 0,
          "stale: brk grow");
    uint64_t heap_pa = pt_lookup(mm->pt, mm->brk - P, NULL);
    ring = page_alloc();
    CHECK(ring, "stale: no page");
    r = mm_map_shared(mm, va_to_pa(ring), P, PROT_READ | PROT_WRITE, &shared_ops, NULL);
    CHECK(r > 0 && shared_refs == 1, "stale: map shared");
    uint64_t ring_va = (uint64_t)r;

    if (pretend)
        atomic_store(&harts[other].user_mm, mm);
    CHECK(mm_munmap(mm, c, P) == 0, "stale: munmap");
    CHECK(mm_mmap(mm, c + P, P, PROT_READ | PROT_WRITE, ANON | MAP_FIXED, -1, 0) == (long)(c + P),
          "stale: MAP_FIXED");
    CHECK(mm_dontneed(mm, c + 2 * P, P) == 0, "stale: dontneed");
    CHECK(mm_brk(mm, mm->brk - 2 * P) > 0, "stale: brk shrink");
    CHECK(mm_munmap(mm, ring_va, P) == 0, "stale: ring unmap");
    if (pretend) {
        CHECK(deferred_holds(mm, pa[0]), "munmap freed a frame another hart may still reach");
        CHECK(deferred_holds(mm, pa[1]), "MAP_FIXED freed a frame another hart may still reach");
        CHECK(deferred_holds(mm, pa[2]), "dontneed freed a frame another hart may still reach");
        CHECK(deferred_holds(mm, heap_pa), "brk freed a frame another hart may still reach");
        CHECK(shared_refs == 1, "ring unmap let go of the ring while another hart may reach it");
        atomic_store(&harts[other].user_mm, NULL);      /* it trapped: the shootdown is over */
        mm_free_deferred(mm, atomic_load(&mm->gen));
    }
    CHECK(!mm->deferred && !mm->deferred_vmas && shared_refs == 0,
          "unmapped memory kept after every hart let go");
    /* nobody else in it: freed at once */
    CHECK(mm_munmap(mm, c + 3 * P, P) == 0 && !mm->deferred, "munmap kept a frame for nobody");
    CHECK(mm_munmap(mm, c, 4 * P) == 0, "stale: munmap all");
out:
    if (pretend)
        atomic_store(&harts[other].user_mm, NULL);
    if (ring)
        page_free(ring);
    return fail;
}

static uint8_t peek(struct mm *mm, uint64_t va, int *err)
{
    uint8_t b = 0;
    *err = copyin(mm, &b, va, 1);
    return b;
}

static struct page *page_at(struct mm *mm, uint64_t va, uint32_t *prot)
{
    uint64_t pa = pt_lookup(mm->pt, va, prot);
    return pa ? page_of(pa_to_va(pa)) : NULL;
}

static bool writable(struct mm *mm, uint64_t va)
{
    uint32_t prot = 0;
    return pt_lookup(mm->pt, va, &prot) && (prot & PROT_WRITE);
}

/*
 * Copy-on-write fork: the child shares the parent's pages read-only with
 * a reference each; whoever writes first gets a copy, and the last holder
 * writes in place.  Then a three-generation chain, mprotect on a shared
 * page, a fork while another hart (pretended) runs the parent, and a
 * copy made while another hart may read the old frame.
 */
static const char *cow_fork(struct mm *mm)
{
    const char *fail = NULL;
    struct mm *c = NULL, *c2 = NULL, *g = NULL;
    unsigned other = (this_hart()->index + 1) % nharts;
    bool pretend = false;
    int err;
    long r = mm_mmap(mm, 0, 2 * P, PROT_READ | PROT_WRITE, ANON, -1, 0);
    uint64_t x = (uint64_t)r;
    CHECK(r > 0 && copyout(mm, x, "A", 1) == 0 && copyout(mm, x + P, "B", 1) == 0,
          "cow: mmap");
    struct page *pg0 = page_at(mm, x, NULL), *pg1 = page_at(mm, x + P, NULL);
    size_t parent_pages = mm->user_pages;

    c = mm_fork(mm);
    CHECK(c, "cow: fork");
    CHECK(page_at(c, x, NULL) == pg0 && page_refs(pg0) == 2 && page_refs(pg1) == 2,
          "cow: fork did not share the page");
    CHECK(!writable(mm, x) && !writable(c, x), "cow: a shared page stayed writable");
    CHECK(mm->user_pages == parent_pages && c->user_pages == parent_pages, "cow: user_pages");
    /* the parent writes after fork: the child still sees the old value */
    CHECK(copyout(mm, x, "P", 1) == 0 && peek(c, x, &err) == 'A' && peek(mm, x, &err) == 'P',
          "cow: the child saw the parent's write");
    CHECK(page_at(c, x, NULL) == pg0 && page_at(mm, x, NULL) != pg0 && page_refs(pg0) == 1,
          "cow: the parent's write did not copy");
    /* the child, alone with it now, writes in place */
    CHECK(copyout(c, x, "C", 1) == 0 && page_at(c, x, NULL) == pg0 && peek(mm, x, &err) == 'P',
          "cow: the last holder copied");
    /* the child writes: the parent is unaffected and then writes in place */
    CHECK(copyout(c, x + P, "c", 1) == 0 && peek(mm, x + P, &err) == 'B' &&
          page_at(c, x + P, NULL) != pg1 && page_refs(pg1) == 1, "cow: child write");
    CHECK(copyout(mm, x + P, "p", 1) == 0 && page_at(mm, x + P, NULL) == pg1 &&
          peek(c, x + P, &err) == 'c', "cow: parent write after the child's copy");
    mm_put(c);
    c = NULL;

    /* three generations: parent -> c2 -> g share one page, refs 3 */
    pg0 = page_at(mm, x, NULL);
    c2 = mm_fork(mm);
    CHECK(c2, "cow: fork 2");
    g = mm_fork(c2);
    CHECK(g && page_at(g, x, NULL) == pg0 && page_refs(pg0) == 3, "cow: grandchild shares");
    CHECK(copyout(c2, x, "2", 1) == 0 && page_refs(pg0) == 2 && peek(mm, x, &err) == 'P' &&
          peek(g, x, &err) == 'P', "cow: the middle generation's write");
    CHECK(copyout(g, x, "3", 1) == 0 && page_refs(pg0) == 1 && peek(mm, x, &err) == 'P' &&
          peek(c2, x, &err) == '2', "cow: the grandchild's write");
    CHECK(copyout(mm, x, "1", 1) == 0 && page_at(mm, x, NULL) == pg0 &&
          peek(c2, x, &err) == '2' && peek(g, x, &err) == '3', "cow: the grandparent's write");
    /* mprotect must not make a page still shared writable */
    CHECK(mm_mprotect(mm, x, 2 * P, PROT_READ) == 0 &&
          mm_mprotect(mm, x, 2 * P, PROT_READ | PROT_WRITE) == 0 && !writable(mm, x + P) &&
          page_refs(page_at(mm, x + P, NULL)) == 3, "cow: mprotect made a shared page writable");
    mm_put(g);
    g = NULL;
    mm_put(c2);
    c2 = NULL;
    CHECK(page_refs(pg0) == 1 && page_refs(page_at(mm, x + P, NULL)) == 1,
          "cow: references left after the children exited");

    if (nharts > 1) {
        /* another hart runs the parent in user mode and may write through
         * writable TLB entries: fork copies instead of sharing */
        pretend = true;
        atomic_store(&harts[other].user_mm, mm);
        CHECK(copyout(mm, x + P, "w", 1) == 0 && writable(mm, x + P), "cow: make writable");
        c = mm_fork(mm);
        CHECK(c && page_at(c, x + P, NULL) != page_at(mm, x + P, NULL) && writable(mm, x + P) &&
              peek(c, x + P, &err) == 'w', "cow: fork shared pages with a hart running the parent");
        mm_put(c);
        c = NULL;
        atomic_store(&harts[other].user_mm, NULL);
        /* a copy while another hart may still read the old frame: the old
         * reference waits for the shootdown, and the thread owes one */
        c = mm_fork(mm);
        CHECK(c && page_refs(pg0) == 2, "cow: fork 3");
        atomic_store(&harts[other].user_mm, mm);
        CHECK(copyout(mm, x, "N", 1) == 0 && page_refs(pg0) == 2 && mm_flush_owed(mm),
              "cow: dropped a reference another hart may still read through");
        atomic_store(&harts[other].user_mm, NULL);
        pretend = false;
        mm_free_deferred(mm, atomic_load(&mm->gen));
        CHECK(page_refs(pg0) == 1 && !mm_flush_owed(mm) && peek(c, x, &err) == '1',
              "cow: the shootdown did not release the reference");
        mm_put(c);
        c = NULL;
    }
    CHECK(mm_munmap(mm, x, 2 * P) == 0, "cow: munmap");
out:
    if (pretend)
        atomic_store(&harts[other].user_mm, NULL);
    if (g)
        mm_put(g);
    if (c2)
        mm_put(c2);
    if (c)
        mm_put(c);
    return fail;
}

/* Fork with exactly `avail` free pages (all others held): the fork must
 * either succeed or fail cleanly, leaving the pool as it found it. */
static const char *fork_under_pressure(struct mm *mm)
{
    void *held = NULL;
    const char *fail = NULL;
    for (void *p; (p = page_alloc()) != NULL;) {
        *(void **)p = held;
        held = p;
    }
    bool failed_once = false, succeeded = false;
    for (int avail = 0; avail < 200 && !succeeded; avail++) {
        struct page_stats s0, s1;
        if (avail > 0) {                        /* release one more page */
            void *p = held;
            if (!p)
                break;
            held = *(void **)p;
            page_free(p);
        }
        page_get_stats(&s0);
        struct mm *c = mm_fork(mm);
        if (c) {
            succeeded = true;
            uint8_t b = 0;
            if (copyin(c, &b, DATA_VA + 5, 1) || b != 'W')
                fail = "fork under pressure: bad child";
            mm_put(c);
        } else {
            failed_once = true;
        }
        page_get_stats(&s1);
        if (s1.free_pages < s0.free_pages) {  /* (other harts may free meanwhile) */
            fail = "fork under pressure leaked pages";
            break;
        }
    }
    while (held) {
        void *next = *(void **)held;
        page_free(held);
        held = next;
    }
    if (!fail && !failed_once)
        fail = "fork never failed with no free pages";
    if (!fail && !succeeded)
        fail = "fork never succeeded under pressure";
    return fail;
}

const char *ktest_mm(void)
{
    const char *fail = NULL;
    struct page_stats p0, p1;
    struct kmalloc_stats k0, k1;
    struct mm *mm = NULL, *child = NULL;
    uint8_t buf[64];
    char str[32];
    int err;
    long r;

    for (size_t i = 0; i < sizeof file_img; i++)
        file_img[i] = (uint8_t)(i * 7 + 3);
    kmalloc_get_stats(&k0);
    page_get_stats(&p0);

    mm = mm_create();
    CHECK(mm, "mm_create");
    CHECK(mm->refs == 1 && mm->mmap_next == USER_MMAP_TOP && !mm->vmas, "mm_create state");

    /* ---- file regions ---- */
    CHECK(mm_map_region(mm, TEXT_VA, 5 * P, PROT_READ | PROT_EXEC, VMA_FILE,
                        file_img, FILE_LEN) == 0, "map text");
    CHECK(mm_map_region(mm, TEXT_VA + 4 * P, P, PROT_READ, VMA_ANON, NULL, 0) == -EINVAL,
          "overlap accepted");
    CHECK(mm_map_region(mm, TEXT_VA + 1, P, PROT_READ, VMA_ANON, NULL, 0) == -EINVAL,
          "unaligned region accepted");
    uint32_t prot = 0;
    CHECK(pt_lookup(mm->pt, TEXT_VA, &prot) == va_to_pa(file_img) &&
          prot == (PROT_READ | PROT_EXEC), "text page 0 not shared in place");
    CHECK(pt_lookup(mm->pt, TEXT_VA + P, NULL) == va_to_pa(file_img + P),
          "text page 1 not shared in place");
    CHECK(pt_lookup(mm->pt, TEXT_VA + 2 * P, NULL) == 0, "partial page mapped eagerly");
    CHECK(mm->user_pages == 0, "shared pages counted as owned");
    CHECK(copyin(mm, buf, TEXT_VA + P + 10, 16) == 0 && memcmp(buf, file_img + P + 10, 16) == 0,
          "text read");
    /* straddles the file end (page 2: 100 file bytes, then zeros) */
    CHECK(copyin(mm, buf, TEXT_VA + 2 * P + 90, 20) == 0 &&
          memcmp(buf, file_img + 2 * P + 90, 10) == 0 && buf[10] == 0 && buf[19] == 0,
          "file tail / zero fill");
    CHECK(pt_lookup(mm->pt, TEXT_VA + 2 * P, NULL) != va_to_pa(file_img + 2 * P) &&
          mm->user_pages == 1, "partial page not copied");
    CHECK(peek(mm, TEXT_VA + 4 * P + 4095, &err) == 0 && err == 0, "bss-like page");
    CHECK(copyout(mm, TEXT_VA, "x", 1) == -EFAULT, "wrote read-only text");
    CHECK(mm_fault(mm, TEXT_VA + 3 * P, PROT_WRITE) == -EFAULT, "write fault on text allowed");
    CHECK(mm_fault(mm, TEXT_VA + 3 * P, PROT_EXEC) == 0, "exec fault on text refused");
    CHECK(mm_fault(mm, TEXT_VA, PROT_EXEC) == 0, "spurious fault refused");

    CHECK(mm_map_region(mm, DATA_VA, 4 * P, PROT_READ | PROT_WRITE, VMA_FILE,
                        file_img, FILE_LEN) == 0, "map data");
    CHECK(pt_lookup(mm->pt, DATA_VA, NULL) == 0, "writable file page mapped eagerly");
    CHECK(mm_fault(mm, DATA_VA, PROT_EXEC) == -EFAULT, "exec fault on data allowed");
    CHECK(copyout(mm, DATA_VA + 5, "W", 1) == 0, "data write");
    CHECK(file_img[5] == (uint8_t)(5 * 7 + 3), "data write reached the file");
    CHECK(peek(mm, DATA_VA + 5, &err) == 'W' && peek(mm, DATA_VA + 6, &err) == file_img[6],
          "data read back");
    CHECK(pt_lookup(mm->pt, DATA_VA, &prot) != va_to_pa(file_img) &&
          prot == (PROT_READ | PROT_WRITE), "data page prot");
    /* a round trip across a page boundary */
    for (int i = 0; i < 64; i++)
        buf[i] = (uint8_t)(0xa0 + i);
    CHECK(copyout(mm, DATA_VA + P - 32, buf, 64) == 0, "copyout across pages");
    memset(buf, 0, sizeof buf);
    CHECK(copyin(mm, buf, DATA_VA + P - 32, 64) == 0 && buf[0] == 0xa0 && buf[63] == 0xa0 + 63,
          "copyin across pages");

    /* a file region split by mprotect before it is touched, then merged */
    size_t nv = vma_count(mm);
    CHECK(mm_map_region(mm, SPLIT_VA, 3 * P, PROT_READ | PROT_WRITE, VMA_FILE,
                        file_img, FILE_LEN) == 0, "map split region");
    CHECK(mm_mprotect(mm, SPLIT_VA + P, P, PROT_READ) == 0 && vma_count(mm) == nv + 3,
          "split file region");
    CHECK(peek(mm, SPLIT_VA + P + 10, &err) == file_img[P + 10] &&
          peek(mm, SPLIT_VA + 2 * P + 50, &err) == file_img[2 * P + 50] &&
          peek(mm, SPLIT_VA + 2 * P + 100, &err) == 0 && err == 0, "split file offsets");
    CHECK(copyout(mm, SPLIT_VA + P, "x", 1) == -EFAULT, "wrote read-only piece");
    CHECK(mm_mprotect(mm, SPLIT_VA + P, P, PROT_READ | PROT_WRITE) == 0 &&
          vma_count(mm) == nv + 1, "file pieces not merged back");
    CHECK(mm_munmap(mm, SPLIT_VA, 3 * P) == 0 && vma_count(mm) == nv, "unmap split region");
    /* text made writable: its shared page is copied on the first write */
    size_t owned_before = mm->user_pages;
    CHECK(mm_mprotect(mm, TEXT_VA, P, PROT_READ | PROT_WRITE) == 0, "mprotect text RW");
    CHECK(pt_lookup(mm->pt, TEXT_VA, &prot) == va_to_pa(file_img) && prot == PROT_READ,
          "shared page made writable");
    CHECK(copyout(mm, TEXT_VA + 1, "T", 1) == 0 && peek(mm, TEXT_VA + 1, &err) == 'T',
          "write to text copy");
    CHECK(file_img[1] == 10 && mm->user_pages == owned_before + 1 &&
          pt_lookup(mm->pt, TEXT_VA, NULL) != va_to_pa(file_img), "text write reached the file");
    CHECK(peek(mm, TEXT_VA + 2, &err) == file_img[2], "text copy content");
    CHECK(mm_mprotect(mm, TEXT_VA, P, PROT_READ | PROT_EXEC) == 0, "mprotect text back");

    /* ---- the MMU agrees with the software walk (SUM only here) ---- */
    {
        extern uint64_t boot_pagetable[];
        uint64_t cur = csr_read(satp);
        if (cur == ((8UL << 60) | (va_to_pa(boot_pagetable) >> 12))) {
            mm_activate(mm);
            csr_set(sstatus, SSTATUS_SUM);
            uint8_t t = *(volatile uint8_t *)(TEXT_VA + 123);
            *(volatile uint8_t *)(DATA_VA + 7) = 'M';
            csr_clear(sstatus, SSTATUS_SUM);
            mm_activate(NULL);
            CHECK(t == file_img[123], "MMU read of text");
            CHECK(peek(mm, DATA_VA + 7, &err) == 'M', "MMU write of data");
        }
    }

    /* ---- bad user pointers ---- */
    CHECK(copyin(mm, buf, 0x5000000, 8) == -EFAULT, "copyin unmapped");
    CHECK(copyin(mm, buf, 0, 1) == -EFAULT, "copyin NULL");
    CHECK(copyin(mm, buf, (uint64_t)file_img, 8) == -EFAULT, "copyin kernel address");
    CHECK(copyin(mm, buf, KERNEL_VOFF, 8) == -EFAULT, "copyin kernel base");
    CHECK(copyin(mm, buf, USER_TOP - 4, 8) == -EFAULT, "copyin past USER_TOP");
    CHECK(copyin(mm, buf, ~0UL - 3, 16) == -EFAULT, "copyin wrapping");
    CHECK(copyout(mm, ~0UL - 3, buf, 16) == -EFAULT, "copyout wrapping");
    CHECK(copyin(mm, buf, TEXT_VA + 5 * P - 8, 16) == -EFAULT, "copyin straddling the end");
    CHECK(copyout(mm, DATA_VA + 4 * P - 8, buf, 16) == -EFAULT, "copyout straddling the end");
    CHECK(copyin(mm, buf, 0x5000000, 0) == 0, "zero-length copy");
    CHECK(mm_fault(mm, 0x5000000, PROT_READ) == -EFAULT, "fault outside any region");
    CHECK(mm_fault(mm, KERNEL_VOFF + 0x80200000, PROT_READ) == -EFAULT, "fault on kernel");

    /* ---- strings ---- */
    CHECK(copyout(mm, DATA_VA + 100, "hello", 6) == 0, "string out");
    CHECK(copyin_str(mm, str, DATA_VA + 100, sizeof str) == 5 && strcmp(str, "hello") == 0,
          "copyin_str");
    CHECK(copyin_str(mm, str, DATA_VA + 100, 5) == -ENAMETOOLONG, "copyin_str too long");
    CHECK(copyin_str(mm, str, DATA_VA + 100, 6) == 5, "copyin_str exact fit");
    memset(buf, 'a', sizeof buf);
    CHECK(copyout(mm, DATA_VA + 4 * P - 8, buf, 8) == 0, "string at region end");
    CHECK(copyin_str(mm, str, DATA_VA + 4 * P - 8, sizeof str) == -EFAULT,
          "copyin_str straddling into nothing");
    CHECK(copyin_str(mm, str, USER_TOP - 1, sizeof str) == -EFAULT, "copyin_str at USER_TOP");

    /* ---- brk ---- */
    mm->brk_start = mm->brk = BRK_VA;
    CHECK(mm_brk(mm, 0) == (long)BRK_VA, "brk(0)");
    CHECK(mm_brk(mm, BRK_VA + 10000) == (long)(BRK_VA + 10000), "brk grow");
    CHECK(copyout(mm, BRK_VA + 2 * P + 100, "h", 1) == 0, "write heap");
    CHECK(copyout(mm, BRK_VA + 3 * P, "h", 1) == -EFAULT, "wrote past the break's page");
    size_t heap_pages = mm->user_pages;
    CHECK(mm_brk(mm, BRK_VA + 5 * P) == (long)(BRK_VA + 5 * P), "brk grow again");
    CHECK(copyout(mm, BRK_VA + 4 * P, "i", 1) == 0, "write grown heap");
    CHECK(vma_count(mm) == 3, "heap growth not merged");
    CHECK(mm_brk(mm, BRK_VA + 100) == (long)(BRK_VA + 100), "brk shrink");
    CHECK(mm->user_pages == heap_pages - 1, "brk shrink did not free pages");
    CHECK(copyin(mm, buf, BRK_VA + 2 * P + 100, 1) == -EFAULT, "read past shrunk break");
    CHECK(mm_brk(mm, BRK_VA - P) == (long)(BRK_VA + 100), "brk below start");
    CHECK(mm_brk(mm, DATA_VA + P) == (long)(BRK_VA + 100), "brk below start (2)");
    CHECK(mm_brk(mm, BRK_VA + 3 * P) == (long)(BRK_VA + 3 * P), "brk regrow");
    CHECK(peek(mm, BRK_VA + 2 * P + 100, &err) == 0 && err == 0, "regrown heap not zero");
    CHECK(mm_map_region(mm, BRK_VA + 8 * P, P, PROT_READ, VMA_ANON, NULL, 0) == 0, "blocker");
    CHECK(mm_brk(mm, BRK_VA + 9 * P) == (long)(BRK_VA + 3 * P), "brk grew over a region");

    /* ---- the stack ---- */
    CHECK(mm_map_region(mm, USER_STACK_TOP - USER_STACK_MAX, USER_STACK_MAX,
                        PROT_READ | PROT_WRITE, VMA_STACK, NULL, 0) == 0, "map stack");
    CHECK(copyout(mm, USER_STACK_TOP - 16, "stack", 6) == 0, "stack write");
    CHECK(mm_fault(mm, USER_STACK_TOP - USER_STACK_MAX, PROT_WRITE) == 0, "stack bottom");
    CHECK(mm_fault(mm, USER_STACK_TOP - USER_STACK_MAX - 8, PROT_WRITE) == -EFAULT,
          "stack overflow allowed");
    CHECK(mm_fault(mm, USER_STACK_TOP, PROT_READ) == -EFAULT, "above the stack allowed");

    /* ---- mmap / mprotect / munmap ---- */
    size_t before_mmap = vma_count(mm);
    r = mm_mmap(mm, 0, 16 * P, 0, ANON | MAP_STACK, -1, 0);
    uint64_t a = (uint64_t)r;
    CHECK(r > 0 && (a & (P - 1)) == 0 && a + 16 * P <= USER_MMAP_TOP, "mmap NONE");
    CHECK(copyin(mm, buf, a, 1) == -EFAULT, "read PROT_NONE");
    CHECK(mm_mprotect(mm, a + 4 * P, 8 * P, PROT_READ | PROT_WRITE) == 0, "mprotect middle");
    CHECK(vma_count(mm) == before_mmap + 3, "mprotect did not split in three");
    CHECK(copyout(mm, a + 4 * P, "m4", 3) == 0 && copyout(mm, a + 11 * P + 4000, "m11", 4) == 0,
          "write mprotected");
    CHECK(copyout(mm, a + 3 * P + 4095, "x", 1) == -EFAULT, "write below the RW part");
    CHECK(copyout(mm, a + 12 * P, "x", 1) == -EFAULT, "write above the RW part");
    CHECK(copyout(mm, a + 5 * P, "m5", 3) == 0 && copyout(mm, a + 7 * P, "m7", 3) == 0,
          "write more");
    uint64_t gen = mm->gen;
    CHECK(mm_munmap(mm, a + 6 * P, 2 * P) == 0, "munmap middle");
    CHECK(mm->gen != gen, "munmap did not bump gen");
    CHECK(copyin(mm, buf, a + 7 * P, 1) == -EFAULT, "read munmapped");
    CHECK(copyin(mm, buf, a + 5 * P, 3) == 0 && strcmp((char *)buf, "m5") == 0,
          "content beside the hole");
    CHECK(vma_count(mm) == before_mmap + 4, "munmap did not split");
    gen = mm->gen;
    CHECK(mm_mprotect(mm, a + 4 * P, 2 * P, PROT_READ) == 0, "mprotect read-only");
    CHECK(mm->gen != gen, "narrowing did not bump gen");
    CHECK(copyout(mm, a + 4 * P, "x", 1) == -EFAULT, "wrote read-only");
    CHECK(copyin(mm, buf, a + 4 * P, 3) == 0 && strcmp((char *)buf, "m4") == 0,
          "read-only kept content");
    CHECK(mm_mprotect(mm, a + 8 * P, 4 * P, 0) == 0, "mprotect NONE");
    CHECK(copyin(mm, buf, a + 11 * P + 4000, 1) == -EFAULT, "read NONE page");
    CHECK(mm_mprotect(mm, a + 8 * P, 4 * P, PROT_READ | PROT_WRITE) == 0, "mprotect back");
    CHECK(copyin(mm, buf, a + 11 * P + 4000, 4) == 0 && strcmp((char *)buf, "m11") == 0,
          "PROT_NONE lost content");
    CHECK(mm_mprotect(mm, a + 5 * P, 2 * P, PROT_READ) == -ENOMEM, "mprotect over a hole");
    CHECK(mm_mprotect(mm, a + 1, P, PROT_READ) == -EINVAL, "mprotect unaligned");
    CHECK(mm_munmap(mm, a + 1, P) == -EINVAL, "munmap unaligned");
    CHECK(mm_munmap(mm, a, 0) == -EINVAL, "munmap len 0");
    CHECK(mm_mmap(mm, 0, 0, PROT_READ, ANON, -1, 0) == -EINVAL, "mmap len 0");
    CHECK(mm_mmap(mm, a + 1, P, PROT_READ, ANON | MAP_FIXED, -1, 0) == -EINVAL,
          "mmap fixed unaligned");
    CHECK(mm_mmap(mm, 0, 1UL << 50, PROT_READ, ANON, -1, 0) == -ENOMEM, "mmap huge");
    CHECK(mm_mmap(mm, 0, 200UL << 30, PROT_READ, ANON, -1, 0) > 0, "mmap 200 GiB lazily");
    CHECK(mm_mmap(mm, 0, 100UL << 30, PROT_READ, ANON, -1, 0) == -ENOMEM, "mmap no room");
    CHECK(mm_mmap(mm, 0, P, PROT_READ, MAP_PRIVATE, 3, 0) == -ENODEV, "file mmap");
    CHECK(mm_mmap(mm, a, P, PROT_READ, ANON | MAP_FIXED_NOREPLACE, -1, 0) == -EEXIST,
          "fixed_noreplace over a mapping");
    /* MAP_FIXED replaces: fresh zero page at a+4P */
    CHECK(mm_mmap(mm, a + 4 * P, P, PROT_READ | PROT_WRITE, ANON | MAP_FIXED, -1, 0) ==
          (long)(a + 4 * P), "mmap fixed");
    CHECK(peek(mm, a + 4 * P, &err) == 0 && err == 0, "MAP_FIXED kept old content");
    r = mm_mmap(mm, 0, 3 * P, PROT_READ | PROT_WRITE, ANON, -1, 0);
    uint64_t b = (uint64_t)r;
    CHECK(r > 0 && copyout(mm, b + 2 * P, "b", 2) == 0, "mmap RW");
    /* MADV_DONTNEED: pages go, the region stays, next touch is zero */
    size_t before_dn = mm->user_pages;
    CHECK(mm_dontneed(mm, a + 8 * P, 4 * P) == 0 && mm->user_pages == before_dn - 1,
          "dontneed did not drop the page");
    CHECK(peek(mm, a + 11 * P + 4000, &err) == 0 && err == 0, "dontneed page not zero");
    CHECK(mm_dontneed(mm, a + 1, P) == -EINVAL, "dontneed unaligned");
    CHECK(mm_munmap(mm, a, 16 * P) == 0, "munmap all of a");
    CHECK(copyin(mm, buf, a + 5 * P, 1) == -EFAULT, "read after munmap");
    CHECK(mm_munmap(mm, a, 16 * P) == 0, "munmap twice");

    /* ---- fork ---- */
    size_t parent_pages = mm->user_pages;
    child = mm_fork(mm);
    CHECK(child, "mm_fork");
    CHECK(child->user_pages == parent_pages, "child page count");
    CHECK(vma_count(child) == vma_count(mm) && child->brk == mm->brk, "child regions");
    CHECK(pt_lookup(child->pt, TEXT_VA + P, NULL) == va_to_pa(file_img + P),
          "child text not shared");
    CHECK(pt_lookup(child->pt, DATA_VA, NULL) == pt_lookup(mm->pt, DATA_VA, NULL),
          "child data not shared copy-on-write");
    CHECK(peek(child, DATA_VA + 5, &err) == 'W' && peek(child, b + 2 * P, &err) == 'b',
          "child content");
    CHECK(copyout(child, DATA_VA + 5, "C", 1) == 0 && copyout(mm, b + 2 * P, "P", 1) == 0,
          "writes after fork");
    CHECK(peek(mm, DATA_VA + 5, &err) == 'W' && peek(child, b + 2 * P, &err) == 'b',
          "fork copies not independent");
    CHECK(pt_lookup(child->pt, DATA_VA, NULL) != pt_lookup(mm->pt, DATA_VA, NULL),
          "a write did not copy the shared page");
    CHECK(peek(child, USER_STACK_TOP - 16, &err) == 's', "child stack");
    mm_put(child);
    child = NULL;
    CHECK((fail = fork_under_pressure(mm)) == NULL, fail);
    CHECK((fail = cow_fork(mm)) == NULL, fail);

    /* ---- refs ---- */
    mm_get(mm);
    mm_put(mm);
    CHECK(peek(mm, DATA_VA + 5, &err) == 'W', "mm_put freed a referenced mm");

    /* ---- stale translations ---- */
    CHECK((fail = stale_translations(mm)) == NULL, fail);

out:
    if (child)
        mm_put(child);
    if (mm)
        mm_put(mm);
    kmalloc_get_stats(&k1);
    page_get_stats(&p1);
    /* more free is fine: tasks of earlier tests may finish on other harts */
    if (!fail && k1.live_objects > k0.live_objects)
        fail = "kmalloc objects leaked";
    if (!fail && p1.free_pages < p0.free_pages)
        fail = "pages leaked";
    return fail;
}
