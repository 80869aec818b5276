/*
 * pagetable.c - Sv39 page tables for user address spaces.
 *
 * A user root table holds the user half (indexes 0..255) privately and a
 * copy of the kernel's upper-half gigapage entries (256..511) from
 * boot_pagetable, so the kernel is mapped in every address space and a
 * trap never switches satp.  Boot's identity entry (index 2) is not
 * copied: it is only for the jump to the upper half.
 *
 * User leaves are always 4 KiB pages at level 0: V|U|A|D plus R/W/X
 * (never G).  A page whose region is PROT_NONE keeps its frame: its PTE
 * has V clear (the hardware ignores the rest) and the software bit
 * PTE_NONE set, so mprotect(PROT_NONE) and back preserves the contents.
 *
 * The mm layer (src/mem/mm.c) serialises all changes to one table under
 * mm->lock; the functions here take no lock except for the deferred
 * freeing of root tables below.
 *
 * Root tables outlive their mm while some hart still has them in satp.
 * A hart keeps the last user table loaded while it runs kernel work or
 * idles (satp is only rewritten when it enters another address space),
 * and the kernel half of that table is what it is executing through.
 * pt_destroy therefore frees a root page at once only if no hart has it
 * loaded (switching this hart to the kernel table first if it is the
 * one); otherwise the page waits on a list, linked through its entry 0,
 * until the hart holding it loads another table, or pt_create reuses it
 * as a root (safe even while loaded: see there).  So at most one root
 * per idle hart is held back, and only until the next process starts.
 */
#include <stdbool.h>
#include "arch.h"
#include "csr.h"
#include "lib/errno.h"
#include "core/hart.h"
#include "lib/klib.h"
#include "layout.h"
#include "mem/mm.h"
#include "mem/page_alloc.h"
#include "core/spinlock.h"

/* Page-table pages allocated (retired roots included), for /proc/mem. */
static _Atomic long pt_pages;

#define PTE_V (1UL << 0)
#define PTE_R (1UL << 1)
#define PTE_W (1UL << 2)
#define PTE_X (1UL << 3)
#define PTE_U (1UL << 4)
#define PTE_G (1UL << 5)
#define PTE_A (1UL << 6)
#define PTE_D (1UL << 7)
#define PTE_NONE (1UL << 8)         /* RSW: a PROT_NONE page, V clear */
#define PTE_RWX (PTE_R | PTE_W | PTE_X)

#define PTE_PA(pte) ((((pte) >> 10) & ((1UL << 44) - 1)) << PAGE_SHIFT)
#define PA_PTE(pa)  (((pa) >> PAGE_SHIFT) << 10)

#define SATP_SV39 (8UL << 60)
#define PT_ENTRIES 512
#define KERNEL_FIRST 256            /* first upper-half root index */

extern uint64_t boot_pagetable[PT_ENTRIES];     /* entry.S */

static inline unsigned vpn(uint64_t va, int level)
{
    return (va >> (PAGE_SHIFT + 9 * level)) & (PT_ENTRIES - 1);
}

static inline bool pte_table(uint64_t pte) { return (pte & PTE_V) && !(pte & PTE_RWX); }
static inline bool pte_present(uint64_t pte) { return (pte & PTE_V) || (pte & PTE_NONE); }
static inline uint64_t *pte_next(uint64_t pte) { return pa_to_va(PTE_PA(pte)); }

static uint64_t leaf_pte(uint64_t pa, uint32_t prot)
{
    if (!(prot & (PROT_READ | PROT_WRITE | PROT_EXEC)))
        return PA_PTE(pa) | PTE_NONE;
    uint64_t pte = PA_PTE(pa) | PTE_V | PTE_U | PTE_A | PTE_D;
    if (prot & (PROT_READ | PROT_WRITE))    /* W without R is reserved */
        pte |= PTE_R;
    if (prot & PROT_WRITE)
        pte |= PTE_W;
    if (prot & PROT_EXEC)
        pte |= PTE_X;
    return pte;
}

static uint32_t pte_prot(uint64_t pte)
{
    if (!(pte & PTE_V))
        return 0;
    return (pte & PTE_R ? PROT_READ : 0) | (pte & PTE_W ? PROT_WRITE : 0) |
           (pte & PTE_X ? PROT_EXEC : 0);
}

/* walk() when a level is missing or a superpage: kept out of line, so the
 * common walk saves no registers for the page_alloc call. */
static __attribute__((noinline)) uint64_t *walk_slow(uint64_t *pt, uint64_t va, bool alloc)
{
    if (va >= USER_TOP)
        return NULL;
    uint64_t *t = pt;
    for (int level = 2; level > 0; level--) {
        uint64_t *e = &t[vpn(va, level)];
        if (!(*e & PTE_V)) {
            if (!alloc)
                return NULL;
            uint64_t *n = page_alloc();         /* zeroed */
            if (!n)
                return NULL;
            atomic_fetch_add_explicit(&pt_pages, 1, memory_order_relaxed);
            /* the zeroing is visible before the link (other harts walk) */
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
            *e = PA_PTE(va_to_pa(n)) | PTE_V;
        } else if (*e & PTE_RWX) {
            return NULL;                        /* a superpage: not ours */
        }
        t = pte_next(*e);
    }
    return &t[vpn(va, 0)];
}

/* The level-0 slot for user address va; missing tables are allocated if
 * alloc.  NULL: not a user address, no table (or no memory).  Both upper
 * levels present is the common case (fork and exit walk every page): it
 * took 77 instructions a call through the general loop, most of them
 * saving registers for a page_alloc call that never came. */
static inline uint64_t *walk(uint64_t *pt, uint64_t va, bool alloc)
{
    if (va < USER_TOP) {
        uint64_t e2 = pt[vpn(va, 2)];
        if ((e2 & (PTE_V | PTE_RWX)) == PTE_V) {
            uint64_t e1 = pte_next(e2)[vpn(va, 1)];
            if ((e1 & (PTE_V | PTE_RWX)) == PTE_V)
                return &pte_next(e1)[vpn(va, 0)];
        }
    }
    return walk_slow(pt, va, alloc);
}

size_t pt_page_count(void) { return (size_t)atomic_load_explicit(&pt_pages, memory_order_relaxed); }

static void pt_page_free(void *p)
{
    atomic_fetch_sub_explicit(&pt_pages, 1, memory_order_relaxed);
    page_free(p);
}

/* ---- root tables still loaded on some hart ------------------------------ */

static _Atomic(uint64_t *) hart_root[MAX_HARTS];  /* NULL: the kernel table */
static struct spinlock retire_lock = SPINLOCK_INIT("pt_retire");
static uint64_t *retired;                       /* linked through entry 0 */

static bool loaded_somewhere(const uint64_t *pt)
{
    for (unsigned i = 0; i < MAX_HARTS; i++)
        if (atomic_load(&hart_root[i]) == pt)
            return true;
    return false;
}

/* Free retired roots that no hart has loaded any more. */
static void reap_retired(void)
{
    uint64_t *done = NULL;
    spin_lock(&retire_lock);
    for (uint64_t **pp = &retired; *pp;) {
        uint64_t *pt = *pp;
        if (!loaded_somewhere(pt)) {
            *pp = (uint64_t *)pt[0];
            pt[0] = (uint64_t)done;
            done = pt;
        } else {
            pp = (uint64_t **)&pt[0];
        }
    }
    spin_unlock(&retire_lock);
    while (done) {
        uint64_t *next = (uint64_t *)done[0];
        pt_page_free(done);
        done = next;
    }
}

/* ---- the interface -------------------------------------------------------- */

uint64_t *pt_create(void)
{
    /* A retired root is reused first: it may still be loaded on an idle
     * hart, but only its kernel half matters there, and that is the same
     * in every root.  (The hart reloads satp and flushes before it runs
     * user code in any address space, this one included.) */
    uint64_t *pt = NULL;
    spin_lock(&retire_lock);
    if (retired) {
        pt = retired;
        retired = (uint64_t *)pt[0];
    }
    spin_unlock(&retire_lock);
    if (pt) {
        pt[0] = 0;
        return pt;
    }
    pt = page_alloc();
    if (!pt)
        return NULL;
    atomic_fetch_add_explicit(&pt_pages, 1, memory_order_relaxed);
    memcpy(&pt[KERNEL_FIRST], &boot_pagetable[KERNEL_FIRST],
           (PT_ENTRIES - KERNEL_FIRST) * sizeof(uint64_t));
    return pt;
}

void pt_destroy(uint64_t *pt)
{
    if (!pt)
        return;
    for (unsigned i = 0; i < KERNEL_FIRST; i++) {
        uint64_t e2 = pt[i];
        pt[i] = 0;
        if (!pte_table(e2))
            continue;
        uint64_t *l1 = pte_next(e2);
        for (unsigned j = 0; j < PT_ENTRIES; j++)
            if (pte_table(l1[j]))
                pt_page_free(pte_next(l1[j]));
        pt_page_free(l1);
    }
    /* The root: never free it under a hart that is running through it. */
    unsigned me = this_hart()->index;
    if (atomic_load(&hart_root[me]) == pt)
        pt_activate(NULL);
    bool keep;
    spin_lock(&retire_lock);
    keep = loaded_somewhere(pt);
    if (keep) {
        pt[0] = (uint64_t)retired;      /* V clear: not a valid PTE */
        retired = pt;
    }
    spin_unlock(&retire_lock);
    if (!keep) {
        pt_page_free(pt);
        return;
    }
    /* A hart that has it loaded may already sleep in wfi: wake it, so
     * that it looks again before it sleeps (pt_idle) and the page goes
     * back now.  A hart that is running will load another root soon. */
    for (unsigned i = 0; i < nharts; i++)
        if (i != me && atomic_load(&hart_root[i]) == pt)
            arch_send_ipi(i);
}

int pt_map(uint64_t *pt, uint64_t va, uint64_t pa, uint32_t prot)
{
    if (va >= USER_TOP || (va & (PAGE_SIZE - 1)) || (pa & (PAGE_SIZE - 1)))
        return -EINVAL;
    uint64_t *e = walk(pt, va, true);
    if (!e)
        return -ENOMEM;
    *e = leaf_pte(pa, prot);            /* replaces any previous mapping */
    return 0;
}

uint64_t pt_unmap(uint64_t *pt, uint64_t va)
{
    uint64_t *e = walk(pt, va & ~(PAGE_SIZE - 1), false);
    if (!e || !pte_present(*e))
        return 0;
    uint64_t pa = PTE_PA(*e);
    *e = 0;
    return pa;
}

uint64_t pt_lookup(uint64_t *pt, uint64_t va, uint32_t *prot)
{
    uint64_t *e = walk(pt, va & ~(PAGE_SIZE - 1), false);
    if (!e || !pte_present(*e) || ((*e & PTE_V) && !(*e & PTE_U)))
        return 0;
    if (prot)
        *prot = pte_prot(*e);
    return PTE_PA(*e);
}

int pt_protect(uint64_t *pt, uint64_t va, uint32_t prot)
{
    uint64_t *e = walk(pt, va & ~(PAGE_SIZE - 1), false);
    if (!e || !pte_present(*e))
        return -EFAULT;
    *e = leaf_pte(PTE_PA(*e), prot);
    return 0;
}

/* pt_next's search; *slot: the found page's level-0 entry. */
static inline uint64_t next_slot(uint64_t *pt, uint64_t va, uint64_t end, const uint64_t **slot)
{
    const uint64_t giga = 1UL << 30, mega2 = 1UL << 21;
    va &= ~(PAGE_SIZE - 1);
    if (end > USER_TOP)
        end = USER_TOP;
    while (va < end) {
        uint64_t e2 = pt[vpn(va, 2)];
        if (!pte_table(e2)) {
            va = (va | (giga - 1)) + 1;
            continue;
        }
        uint64_t e1 = pte_next(e2)[vpn(va, 1)];
        if (!pte_table(e1)) {
            va = (va | (mega2 - 1)) + 1;
            continue;
        }
        /* scan this table up to its end or `end`, one bound per entry
         * (fork and exit call this for every present page) */
        const uint64_t *e = &pte_next(e1)[vpn(va, 0)];
        uint64_t stop = (va | (mega2 - 1)) + 1;
        if (stop > end)
            stop = end;
        for (; va < stop; va += PAGE_SIZE, e++)
            if (pte_present(*e)) {
                *slot = e;
                return va;
            }
    }
    return end;
}

uint64_t pt_next(uint64_t *pt, uint64_t va, uint64_t end)
{
    const uint64_t *e;
    return next_slot(pt, va, end, &e);
}

uint64_t pt_next_leaf(uint64_t *pt, uint64_t va, uint64_t end, uint64_t *pa, uint32_t *prot)
{
    const uint64_t *e;
    if (end > USER_TOP)
        end = USER_TOP;
    va = next_slot(pt, va, end, &e);
    *pa = 0;
    if (va < end && !((*e & PTE_V) && !(*e & PTE_U))) {    /* pt_lookup's tests */
        *prot = pte_prot(*e);
        *pa = PTE_PA(*e);
    }
    return va;
}

void pt_activate(uint64_t *pt)
{
    uint64_t *root = pt ? pt : boot_pagetable;
    csr_write(satp, SATP_SV39 | (va_to_pa(root) >> PAGE_SHIFT));
    __asm__ volatile("sfence.vma" ::: "memory");
    /* Only now that satp has moved may the old root be freed.  A peek
     * at the list first: at a switch between processes it is almost
     * always empty, and the lock cost a quarter of the switch.  A root
     * that a pt_destroy on another hart retires just after the peek
     * (because it saw our old root) is freed at the next switch anywhere,
     * or reused by pt_create before that. */
    uint64_t *old = atomic_exchange(&hart_root[this_hart()->index], pt);
    if (old && old != pt && __atomic_load_n(&retired, __ATOMIC_RELAXED))
        reap_retired();
}

/* A hart about to wait in wfi lets go of a root retired under it (its
 * address space is gone), so the page goes back now, not whenever the
 * hart next enters user mode: the free count then reads the same
 * whichever hart ran the last process (before and after a test). */
void pt_idle(void)
{
    uint64_t *mine = atomic_load(&hart_root[this_hart()->index]);
    if (!mine || !__atomic_load_n(&retired, __ATOMIC_RELAXED))
        return;
    bool dead = false;
    spin_lock(&retire_lock);
    for (uint64_t *pt = retired; pt && !dead; pt = (uint64_t *)pt[0])
        dead = pt == mine;
    spin_unlock(&retire_lock);
    if (dead)
        pt_activate(NULL);
}

void pt_flush(void)
{
    __asm__ volatile("sfence.vma" ::: "memory");
}
