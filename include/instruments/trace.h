/*
 * trace.h - the executor trace: a per-hart ring of fixed-size events.
 * Off, an event costs one load and one branch (trace_on is false).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum trace_kind {
    TR_POLL_BEGIN = 1, TR_POLL_END, TR_WAKE, TR_IPI_SEND, TR_IPI_RECV,
    TR_TRAP_ENTER, TR_TRAP_EXIT, TR_SYSCALL_BEGIN, TR_SYSCALL_END,
    TR_URING_SUBMIT, TR_URING_COMPLETE, TR_IDLE_BEGIN, TR_IDLE_END,
    TR_KINDS
};

struct trace_rec {
    uint64_t time;      /* arch_time() */
    uint32_t kind;
    uint32_t a;         /* task id, hart, syscall number ... */
    uint64_t b;         /* name pointer, cause, result ... */
};

extern volatile bool trace_on;
void trace_record(enum trace_kind k, uint32_t a, uint64_t b);

static inline void trace_event(enum trace_kind k, uint32_t a, uint64_t b)
{
    if (__builtin_expect(trace_on, 0))
        trace_record(k, a, b);
}

/*
 * Additions: per-process filter, readers, the exporter.
 *
 * Rings: each hart writes only its own ring, under a per-ring spinlock
 * that a reader on another hart also takes, so a record is never read
 * half-written.  A full ring overwrites its oldest record and counts it
 * as dropped.  TR_IPI_RECV is synthesized (arch/riscv/trap.c has no
 * trace hook): the first record a hart writes after its ipis_recv
 * counter moved is preceded by TR_IPI_RECV with a = IPIs received since
 * its previous record, stamped with that record's time.
 */
extern volatile int trace_pid;          /* 0: whole system; else that process only */
void trace_set_pid(int pid);
/* Take the oldest unread record(s) of hart i; *dropped gets the hart's
 * dropped-record count so far. */
bool trace_take(unsigned i, struct trace_rec *out, uint64_t *dropped);
unsigned trace_take_many(unsigned i, struct trace_rec *out, unsigned max, uint64_t *dropped);
/* The name of task `id` as last polled on hart i (a copy taken at that
 * poll, so valid after the task is gone); false if hart i has none. */
bool trace_name(unsigned i, uint32_t id, char *out, size_t cap);
/* Discard every record and zero the counts (harts keep their rings). */
void trace_reset(void);
/* Allocate every hart's ring now (else each is allocated at its first record). */
void trace_alloc_rings(void);

/* trace_export.c: run `prog_and_args` ("/bin/prog,arg,..." or words
 * separated by spaces; "ktest" or "" for the kernel self-tests) with
 * tracing on; when it ends, print every ring as @T frames on the
 * console (see ci/trace.py) and power off. */
void trace_run_start(const char *prog_and_args);
/* Start `path` as a parentless process with argv[0..argc) (argv[argc] is
 * NULL); returns its pid or -errno.  trace_export.c has a weak default
 * that ignores the arguments (exec_spawn); exec.c may define the real one. */
int exec_spawn_argv(const char *path, int argc, const char *const argv[]);
/* Rings are allocated only by trace_alloc_rings() (trace_run_start()
 * calls it); until then a hart's records count as dropped.  Whoever turns
 * tracing on elsewhere (bootargs `trace`, monitor `trace on`) should call
 * trace_alloc_rings() first, from task context. */
