#include "kernel/cpus.h"

#include "arch/lapic.h"
#include "arch/layout.h"
#include "kernel/platform.h"

static volatile bool online[MAX_CPUS];
static volatile unsigned nr_online;
static unsigned bsp_index;

void cpus_init(void)
{
	uint8_t bsp_id = lapic_id();
	int index = cpus_current_index();

	if (index < 0) {
		platform_add_cpu(bsp_id);
		index = cpus_current_index();
	}
	/* The list is full and lacks us: take the last slot. */
	if (index < 0) {
		index = MAX_CPUS - 1;
		platform.cpu_apic_ids[index] = bsp_id;
	}
	bsp_index = (unsigned)index;
	cpus_mark_online(bsp_index);
}

unsigned cpus_count(void)
{
	return platform.nr_cpus;
}

unsigned cpus_online(void)
{
	return __atomic_load_n(&nr_online, __ATOMIC_ACQUIRE);
}

bool cpus_is_online(unsigned index)
{
	return index < MAX_CPUS && __atomic_load_n(&online[index], __ATOMIC_ACQUIRE);
}

void cpus_mark_online(unsigned index)
{
	if (index >= MAX_CPUS || online[index])
		return;
	__atomic_fetch_add(&nr_online, 1, __ATOMIC_ACQ_REL);
	__atomic_store_n(&online[index], true, __ATOMIC_RELEASE);
}

uint8_t cpus_apic_id(unsigned index)
{
	return platform.cpu_apic_ids[index];
}

unsigned cpus_bsp_index(void)
{
	return bsp_index;
}

int cpus_current_index(void)
{
	uint8_t id = lapic_id();

	for (unsigned i = 0; i < platform.nr_cpus; i++) {
		if (platform.cpu_apic_ids[i] == id)
			return (int)i;
	}
	return -1;
}
