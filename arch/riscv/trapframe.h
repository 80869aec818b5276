/*
 * trapframe.h - the saved register set.  x1..x31 sit at 8*n so the
 * assembly reads like the register numbers.  The same layout serves a
 * kernel-mode trap (on the hart stack) and a user thread's registers
 * (inside its struct thread).
 */
#pragma once
#define TF_SEPC    (32 * 8)
#define TF_SSTATUS (33 * 8)
#define TF_STVAL   (34 * 8)
#define TF_SCAUSE  (35 * 8)
#define TF_KSP     (36 * 8)   /* user frames: hart sp inside user_switch */
#define TF_SIZE    (38 * 8)   /* 16-byte aligned */

#ifndef __ASSEMBLER__
#include <stdint.h>
struct trapframe {
    uint64_t x[32];           /* x[0] unused; x[2] = sp, x[10] = a0 ... */
    uint64_t sepc, sstatus, stval, scause, ksp, pad;
};
_Static_assert(sizeof(struct trapframe) == TF_SIZE, "trapframe layout");
enum { REG_RA = 1, REG_SP = 2, REG_GP = 3, REG_TP = 4, REG_T0 = 5,
       REG_S0 = 8, REG_A0 = 10, REG_A1, REG_A2, REG_A3, REG_A4, REG_A5,
       REG_A6, REG_A7 };

/* Enter user mode with tf's registers; returns scause at the next trap. */
uint64_t user_switch(struct trapframe *tf);
#endif
