/*
 * bench.h - benchmark reporting (src/instruments/bench.c).
 */
#pragma once
#include <stdint.h>
struct task;
void bench_start(void);
/* The scaling experiment (bootargs `bench scale`), bench_scale.c. */
void bench_scale_start(void);
void bench_report(const char *name, uint64_t value, const char *unit);
/* Run the user-space benchmarks as a task; NULL if there are none. */
struct task *bench_user_spawn(void);
unsigned harts_online(void);
