/*
 * trap.c - what a trap does once trapvec.S has saved the registers.
 *
 * Interrupts (from either mode) run a short top half on the hart stack:
 * acknowledge the device and wake tasks.  An exception in kernel mode is
 * a kernel bug: panic with the registers and a backtrace.  Exceptions
 * from user mode never come here; they return from user_switch to the
 * thread's future (src/proc/thread.c).
 */
#include "arch.h"
#include "csr.h"
#include "core/hart.h"
#include "plic.h"
#include "lib/printk.h"
#include "core/timer.h"
#include "trapframe.h"
#include "trap.h"

#define MAX_IRQ 64
static void (*irq_handlers[MAX_IRQ])(void);

void arch_irq_attach(unsigned irq, void (*fn)(void))
{
    if (irq >= MAX_IRQ)
        return;
    irq_handlers[irq] = fn;
    plic_enable(irq, this_hart()->hartid);
}

/* Top half for interrupt `scause`; interrupts are masked. */
void irq_dispatch(uint64_t scause)
{
    struct hart *h = this_hart();
    h->irqs++;
    switch (scause & ~SCAUSE_INTR) {
    case IRQ_S_TIMER:
        timer_interrupt();
        break;
    case IRQ_S_SOFT:
        csr_clear(sip, SIP_SSIP);   /* the executor loop looks at its queue */
        h->ipis_recv++;
        break;
    case IRQ_S_EXT: {
        unsigned irq = plic_claim(h->hartid);
        if (irq && irq < MAX_IRQ && irq_handlers[irq])
            irq_handlers[irq]();
        if (irq)
            plic_complete(h->hartid, irq);
        break;
    }
    default:
        break;
    }
}

static const char *exception_names[] = {
    [EXC_INST_MISALIGNED] = "instruction address misaligned",
    [EXC_INST_ACCESS] = "instruction access fault",
    [EXC_ILLEGAL] = "illegal instruction",
    [EXC_BREAKPOINT] = "breakpoint",
    [EXC_LOAD_MISALIGNED] = "load address misaligned",
    [EXC_LOAD_ACCESS] = "load access fault",
    [EXC_STORE_MISALIGNED] = "store address misaligned",
    [EXC_STORE_ACCESS] = "store access fault",
    [EXC_ECALL_U] = "environment call from U-mode",
    [9] = "environment call from S-mode",
    [EXC_INST_PAGE] = "instruction page fault",
    [EXC_LOAD_PAGE] = "load page fault",
    [EXC_STORE_PAGE] = "store page fault",
};

const char *trap_cause_name(uint64_t scause)
{
    uint64_t code = scause & ~SCAUSE_INTR;
    if (scause & SCAUSE_INTR)
        return code == IRQ_S_TIMER ? "timer interrupt" : code == IRQ_S_SOFT ? "software interrupt" : "external interrupt";
    if (code < sizeof exception_names / sizeof exception_names[0] && exception_names[code])
        return exception_names[code];
    return "unknown exception";
}

static const char *regnames[32] = {
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
    "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
};

void trap_dump(const struct trapframe *tf)
{
    for (int i = 1; i < 32; i++)
        printk("%4s=%016lx%s", regnames[i], tf->x[i], i % 4 == 3 ? "\n" : " ");
    printk("\n");
}

/* Called from trapvec.S for every trap taken in kernel mode. */
void kernel_trap(struct trapframe *tf)
{
    if (tf->scause & SCAUSE_INTR) {
        irq_dispatch(tf->scause);
        return;
    }
    panic_begin();
    printk("\n*** KERNEL PANIC on hart %u: %s\n", this_hart()->index, trap_cause_name(tf->scause));
    printk("scause=0x%lx sepc=0x%lx stval=0x%lx\n", tf->scause, tf->sepc, tf->stval);
    trap_dump(tf);
    printk("  #pc 0x%lx\n", tf->sepc);
    arch_backtrace(tf->x[REG_S0]);
    panic_end();
}
