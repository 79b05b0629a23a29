/* PCI INTx as the VM wires it: each function's slot and IOAPIC pin come
 * from vm_pci_next_slot together, and functions whose slots share a pin
 * (n and n + 8) each drive a source of their own on it; the command
 * register's INTx Disable and the status register's Interrupt Status.
 * The router's KVM_IRQ_LINE call for the shared pin is replaced by a
 * fake. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "devices/bus.h"
#include "devices/pci.h"
#include "devices/virtio/virtio_rng.h"
#include "mm/guest_mem.h"
#include "vmm/irq_router.h"
#include "vmm/mptable.h"
#include "vmm/vm_pci.h"

#define MMIO_BASE 0xc0000000ULL
#define NR_RNGS 3
#define ISR_CONFIG 0x2	 /* virtio 1.x 4.1.4.5: a configuration change */
#define NO_VECTOR 0xffff /* no MSI-X vector */

struct fake_pin {
	unsigned calls;
	int level;
};

struct rig {
	struct bus pio, mmio;
	struct pci_host host;
	struct irq_router irqs;
	struct guest_mem mem;
	struct pci_device fillers[PCI_MAX_SLOTS];
	struct virtio_rng rngs[NR_RNGS];
	unsigned nr_rngs;
	int next_route;
	struct fake_pin pin;
};

static int fake_alloc(void *ctx)
{
	struct rig *r = ctx;

	return r->next_route++;
}

static int fake_update(void *ctx, int route, uint64_t addr, uint32_t data)
{
	return 0;
}

static void fake_trigger(void *ctx, int route)
{
}

static void fake_pin_set(void *ctx, unsigned gsi, int level)
{
	struct fake_pin *pin = ctx;

	pin->calls++;
	pin->level = level;
}

static int rig_setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	bus_init(&r->pio, "pio");
	bus_init(&r->mmio, "mmio");
	assert_int_equal(guest_mem_init(&r->mem, 2 * GUEST_MIB), 0);
	assert_int_equal(
		pci_host_init(&r->host, &r->pio, &r->mmio, MMIO_BASE, 0x1000000, 0xc000, 0x4000),
		0);
	irq_router_init(&r->irqs, -1); /* no VM: the pins used are faked */
	*state = r;
	return 0;
}

static int rig_teardown(void **state)
{
	struct rig *r = *state;

	for (unsigned i = 0; i < r->nr_rngs; i++)
		virtio_rng_exit(&r->rngs[i]);
	irq_router_exit(&r->irqs);
	pci_host_exit(&r->host);
	guest_mem_destroy(&r->mem);
	bus_destroy(&r->pio);
	bus_destroy(&r->mmio);
	free(r);
	return 0;
}

/* What vm_pci.c does for each virtio device. */
static struct virtio_pci *rig_add_rng(struct rig *r)
{
	struct virtio_rng *rng = &r->rngs[r->nr_rngs++];
	struct msi_controller msi = {fake_alloc, fake_update, fake_trigger, r};
	struct vm_pci_slot at;

	assert_int_equal(vm_pci_next_slot(&r->host, &r->irqs, &at), 0);
	assert_int_equal(virtio_rng_init(rng, &r->mem, msi, at.intx), 0);
	assert_int_equal(pci_host_add_at(&r->host, &rng->vp.pci, at.slot), 0);
	return &rng->vp;
}

/* A function without BARs or interrupts that takes a slot. */
static void rig_add_filler(struct rig *r, unsigned slot)
{
	struct pci_device *dev = &r->fillers[slot];

	pci_device_init(dev, "filler", 0x1234, 0x5678, 0xff0000, 0);
	assert_int_equal(pci_host_add_at(&r->host, dev, slot), 0);
}

static void assert_wired_to_its_slots_pin(const struct virtio_pci *vp)
{
	unsigned pin = MPTABLE_PCI_INTX_GSI(vp->pci.slot);

	assert_int_equal(vp->pci.intx.gsi, pin);
	assert_int_equal(vp->pci.config[PCI_INTERRUPT_LINE], pin);
	assert_int_equal(vp->pci.config[PCI_INTERRUPT_PIN], 1); /* INTA# */
}

static void each_function_drives_the_pin_the_mp_table_names_for_its_slot(void **state)
{
	struct rig *r = *state;

	for (unsigned i = 0; i < NR_RNGS; i++) {
		struct virtio_pci *vp = rig_add_rng(r);
		assert_int_equal(vp->pci.slot, i + 1);
		assert_wired_to_its_slots_pin(vp);
	}
}

/* The old code assumed the n-th virtio device sits in slot n; a function
 * put on the bus another way would have shifted every pin after it. */
static void a_slot_taken_by_another_function_does_not_shift_the_pin(void **state)
{
	struct rig *r = *state;

	rig_add_filler(r, 1);
	rig_add_filler(r, 3);
	struct virtio_pci *a = rig_add_rng(r);
	struct virtio_pci *b = rig_add_rng(r);
	assert_int_equal(a->pci.slot, 2);
	assert_int_equal(b->pci.slot, 4);
	assert_wired_to_its_slots_pin(a);
	assert_wired_to_its_slots_pin(b);
}

static void add_at_refuses_a_taken_or_missing_slot(void **state)
{
	struct rig *r = *state;
	struct pci_device dev;

	rig_add_filler(r, 5);
	pci_device_init(&dev, "late", 0x1234, 0x5678, 0xff0000, 0);
	assert_int_equal(pci_host_add_at(&r->host, &dev, 5), -EBUSY);
	assert_int_equal(pci_host_add_at(&r->host, &dev, 0), -EINVAL); /* host bridge */
	assert_int_equal(pci_host_add_at(&r->host, &dev, PCI_MAX_SLOTS), -EINVAL);
	assert_ptr_equal(r->host.slots[5], &r->fillers[5]);
	assert_int_equal(pci_host_free_slot(&r->host), 1);
}

static void a_full_bus_has_no_next_slot(void **state)
{
	struct rig *r = *state;
	struct vm_pci_slot at;

	for (unsigned slot = 1; slot < PCI_MAX_SLOTS; slot++)
		rig_add_filler(r, slot);
	assert_int_equal(pci_host_free_slot(&r->host), -ENOSPC);
	assert_int_equal(vm_pci_next_slot(&r->host, &r->irqs, &at), -ENOSPC);
}

static void router_lines_are_distinct_sources_on_ioapic_pins_only(void **state)
{
	struct rig *r = *state;
	struct irq_line a, b;

	assert_int_equal(irq_router_line(&r->irqs, 17, &a), 0);
	assert_int_equal(irq_router_line(&r->irqs, 17, &b), 0);
	assert_ptr_not_equal(a.ctx, b.ctx);
	assert_int_equal(a.gsi, 17);
	assert_int_equal(irq_router_line(&r->irqs, IRQ_ROUTER_IOAPIC_PINS, &a), -EINVAL);
}

/* A configuration cycle through the host bridge's ports, as a guest
 * makes one. */
static void cfg_write16(struct rig *r, unsigned slot, unsigned off, uint16_t v)
{
	uint32_t addr = 0x80000000u | slot << 11 | (off & 0xfc);

	bus_write(&r->pio, PCI_CONFIG_ADDRESS_PORT, (uint8_t *)&addr, 4);
	bus_write(&r->pio, PCI_CONFIG_DATA_PORT + (off & 2), (uint8_t *)&v, 2);
}

static uint16_t cfg_read16(struct rig *r, unsigned slot, unsigned off)
{
	uint32_t addr = 0x80000000u | slot << 11 | (off & 0xfc);
	uint16_t v = 0;

	bus_write(&r->pio, PCI_CONFIG_ADDRESS_PORT, (uint8_t *)&addr, 4);
	bus_read(&r->pio, PCI_CONFIG_DATA_PORT + (off & 2), (uint8_t *)&v, 2);
	return v;
}

static void set_command(struct rig *r, const struct virtio_pci *vp, uint16_t command)
{
	cfg_write16(r, vp->pci.slot, PCI_COMMAND, command);
}

static bool intx_status(struct rig *r, const struct virtio_pci *vp)
{
	return cfg_read16(r, vp->pci.slot, PCI_STATUS) & PCI_STATUS_INTERRUPT;
}

/* The pin of vp's slot, with KVM_IRQ_LINE replaced by the rig's fake. */
static void fake_the_pin(struct rig *r, const struct virtio_pci *vp)
{
	unsigned gsi = vp->pci.intx.gsi;

	r->irqs.pins[gsi].pin = (struct irq_line){fake_pin_set, &r->pin, gsi};
}

static uint8_t isr_read(struct rig *r, const struct virtio_pci *vp)
{
	uint8_t isr = 0xee;

	bus_read(&r->mmio, vp->pci.bars[VIRTIO_PCI_BAR].addr + VIRTIO_PCI_ISR_OFF, &isr, 1);
	return isr;
}

/* A configuration-change interrupt, as the device core sends one. */
static void interrupt(struct virtio_pci *vp)
{
	vp->vdev.transport->interrupt(&vp->vdev, NO_VECTOR, true);
}

/* Two virtio-rng functions in slots 1 and 9, which share one pin (the
 * slots between hold fillers), on the faked pin, decoding memory. */
static void rig_two_on_one_pin(struct rig *r, struct virtio_pci **a, struct virtio_pci **b)
{
	*a = rig_add_rng(r);
	for (unsigned slot = 2; slot <= 8; slot++)
		rig_add_filler(r, slot);
	*b = rig_add_rng(r);
	assert_int_equal((*a)->pci.slot, 1);
	assert_int_equal((*b)->pci.slot, 9);
	assert_int_equal((*a)->pci.intx.gsi, (*b)->pci.intx.gsi);
	fake_the_pin(r, *a);
	set_command(r, *a, PCI_COMMAND_MEMORY);
	set_command(r, *b, PCI_COMMAND_MEMORY);
}

/* Slots 1 and 9 share pin 17, without MSI-X. Lowering one function's
 * line at its ISR read used to lower the pin under the other, which then
 * waited for an interrupt that never came. */
static void functions_sharing_a_pin_keep_it_asserted_until_both_are_acked(void **state)
{
	struct rig *r = *state;
	struct virtio_pci *a, *b;

	rig_two_on_one_pin(r, &a, &b);

	interrupt(a);
	interrupt(b);
	assert_int_equal(r->pin.level, 1);
	assert_int_equal(r->pin.calls, 1);
	assert_int_equal(isr_read(r, a), ISR_CONFIG);
	assert_int_equal(r->pin.level, 1); /* b still asserts */
	assert_int_equal(isr_read(r, b), ISR_CONFIG);
	assert_int_equal(r->pin.level, 0);
	assert_int_equal(r->pin.calls, 2);
	assert_int_equal(isr_read(r, a), 0); /* nothing pending: no KVM call */
	assert_int_equal(r->pin.calls, 2);
}

/* The old code only looked at INTx Disable when it raised the line: a
 * driver setting it with the line up (masking a shared interrupt, or
 * switching to MSI-X) kept an interrupt storm going, and one clearing it
 * with the ISR still set never got the interrupt it was owed. */
static void intx_disable_lowers_a_raised_line_and_clearing_it_raises_it_again(void **state)
{
	struct rig *r = *state;
	struct virtio_pci *vp = rig_add_rng(r);

	fake_the_pin(r, vp);
	set_command(r, vp, PCI_COMMAND_MEMORY);
	interrupt(vp);
	assert_int_equal(r->pin.level, 1);
	set_command(r, vp, PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE);
	assert_int_equal(r->pin.level, 0);
	interrupt(vp); /* another interrupt while disabled: the line stays down */
	assert_int_equal(r->pin.level, 0);
	set_command(r, vp, PCI_COMMAND_MEMORY);
	assert_int_equal(r->pin.level, 1); /* the ISR is still unread */
	assert_int_equal(isr_read(r, vp), ISR_CONFIG);
	assert_int_equal(r->pin.level, 0);
	set_command(r, vp, PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE);
	set_command(r, vp, PCI_COMMAND_MEMORY); /* nothing pending: stays down */
	assert_int_equal(r->pin.level, 0);
	assert_int_equal(r->pin.calls, 4);
}

/* PCI 3.0 6.2.3: Interrupt Status reflects the function's interrupt
 * condition whatever INTx Disable says, and is read-only. */
static void interrupt_status_shows_the_condition_even_while_intx_is_disabled(void **state)
{
	struct rig *r = *state;
	struct virtio_pci *vp = rig_add_rng(r);

	fake_the_pin(r, vp);
	set_command(r, vp, PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE);
	assert_false(intx_status(r, vp));
	interrupt(vp);
	assert_true(intx_status(r, vp));
	assert_int_equal(r->pin.level, 0);
	assert_int_equal(r->pin.calls, 0);
	cfg_write16(r, vp->pci.slot, PCI_STATUS, 0xffff); /* the driver cannot clear it */
	assert_true(intx_status(r, vp));
	assert_true(cfg_read16(r, vp->pci.slot, PCI_STATUS) & PCI_STATUS_CAP_LIST);
	assert_int_equal(isr_read(r, vp), ISR_CONFIG);
	assert_false(intx_status(r, vp));
	cfg_write16(r, vp->pci.slot, PCI_STATUS, PCI_STATUS_INTERRUPT); /* nor set it */
	assert_false(intx_status(r, vp));
	assert_int_equal(r->pin.calls, 0);
}

/* A function with INTx disabled does not hold a shared pin up, and one
 * enabling it again joins the wired-OR at once. */
static void intx_disable_takes_one_function_off_a_shared_pin(void **state)
{
	struct rig *r = *state;
	struct virtio_pci *a, *b;

	rig_two_on_one_pin(r, &a, &b);

	interrupt(a);
	interrupt(b);
	set_command(r, a, PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE);
	assert_int_equal(r->pin.level, 1); /* b still asserts */
	assert_int_equal(isr_read(r, b), ISR_CONFIG);
	assert_int_equal(r->pin.level, 0); /* a's condition holds, but it is masked */
	set_command(r, a, PCI_COMMAND_MEMORY);
	assert_int_equal(r->pin.level, 1);
	assert_int_equal(isr_read(r, a), ISR_CONFIG);
	assert_int_equal(r->pin.level, 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, rig_setup, rig_teardown)
	const struct CMUnitTest tests[] = {
		T(each_function_drives_the_pin_the_mp_table_names_for_its_slot),
		T(a_slot_taken_by_another_function_does_not_shift_the_pin),
		T(add_at_refuses_a_taken_or_missing_slot),
		T(a_full_bus_has_no_next_slot),
		T(router_lines_are_distinct_sources_on_ioapic_pins_only),
		T(functions_sharing_a_pin_keep_it_asserted_until_both_are_acked),
		T(intx_disable_lowers_a_raised_line_and_clearing_it_raises_it_again),
		T(interrupt_status_shows_the_condition_even_while_intx_is_disabled),
		T(intx_disable_takes_one_function_off_a_shared_pin),
	};
	return cmocka_run_group_tests_name("pci_intx", tests, NULL, NULL);
}
