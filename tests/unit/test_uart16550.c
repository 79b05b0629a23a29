#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "devices/bus.h"
#include "devices/uart16550.h"
#include "vmm/irq_router.h"

/* A UART on a real port bus, with a host that records what it is told and
 * an interrupt line that counts edges. */
struct fixture {
	struct bus pio;
	struct uart16550 uart;
	uint8_t tx[64];
	unsigned tx_len;
	unsigned rx_space_calls;
	unsigned irq_calls;
	int irq_level;
	unsigned irq_gsi;
};

static void host_tx(void *ctx, uint8_t byte)
{
	struct fixture *f = ctx;

	assert_true(f->tx_len < sizeof(f->tx));
	f->tx[f->tx_len++] = byte;
}

static void host_rx_space(void *ctx)
{
	struct fixture *f = ctx;

	f->rx_space_calls++;
}

static void fake_set_level(void *ctx, unsigned gsi, int level)
{
	struct fixture *f = ctx;

	f->irq_calls++;
	f->irq_level = level;
	f->irq_gsi = gsi;
}

static int setup(void **state)
{
	struct fixture *f = test_calloc(1, sizeof(*f));

	bus_init(&f->pio, "pio");
	uart16550_init(&f->uart, (struct irq_line){fake_set_level, f, UART_COM1_IRQ},
		       (struct uart16550_host){host_tx, host_rx_space, f});
	assert_int_equal(
		bus_register(&f->pio, UART_COM1_BASE, UART_NR_REGS, &uart16550_ops, &f->uart), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	uart16550_exit(&f->uart);
	bus_destroy(&f->pio);
	test_free(f);
	return 0;
}

/* Guest accesses, through the bus like a vCPU's port I/O. */
static uint8_t in(struct fixture *f, unsigned reg)
{
	uint8_t v = 0xee;

	assert_true(bus_read(&f->pio, UART_COM1_BASE + reg, &v, 1));
	return v;
}

static void out(struct fixture *f, unsigned reg, uint8_t v)
{
	assert_true(bus_write(&f->pio, UART_COM1_BASE + reg, &v, 1));
}

static size_t push(struct fixture *f, const char *s)
{
	return uart16550_push_input(&f->uart, (const uint8_t *)s, strlen(s));
}

static void enable_fifo(struct fixture *f)
{
	out(f, UART_FCR, UART_FCR_ENABLE);
}

static void scratch_register_keeps_what_guest_wrote(void **state)
{
	struct fixture *f = *state;

	for (unsigned v = 0; v < 256; v += 51) {
		out(f, UART_SCR, (uint8_t)v);
		assert_int_equal(in(f, UART_SCR), v);
	}
	/* Probe-style: two different values, both read back. */
	out(f, UART_SCR, 0x55);
	assert_int_equal(in(f, UART_SCR), 0x55);
	out(f, UART_SCR, 0xaa);
	assert_int_equal(in(f, UART_SCR), 0xaa);
}

static void dlab_switches_rbr_and_ier_to_divisor_latch(void **state)
{
	struct fixture *f = *state;

	out(f, UART_IER, UART_IER_RDI);
	out(f, UART_LCR, UART_LCR_DLAB | 0x03);
	out(f, UART_DLL, 0x01); /* 115200 baud */
	out(f, UART_DLM, 0x00);
	assert_int_equal(f->tx_len, 0); /* the DLL write is not a THR write */
	assert_int_equal(in(f, UART_DLL), 0x01);
	assert_int_equal(in(f, UART_DLM), 0x00);
	out(f, UART_DLM, 0x12);
	assert_int_equal(in(f, UART_DLM), 0x12);

	out(f, UART_LCR, 0x03);
	assert_int_equal(in(f, UART_LCR), 0x03);
	assert_int_equal(in(f, UART_IER), UART_IER_RDI); /* untouched by DLM */
	out(f, UART_LCR, UART_LCR_DLAB | 0x03);
	assert_int_equal(in(f, UART_DLL), 0x01); /* untouched by IER */
	assert_int_equal(in(f, UART_DLM), 0x12);
}

static void dlab_hides_received_byte(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(push(f, "q"), 1);
	out(f, UART_LCR, UART_LCR_DLAB);
	assert_int_equal(in(f, UART_DLL), 0x0c); /* the divisor, not the data */
	out(f, UART_LCR, 0x03);
	assert_int_equal(in(f, UART_RBR), 'q');
}

static void lsr_reports_transmitter_always_empty(void **state)
{
	struct fixture *f = *state;

	uint8_t lsr = in(f, UART_LSR);
	assert_int_equal(lsr & (UART_LSR_THRE | UART_LSR_TEMT), UART_LSR_THRE | UART_LSR_TEMT);
	assert_int_equal(lsr & UART_LSR_DR, 0);
	out(f, UART_THR, 'x');
	lsr = in(f, UART_LSR);
	assert_int_equal(lsr & (UART_LSR_THRE | UART_LSR_TEMT), UART_LSR_THRE | UART_LSR_TEMT);
}

static void thr_write_sends_byte_to_host(void **state)
{
	struct fixture *f = *state;

	out(f, UART_THR, 'O');
	out(f, UART_THR, 'K');
	out(f, UART_THR, 0x00);
	out(f, UART_THR, 0xff);
	assert_int_equal(f->tx_len, 4);
	assert_memory_equal(f->tx, "OK\0\xff", 4);
}

static void rx_fifo_takes_16_bytes_and_drains_in_order(void **state)
{
	struct fixture *f = *state;
	const char *text = "0123456789abcdefXYZ";

	enable_fifo(f);
	assert_int_equal(push(f, text), UART_FIFO_SIZE);
	assert_true(in(f, UART_LSR) & UART_LSR_DR);
	assert_int_equal(push(f, "more"), 0); /* full: nothing taken */
	for (unsigned i = 0; i < UART_FIFO_SIZE; i++) {
		assert_true(in(f, UART_LSR) & UART_LSR_DR);
		assert_int_equal(f->rx_space_calls, 0);
		assert_int_equal(in(f, UART_RBR), (uint8_t)text[i]);
	}
	assert_false(in(f, UART_LSR) & UART_LSR_DR);
	assert_int_equal(f->rx_space_calls, 1); /* told exactly once, when empty */
	/* The rest is offered again and lands in order after a wrap. */
	assert_int_equal(push(f, text + UART_FIFO_SIZE), 3);
	assert_int_equal(in(f, UART_RBR), 'X');
	assert_int_equal(in(f, UART_RBR), 'Y');
	assert_int_equal(in(f, UART_RBR), 'Z');
	assert_int_equal(f->rx_space_calls, 2);
}

static uint8_t seq(unsigned i)
{
	return (uint8_t)('A' + i % 26);
}

static void rx_fifo_wraps_around_its_ring(void **state)
{
	struct fixture *f = *state;
	unsigned next_in = 0, next_out = 0;

	enable_fifo(f);
	/* Keep 5-12 bytes queued while 75 pass through the 16-byte ring. */
	for (int round = 0; round < 11; round++) {
		uint8_t chunk[7];
		size_t n = round == 0 ? 5 : 7;

		for (size_t i = 0; i < n; i++)
			chunk[i] = seq(next_in++);
		assert_int_equal(uart16550_push_input(&f->uart, chunk, n), n);
		for (int i = 0; round > 0 && i < 7; i++)
			assert_int_equal(in(f, UART_RBR), seq(next_out++));
	}
	while (next_out < next_in)
		assert_int_equal(in(f, UART_RBR), seq(next_out++));
	assert_false(in(f, UART_LSR) & UART_LSR_DR);
	assert_int_equal(f->rx_space_calls, 1);
}

static void without_fifo_receiver_holds_one_byte(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(push(f, "ab"), 1); /* the FIFO is off after reset */
	assert_int_equal(push(f, "c"), 0);
	assert_int_equal(in(f, UART_RBR), 'a');
	assert_int_equal(f->rx_space_calls, 1);
	enable_fifo(f);
	assert_int_equal(push(f, "abcdefghijklmnopq"), 16);
	out(f, UART_FCR, 0); /* turning the FIFO off discards its contents */
	assert_false(in(f, UART_LSR) & UART_LSR_DR);
	assert_int_equal(push(f, "xy"), 1);
}

static void reading_empty_rbr_returns_zero(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(in(f, UART_RBR), 0);
	assert_int_equal(push(f, "z"), 1);
	assert_int_equal(in(f, UART_RBR), 'z');
	assert_int_equal(in(f, UART_RBR), 0); /* not the stale 'z' */
	assert_int_equal(in(f, UART_RBR), 0);
	assert_int_equal(f->rx_space_calls, 1); /* only the real drain */
	assert_false(in(f, UART_LSR) & UART_LSR_DR);
}

static void fcr_clear_rx_empties_fifo_and_frees_space(void **state)
{
	struct fixture *f = *state;

	enable_fifo(f);
	assert_int_equal(push(f, "stale input"), 11);
	out(f, UART_FCR, UART_FCR_ENABLE | UART_FCR_CLEAR_RX);
	assert_false(in(f, UART_LSR) & UART_LSR_DR);
	assert_int_equal(in(f, UART_RBR), 0);
	assert_int_equal(f->rx_space_calls, 1);
	assert_int_equal(push(f, "0123456789abcdef"), 16); /* full capacity again */
	/* The clear bit self-resets: the FIFO stays enabled and usable. */
	assert_int_equal(in(f, UART_IIR) & UART_IIR_FIFO_ENABLED, UART_IIR_FIFO_ENABLED);
	assert_int_equal(in(f, UART_RBR), '0');
}

static void iir_reports_received_data_only_when_enabled(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(in(f, UART_IIR) & 0x0f, UART_IIR_NO_INT);
	assert_int_equal(push(f, "k"), 1);
	assert_int_equal(in(f, UART_IIR) & 0x0f, UART_IIR_NO_INT); /* IER.RDI clear */
	assert_int_equal(f->irq_level, 0);
	out(f, UART_IER, UART_IER_RDI);
	assert_int_equal(in(f, UART_IIR) & 0x0f, UART_IIR_RDI);
	assert_int_equal(f->irq_level, 1);
	assert_int_equal(f->irq_gsi, UART_COM1_IRQ);
	in(f, UART_RBR);
	assert_int_equal(in(f, UART_IIR) & 0x0f, UART_IIR_NO_INT);
	assert_int_equal(f->irq_level, 0);
}

static void enabling_thri_raises_interrupt_and_iir_read_clears_it(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(f->irq_calls, 0);
	out(f, UART_IER, UART_IER_THRI);
	assert_int_equal(f->irq_level, 1);
	assert_int_equal(f->irq_calls, 1);
	assert_int_equal(in(f, UART_IIR) & 0x0f, UART_IIR_THRI);
	/* Reading IIR acknowledged it: line down, no longer reported. */
	assert_int_equal(f->irq_level, 0);
	assert_int_equal(f->irq_calls, 2);
	assert_int_equal(in(f, UART_IIR) & 0x0f, UART_IIR_NO_INT);
	/* Rewriting the same IER does not re-arm it... */
	out(f, UART_IER, UART_IER_THRI);
	assert_int_equal(in(f, UART_IIR) & 0x0f, UART_IIR_NO_INT);
	/* ...but sending a byte does: THR is empty again at once. */
	out(f, UART_THR, '.');
	assert_int_equal(f->irq_level, 1);
	assert_int_equal(in(f, UART_IIR) & 0x0f, UART_IIR_THRI);
	assert_int_equal(f->irq_level, 0);
	assert_int_equal(f->irq_calls, 4);
}

static void received_data_outranks_thr_empty(void **state)
{
	struct fixture *f = *state;

	out(f, UART_IER, UART_IER_RDI | UART_IER_THRI);
	assert_int_equal(push(f, "r"), 1);
	/* RDI is reported first and reading IIR does not eat the THRI. */
	assert_int_equal(in(f, UART_IIR) & 0x0f, UART_IIR_RDI);
	assert_int_equal(in(f, UART_IIR) & 0x0f, UART_IIR_RDI);
	assert_int_equal(in(f, UART_RBR), 'r');
	assert_int_equal(f->irq_level, 1);
	assert_int_equal(in(f, UART_IIR) & 0x0f, UART_IIR_THRI);
	assert_int_equal(f->irq_level, 0);
}

static void irq_line_changes_only_on_level_edges(void **state)
{
	struct fixture *f = *state;

	enable_fifo(f);
	out(f, UART_IER, UART_IER_RDI);
	assert_int_equal(f->irq_calls, 0);
	assert_int_equal(push(f, "a"), 1);
	assert_int_equal(f->irq_calls, 1);
	assert_int_equal(f->irq_level, 1);
	assert_int_equal(push(f, "bc"), 2); /* still pending: no new call */
	in(f, UART_LSR);
	in(f, UART_SCR);
	assert_int_equal(f->irq_calls, 1);
	in(f, UART_RBR);
	in(f, UART_RBR);
	assert_int_equal(f->irq_calls, 1);
	in(f, UART_RBR);
	assert_int_equal(f->irq_calls, 2);
	assert_int_equal(f->irq_level, 0);
	/* Masking the interrupt with data waiting lowers the line. */
	assert_int_equal(push(f, "d"), 1);
	assert_int_equal(f->irq_level, 1);
	out(f, UART_IER, 0);
	assert_int_equal(f->irq_level, 0);
	assert_int_equal(f->irq_calls, 4);
}

static void loopback_mirrors_mcr_into_msr(void **state)
{
	struct fixture *f = *state;

	out(f, UART_MCR, UART_MCR_LOOP);
	assert_int_equal(in(f, UART_MSR) & 0xf0, 0);
	out(f, UART_MCR, UART_MCR_LOOP | UART_MCR_RTS);
	assert_int_equal(in(f, UART_MSR) & 0xf0, UART_MSR_CTS);
	out(f, UART_MCR, UART_MCR_LOOP | UART_MCR_DTR);
	assert_int_equal(in(f, UART_MSR) & 0xf0, UART_MSR_DSR);
	out(f, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT1);
	assert_int_equal(in(f, UART_MSR) & 0xf0, UART_MSR_RI);
	out(f, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2);
	assert_int_equal(in(f, UART_MSR) & 0xf0, UART_MSR_DCD);
	out(f, UART_MCR, 0x1f);
	assert_int_equal(in(f, UART_MSR) & 0xf0, 0xf0);
	assert_int_equal(in(f, UART_MCR), 0x1f);
	/* Leaving loopback: modem lines report a connected peer again. */
	out(f, UART_MCR, UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);
	assert_int_equal(in(f, UART_MSR) & 0xf0, UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
}

static void loopback_sends_thr_to_receiver_not_host(void **state)
{
	struct fixture *f = *state;

	enable_fifo(f);
	out(f, UART_MCR, UART_MCR_LOOP);
	out(f, UART_THR, 'L');
	out(f, UART_THR, 'B');
	assert_int_equal(f->tx_len, 0);
	assert_true(in(f, UART_LSR) & UART_LSR_DR);
	assert_int_equal(in(f, UART_RBR), 'L');
	assert_int_equal(in(f, UART_RBR), 'B');
	out(f, UART_MCR, 0);
	out(f, UART_THR, 'H');
	assert_int_equal(f->tx_len, 1);
	assert_int_equal(f->tx[0], 'H');
	assert_false(in(f, UART_LSR) & UART_LSR_DR);
}

static void loopback_overrun_sets_lsr_oe_once(void **state)
{
	struct fixture *f = *state;

	out(f, UART_MCR, UART_MCR_LOOP); /* FIFO off: room for one byte */
	out(f, UART_THR, '1');
	out(f, UART_THR, '2');
	uint8_t lsr = in(f, UART_LSR);
	assert_true(lsr & UART_LSR_OE);
	assert_true(lsr & UART_LSR_DR);
	assert_false(in(f, UART_LSR) & UART_LSR_OE); /* cleared by the read */
	assert_int_equal(in(f, UART_RBR), '1');	     /* the overrun byte was lost */
}

static void msr_delta_bits_clear_on_read(void **state)
{
	struct fixture *f = *state;

	out(f, UART_MCR, UART_MCR_LOOP | UART_MCR_RTS);
	out(f, UART_MCR, UART_MCR_LOOP); /* CTS falls */
	assert_true(in(f, UART_MSR) & UART_MSR_DCTS);
	assert_false(in(f, UART_MSR) & UART_MSR_DCTS);
}

static void wide_access_touches_only_first_register(void **state)
{
	struct fixture *f = *state;
	uint8_t two[2] = {'W', 0x5a};

	out(f, UART_SCR, 0x11);
	/* A 2-byte outw at THR must not also write IER. */
	assert_true(bus_write(&f->pio, UART_COM1_BASE + UART_THR, two, 2));
	assert_int_equal(f->tx_len, 1);
	assert_int_equal(in(f, UART_IER), 0);
	uint8_t wide[4];
	memset(wide, 0xee, sizeof(wide));
	assert_true(bus_read(&f->pio, UART_COM1_BASE + 4, wide, 4));
	assert_int_equal(wide[3], 0); /* zero-filled, not SCR's 0x11 */
}

/* As the VM wires it: the UART drives a source of its own on the router's
 * pin 4, and the pin (KVM_IRQ_LINE there, the fake here) sees exactly the
 * changes the UART's own line makes. */
static void through_the_routers_isa_pin_the_uart_raises_the_same_changes(void **state)
{
	struct fixture *f = *state;
	struct irq_router *router = test_calloc(1, sizeof(*router));
	struct irq_line line;

	irq_router_init(router, -1); /* no VM: the pin is faked */
	router->pins[UART_COM1_IRQ].pin = (struct irq_line){fake_set_level, f, UART_COM1_IRQ};
	assert_int_equal(irq_router_line(router, UART_COM1_IRQ, &line), 0);
	uart16550_exit(&f->uart);
	uart16550_init(&f->uart, line, (struct uart16550_host){host_tx, host_rx_space, f});

	out(f, UART_IER, UART_IER_THRI);
	assert_int_equal(f->irq_level, 1);
	assert_int_equal(f->irq_gsi, UART_COM1_IRQ);
	out(f, UART_IER, UART_IER_THRI | UART_IER_RDI); /* still pending: no call */
	assert_int_equal(f->irq_calls, 1);
	assert_int_equal(in(f, UART_IIR) & 0x0f, UART_IIR_THRI);
	assert_int_equal(f->irq_level, 0);
	assert_int_equal(f->irq_calls, 2);
	irq_router_exit(router);
	test_free(router);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(scratch_register_keeps_what_guest_wrote),
		T(dlab_switches_rbr_and_ier_to_divisor_latch),
		T(dlab_hides_received_byte),
		T(lsr_reports_transmitter_always_empty),
		T(thr_write_sends_byte_to_host),
		T(rx_fifo_takes_16_bytes_and_drains_in_order),
		T(rx_fifo_wraps_around_its_ring),
		T(without_fifo_receiver_holds_one_byte),
		T(reading_empty_rbr_returns_zero),
		T(fcr_clear_rx_empties_fifo_and_frees_space),
		T(iir_reports_received_data_only_when_enabled),
		T(enabling_thri_raises_interrupt_and_iir_read_clears_it),
		T(received_data_outranks_thr_empty),
		T(irq_line_changes_only_on_level_edges),
		T(loopback_mirrors_mcr_into_msr),
		T(loopback_sends_thr_to_receiver_not_host),
		T(loopback_overrun_sets_lsr_oe_once),
		T(msr_delta_bits_clear_on_read),
		T(wide_access_touches_only_first_register),
		T(through_the_routers_isa_pin_the_uart_raises_the_same_changes),
	};
	return cmocka_run_group_tests_name("uart16550", tests, NULL, NULL);
}
