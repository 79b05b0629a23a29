#include "fake_irq.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

static int fake_irq_alloc(void *ctx)
{
	struct fake_irq *irq = ctx;

	assert_true(irq->next_route < FAKE_IRQ_ROUTES);
	return irq->next_route++;
}

static int fake_irq_update(void *ctx, int route, uint64_t addr, uint32_t data)
{
	struct fake_irq *irq = ctx;

	irq->addr[route] = addr;
	irq->data[route] = data;
	return 0;
}

static void fake_irq_trigger(void *ctx, int route)
{
	struct fake_irq *irq = ctx;

	__atomic_add_fetch(&irq->fired[route], 1, __ATOMIC_SEQ_CST);
}

static void fake_irq_set(void *ctx, unsigned gsi, int level)
{
	struct fake_irq *irq = ctx;

	__atomic_store_n(&irq->intx_level, level, __ATOMIC_SEQ_CST);
	if (level)
		__atomic_add_fetch(&irq->intx_raises, 1, __ATOMIC_SEQ_CST);
}

struct msi_controller fake_irq_msi(struct fake_irq *irq)
{
	return (struct msi_controller){fake_irq_alloc, fake_irq_update, fake_irq_trigger, irq};
}

struct irq_line fake_irq_intx(struct fake_irq *irq, unsigned gsi)
{
	return (struct irq_line){fake_irq_set, irq, gsi};
}

int fake_irq_raises(struct fake_irq *irq)
{
	return __atomic_load_n(&irq->intx_raises, __ATOMIC_SEQ_CST);
}

int fake_irq_level(struct fake_irq *irq)
{
	return __atomic_load_n(&irq->intx_level, __ATOMIC_SEQ_CST);
}
