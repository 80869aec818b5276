/*
 * uart16550.h - registers of the NS16550A (QEMU virt's serial port).
 */
#pragma once
#define UART_RBR 0  /* receive buffer (read) */
#define UART_THR 0  /* transmit holding (write) */
#define UART_IER 1  /* interrupt enable */
#define UART_FCR 2  /* FIFO control (write) */
#define UART_LCR 3  /* line control */
#define UART_LSR 5  /* line status */
#define IER_RDI  0x01   /* receive data available */
#define IER_THRI 0x02   /* transmit holding register empty */
#define LSR_DR   0x01
#define LSR_THRE 0x20
#define UART_FIFO_DEPTH 16
