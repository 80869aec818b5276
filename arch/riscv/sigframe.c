/*
 * sigframe.c - the Linux riscv64 signal frame, and the page holding the
 * sigreturn trampoline.
 *
 * The frame is Linux's struct rt_sigframe (siginfo, then a ucontext
 * whose sigcontext holds the 32 general registers with pc first and the
 * D-extension FP state), laid out from Debian's asm/ucontext.h,
 * asm/sigcontext.h and asm/ptrace.h, so glibc's handlers, getcontext-
 * style code and siglongjmp see exactly what Linux gives them:
 *
 *     sp of the handler --> +--------------------------+  0
 *                           | siginfo (128)            |
 *                           +--------------------------+  128
 *                           | uc_flags, uc_link        |
 *                           | uc_stack (24)            |
 *                           | uc_sigmask (8) + 120     |
 *                           | sc_regs: pc ra sp .. t6  |  128 + 176
 *                           | sc_fpregs f0..f31, fcsr  |  128 + 432
 *                           +--------------------------+  128 + 960
 *
 * riscv has no SA_RESTORER: Linux returns through its vDSO.  We map one
 * read+execute page, kernel-owned and shared by every process, at
 * SIGTRAMP_VA and point ra at `li a7, 139; ecall` (rt_sigreturn) there.
 */
#include "arch.h"
#include "lib/errno.h"
#include "lib/klib.h"
#include "mem/kmalloc.h"
#include "proc/proc.h"
#include "user_trap.h"
#include <asm/signal.h>
#include <asm/sigcontext.h>
#include <asm/ucontext.h>
#include <asm/siginfo.h>

#define SIGTRAMP_VA (USER_STACK_TOP)    /* the page above the main stack */

struct rt_sigframe {
    uint8_t info[128];
    struct ucontext uc;
};
_Static_assert(sizeof(struct ucontext) == 960, "Linux riscv64 ucontext");
_Static_assert(__builtin_offsetof(struct ucontext, uc_mcontext) == 176, "uc_mcontext");
_Static_assert(sizeof(siginfo_t) == 128, "siginfo");

/* li a7, 139 ; ecall  -- and nothing else on the page */
static const uint32_t tramp_page[1024] __attribute__((aligned(4096))) = {
    0x08b00893, 0x00000073,
};

/* Map the trampoline into mm once (a fork copies the mapping). */
static int tramp_map(struct proc *p)
{
    if (p->sig.tramp_mm == p->mm)
        return 0;
    int r = mm_map_region(p->mm, SIGTRAMP_VA, 4096, PROT_READ | PROT_EXEC, VMA_FILE,
                          tramp_page, sizeof tramp_page);
    if (r < 0) {                /* already there (forked), or the user took the page */
        uint32_t code[2];
        if (copyin(p->mm, code, SIGTRAMP_VA, sizeof code) || code[0] != tramp_page[0] ||
            code[1] != tramp_page[1])
            return -EFAULT;
    }
    p->sig.tramp_mm = p->mm;
    return 0;
}

void signal_siginfo(uint8_t *b, const struct ksiginfo *k)
{
    siginfo_t *si = (siginfo_t *)b;
    memset(b, 0, 128);
    si->si_signo = k->signo;
    si->si_code = k->code;
    if (k->fault) {
        si->si_addr = (void *)k->value;
        return;
    }
    si->si_pid = k->pid;
    si->si_uid = k->uid;
    if (k->signo == SIGCHLD) {
        si->si_status = k->status;
    } else if (k->code == SI_TIMER) {
        si->si_overrun = k->overrun;
        si->si_value.sival_ptr = (void *)k->value;
        si->si_tid = k->pid;    /* the timer id lives where si_pid would */
    } else {
        si->si_value.sival_ptr = (void *)k->value;
    }
}

/*
 * Write the frame for `info` on the stack at top (already chosen: the
 * current sp or the alternate stack) and point the thread at `handler`.
 * `mask` is what rt_sigreturn will restore.  0 or -EFAULT.
 */
int arch_signal_frame(struct thread *th, uint64_t top, uint64_t handler,
                      const struct ksiginfo *info, uint64_t mask)
{
    struct proc *p = th->proc;
    if (tramp_map(p) < 0)
        return -EFAULT;
    /* on the hart stack (1 KiB, once per delivery): no allocation */
    struct rt_sigframe frame, *f = &frame;
    memset(f, 0, sizeof *f);
    uint64_t sp = (top - sizeof *f) & ~15UL;
    signal_siginfo(f->info, info);
    f->uc.uc_stack.ss_sp = (void *)th->ss_sp;
    f->uc.uc_stack.ss_size = th->ss_size;
    f->uc.uc_stack.ss_flags = th->ss_size == 0 ? 2 /* SS_DISABLE */ :
        (th->tf.x[REG_SP] - th->ss_sp < th->ss_size ? 1 /* SS_ONSTACK */ : 0);
    memcpy(&f->uc.uc_sigmask, &mask, 8);
    struct user_regs_struct *r = &f->uc.uc_mcontext.sc_regs;
    uint64_t *gr = (uint64_t *)r;
    gr[0] = th->tf.sepc;
    for (int i = 1; i < 32; i++)
        gr[i] = th->tf.x[i];
    if (th->fp) {
        memcpy(f->uc.uc_mcontext.sc_fpregs.d.f, th->fp, 32 * 8);
        f->uc.uc_mcontext.sc_fpregs.d.fcsr = (uint32_t)th->fp[32];
    }
    int rc = copyout(p->mm, sp, f, sizeof *f);
    if (rc)
        return -EFAULT;
    th->tf.sepc = handler;
    th->tf.x[REG_A0] = info->signo;
    th->tf.x[REG_A1] = sp + __builtin_offsetof(struct rt_sigframe, info);
    th->tf.x[REG_A2] = sp + __builtin_offsetof(struct rt_sigframe, uc);
    th->tf.x[REG_SP] = sp;
    th->tf.x[REG_RA] = SIGTRAMP_VA;
    return 0;
}

/* rt_sigreturn: the frame is at the user's sp.  Restores the registers
 * and FP state, returns the mask to restore (0 or -EFAULT). */
int arch_sigreturn(struct thread *th, uint64_t *mask, uint64_t ss[3])
{
    struct ucontext ucb, *uc = &ucb;
    uint64_t sp = th->tf.x[REG_SP];
    int rc = copyin(th->proc->mm, uc, sp + __builtin_offsetof(struct rt_sigframe, uc), sizeof *uc);
    if (rc == 0) {
        const uint64_t *gr = (const uint64_t *)&uc->uc_mcontext.sc_regs;
        th->tf.sepc = gr[0];
        for (int i = 1; i < 32; i++)
            th->tf.x[i] = gr[i];
        memcpy(mask, &uc->uc_sigmask, 8);
        ss[0] = (uint64_t)uc->uc_stack.ss_sp;
        ss[1] = uc->uc_stack.ss_size;
        ss[2] = (uint32_t)uc->uc_stack.ss_flags;
        const struct __riscv_d_ext_state *d = &uc->uc_mcontext.sc_fpregs.d;
        bool any = d->fcsr != 0;
        for (int i = 0; i < 32 && !any; i++)
            any = d->f[i] != 0;
        if (!th->fp && any && user_fp_enable(th) < 0)
            rc = -EFAULT;
        else if (th->fp) {
            memcpy(th->fp, d->f, 32 * 8);
            th->fp[32] = d->fcsr;
            user_fp_reload(th);
        }
    }
    return rc ? -EFAULT : 0;
}
