#include "devices/uart16550.h"

#include <string.h>

static unsigned uart_rx_capacity(const struct uart16550 *uart)
{
	/* With the FIFO disabled the chip behaves as a 16450: one byte. */
	return (uart->fcr & UART_FCR_ENABLE) ? UART_FIFO_SIZE : 1;
}

/* The highest-priority pending interrupt, as IIR reports it. */
static uint8_t uart_pending_iir(const struct uart16550 *uart)
{
	if ((uart->ier & UART_IER_RLSI) && uart->lsr_errors)
		return UART_IIR_RLSI;
	if ((uart->ier & UART_IER_RDI) && uart->rx_count)
		return UART_IIR_RDI;
	if ((uart->ier & UART_IER_THRI) && uart->thr_empty_pending)
		return UART_IIR_THRI;
	if ((uart->ier & UART_IER_MSI) && (uart->msr & 0x0f))
		return UART_IIR_MSI;
	return UART_IIR_NO_INT;
}

static void uart_update_irq(struct uart16550 *uart)
{
	int level = uart_pending_iir(uart) != UART_IIR_NO_INT;

	/* OUT2 gates the interrupt onto the ISA bus on PC serial ports, but
	 * guests that poll leave it clear while others set it; like QEMU we
	 * raise the line regardless and let IER decide. */
	if (level == uart->irq_level)
		return;
	uart->irq_level = level;
	irq_line_set(&uart->irq, level);
}

static uint8_t uart_loopback_msr(uint8_t mcr)
{
	uint8_t msr = 0;

	if (mcr & UART_MCR_RTS)
		msr |= UART_MSR_CTS;
	if (mcr & UART_MCR_DTR)
		msr |= UART_MSR_DSR;
	if (mcr & UART_MCR_OUT1)
		msr |= UART_MSR_RI;
	if (mcr & UART_MCR_OUT2)
		msr |= UART_MSR_DCD;
	return msr;
}

static void uart_rx_put(struct uart16550 *uart, uint8_t byte)
{
	unsigned tail = (uart->rx_head + uart->rx_count) % UART_FIFO_SIZE;

	uart->rx_fifo[tail] = byte;
	uart->rx_count++;
}

static uint8_t uart_rx_take(struct uart16550 *uart)
{
	uint8_t byte = uart->rx_fifo[uart->rx_head];

	uart->rx_head = (uart->rx_head + 1) % UART_FIFO_SIZE;
	uart->rx_count--;
	return byte;
}

static void uart_transmit(struct uart16550 *uart, uint8_t byte)
{
	if (uart->mcr & UART_MCR_LOOP) {
		if (uart->rx_count < uart_rx_capacity(uart))
			uart_rx_put(uart, byte);
		else
			uart->lsr_errors |= UART_LSR_OE;
	} else if (uart->host.tx) {
		uart->host.tx(uart->host.ctx, byte);
	}
	/* Sent at once, so THR is empty again straight away. */
	uart->thr_empty_pending = 1;
}

static uint8_t uart_read_reg(struct uart16550 *uart, unsigned reg, int *drained)
{
	int dlab = uart->lcr & UART_LCR_DLAB;
	uint8_t val;

	switch (reg) {
	case UART_RBR:
		if (dlab)
			return uart->dll;
		if (!uart->rx_count)
			return 0;
		val = uart_rx_take(uart);
		*drained = uart->rx_count == 0;
		return val;
	case UART_IER:
		return dlab ? uart->dlm : uart->ier;
	case UART_IIR:
		val = uart_pending_iir(uart);
		if (val == UART_IIR_THRI)
			uart->thr_empty_pending = 0;
		if (uart->fcr & UART_FCR_ENABLE)
			val |= UART_IIR_FIFO_ENABLED;
		return val;
	case UART_LCR:
		return uart->lcr;
	case UART_MCR:
		return uart->mcr;
	case UART_LSR:
		val = UART_LSR_THRE | UART_LSR_TEMT | uart->lsr_errors;
		if (uart->rx_count)
			val |= UART_LSR_DR;
		uart->lsr_errors = 0;
		return val;
	case UART_MSR:
		val = uart->msr;
		uart->msr &= 0xf0; /* reading clears the delta bits */
		return val;
	default:
		return uart->scr;
	}
}

static void uart_write_fcr(struct uart16550 *uart, uint8_t val, int *drained)
{
	if ((val & UART_FCR_CLEAR_RX) || ((val ^ uart->fcr) & UART_FCR_ENABLE)) {
		*drained = uart->rx_count != 0;
		uart->rx_head = uart->rx_count = 0;
	}
	uart->fcr = val & 0xc9; /* the clear bits self-reset */
}

static void uart_write_mcr(struct uart16550 *uart, uint8_t val)
{
	uint8_t old_msr = uart->msr;

	uart->mcr = val & 0x1f;
	if (uart->mcr & UART_MCR_LOOP)
		uart->msr = uart_loopback_msr(uart->mcr);
	else
		uart->msr = UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
	if ((old_msr ^ uart->msr) & UART_MSR_CTS)
		uart->msr |= UART_MSR_DCTS;
}

static void uart_write_reg(struct uart16550 *uart, unsigned reg, uint8_t val, int *drained)
{
	int dlab = uart->lcr & UART_LCR_DLAB;

	switch (reg) {
	case UART_THR:
		if (dlab)
			uart->dll = val;
		else
			uart_transmit(uart, val);
		break;
	case UART_IER:
		if (dlab) {
			uart->dlm = val;
			break;
		}
		/* Enabling THRE interrupts with THR empty raises one at once. */
		if (!(uart->ier & UART_IER_THRI) && (val & UART_IER_THRI))
			uart->thr_empty_pending = 1;
		uart->ier = val & 0x0f;
		break;
	case UART_FCR:
		uart_write_fcr(uart, val, drained);
		break;
	case UART_LCR:
		uart->lcr = val;
		break;
	case UART_MCR:
		uart_write_mcr(uart, val);
		break;
	case UART_SCR:
		uart->scr = val;
		break;
	default: /* LSR and MSR are read-only */
		break;
	}
}

static void uart_bus_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct uart16550 *uart = opaque;
	int drained = 0;

	pthread_mutex_lock(&uart->lock);
	data[0] = uart_read_reg(uart, (unsigned)offset, &drained);
	uart_update_irq(uart);
	pthread_mutex_unlock(&uart->lock);
	if (drained && uart->host.rx_space)
		uart->host.rx_space(uart->host.ctx);
}

static void uart_bus_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct uart16550 *uart = opaque;
	int drained = 0;

	pthread_mutex_lock(&uart->lock);
	uart_write_reg(uart, (unsigned)offset, data[0], &drained);
	uart_update_irq(uart);
	pthread_mutex_unlock(&uart->lock);
	if (drained && uart->host.rx_space)
		uart->host.rx_space(uart->host.ctx);
}

const struct bus_ops uart16550_ops = {
	.name = "uart16550",
	.read = uart_bus_read,
	.write = uart_bus_write,
};

void uart16550_init(struct uart16550 *uart, struct irq_line irq, struct uart16550_host host)
{
	memset(uart, 0, sizeof(*uart));
	pthread_mutex_init(&uart->lock, NULL);
	uart->irq = irq;
	uart->host = host;
	uart->lcr = 0x03; /* 8N1, as firmware leaves it */
	uart->msr = UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
	uart->dll = 0x0c; /* 9600 baud */
}

void uart16550_exit(struct uart16550 *uart)
{
	pthread_mutex_destroy(&uart->lock);
}

size_t uart16550_push_input(struct uart16550 *uart, const uint8_t *bytes, size_t len)
{
	size_t taken = 0;

	pthread_mutex_lock(&uart->lock);
	while (taken < len && uart->rx_count < uart_rx_capacity(uart))
		uart_rx_put(uart, bytes[taken++]);
	uart_update_irq(uart);
	pthread_mutex_unlock(&uart->lock);
	return taken;
}
