/* Starting the application processors. */
#ifndef GUEST_ARCH_SMP_H
#define GUEST_ARCH_SMP_H

/* Starts every listed CPU other than the BSP with INIT-SIPI-SIPI, one at a
 * time, and reports on the console those that did not come up. Needs the
 * clock calibrated. */
void smp_start_aps(void);

#endif
