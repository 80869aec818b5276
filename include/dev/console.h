/*
 * console.h - the serial console: an interrupt-driven 16550 with a
 * transmit ring, and a terminal line discipline (echo, backspace,
 * Ctrl-U, Ctrl-C, Ctrl-D) in front of the readers.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "core/future.h"

#define CONSOLE_LINE_MAX 1024   /* longest line a reader gets (with '\n') */

void console_init(uint64_t uart_pa, unsigned irq);

/* Kernel output: queue a message whole, or drop it (counted, and reported
 * before the next one) if the transmit ring is full.  Never waits. */
void console_write_kernel(const char *s, size_t n);
/* Panic: from now on every byte goes straight to the UART. */
void console_sync_mode(void);

/* Read one line (or up to `cap` bytes of it).  result: bytes, 0 at EOF (^D). */
struct console_read {
    struct future base;
    char *buf;
    size_t cap;
    long result;
    struct waiter w;
};
void console_read_init(struct console_read *r, char *buf, size_t cap);

/* Write all of buf, waiting for ring space as needed.  result: bytes. */
struct console_write {
    struct future base;
    const char *buf;
    size_t len, done;
    struct waiter w;
};
void console_write_init(struct console_write *w, const char *buf, size_t len);

/* Wait until the transmit ring has room for n bytes (n <= CONSOLE_TX_SIZE):
 * for a kernel writer that must lose nothing, e.g. the trace exporter,
 * before its printk calls (which would otherwise drop when full). */
#define CONSOLE_TX_SIZE 16384
struct console_room {
    struct future base;
    size_t n;
    struct waiter w;
};
void console_room_init(struct console_room *r, size_t n);

/* Is a complete line (or EOF) waiting?  For poll-style readiness. */
bool console_readable(void);
/* Line discipline switches (termios-lite). */
void console_set_echo(bool on);

/* Called (interrupt context) on ^C: kill the foreground job.  Weak default. */
void console_interrupt_hook(void);
/* Called (interrupt context) on ^Z: stop the foreground job.  Weak default. */
void console_suspend_hook(void);

struct console_stats {
    uint64_t rx_bytes, tx_bytes, rx_dropped, lines_truncated;
    uint64_t tx_dropped_msgs;   /* kernel messages dropped: the ring was full */
    uint64_t tx_dropped_noted;  /* of those, how many "dropped" notes reported */
};
void console_get_stats(struct console_stats *s);
struct outbuf;
void console_report(struct outbuf *o);     /* /proc/console */

/* Send everything queued, polling the UART: only before power-off. */
void console_flush(void);
