/*
 * csr.h - RISC-V control and status registers, as inline helpers.
 */
#pragma once
#include <stdint.h>

#define SSTATUS_SIE  (1UL << 1)
#define SSTATUS_SPIE (1UL << 5)
#define SSTATUS_SPP  (1UL << 8)
#define SSTATUS_FS   (3UL << 13)
#define SSTATUS_FS_OFF     (0UL << 13)
#define SSTATUS_FS_INITIAL (1UL << 13)
#define SSTATUS_FS_CLEAN   (2UL << 13)
#define SSTATUS_FS_DIRTY   (3UL << 13)
#define SSTATUS_SUM  (1UL << 18)

#define SIE_SSIE (1UL << 1)
#define SIE_STIE (1UL << 5)
#define SIE_SEIE (1UL << 9)
#define SIP_SSIP (1UL << 1)

#define SCAUSE_INTR (1UL << 63)
#define IRQ_S_SOFT  1
#define IRQ_S_TIMER 5
#define IRQ_S_EXT   9

#define EXC_INST_MISALIGNED 0
#define EXC_INST_ACCESS     1
#define EXC_ILLEGAL         2
#define EXC_BREAKPOINT      3
#define EXC_LOAD_MISALIGNED 4
#define EXC_LOAD_ACCESS     5
#define EXC_STORE_MISALIGNED 6
#define EXC_STORE_ACCESS    7
#define EXC_ECALL_U         8
#define EXC_INST_PAGE       12
#define EXC_LOAD_PAGE       13
#define EXC_STORE_PAGE      15

#define csr_read(csr) ({ uint64_t __v; \
    __asm__ volatile("csrr %0, " #csr : "=r"(__v) :: "memory"); __v; })
#define csr_write(csr, val) ({ uint64_t __v = (uint64_t)(val); \
    __asm__ volatile("csrw " #csr ", %0" :: "rK"(__v) : "memory"); })
#define csr_set(csr, val) ({ uint64_t __v = (uint64_t)(val); \
    __asm__ volatile("csrs " #csr ", %0" :: "rK"(__v) : "memory"); })
#define csr_clear(csr, val) ({ uint64_t __v = (uint64_t)(val); \
    __asm__ volatile("csrc " #csr ", %0" :: "rK"(__v) : "memory"); })

/* stimecmp (Sstc), CSR 0x14d: our binutils may not know the name. */
static inline void csr_write_stimecmp(uint64_t v) {
    __asm__ volatile("csrw 0x14d, %0" :: "r"(v) : "memory");
}
static inline uint64_t rdtime(void) {
    uint64_t v; __asm__ volatile("rdtime %0" : "=r"(v)); return v;
}
static inline uint64_t rdinstret(void) {
    uint64_t v; __asm__ volatile("rdinstret %0" : "=r"(v)); return v;
}
