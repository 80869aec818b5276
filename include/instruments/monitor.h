/*
 * monitor.h - the kernel monitor and the reports it shares with user
 * space's /proc files.
 */
#pragma once
#include <stdbool.h>
struct task;
void monitor_start(void);
/* The reports, onto the console or into a buffer (see outbuf.h). */
struct outbuf;
void report_harts(struct outbuf *o);
void report_tasks(struct outbuf *o);
void report_mem(struct outbuf *o);
/* Spawn the self-tests as a task (kept reference); NULL on no memory. */
struct task *ktest_spawn(bool exit_after);
