/*
 * uart.c - the NS16550A's registers, nothing more.  The console
 * (console.c) owns the rings and the interrupt logic.
 */
#include "layout.h"
#include "dev/uart.h"
#include "dev/uart16550.h"

static volatile uint8_t *uart;

static inline uint8_t rd(int r) { return uart[r]; }
static inline void wr(int r, uint8_t v) { uart[r] = v; }

void uart_init(uint64_t pa)
{
    uart = pa_to_va(pa);
    wr(UART_IER, 0);
    wr(UART_LCR, 0x80);         /* divisor latch */
    wr(0, 0x03);                /* 38400 baud (QEMU ignores it) */
    wr(1, 0x00);
    wr(UART_LCR, 0x03);         /* 8N1 */
    wr(UART_FCR, 0x07);         /* enable and clear FIFOs */
    wr(UART_IER, IER_RDI);
}

bool uart_present(void) { return uart != 0; }
bool uart_tx_empty(void) { return rd(UART_LSR) & LSR_THRE; }
void uart_put(uint8_t c) { wr(UART_THR, c); }

int uart_get(void)
{
    if (!(rd(UART_LSR) & LSR_DR))
        return -1;
    return rd(UART_RBR);
}

void uart_tx_irq(bool on)
{
    wr(UART_IER, on ? (IER_RDI | IER_THRI) : IER_RDI);
}

void uart_put_sync(uint8_t c)
{
    if (!uart)
        return;
    while (!uart_tx_empty())
        ;
    uart_put(c);
}
