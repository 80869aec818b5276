/*
 * arch.c - the RISC-V side of include/arch.h: interrupt masking, time,
 * the timer (Sstc stimecmp), IPIs and hart start-up (SBI), power-off
 * (QEMU's test device), backtraces.
 */
#include "arch.h"
#include "csr.h"
#include "dev/fdt.h"
#include "core/hart.h"
#include "layout.h"
#include "machine.h"
#include "lib/printk.h"
#include "mem/mm.h"
#include "sbi.h"

struct hart *arch_this_hart(void)
{
    struct hart *h;
    __asm__ volatile("mv %0, tp" : "=r"(h));
    return h;
}

void arch_set_this_hart(struct hart *h)
{
    __asm__ volatile("mv tp, %0" :: "r"(h));
}

bool arch_irq_disable(void)
{
    uint64_t s;
    __asm__ volatile("csrrci %0, sstatus, 2" : "=r"(s) :: "memory");
    return s & SSTATUS_SIE;
}

void arch_irq_restore(bool on)
{
    if (on)
        csr_set(sstatus, SSTATUS_SIE);
}

void arch_irq_enable(void) { csr_set(sstatus, SSTATUS_SIE); }

void arch_wait_for_interrupt(void)
{
    pt_idle();
    /* Interrupts are masked: a pending one still ends the wfi, and is
     * taken when the caller unmasks. */
    __asm__ volatile("wfi" ::: "memory");
}

uint64_t arch_time(void) { return rdtime(); }
uint64_t arch_timebase(void) { return machine.timebase_freq ? machine.timebase_freq : 10000000; }
uint64_t arch_instret(void) { return rdinstret(); }

void arch_timer_program(uint64_t deadline)
{
    csr_write_stimecmp(deadline);
}

void arch_send_ipi(unsigned index)
{
    sbi_send_ipi(1UL, harts[index].hartid);
}

extern char _start_secondary[];
extern _Atomic uint32_t harts_ready;    /* entry.S: early harts wait on it */

void arch_harts_ready(void)
{
    atomic_store(&harts_ready, 1);
}

void arch_start_harts(void)
{
    uint64_t entry = va_to_pa(_start_secondary);
    for (unsigned i = 0; i < nharts; i++) {
        if (harts[i].hartid == this_hart()->hartid)
            continue;
        if (atomic_load(&harts[i].online))
            continue;
        long err = sbi_hart_start(harts[i].hartid, entry, 0);
        if (err == -6)          /* SBI_ERR_ALREADY_AVAILABLE: it came by itself (entry.S) */
            continue;
        if (err)
            printk("hart %u: start failed (sbi error %ld)\n", harts[i].hartid, err);
    }
}

void arch_poweroff(int code)
{
    if (machine.test_base) {
        volatile uint32_t *test = pa_to_va(machine.test_base);
        *test = code == 0 ? 0x5555 : (0x3333 | ((uint32_t)code << 16));
    }
    sbi_shutdown();
    for (;;)
        __asm__ volatile("wfi");
}

void arch_reboot(void)
{
    sbi_cold_reboot();
    arch_poweroff(5);           /* no SRST: better off than hung */
}

extern char hart_stacks[];

void arch_backtrace(uint64_t fp)
{
    uint64_t lo = (uint64_t)hart_stacks, hi = lo + (uint64_t)HART_STACK_SIZE * MAX_HARTS;
    printk("backtrace:\n");
    for (int depth = 0; depth < 32; depth++) {
        if (fp < lo + 16 || fp > hi || (fp & 7))
            break;
        uint64_t ra = ((uint64_t *)fp)[-1];
        uint64_t prev = ((uint64_t *)fp)[-2];
        if (ra == 0)
            break;
        printk("  #%d 0x%lx\n", depth, ra - 4);
        if (prev <= fp)
            break;
        fp = prev;
    }
}

/* Per-hart trap set-up: vector, sscratch, counters, interrupt enables. */
extern char trap_vector[];
void arch_hart_init(void)
{
    csr_write(stvec, (uint64_t)trap_vector);
    csr_write(sscratch, 0);
    csr_write(scounteren, 7);            /* user may read cycle, time, instret */
    csr_write_stimecmp(UINT64_MAX);
    csr_write(sie, SIE_SSIE | SIE_STIE | SIE_SEIE);
}
