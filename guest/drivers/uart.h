/* 16550A UART on COM1 (I/O port 0x3f8, ISA IRQ 4). Transmit by polling;
 * receive by interrupt (IER.RDI) or by polling the line status. */
#ifndef GUEST_DRIVERS_UART_H
#define GUEST_DRIVERS_UART_H

#include <stdbool.h>
#include <stdint.h>

#define UART_COM1_IRQ 4

/* Programs 115200 8N1 and probes for the chip. Bytes the host has already
 * queued survive (see uart.c on the FIFO). */
void uart_init(void);
bool uart_present(void);
void uart_putc(uint8_t byte);
/* Reads every byte the UART holds, up to max, into buf; returns how many. */
unsigned uart_receive(uint8_t *buf, unsigned max);
/* Asks the UART to raise its IRQ when received data is available. */
void uart_enable_rx_interrupt(void);

#endif
