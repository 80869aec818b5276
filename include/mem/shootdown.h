/*
 * shootdown.h - TLB shootdown as a future.
 *
 * After a thread unmaps (or narrows) memory of an address space that
 * other harts may be running in user mode, its system call awaits a
 * shootdown: those harts get an IPI, and the future completes once each
 * has trapped out of user mode (and so will reload satp and flush on its
 * way back, seeing the new generation).  Only then are the unmapped pages
 * freed.  Nothing spins: the waiting thread's task sleeps until the last
 * acknowledgement wakes it.
 */
#pragma once
#include <stdint.h>
#include "core/future.h"
#include "core/hart.h"

struct mm;

struct shootdown {
    struct future base;
    struct mm *mm;
    uint64_t gen;               /* free pages unmapped up to this generation */
    uint64_t pending;           /* harts that have not trapped yet */
    uint32_t snap[MAX_HARTS];   /* their user_traps when we asked (low bits) */
    struct waiter w;
};

/* Start one for mm; false if nobody else can hold stale entries (the
 * pages were freed already and there is nothing to await). */
bool shootdown_start(struct shootdown *sd, struct mm *mm);
/* Called on every trap from user mode (enter_user). */
void shootdown_ack(void);
