/*
 * trace.h - the executor trace: a per-hart ring of fixed-size events.
 * Off, an event costs one load and one branch (trace_on is false).
 */
#pragma once
#include <stdbool.h>
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
