/* 16550A UART: the register model a guest driver programs, with a 16-byte
 * receive FIFO. Transmission is instant: each byte written to THR goes to
 * the tx callback, which must never block. */
#ifndef SKIFF_DEVICES_UART16550_H
#define SKIFF_DEVICES_UART16550_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/irq.h"

#define UART_COM1_BASE 0x3f8
#define UART_COM1_IRQ 4
#define UART_NR_REGS 8
#define UART_FIFO_SIZE 16

/* Register offsets */
#define UART_RBR 0 /* read, DLAB=0 */
#define UART_THR 0 /* write, DLAB=0 */
#define UART_DLL 0 /* DLAB=1 */
#define UART_IER 1
#define UART_DLM 1 /* DLAB=1 */
#define UART_IIR 2 /* read */
#define UART_FCR 2 /* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define UART_IER_RDI 0x01
#define UART_IER_THRI 0x02
#define UART_IER_RLSI 0x04
#define UART_IER_MSI 0x08

#define UART_IIR_NO_INT 0x01
#define UART_IIR_MSI 0x00
#define UART_IIR_THRI 0x02
#define UART_IIR_RDI 0x04
#define UART_IIR_RLSI 0x06
#define UART_IIR_FIFO_ENABLED 0xc0

#define UART_FCR_ENABLE 0x01
#define UART_FCR_CLEAR_RX 0x02
#define UART_FCR_CLEAR_TX 0x04

#define UART_LCR_DLAB 0x80

#define UART_MCR_DTR 0x01
#define UART_MCR_RTS 0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10

#define UART_LSR_DR 0x01
#define UART_LSR_OE 0x02
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40

#define UART_MSR_DCTS 0x01
#define UART_MSR_CTS 0x10
#define UART_MSR_DSR 0x20
#define UART_MSR_RI 0x40
#define UART_MSR_DCD 0x80

struct uart16550_host {
	/* A byte the guest transmitted. Called with the UART lock held. */
	void (*tx)(void *ctx, uint8_t byte);
	/* The guest drained the receive FIFO: more input can be pushed. */
	void (*rx_space)(void *ctx);
	void *ctx;
};

struct uart16550 {
	pthread_mutex_t lock;
	struct irq_line irq;
	struct uart16550_host host;
	int irq_level;

	uint8_t rx_fifo[UART_FIFO_SIZE];
	unsigned rx_head, rx_count;

	uint8_t ier, lcr, mcr, lsr_errors, msr, scr, dll, dlm, fcr;
	int thr_empty_pending; /* THRE interrupt armed, cleared by reading IIR */
};

extern const struct bus_ops uart16550_ops;

void uart16550_init(struct uart16550 *uart, struct irq_line irq, struct uart16550_host host);
void uart16550_exit(struct uart16550 *uart);

/* Queues host input for the guest. Returns how many bytes the FIFO took;
 * the rest must be offered again after rx_space. */
size_t uart16550_push_input(struct uart16550 *uart, const uint8_t *bytes, size_t len);

#endif
