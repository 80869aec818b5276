/*
 * outbuf.h - where a report goes: the console (monitor) or a buffer
 * (a /proc file).  Reports are written once against this and serve both.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct outbuf {
    char *buf;          /* NULL: straight to the console */
    size_t cap, len;    /* len may exceed cap: the report was cut */
};

void outf(struct outbuf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The process table, for /proc/ps (src/proc/proc.c; a weak default that
 * prints only the header is in src/fs/procfs.c). */
void proc_report_ps(struct outbuf *o);
