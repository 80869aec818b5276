/*
 * printk.h - kernel messages on the console.
 */
#pragma once
#include <stdarg.h>

int printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintk(const char *fmt, va_list ap);
__attribute__((noreturn, format(printf, 1, 2))) void panic(const char *fmt, ...);

#define ASSERT(c) do { if (!(c)) panic("assertion failed: %s (%s:%d)", #c, __FILE__, __LINE__); } while (0)

/* A panic in two halves, for trap.c: stop the other harts, switch the
 * console to synchronous output; then print the backtrace and stop. */
void panic_begin(void);
__attribute__((noreturn)) void panic_end(void);
