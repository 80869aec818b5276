/*
 * arch.h - what the portable kernel (src/) asks of the architecture.
 * arch/riscv/ implements it; nothing in src/ touches a CSR directly.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* Interrupt mask on this hart. */
bool arch_irq_disable(void);            /* returns whether they were on */
void arch_irq_restore(bool on);
void arch_irq_enable(void);
/* Sleep until an interrupt is pending; call with interrupts masked. */
void arch_wait_for_interrupt(void);
static inline void arch_relax(void) { __asm__ volatile("nop"); }
/* Order memory writes before a device register write (an MMIO doorbell). */
static inline void arch_io_fence(void) { __asm__ volatile("fence iorw, iorw" ::: "memory"); }

uint64_t arch_time(void);               /* timer ticks since boot */
uint64_t arch_timebase(void);           /* ticks per second */
uint64_t arch_instret(void);            /* instructions retired on this hart */
void arch_timer_program(uint64_t deadline);   /* this hart; UINT64_MAX: none */

void arch_send_ipi(unsigned hart_index);
void arch_start_harts(void);            /* boot hart starts the others */
void arch_harts_ready(void);            /* harts[] is filled in */

/* End QEMU: 0 = pass, else failure code.  Falls back to SBI reset. */
__attribute__((noreturn)) void arch_poweroff(int code);
/* Restart the machine from its firmware (a cold reset; QEMU boots again). */
__attribute__((noreturn)) void arch_reboot(void);

/* Symbolizable backtrace of the current frame chain. */
void arch_backtrace(uint64_t fp);

static inline uint64_t time_ms(uint64_t ms) { return ms * arch_timebase() / 1000; }
static inline uint64_t time_us(uint64_t us) { return us * arch_timebase() / 1000000; }

/* Route device interrupt `irq` to this hart and call fn (top half) on it. */
void arch_irq_attach(unsigned irq, void (*fn)(void));
