/*
 * monitor.h - the kernel monitor and the reports it shares with user
 * space's /proc files.
 */
#pragma once
#include <stdbool.h>
struct task;
void monitor_start(void);
void monitor_harts(void);
void monitor_tasks(void);
void monitor_mem(void);
/* Spawn the self-tests as a task (kept reference); NULL on no memory. */
struct task *ktest_spawn(bool exit_after);
