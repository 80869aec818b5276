/*
 * layout.h - the one address-space layout (design invariant 6).
 *
 *   0x0000_0000_0000_0000 .. 0x0000_003f_ffff_ffff   user (Sv39 lower half)
 *   0xffff_ffc0_0000_0000 + pa                       all physical memory
 *                                                    (the kernel image at
 *                                                    + 0x8020_0000)
 */
#pragma once
#define KERNEL_VOFF 0xffffffc000000000UL
#define HART_STACK_SIZE 16384
#define USER_TOP   0x0000004000000000UL
#ifndef __ASSEMBLER__
#include <stdint.h>
static inline void *pa_to_va(uint64_t pa) { return (void *)(pa + KERNEL_VOFF); }
static inline uint64_t va_to_pa(const void *va) { return (uint64_t)va - KERNEL_VOFF; }
#endif
