#include "drivers/uart.h"

#include "arch/cpu.h"

#define COM1 0x3f8

#define REG_DATA 0 /* RBR/THR; DLL with DLAB */
#define REG_IER 1  /* DLM with DLAB */
#define REG_IIR_FCR 2
#define REG_LCR 3
#define REG_MCR 4
#define REG_LSR 5
#define REG_SCRATCH 7

#define IER_RX_DATA 0x01
#define IIR_FIFO_ENABLED 0xc0
#define FCR_ENABLE 0x01
#define LCR_8N1 0x03
#define LCR_DLAB 0x80
#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT2 0x08 /* gates the IRQ onto the ISA bus on real PCs */
#define LSR_DATA_READY 0x01
#define LSR_THR_EMPTY 0x20

#define BAUD_DIVISOR_115200 1
#define TX_SPIN_LIMIT 1000000

static bool present;

static uint8_t uart_in(unsigned reg)
{
	return inb(COM1 + reg);
}

static void uart_out(unsigned reg, uint8_t value)
{
	outb(COM1 + reg, value);
}

/* The scratch register holds what was written only if a UART is there. */
static bool uart_probe(void)
{
	uart_out(REG_SCRATCH, 0x5a);
	if (uart_in(REG_SCRATCH) != 0x5a)
		return false;
	uart_out(REG_SCRATCH, 0xa5);
	return uart_in(REG_SCRATCH) == 0xa5;
}

/* Changing FCR's enable bit flushes the receive FIFO on a 16550 (QEMU's and
 * Skiff's models included), and a host that pipes input in may already
 * have put bytes there before the guest ran. So the FIFO is left in the
 * state we find it: if firmware enabled it, only the trigger level is set
 * (1 byte, so each byte interrupts); otherwise the UART works as a 16450
 * with a one-byte buffer, which the host refills as we read. */
static void uart_setup_fifo(void)
{
	if ((uart_in(REG_IIR_FCR) & IIR_FIFO_ENABLED) == IIR_FIFO_ENABLED)
		uart_out(REG_IIR_FCR, FCR_ENABLE);
}

void uart_init(void)
{
	present = uart_probe();
	if (!present)
		return;
	uart_out(REG_IER, 0);
	uart_out(REG_LCR, LCR_DLAB);
	uart_out(REG_DATA, BAUD_DIVISOR_115200 & 0xff);
	uart_out(REG_IER, BAUD_DIVISOR_115200 >> 8);
	uart_out(REG_LCR, LCR_8N1);
	uart_setup_fifo();
	uart_out(REG_MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
}

bool uart_present(void)
{
	return present;
}

void uart_putc(uint8_t byte)
{
	/* Bounded, so a wedged UART slows output down instead of hanging. */
	for (long i = 0; i < TX_SPIN_LIMIT; i++) {
		if (uart_in(REG_LSR) & LSR_THR_EMPTY)
			break;
		cpu_relax();
	}
	uart_out(REG_DATA, byte);
}

unsigned uart_receive(uint8_t *buf, unsigned max)
{
	unsigned n = 0;

	if (!present)
		return 0;
	while (n < max && (uart_in(REG_LSR) & LSR_DATA_READY))
		buf[n++] = uart_in(REG_DATA);
	return n;
}

void uart_enable_rx_interrupt(void)
{
	if (present)
		uart_out(REG_IER, IER_RX_DATA);
}
