#pragma once
#include <stdbool.h>
#include <stdint.h>
void uart_init(uint64_t pa);
bool uart_present(void);
bool uart_tx_empty(void);       /* FIFO empty: room for UART_FIFO_DEPTH bytes */
void uart_put(uint8_t c);
int uart_get(void);             /* -1 if nothing */
void uart_tx_irq(bool on);
void uart_put_sync(uint8_t c);  /* polled: early boot and panic only */
