/* The legacy 8259 interrupt controllers, which the guest does not use:
 * interrupts go through the IOAPIC. */
#ifndef GUEST_DRIVERS_PIC_H
#define GUEST_DRIVERS_PIC_H

/* Remaps both 8259s to VECTOR_PIC_BASE (so a spurious IRQ cannot look like
 * a CPU exception) and masks every input. */
void pic_disable(void);

#endif
