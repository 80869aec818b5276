/*
 * trapvec.S - the only full register save/restore in the kernel.
 *
 * sscratch is 0 while the hart runs kernel code and points at the
 * running thread's trapframe while it runs user code.
 *
 * From user mode, trap_vector saves the user registers into that
 * trapframe, takes back the hart stack saved by user_switch and returns
 * *from user_switch* with scause in a0: the enter_user future's poll
 * sees the trap as the return value of the call that entered user mode.
 *
 *   hart stack inside user_switch (grows down):
 *
 *      +-----------+  <- sp before the call
 *      | tp        |  104
 *      | s11 .. s0 |  8 .. 96
 *      | ra        |  0   <- sp saved in tf->ksp
 *      +-----------+
 *
 * From kernel mode (an interrupt during a poll or in wfi), it builds a
 * struct trapframe on the hart stack, calls kernel_trap() and returns.
 */
#include "trapframe.h"

    .section .text
    .balign 4
    .globl trap_vector
trap_vector:
    csrrw sp, sscratch, sp          /* sp = trapframe (user) or 0 (kernel) */
    bnez sp, from_user
    csrrw sp, sscratch, sp          /* back: sp = kernel sp, sscratch = 0 */

    /* ---- trap in kernel mode: frame on the hart stack ---- */
    addi sp, sp, -TF_SIZE
    sd x1, 8(sp)
    sd x3, 24(sp)
    sd x4, 32(sp)
    sd x5, 40(sp)
    sd x6, 48(sp)
    sd x7, 56(sp)
    sd x8, 64(sp)
    sd x9, 72(sp)
    sd x10, 80(sp)
    sd x11, 88(sp)
    sd x12, 96(sp)
    sd x13, 104(sp)
    sd x14, 112(sp)
    sd x15, 120(sp)
    sd x16, 128(sp)
    sd x17, 136(sp)
    sd x18, 144(sp)
    sd x19, 152(sp)
    sd x20, 160(sp)
    sd x21, 168(sp)
    sd x22, 176(sp)
    sd x23, 184(sp)
    sd x24, 192(sp)
    sd x25, 200(sp)
    sd x26, 208(sp)
    sd x27, 216(sp)
    sd x28, 224(sp)
    sd x29, 232(sp)
    sd x30, 240(sp)
    sd x31, 248(sp)
    addi t0, sp, TF_SIZE
    sd t0, 16(sp)                   /* the interrupted sp */
    csrr t0, sepc
    sd t0, TF_SEPC(sp)
    csrr t0, sstatus
    sd t0, TF_SSTATUS(sp)
    csrr t0, stval
    sd t0, TF_STVAL(sp)
    csrr t0, scause
    sd t0, TF_SCAUSE(sp)
    mv a0, sp
    call kernel_trap
    ld t0, TF_SEPC(sp)
    csrw sepc, t0
    ld t0, TF_SSTATUS(sp)
    csrw sstatus, t0
    ld x1, 8(sp)
    ld x3, 24(sp)
    ld x4, 32(sp)
    ld x5, 40(sp)
    ld x6, 48(sp)
    ld x7, 56(sp)
    ld x8, 64(sp)
    ld x9, 72(sp)
    ld x10, 80(sp)
    ld x11, 88(sp)
    ld x12, 96(sp)
    ld x13, 104(sp)
    ld x14, 112(sp)
    ld x15, 120(sp)
    ld x16, 128(sp)
    ld x17, 136(sp)
    ld x18, 144(sp)
    ld x19, 152(sp)
    ld x20, 160(sp)
    ld x21, 168(sp)
    ld x22, 176(sp)
    ld x23, 184(sp)
    ld x24, 192(sp)
    ld x25, 200(sp)
    ld x26, 208(sp)
    ld x27, 216(sp)
    ld x28, 224(sp)
    ld x29, 232(sp)
    ld x30, 240(sp)
    ld x31, 248(sp)
    addi sp, sp, TF_SIZE
    sret

    /* ---- trap from user mode: sp = thread's trapframe ---- */
from_user:
    sd x1, 8(sp)
    sd x3, 24(sp)
    sd x4, 32(sp)                   /* user tp (TLS) */
    sd x5, 40(sp)
    sd x6, 48(sp)
    sd x7, 56(sp)
    sd x8, 64(sp)
    sd x9, 72(sp)
    sd x10, 80(sp)
    sd x11, 88(sp)
    sd x12, 96(sp)
    sd x13, 104(sp)
    sd x14, 112(sp)
    sd x15, 120(sp)
    sd x16, 128(sp)
    sd x17, 136(sp)
    sd x18, 144(sp)
    sd x19, 152(sp)
    sd x20, 160(sp)
    sd x21, 168(sp)
    sd x22, 176(sp)
    sd x23, 184(sp)
    sd x24, 192(sp)
    sd x25, 200(sp)
    sd x26, 208(sp)
    sd x27, 216(sp)
    sd x28, 224(sp)
    sd x29, 232(sp)
    sd x30, 240(sp)
    sd x31, 248(sp)
    csrr t0, sscratch               /* user sp, never trusted or used here */
    sd t0, 16(sp)
    csrw sscratch, zero             /* kernel mode from here on */
    csrr t0, sepc
    sd t0, TF_SEPC(sp)
    csrr t0, sstatus
    sd t0, TF_SSTATUS(sp)
    csrr t0, stval
    sd t0, TF_STVAL(sp)
    csrr a0, scause
    sd a0, TF_SCAUSE(sp)
    addi t1, a7, -172               /* a7 in 172..178 and EXC_ECALL_U: */
    li t2, 178 - 172                /* maybe a call that never waits */
    bgtu t1, t2, 1f                 /* (most calls leave at this test) */
    li t1, 8
    beq a0, t1, ecall_fast
1:  ld sp, TF_KSP(sp)               /* the hart stack, inside user_switch */
to_future:
    ld ra, 0(sp)
    ld s0, 8(sp)
    ld s1, 16(sp)
    ld s2, 24(sp)
    ld s3, 32(sp)
    ld s4, 40(sp)
    ld s5, 48(sp)
    ld s6, 56(sp)
    ld s7, 64(sp)
    ld s8, 72(sp)
    ld s9, 80(sp)
    ld s10, 88(sp)
    ld s11, 96(sp)
    ld tp, 104(sp)                  /* this hart's struct hart */
    addi sp, sp, 112
    ret                             /* user_switch returns scause */

    /*
     * An ecall: syscall_fast.c answers the calls that never wait, on the
     * hart stack below user_switch's frame (tp = this hart, s1 = the
     * trapframe, s0 = 0 ends a backtrace here).  Answered: back to user
     * mode with the registers as saved, a0 the result and sepc past the
     * ecall; sstatus is still the trap's (SPP = user, SPIE = 1).  Not
     * answered: on to the enter_user future as for any trap.
     */
ecall_fast:
    mv s1, sp
    ld sp, TF_KSP(sp)
    ld tp, 104(sp)
    li s0, 0
    mv a0, s1
    call syscall_fast
    bnez a0, 1f
    ld a0, TF_SCAUSE(s1)
    j to_future
1:  mv a0, s1
    ld t0, TF_SEPC(a0)
    csrw sepc, t0
    csrw sscratch, a0               /* user mode again at the sret */
    j restore_user

/*
 * uint64_t user_switch(struct trapframe *tf)
 * Called from the enter_user poll with tf->sepc and tf->sstatus ready
 * (SPP = user, SPIE = 1).  Does not return until the thread traps.
 */
    .globl user_switch
user_switch:
    addi sp, sp, -112
    sd ra, 0(sp)
    sd s0, 8(sp)
    sd s1, 16(sp)
    sd s2, 24(sp)
    sd s3, 32(sp)
    sd s4, 40(sp)
    sd s5, 48(sp)
    sd s6, 56(sp)
    sd s7, 64(sp)
    sd s8, 72(sp)
    sd s9, 80(sp)
    sd s10, 88(sp)
    sd s11, 96(sp)
    sd tp, 104(sp)
    sd sp, TF_KSP(a0)
    csrci sstatus, 2                /* SIE off: sscratch is about to say "user" */
    csrw sscratch, a0
    ld t0, TF_SEPC(a0)
    csrw sepc, t0
    ld t0, TF_SSTATUS(a0)
    csrw sstatus, t0
restore_user:                       /* a0 = trapframe, sepc and sstatus set */
    la t0, lr_dummy                 /* drop any LR reservation of another context */
    sc.d zero, zero, (t0)
    ld x1, 8(a0)
    ld x2, 16(a0)
    ld x3, 24(a0)
    ld x4, 32(a0)
    ld x5, 40(a0)
    ld x6, 48(a0)
    ld x7, 56(a0)
    ld x8, 64(a0)
    ld x9, 72(a0)
    ld x11, 88(a0)
    ld x12, 96(a0)
    ld x13, 104(a0)
    ld x14, 112(a0)
    ld x15, 120(a0)
    ld x16, 128(a0)
    ld x17, 136(a0)
    ld x18, 144(a0)
    ld x19, 152(a0)
    ld x20, 160(a0)
    ld x21, 168(a0)
    ld x22, 176(a0)
    ld x23, 184(a0)
    ld x24, 192(a0)
    ld x25, 200(a0)
    ld x26, 208(a0)
    ld x27, 216(a0)
    ld x28, 224(a0)
    ld x29, 232(a0)
    ld x30, 240(a0)
    ld x31, 248(a0)
    ld x10, 80(a0)                  /* a0 last */
    sret

    .section .bss
    .balign 8
lr_dummy:
    .space 8
