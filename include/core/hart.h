/*
 * hart.h - per-hart state.  Everything "current" lives here, reached
 * through the tp register (arch_this_hart()), never in a global.
 */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "core/spinlock.h"
#include "core/timer_heap.h"

#define MAX_HARTS 16

struct task;
struct mm;

#define PRIO_LEVELS 8
#define CHAOS_PARKED 4          /* tasks a hart keeps for a later spurious wake */

/* One FIFO per priority level; `mask` has bit p set when level p is
 * non-empty.  With sched.priority off every task uses level 0. */
struct runq {
    struct spinlock lock;
    struct task *head[PRIO_LEVELS], *tail[PRIO_LEVELS];
    uint32_t mask;
    _Atomic uint32_t len;
};

struct hart {
    unsigned index;             /* 0..nharts-1 */
    unsigned hartid;            /* the platform's id */
    int irq_depth;              /* spin_lock nesting */
    bool irq_was_on;
    _Atomic bool online;
    _Atomic bool idle;          /* in wfi (or about to be) */
    struct runq runq;
    struct task *current;       /* being polled */
    _Atomic uint8_t current_prio;/* its priority (read by other harts) */
    struct spinlock timer_lock;
    struct timer_heap timers;
    uint64_t timer_armed;       /* deadline programmed in the hardware */
    uint64_t slice_end;         /* user time slice end, 0 if none */
    struct spinlock tasks_lock; /* the tasks spawned here, for `tasks` */
    struct task *tasks;
    void *fp_owner;             /* user thread whose FP state is live here */
    struct mm *_Atomic user_mm; /* address space running in user mode here, or NULL */
    _Atomic uint64_t user_traps;/* traps from user mode: a TLB shootdown's ack */
    struct pc_page *copy_needs; /* a copyin/copyout met a file page not cached yet
                                 * (a reference): the thread reads it and restarts
                                 * the system call (mm.c, thread.c) */
    /* counters, for `harts` */
    uint64_t polls, idle_entries, steals, ipis_sent, ipis_recv, irqs;
    uint64_t idle_time;         /* timer ticks spent in finished waits in wfi */
    _Atomic uint64_t idle_since;/* time the wait in wfi now began, 0 if none */
    uint64_t online_at;         /* time it joined (IDLE% counts from there) */
    /* chaos mode (core/chaos.h): this hart's generator, its choices, and
     * tasks it holds (one reference each) to wake spuriously later */
    uint64_t chaos_rng, chaos_choices;
    struct task *chaos_parked[CHAOS_PARKED];
};

extern struct hart harts[MAX_HARTS];
extern unsigned nharts;

struct hart *arch_this_hart(void);
static inline struct hart *this_hart(void) { return arch_this_hart(); }
