/*
 * monitor.h - the kernel monitor and the reports it shares with user
 * space's /proc files.
 */
#pragma once
#include <stdbool.h>
struct task;
void monitor_start(void);
/* What the instruction counter (rdinstret) counts, so the reports can
 * say it: true when QEMU runs with -icount and tells us so by the bootarg
 * `icount` (ci/qemu.py passes both together).  Then it counts the
 * instructions of the whole machine (QEMU 7.2's -icount clock is global);
 * without -icount QEMU returns the host's time-stamp counter. */
extern bool counter_is_icount;
/* The reports, onto the console or into a buffer (see outbuf.h). */
struct outbuf;
void report_harts(struct outbuf *o);
void report_tasks(struct outbuf *o);
void report_mem(struct outbuf *o);
/* Spawn the self-tests as a task (kept reference); NULL on no memory. */
struct task *ktest_spawn(bool exit_after);
