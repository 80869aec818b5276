/*
 * plic.c - the platform-level interrupt controller: route a device's
 * interrupt to one hart's S-mode context, claim and complete.
 */
#include "core/hart.h"
#include "layout.h"
#include "machine.h"
#include "plic.h"

static volatile uint32_t *plic_reg(uint64_t off)
{
    return pa_to_va(machine.plic_base + off);
}

/* On QEMU virt, hart h's S-mode context is 2h + 1. */
static unsigned ctx_of(unsigned hartid) { return 2 * hartid + 1; }

void plic_enable(unsigned irq, unsigned hartid)
{
    *plic_reg(4 * irq) = 1;
    unsigned ctx = ctx_of(hartid);
    *plic_reg(0x2000 + 0x80 * ctx + 4 * (irq / 32)) |= 1u << (irq % 32);
    *plic_reg(0x200000 + 0x1000 * ctx) = 0;
}

unsigned plic_claim(unsigned hartid)
{
    return *plic_reg(0x200004 + 0x1000 * ctx_of(hartid));
}

void plic_complete(unsigned hartid, unsigned irq)
{
    *plic_reg(0x200004 + 0x1000 * ctx_of(hartid)) = irq;
}
