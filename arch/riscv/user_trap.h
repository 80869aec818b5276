/*
 * user_trap.h - what a trap from user mode means, in portable terms,
 * and the user register conventions (arch/riscv/enter_user.c).
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "core/future.h"

struct thread;
struct mm;

enum user_trap_kind { UT_INTERRUPT, UT_SYSCALL, UT_PAGE_FAULT, UT_FP_FIRST_USE, UT_FATAL };

struct user_trap {
    enum user_trap_kind kind;
    uint32_t access;            /* page fault: PROT_READ/WRITE/EXEC */
    int signal;                 /* UT_FATAL: the signal that ends the process */
    uint64_t addr, pc;          /* stval, sepc */
};

enum poll enter_user(struct thread *th, struct cx *cx);
void user_trap_decode(struct thread *th, struct user_trap *t);
const char *user_trap_name(struct thread *th);
void user_trap_irq(struct thread *th);
bool user_slice_expired(void);
int user_fp_enable(struct thread *th);
void user_fp_release(struct thread *th);
void user_fp_reload(struct thread *th);        /* th->fp changed: load it at the next entry */
/* sigframe.c: the Linux riscv64 rt_sigframe */
struct ksiginfo;
int arch_signal_frame(struct thread *th, uint64_t top, uint64_t handler,
                      const struct ksiginfo *info, uint64_t mask);
int arch_sigreturn(struct thread *th, uint64_t *mask, uint64_t ss[3]);
/* The call's number, and its six arguments: the saved user registers
 * themselves (handlers only read them; the result goes in with
 * user_syscall_return), valid until the thread enters user mode again. */
uint64_t *user_syscall_args(struct thread *th, long *nr);
void user_syscall_return(struct thread *th, long result);
void user_skip_ecall(struct thread *th);
void user_set_entry(struct thread *th, uint64_t pc, uint64_t sp);
void user_set_tls(struct thread *th, uint64_t tls);
void user_set_sp(struct thread *th, uint64_t sp);
void user_mm_forget(struct mm *mm);
void user_thread_forget(struct thread *th);
