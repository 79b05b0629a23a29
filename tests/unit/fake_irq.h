/* An interrupt controller for device unit tests: hands a device an MSI
 * controller and an INTx line, and records what the device did with them
 * (MSI routes programmed and fired, the INTx level and how often it was
 * raised). Safe to read while a device's I/O thread raises the line. */
#ifndef SKIFF_TESTS_UNIT_FAKE_IRQ_H
#define SKIFF_TESTS_UNIT_FAKE_IRQ_H

#include <stdint.h>

#include "devices/irq.h"

#define FAKE_IRQ_ROUTES 16

struct fake_irq {
	int next_route;
	uint64_t addr[FAKE_IRQ_ROUTES];
	uint32_t data[FAKE_IRQ_ROUTES];
	int fired[FAKE_IRQ_ROUTES];
	int intx_level;	 /* last level set */
	int intx_raises; /* times set to 1 */
};

struct msi_controller fake_irq_msi(struct fake_irq *irq);
struct irq_line fake_irq_intx(struct fake_irq *irq, unsigned gsi);
int fake_irq_raises(struct fake_irq *irq);
int fake_irq_level(struct fake_irq *irq);

#endif
