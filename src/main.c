/*
 * main.c - boot: read the device tree, set up memory, the console and
 * one executor per hart, start the other harts, spawn the first tasks.
 */
#include "arch.h"
#include "dev/console.h"
#include "core/chaos.h"
#include "core/executor.h"
#include "dev/fdt.h"
#include "core/hart.h"
#include "fs/initrd.h"
#include "dev/blk.h"
#include "lib/klib.h"
#include "mem/kmalloc.h"
#include "layout.h"
#include "machine.h"
#include "mem/page_alloc.h"
#include "lib/printk.h"
#include "instruments/trace.h"
#include "instruments/monitor.h"

struct fdt_info machine;
struct hart harts[MAX_HARTS];
unsigned nharts;
static _Atomic unsigned harts_up;

void arch_set_this_hart(struct hart *h);
void arch_hart_init(void);
void monitor_start(void);
void ktest_start(bool exit_after);
void bench_start(void);
void userland_start(void);

extern char __kernel_end[];

/* Walk the bootargs word by word; fn returns true to stop. */
static const char *bootarg_find(bool (*match)(const char *w, size_t n, const char *key), const char *key)
{
    for (const char *p = machine.bootargs; *p;) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if (e > p && match(p, e - p, key))
            return p;
        p = e;
    }
    return NULL;
}

static bool is_word(const char *w, size_t n, const char *key)
{
    return n == strlen(key) && !strncmp(w, key, n);
}

static bool is_assignment(const char *w, size_t n, const char *key)
{
    size_t k = strlen(key);
    return n > k && !strncmp(w, key, k) && w[k] == '=';
}

bool bootarg_has(const char *word)
{
    return bootarg_find(is_word, word) != NULL;
}

const char *bootarg_value(const char *key)
{
    static char val[64];
    const char *w = bootarg_find(is_assignment, key);
    if (!w)
        return NULL;
    w += strlen(key) + 1;
    size_t n = 0;
    while (w[n] && w[n] != ' ' && n < sizeof val - 1)
        n++;
    memcpy(val, w, n);
    val[n] = 0;
    return val;
}

static uint64_t decimal(const char *v)
{
    uint64_t n = 0;
    while (*v >= '0' && *v <= '9')
        n = n * 10 + (uint64_t)(*v++ - '0');
    return n;
}

static void apply_policy_bootargs(void)
{
    const char *v;
    if ((v = bootarg_value("steal")))
        sched.steal = strcmp(v, "off") != 0;
    if ((v = bootarg_value("sched")))
        sched.priority = strcmp(v, "fifo") != 0;
    if ((v = bootarg_value("wake")))
        sched.wake_local = strcmp(v, "local") == 0;
    counter_is_icount = bootarg_has("icount");
    if ((v = bootarg_value("chaos")))
        chaos_init(decimal(v));
    if (bootarg_has("trace")) {
        trace_alloc_rings();
        trace_on = true;
    }
}

/* Called from entry.S on the boot hart, paging on, on hart_stacks[id]. */
void kmain(unsigned long hartid, uint64_t dtb_pa)
{
    static struct hart boot_hart;
    boot_hart.hartid = hartid;
    arch_set_this_hart(&boot_hart);     /* spinlocks need a hart before we know the rest */

    int err = fdt_parse(pa_to_va(dtb_pa), &machine);
    if (err) {
        /* nothing is known about the machine; QEMU virt's UART is the best guess */
        machine.uart_base = 0x10000000;
        console_write_kernel("pollux: bad device tree\n", 24);
        arch_poweroff(4);
    }

    nharts = MIN((unsigned)machine.nharts, MAX_HARTS);
    unsigned me = 0;
    for (unsigned i = 0; i < nharts; i++) {
        harts[i].index = i;
        harts[i].hartid = machine.hart_ids[i];
        executor_init_hart(&harts[i]);
        if (machine.hart_ids[i] == hartid)
            me = i;
    }
    arch_set_this_hart(&harts[me]);
    arch_hart_init();
    arch_harts_ready();         /* a hart that came early may join now */

    /* Memory: keep the initrd by moving it down next to the kernel
     * image; everything above it is free. */
    uint64_t free_pa = ALIGN_UP(va_to_pa(__kernel_end), PAGE_SIZE);
    if (machine.initrd_start && machine.initrd_end > machine.initrd_start) {
        uint64_t len = machine.initrd_end - machine.initrd_start;
        memmove(pa_to_va(free_pa), pa_to_va(machine.initrd_start), len);
        initrd_set(pa_to_va(free_pa), len);
        free_pa = ALIGN_UP(free_pa + len, PAGE_SIZE);
    }
    uint64_t mem_end = machine.mem_base + machine.mem_size;
    page_alloc_init((uintptr_t)pa_to_va(free_pa), (uintptr_t)pa_to_va(mem_end));

    console_init(machine.uart_base, machine.uart_irq);
    virtio_blk_probe();
    apply_policy_bootargs();

    struct page_stats ps;
    page_get_stats(&ps);
    printk("\nPollux: %u harts, %lu MiB memory (%lu KiB free), bootargs \"%s\"\n",
           nharts, machine.mem_size >> 20, ps.free_pages * PAGE_SIZE / 1024, machine.bootargs);

    harts[me].online_at = arch_time();
    atomic_store(&harts[me].online, true);
    atomic_fetch_add(&harts_up, 1);
    arch_start_harts();

    if (bootarg_has("ktest"))
        ktest_start(true);
    else if (bootarg_has("bench"))
        bench_start();
    else
        userland_start();
    executor_run();
}

/* Called from entry.S on every other hart. */
void secondary_main(unsigned long hartid)
{
    struct hart *h = NULL;
    for (unsigned i = 0; i < nharts; i++)
        if (harts[i].hartid == hartid)
            h = &harts[i];
    if (!h)
        for (;;)
            arch_wait_for_interrupt();
    arch_set_this_hart(h);
    arch_hart_init();
    h->online_at = arch_time();
    atomic_store(&h->online, true);
    atomic_fetch_add(&harts_up, 1);
    executor_run();
}

unsigned harts_online(void) { return atomic_load(&harts_up); }
