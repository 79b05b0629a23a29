/* The CPUs the platform tables listed, by index, and which are online. */
#ifndef GUEST_KERNEL_CPUS_H
#define GUEST_KERNEL_CPUS_H

#include <stdbool.h>
#include <stdint.h>

/* Takes the CPU list from platform and marks the calling CPU (the BSP)
 * online, adding it if the tables forgot it. */
void cpus_init(void);
unsigned cpus_count(void);
unsigned cpus_online(void);
bool cpus_is_online(unsigned index);
/* Called by each AP once it is up. */
void cpus_mark_online(unsigned index);
uint8_t cpus_apic_id(unsigned index);
unsigned cpus_bsp_index(void);
/* The calling CPU's index, or -1 if its APIC ID is not listed. */
int cpus_current_index(void);

#endif
