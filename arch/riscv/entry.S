/*
 * entry.S - where each hart starts, from OpenSBI, in S-mode with paging
 * off: a0 = hart id, a1 = device tree (boot hart) or opaque (others).
 *
 * Turn on Sv39 with boot_pagetable (the kernel's upper-half map plus an
 * identity gigapage for the jump), move to the upper half, take this
 * hart's stack and call into C.  Nothing here touches memory through an
 * absolute address before paging is on: `la` is PC-relative (medany).
 */
#include "layout.h"

    .section .text.boot
    .globl _start
_start:
    csrw sie, zero
    /* Only one hart may boot.  Should firmware ever send a second one
     * here, it waits (no stack, no .bss yet) until the boot hart has set
     * up the hart table, then joins as a secondary. */
    la t0, boot_claimed
    li t1, 1
    amoswap.w.aq t1, t1, (t0)
    beqz t1, 0f
    la t0, harts_ready
1:  lw t1, 0(t0)
    beqz t1, 1b
    fence r, rw
    li s2, 0
    j paging_on
0:
    /* clear .bss (boot hart only, before anything uses it) */
    la t0, __bss_start      /* PC-relative: the physical addresses */
    la t1, __bss_end
1:  bgeu t0, t1, 2f
    sd zero, 0(t0)
    addi t0, t0, 8
    j 1b
2:  li s2, 1                /* boot hart */
    j paging_on

    .globl _start_secondary
_start_secondary:           /* sbi_hart_start target: a1 = opaque (unused) */
    csrw sie, zero
    li s2, 0

paging_on:
    mv s3, a0               /* hart id (not s0: that is fp) */
    mv s1, a1               /* dtb */
    la t0, boot_pagetable   /* PC-relative: physical address here */
    srli t0, t0, 12
    li t1, (8 << 60)        /* satp.MODE = Sv39 */
    or t0, t0, t1
    sfence.vma
    csrw satp, t0
    sfence.vma
    la t0, upper_half
    li t1, KERNEL_VOFF
    add t0, t0, t1
    jr t0
upper_half:
    /* now PC-relative addresses are upper-half ones */
    la sp, hart_stacks
    addi t0, s3, 1
    li t1, HART_STACK_SIZE
    mul t0, t0, t1
    add sp, sp, t0
    mv fp, zero             /* the end of every backtrace */
    mv a0, s3
    mv a1, s1
    beqz s2, 3f
    call kmain
    j halt
3:  call secondary_main
halt:
    wfi
    j halt

/*
 * Gigapage PTEs: V R W X A D (+G).  Index 2 maps VA 0x80000000 to itself
 * (only for the jump above); indexes 256.. map KERNEL_VOFF + n GiB to
 * physical n GiB.
 */
#define GIGA_PTE(pa) (((pa) >> 12) << 10 | 0xef)
    .section .data
    .balign 4
boot_claimed:
    .word 0
    .globl harts_ready
harts_ready:                /* set by kmain once harts[] is filled in */
    .word 0

    .balign 4096
    .globl boot_pagetable
boot_pagetable:
    .quad 0
    .quad 0
    .quad GIGA_PTE(0x80000000)
    .fill 253, 8, 0
    .quad GIGA_PTE(0x00000000)
    .quad GIGA_PTE(0x40000000)
    .quad GIGA_PTE(0x80000000)
    .quad GIGA_PTE(0xc0000000)
    .quad GIGA_PTE(0x100000000)
    .quad GIGA_PTE(0x140000000)
    .quad GIGA_PTE(0x180000000)
    .quad GIGA_PTE(0x1c0000000)
    .fill 248, 8, 0

    .section .bss.stack, "aw", @nobits
    .balign 16
    .globl hart_stacks
hart_stacks:
    .space HART_STACK_SIZE * 16
