#include "vmm/irq_router.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define IRQ_ROUTER_PIC_PINS 16

/* A pin's level, once its wire's sources changed it. */
static void irq_router_set_pin(void *ctx, unsigned gsi, int level)
{
	struct irq_router *router = ctx;
	struct kvm_irq_level irq = {.irq = gsi, .level = (uint32_t)level};

	ioctl(router->vm_fd, KVM_IRQ_LINE, &irq);
}

void irq_router_init(struct irq_router *router, int vm_fd)
{
	memset(router, 0, sizeof(*router));
	router->vm_fd = vm_fd;
	/* Asked of the VM (no VM, as in tests: the 2-byte fallback). */
	router->ioeventfd_any_length =
		vm_fd >= 0 && ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD_ANY_LENGTH) > 0;
	pthread_mutex_init(&router->lock, NULL);
	for (unsigned gsi = 0; gsi < IRQ_ROUTER_IOAPIC_PINS; gsi++)
		irq_wire_init(&router->pins[gsi],
			      (struct irq_line){irq_router_set_pin, router, gsi});
}

void irq_router_exit(struct irq_router *router)
{
	for (unsigned i = 0; i < router->nr_msi; i++)
		close(router->msi[i].eventfd);
	router->nr_msi = 0;
	for (unsigned gsi = 0; gsi < IRQ_ROUTER_IOAPIC_PINS; gsi++)
		irq_wire_exit(&router->pins[gsi]);
	pthread_mutex_destroy(&router->lock);
}

static struct kvm_irq_routing_entry irq_chip_route(uint32_t gsi, uint32_t chip, uint32_t pin)
{
	return (struct kvm_irq_routing_entry){.gsi = gsi,
					      .type = KVM_IRQ_ROUTING_IRQCHIP,
					      .u.irqchip = {.irqchip = chip, .pin = pin}};
}

/* KVM_SET_GSI_ROUTING replaces the whole table, so it always carries the
 * routes KVM would have by default: ISA IRQs to both PICs and the IOAPIC,
 * GSIs 16-23 to the IOAPIC. Lock held. */
static int irq_router_commit(struct irq_router *router)
{
	unsigned max = IRQ_ROUTER_PIC_PINS + IRQ_ROUTER_IOAPIC_PINS + router->nr_msi, n = 0;
	struct kvm_irq_routing *table =
		calloc(1, sizeof(*table) + max * sizeof(struct kvm_irq_routing_entry));

	if (!table)
		return -ENOMEM;
	for (uint32_t gsi = 0; gsi < IRQ_ROUTER_IOAPIC_PINS; gsi++) {
		if (gsi < IRQ_ROUTER_PIC_PINS)
			table->entries[n++] = irq_chip_route(
				gsi, gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
				gsi % 8);
		table->entries[n++] = irq_chip_route(gsi, KVM_IRQCHIP_IOAPIC, gsi);
	}
	for (unsigned i = 0; i < router->nr_msi; i++) {
		const struct irq_router_msi *m = &router->msi[i];
		if (!m->addr)
			continue; /* not programmed yet */
		table->entries[n++] = (struct kvm_irq_routing_entry){
			.gsi = m->gsi,
			.type = KVM_IRQ_ROUTING_MSI,
			.u.msi = {.address_lo = (uint32_t)m->addr,
				  .address_hi = (uint32_t)(m->addr >> 32),
				  .data = m->data}};
	}
	table->nr = n;
	int rc = ioctl(router->vm_fd, KVM_SET_GSI_ROUTING, table) < 0 ? -errno : 0;
	free(table);
	return rc;
}

static int irq_router_alloc(void *ctx)
{
	struct irq_router *router = ctx;
	int rc;

	pthread_mutex_lock(&router->lock);
	if (router->nr_msi == IRQ_ROUTER_MAX_MSI) {
		pthread_mutex_unlock(&router->lock);
		return -ENOSPC;
	}
	struct irq_router_msi *m = &router->msi[router->nr_msi];
	m->gsi = IRQ_ROUTER_IOAPIC_PINS + router->nr_msi;
	m->addr = 0;
	m->eventfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct kvm_irqfd irqfd = {.fd = (uint32_t)m->eventfd, .gsi = m->gsi};
	if (m->eventfd < 0 || ioctl(router->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		rc = -errno;
		if (m->eventfd >= 0)
			close(m->eventfd);
	} else {
		rc = (int)router->nr_msi++;
	}
	pthread_mutex_unlock(&router->lock);
	return rc;
}

static int irq_router_update(void *ctx, int route, uint64_t addr, uint32_t data)
{
	struct irq_router *router = ctx;
	int rc = -EINVAL;

	pthread_mutex_lock(&router->lock);
	if (route >= 0 && (unsigned)route < router->nr_msi) {
		struct irq_router_msi *m = &router->msi[route];
		if (m->addr == addr && m->data == data) {
			rc = 0;
		} else {
			m->addr = addr;
			m->data = data;
			rc = irq_router_commit(router);
		}
	}
	pthread_mutex_unlock(&router->lock);
	return rc;
}

static void irq_router_trigger(void *ctx, int route)
{
	struct irq_router *router = ctx;
	uint64_t one = 1;

	/* Routes are only ever added, so an allocated id stays valid. */
	if (route >= 0 && (unsigned)route < __atomic_load_n(&router->nr_msi, __ATOMIC_ACQUIRE))
		(void)!write(router->msi[route].eventfd, &one, sizeof(one));
}

struct msi_controller irq_router_msi_controller(struct irq_router *router)
{
	return (struct msi_controller){irq_router_alloc, irq_router_update, irq_router_trigger,
				       router};
}

int irq_router_line(struct irq_router *router, unsigned gsi, struct irq_line *line)
{
	if (gsi >= IRQ_ROUTER_IOAPIC_PINS)
		return -EINVAL;
	return irq_wire_add_source(&router->pins[gsi], line);
}

/* KVM matches a deassign by address, length and fd: the length is
 * always the router's, so an assign and its deassign agree. */
static int irq_router_ioeventfd(struct irq_router *router, uint64_t addr, int fd, uint32_t flags)
{
	struct kvm_ioeventfd io = {.addr = addr,
				   .len = router->ioeventfd_any_length ? 0 : 2,
				   .fd = fd,
				   .flags = flags};

	return ioctl(router->vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

static int irq_router_assign_ioeventfd(void *ctx, uint64_t addr, int fd)
{
	return irq_router_ioeventfd(ctx, addr, fd, 0);
}

static void irq_router_deassign_ioeventfd(void *ctx, uint64_t addr, int fd)
{
	(void)irq_router_ioeventfd(ctx, addr, fd, KVM_IOEVENTFD_FLAG_DEASSIGN);
}

struct ioeventfd_controller irq_router_ioeventfd_controller(struct irq_router *router)
{
	return (struct ioeventfd_controller){irq_router_assign_ioeventfd,
					     irq_router_deassign_ioeventfd, router};
}
