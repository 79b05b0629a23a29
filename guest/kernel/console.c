#include "kernel/console.h"

#include <stdarg.h>

#include "arch/cpu.h"
#include "arch/interrupts.h"
#include "arch/ioapic.h"
#include "arch/lapic.h"
#include "arch/layout.h"
#include "drivers/uart.h"
#include "kernel/idle.h"
#include "kernel/platform.h"
#include "lib/format.h"
#include "lib/ring.h"
#include "lib/spinlock.h"
#include "lib/string.h"

#define EMERGENCY_LOCK_TRIES 10000000
#define RX_DRAIN_MAX 256 /* bytes per drain: bounds the loop if LSR is stuck */

static struct spinlock output_lock;
static struct ring input;
static bool at_line_start = true; /* the last byte sent was '\n' */

void console_init(void)
{
	uart_init();
}

static void console_put_raw(char c)
{
	if (c == '\n')
		uart_putc('\r');
	uart_putc((uint8_t)c);
	at_line_start = c == '\n';
}

static void console_sink(void *ctx, char c)
{
	(void)ctx;
	console_put_raw(c);
}

void console_write(const char *s, size_t len)
{
	uint64_t flags = spin_lock_irqsave(&output_lock);

	for (size_t i = 0; i < len; i++)
		console_put_raw(s[i]);
	spin_unlock_irqrestore(&output_lock, flags);
}

void console_puts(const char *s)
{
	console_write(s, strlen(s));
}

int kprintf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	uint64_t flags = spin_lock_irqsave(&output_lock);
	int n = vformat(console_sink, NULL, fmt, ap);
	spin_unlock_irqrestore(&output_lock, flags);
	va_end(ap);
	return n;
}

void console_begin_line(void)
{
	uint64_t flags = spin_lock_irqsave(&output_lock);

	if (!at_line_start)
		console_put_raw('\n');
	spin_unlock_irqrestore(&output_lock, flags);
}

void console_emergency_printf(const char *fmt, ...)
{
	va_list ap;
	bool locked = false;

	for (long i = 0; i < EMERGENCY_LOCK_TRIES && !locked; i++)
		locked = spin_trylock(&output_lock);
	va_start(ap, fmt);
	vformat(console_sink, NULL, fmt, ap);
	va_end(ap);
	if (locked)
		spin_unlock(&output_lock);
}

/* Moves everything the UART holds into the ring. Runs on the BSP with
 * interrupts off (from the IRQ handler or the idle loop), so the ring has
 * a single producer. */
static void console_drain_uart(void)
{
	uint8_t buf[16];
	unsigned total = 0, n;

	while (total < RX_DRAIN_MAX && (n = uart_receive(buf, sizeof(buf))) > 0) {
		for (unsigned i = 0; i < n; i++)
			ring_put(&input, buf[i]);
		total += n;
	}
}

static void console_uart_interrupt(struct interrupt_frame *frame)
{
	(void)frame;
	console_drain_uart();
}

void console_enable_input_interrupt(void)
{
	const struct isa_irq_route *route = &platform.isa_irqs[UART_COM1_IRQ];
	uint8_t vector = VECTOR_ISA_IRQ_BASE + UART_COM1_IRQ;

	if (!uart_present())
		return;
	interrupt_register(vector, console_uart_interrupt, "uart (ISA IRQ 4)");
	/* The IOAPIC entry first: the UART may already hold input, and its
	 * line rising once IER is set is the edge that must not be missed. */
	ioapic_route(route->gsi, vector, lapic_id(), route->flags);
	uart_enable_rx_interrupt();
}

uint8_t console_getc(void)
{
	uint8_t c;

	for (;;) {
		irq_disable();
		/* The fallback for a lost edge or a missing IOAPIC route. */
		console_drain_uart();
		if (ring_get(&input, &c)) {
			irq_enable();
			return c;
		}
		/* Drivers' idle work (network receive...), then sleep: the
		 * tick, the UART or a device interrupt ends the halt. */
		idle_run_hooks();
		irq_enable_and_halt();
	}
}
