/*
 * chaos.h - the chaos executor: boot argument `chaos=SEED` makes the
 * executor take its scheduling choices from a seeded generator, so that
 * campaigns of seeds explore interleavings ordinary runs never reach.
 *
 * What chaos chooses (src/core/executor.c asks; src/core/chaos.c answers):
 *  - which queued task is polled next (not always the head, sometimes
 *    not the highest priority level);
 *  - which hart a woken or spawned task is queued on;
 *  - whether an idle hart steals, whom from, and whether a busy hart
 *    steals before draining its own queue;
 *  - the length of each user time slice (0.1 to 10 ms);
 *  - delays: a wake sometimes waits a little before it looks at the task,
 *    which widens the window between a waker finding a task pointer and
 *    using it (a task freed meanwhile is a use-after-free the poisoned
 *    kernel reports);
 *  - extra IPIs to random harts (a user thread there traps, an idle hart
 *    leaves wfi for nothing);
 *  - spurious polls: a task that returned PENDING is woken again although
 *    nobody woke it, at once (behind the tasks queued now) or at the end
 *    of the hart's batch (it is kept, with a reference, in a small
 *    per-hart "parked" set until then).
 *
 * Each hart has its own generator, seeded from SEED and the hart's index,
 * so under QEMU -icount (which runs the harts deterministically) one seed
 * gives one run.  When chaos is off every hook is one predicted branch on
 * `chaos_on`.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "core/hart.h"
#include "core/task.h"

extern bool chaos_on;

/* What chaos does is out of line, so the ordinary paths carry only the
 * branch on chaos_on. */
#define CHAOS_COLD __attribute__((noinline, cold))

/* From bootargs, before the other harts start. */
void chaos_init(uint64_t seed);
uint64_t chaos_seed(void);

/* A number in [0, n) from this hart's generator (n > 0). */
uint32_t chaos_rand(struct hart *h, uint32_t n);
/* True one time in `n`. */
static inline bool chaos_one_in(struct hart *h, uint32_t n) { return chaos_rand(h, n) == 0; }
/* A random online hart. */
CHAOS_COLD struct hart *chaos_pick_hart(struct hart *h);

/* Sometimes spin a random while (a few thousand instructions at most):
 * a debug delay that lets other harts run into a race window, never a
 * wait for an event. */
CHAOS_COLD void chaos_delay(struct hart *h);

/* A user time slice of random length, in timer ticks. */
CHAOS_COLD uint64_t chaos_slice(struct hart *h);

/* After a poll returned PENDING and left the task waiting (state 0):
 * maybe a spurious wake now or later, maybe an extra IPI.  The caller
 * holds a reference on t for the call (t may be woken, finish and drop
 * its others on another hart meanwhile). */
CHAOS_COLD void chaos_after_poll(struct hart *h, struct task *t);
/* At the end of each batch and before this hart sleeps: wake every task
 * it parked (and drop the references), so a parked task never keeps
 * memory for long.  True if there was any. */
bool chaos_unpark_all(struct hart *h);

/* task_wake that says whether it queued the task, and counts it in
 * t->spurious when it did (executor.c). */
bool task_wake_spurious(struct task *t);

/* Every hart's choices folded together: two runs of one seed under
 * -icount print the same value (ktest prints it). */
uint64_t chaos_fingerprint(uint64_t *choices);
