/* The serial console: locked formatted output for every CPU, and a ring of
 * received bytes filled by the UART interrupt (and by polling when idle). */
#ifndef GUEST_KERNEL_CONSOLE_H
#define GUEST_KERNEL_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void console_init(void);
/* Routes the UART's IRQ through the IOAPIC to the BSP and enables the
 * receive interrupt. Needs the LAPIC and IOAPICs set up. */
void console_enable_input_interrupt(void);

/* '\n' is sent as CR LF. */
void console_write(const char *s, size_t len);
void console_puts(const char *s);
int kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Ends the current line if something (a prompt, echoed input) is on it: for
 * messages that arrive on their own, so they start at the left margin. */
void console_begin_line(void);
/* For exception reports: takes the lock if it can, and prints anyway if
 * another CPU (or this one, interrupted) holds it too long. */
void console_emergency_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Waits (halting between interrupts) for the next received byte. BSP only. */
uint8_t console_getc(void);

#endif
