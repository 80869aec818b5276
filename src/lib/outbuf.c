/*
 * outbuf.c - outf(): printf into a report buffer, or onto the console.
 *
 * Invariant: o->len counts every byte the report produced, even those
 * that did not fit, so the text in o->buf is complete exactly when
 * o->len < o->cap (one byte is kept for the terminating NUL).  A caller
 * that sees o->len >= o->cap retries with a bigger buffer.
 */
#include <stdarg.h>
#include "lib/klib.h"
#include "lib/outbuf.h"
#include "lib/printk.h"

void outf(struct outbuf *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (!o->buf) {
        o->len += vprintk(fmt, ap);
    } else if (o->len < o->cap) {
        o->len += vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    } else {
        o->len += vsnprintf(NULL, 0, fmt, ap);  /* only count */
    }
    va_end(ap);
}
