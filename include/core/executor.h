/*
 * executor.h - the per-hart executor: a run queue per hart, wakes from
 * any hart or interrupt, IPIs to idle harts, work stealing, wfi.
 */
#pragma once
#include <stdbool.h>
#include "core/hart.h"
#include "core/task.h"

/* Scheduling switches, set from bootargs (sched=, steal=, wake=). */
struct sched_policy {
    bool steal;         /* idle harts take queued tasks from busy ones */
    bool wake_local;    /* a woken task runs on the waking hart, not its owner's */
    bool priority;      /* run queues ordered by task priority (else one FIFO) */
};
extern struct sched_policy sched;

void executor_init_hart(struct hart *h);
__attribute__((noreturn)) void executor_run(void);
bool executor_poll_one(void);
/* Is a task of higher priority than `prio` waiting on this hart? */
bool runq_has_higher(struct hart *h, unsigned prio);
/* The hart to queue t on instead of h: h itself unless t's hart mask
 * excludes it. */
struct hart *task_hart_for(struct task *t, struct hart *h);
/* Push t on hart h's run queue (t already marked QUEUED). */
void runq_push(struct hart *h, struct task *t);
