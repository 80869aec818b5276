/*
 * pingpong.h - two kernel tasks waking each other `rounds` times, the
 * workload behind the wake-latency benchmarks and `make trace PROG=pingpong`.
 */
#pragma once
#include <stdbool.h>
#include "core/latch.h"

/* Start "ping" on hart_a and "pong" on hart_b, pinned there if `pin`
 * (else the scheduling policy may move them); `done` (initialised here)
 * reaches zero when both have finished.  false: no memory. */
bool pingpong_start(long rounds, unsigned hart_a, unsigned hart_b, bool pin, struct latch *done);
