/*
 * console.c - the console: transmit ring, receive line discipline and
 * the read/write futures.
 *
 * Transmit: writers copy into tx ring and "kick": if the UART's FIFO is
 * empty, up to 16 bytes go out at once and the THR-empty interrupt is
 * enabled while bytes remain.  The interrupt refills the FIFO and wakes
 * writers waiting for room.  Nothing waits per byte.
 *
 * Receive: the interrupt top half feeds each byte to the line
 * discipline (echo, erase, kill, ^C, ^D), which moves finished lines to
 * the cooked ring and wakes readers: that wake is how an interrupt finds
 * the task waiting for input.  Each finished line's end is recorded in
 * ck_end (a ring of positions in cooked), so a read never runs past the
 * end of a line: Enter ends a line with '\n', ^D ends it without one,
 * and ^D on an empty line is an empty line, which a read returns as 0
 * (end of file), in its place among the others.
 *
 * User I/O (FT_CONSOLE files, struct file_io): a read waits for a line
 * like console_read and copies at most len bytes of it out through a
 * bounce buffer (the rest of the line stays for the next read); a write
 * copies the user's bytes in, a chunk at a time, into the same transmit
 * ring, waiting on tx_space while it is full.  User memory is never
 * touched under the console lock.
 */
#include "arch.h"
#include "dev/console.h"
#include "lib/errno.h"
#include "lib/klib.h"
#include "mem/kmalloc.h"
#include "mem/mm.h"
#include "fs/pipe.h"
#include "lib/outbuf.h"
#include "dev/uart.h"
#include "dev/uart16550.h"

#define TX_SIZE CONSOLE_TX_SIZE /* powers of two: indexes wrap freely */
#define COOKED_SIZE 4096

static struct spinlock lock = SPINLOCK_INIT("console");
static char tx[TX_SIZE];
static uint32_t tx_head, tx_tail;      /* tail - head = bytes queued */
static struct waitq tx_space = WAITQ_INIT("console.tx");

static char line[CONSOLE_LINE_MAX];    /* the line being edited */
static uint32_t line_len;
static char cooked[COOKED_SIZE];
static uint32_t ck_head, ck_tail;
#define LINES_MAX 256              /* finished lines waiting (power of two) */
static uint32_t ck_end[LINES_MAX];     /* where each finished line ends in cooked */
static uint32_t end_head, end_tail;    /* tail - head = finished lines (EOFs included) */
static bool echo = true;
static struct waitq readers = WAITQ_INIT("console.rx");
static volatile bool sync_mode;
static struct console_stats stats;

__attribute__((weak)) void console_interrupt_hook(void) {}
__attribute__((weak)) void console_suspend_hook(void) {}

/* ---- transmit --------------------------------------------------------- */

static void tx_kick_locked(void)
{
    if (uart_tx_empty()) {
        for (int i = 0; i < UART_FIFO_DEPTH && tx_head != tx_tail; i++) {
            uart_put(tx[tx_head % TX_SIZE]);
            tx_head++;
        }
    }
    uart_tx_irq(tx_head != tx_tail);
}

static size_t tx_put_locked(const char *s, size_t n)
{
    size_t room = TX_SIZE - (tx_tail - tx_head);
    if (n > room)
        n = room;
    for (size_t i = 0; i < n; i++)
        tx[(tx_tail + i) % TX_SIZE] = s[i];
    tx_tail += n;
    stats.tx_bytes += n;
    return n;
}

static void tx_drain_polled_locked(void)
{
    while (tx_head != tx_tail) {
        uart_put_sync(tx[tx_head % TX_SIZE]);
        tx_head++;
    }
}

/*
 * Kernel messages never wait and never poll the UART (user programs can
 * cause them, e.g. many processes faulting at once): a message that does
 * not fit in the transmit ring whole is dropped and counted, and the
 * next one that fits is preceded by "[N messages dropped]".  Only a
 * panic (sync_mode: the machine is dying) writes straight to the UART.
 */
void console_write_kernel(const char *s, size_t n)
{
    if (sync_mode || !uart_present()) {
        for (size_t i = 0; i < n; i++)
            uart_put_sync(s[i]);
        return;
    }
    char note[48];
    size_t nn = 0;
    spin_lock(&lock);
    if (stats.tx_dropped_msgs != stats.tx_dropped_noted)
        nn = snprintf(note, sizeof note, "[%lu kernel messages dropped]\n",
                      (unsigned long)(stats.tx_dropped_msgs - stats.tx_dropped_noted));
    if (TX_SIZE - (tx_tail - tx_head) < nn + n) {
        stats.tx_dropped_msgs++;
    } else {
        tx_put_locked(note, nn);
        tx_put_locked(s, n);
        stats.tx_dropped_noted = stats.tx_dropped_msgs;
    }
    tx_kick_locked();
    spin_unlock(&lock);
}

void console_sync_mode(void)
{
    sync_mode = true;
    tx_drain_polled_locked();   /* whatever was queued, in order (lock may be held by a dead hart) */
}

static void echo_locked(const char *s, size_t n)
{
    if (echo)
        tx_put_locked(s, n);    /* echo is dropped, never waited for, if the ring is full */
}

/* ---- receive: the line discipline ------------------------------------- */

static void cooked_put(char c)
{
    cooked[ck_tail++ % COOKED_SIZE] = c;
}

/* Move the edited line to the cooked ring as one finished line (with
 * '\n' after Enter, without after ^D; empty after ^D alone: EOF). */
static void line_finish_locked(bool newline)
{
    if (COOKED_SIZE - (ck_tail - ck_head) < line_len + 1 || end_tail - end_head >= LINES_MAX) {
        stats.rx_dropped += line_len;   /* nobody is reading: drop the line */
    } else {
        for (uint32_t i = 0; i < line_len; i++)
            cooked_put(line[i]);
        if (newline)
            cooked_put('\n');
        ck_end[end_tail++ % LINES_MAX] = ck_tail;
    }
    line_len = 0;
}

static void rx_byte_locked(uint8_t c)
{
    stats.rx_bytes++;
    switch (c) {
    case '\r':
    case '\n':
        echo_locked("\r\n", 2);
        line_finish_locked(true);
        break;
    case 0x7f:                  /* DEL and backspace erase one character */
    case '\b':
        if (line_len > 0) {
            line_len--;
            echo_locked("\b \b", 3);
        }
        break;
    case 0x15:                  /* ^U: erase the line */
        while (line_len > 0) {
            line_len--;
            echo_locked("\b \b", 3);
        }
        break;
    case 0x03:                  /* ^C: drop the line, interrupt the job */
        echo_locked("^C\r\n", 4);
        line_len = 0;
        console_interrupt_hook();
        break;
    case 0x1a:                  /* ^Z: drop the line, stop the job */
        echo_locked("^Z\r\n", 4);
        line_len = 0;
        console_suspend_hook();
        break;
    case 0x04:                  /* ^D: send the line as it is (empty: end of file) */
        line_finish_locked(false);
        break;
    default:
        if (line_len >= CONSOLE_LINE_MAX - 1) {
            if (line_len == CONSOLE_LINE_MAX - 1)
                stats.lines_truncated++;
            stats.rx_dropped++;
            line_len = CONSOLE_LINE_MAX - 1;    /* keep what fits; drop the rest */
            break;
        }
        line[line_len++] = c;
        if (c < 0x20) {
            char e[2] = { '^', (char)(c + '@') };
            echo_locked(e, 2);
        } else {
            echo_locked((char *)&c, 1);
        }
    }
}

/* The UART's interrupt top half (PLIC source from the device tree). */
static void console_irq(void)
{
    int c;
    bool woke_rx = false;
    spin_lock(&lock);
    while ((c = uart_get()) >= 0) {
        rx_byte_locked(c);
        woke_rx = true;
    }
    uint32_t before = tx_tail - tx_head;
    tx_kick_locked();
    bool room = (tx_tail - tx_head) < before || before < TX_SIZE / 2;
    spin_unlock(&lock);
    if (woke_rx && end_head != end_tail)
        waitq_wake_all(&readers);
    if (room)
        waitq_wake_all(&tx_space);
}

void console_init(uint64_t uart_pa, unsigned irq)
{
    uart_init(uart_pa);
    arch_irq_attach(irq, console_irq);
}

bool console_readable(void) { return end_head != end_tail; }
void console_set_echo(bool on) { echo = on; }

void console_get_stats(struct console_stats *s)
{
    spin_lock(&lock);
    *s = stats;
    spin_unlock(&lock);
}

void console_report(struct outbuf *o)
{
    struct console_stats s;
    console_get_stats(&s);
    outf(o, "rx_bytes %lu\ntx_bytes %lu\nrx_dropped %lu\nlines_truncated %lu\n"
            "kernel_messages_dropped %lu\n",
         (unsigned long)s.rx_bytes, (unsigned long)s.tx_bytes, (unsigned long)s.rx_dropped,
         (unsigned long)s.lines_truncated, (unsigned long)s.tx_dropped_msgs);
}

/* ---- the read future --------------------------------------------------- */

/* Take up to cap bytes of the first finished line; the rest of it stays
 * for the next read.  -1 if there is none yet, 0 for an empty line (EOF). */
static long take_line(char *buf, size_t cap)
{
    long n = -1;
    spin_lock(&lock);
    if (end_head != end_tail) {
        uint32_t end = ck_end[end_head % LINES_MAX];
        n = 0;
        while (ck_head != end && (size_t)n < cap)
            buf[n++] = cooked[ck_head++ % COOKED_SIZE];
        if (ck_head == end)
            end_head++;
    }
    spin_unlock(&lock);
    return n;
}

static enum poll console_read_poll(struct future *base, struct cx *cx)
{
    struct console_read *r = (struct console_read *)base;
    ASYNC_BEGIN(r);
    AWAIT_COND(r, cx, &readers, &r->w,
               (r->result = take_line(r->buf, r->cap)) >= 0);
    ASYNC_END(r);
}

static void console_read_cancel(struct future *base)
{
    waitq_unregister(&readers, &((struct console_read *)base)->w);
}

static const struct future_ops console_read_ops = {
    console_read_poll, console_read_cancel, "console_read",
};

void console_read_init(struct console_read *r, char *buf, size_t cap)
{
    future_init(&r->base, &console_read_ops);
    r->buf = buf;
    r->cap = cap;
    r->result = -1;
    r->w.linked = false;
}

/* ---- the write future -------------------------------------------------- */

static bool write_some(struct console_write *w)
{
    spin_lock(&lock);
    w->done += tx_put_locked(w->buf + w->done, w->len - w->done);
    tx_kick_locked();
    spin_unlock(&lock);
    return w->done == w->len;
}

static enum poll console_write_poll(struct future *base, struct cx *cx)
{
    struct console_write *w = (struct console_write *)base;
    ASYNC_BEGIN(w);
    AWAIT_COND(w, cx, &tx_space, &w->w, write_some(w));
    ASYNC_END(w);
}

static void console_write_cancel(struct future *base)
{
    waitq_unregister(&tx_space, &((struct console_write *)base)->w);
}

static const struct future_ops console_write_ops = {
    console_write_poll, console_write_cancel, "console_write",
};

void console_write_init(struct console_write *w, const char *buf, size_t len)
{
    future_init(&w->base, &console_write_ops);
    w->buf = buf;
    w->len = len;
    w->done = 0;
    w->w.linked = false;
}

/* ---- waiting for room (kernel writers that must not drop) ------------- */

static bool has_room(size_t n)
{
    spin_lock(&lock);
    bool ok = TX_SIZE - (tx_tail - tx_head) >= n;
    spin_unlock(&lock);
    return ok;
}

static enum poll console_room_poll(struct future *base, struct cx *cx)
{
    struct console_room *r = (struct console_room *)base;
    ASYNC_BEGIN(r);
    AWAIT_COND(r, cx, &tx_space, &r->w, has_room(r->n));
    ASYNC_END(r);
}

static void console_room_cancel(struct future *base)
{
    waitq_unregister(&tx_space, &((struct console_room *)base)->w);
}

static const struct future_ops console_room_ops = {
    console_room_poll, console_room_cancel, "console_room",
};

void console_room_init(struct console_room *r, size_t n)
{
    future_init(&r->base, &console_room_ops);
    r->n = MIN(n, (size_t)TX_SIZE);
    r->w.linked = false;
}

void console_flush(void)
{
    spin_lock(&lock);
    tx_drain_polled_locked();
    while (!uart_tx_empty())
        ;
    spin_unlock(&lock);
}

/* ---- user reads and writes: struct file_io on an FT_CONSOLE file ------- */

static enum poll uread_poll(struct future *base, struct cx *cx)
{
    struct file_io *io = (struct file_io *)base;
    ASYNC_BEGIN(io);
    io->bounce = kmalloc(MIN(io->len, (size_t)CONSOLE_LINE_MAX));
    if (!io->bounce) {
        io->result = -ENOMEM;
        goto out;
    }
    if (io->f->flags & O_NONBLOCK) {
        io->result = take_line(io->bounce, MIN(io->len, (size_t)CONSOLE_LINE_MAX));
        if (io->result < 0)
            io->result = -EAGAIN;
    } else {
        AWAIT_COND(io, cx, &readers, &io->w,
                   (io->result = take_line(io->bounce, MIN(io->len, (size_t)CONSOLE_LINE_MAX))) >= 0);
    }
    if (io->result > 0 && copyout(io->mm, io->ubuf, io->bounce, io->result) < 0)
        io->result = -EFAULT;
out:
    kfree(io->bounce);
    io->bounce = NULL;
    ASYNC_END(io);
}

static void uread_cancel(struct future *base)
{
    struct file_io *io = (struct file_io *)base;
    waitq_unregister(&readers, &io->w);
    kfree(io->bounce);
    io->bounce = NULL;
}

static const struct future_ops uread_ops = { uread_poll, uread_cancel, "console_uread" };

#define UWRITE_CHUNK 512

struct uwrite_chunk {
    size_t pos, n;              /* data[pos, n) is still to be queued */
    char data[UWRITE_CHUNK];
};

static struct uwrite_chunk *chunk_of(struct file_io *io) { return io->bounce; }

/* Queue what fits of the chunk.  true when all of it is queued. */
static bool uwrite_put(struct file_io *io)
{
    struct uwrite_chunk *c = chunk_of(io);
    size_t k;
    if (sync_mode || !uart_present()) {
        k = c->n - c->pos;
        console_write_kernel(c->data + c->pos, k);
    } else {
        spin_lock(&lock);
        k = tx_put_locked(c->data + c->pos, c->n - c->pos);
        tx_kick_locked();
        spin_unlock(&lock);
    }
    c->pos += k;
    io->done += k;
    return c->pos == c->n;
}

static enum poll uwrite_poll(struct future *base, struct cx *cx)
{
    struct file_io *io = (struct file_io *)base;
    ASYNC_BEGIN(io);
    io->bounce = kmalloc(sizeof(struct uwrite_chunk));
    if (!io->bounce) {
        io->result = -ENOMEM;
        goto out;
    }
    for (;;) {
        if (io->done == io->len) {
            io->result = io->done;
            break;
        }
        chunk_of(io)->pos = 0;
        chunk_of(io)->n = MIN(io->len - io->done, (size_t)UWRITE_CHUNK);
        if (copyin(io->mm, chunk_of(io)->data, io->ubuf + io->done, chunk_of(io)->n) < 0) {
            io->result = io->done ? (long)io->done : -EFAULT;
            break;
        }
        if (!(io->f->flags & O_NONBLOCK)) {
            AWAIT_COND(io, cx, &tx_space, &io->w, uwrite_put(io));
        } else if (!uwrite_put(io)) {
            io->result = io->done ? (long)io->done : -EAGAIN;
            break;
        }
    }
out:
    kfree(io->bounce);
    io->bounce = NULL;
    ASYNC_END(io);
}

static void uwrite_cancel(struct future *base)
{
    struct file_io *io = (struct file_io *)base;
    waitq_unregister(&tx_space, &io->w);
    kfree(io->bounce);
    io->bounce = NULL;
}

static const struct future_ops uwrite_ops = { uwrite_poll, uwrite_cancel, "console_uwrite" };

void console_io_init(struct file_io *io, bool write)
{
    future_init(&io->base, write ? &uwrite_ops : &uread_ops);
}

bool console_writable(void)
{
    return TX_SIZE - (tx_tail - tx_head) > 0;
}

/* The queue a poll for input (out=false) or output waits on. */
struct waitq *console_poll_queue(bool out)
{
    return out ? &tx_space : &readers;
}
