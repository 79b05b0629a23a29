/* Work the BSP does whenever it is about to wait for console input: drivers
 * register a poll function (network receive, console receive, device
 * health) so the guest answers the outside world while the shell idles.
 * Hooks run on the BSP with interrupts off; an interrupt (or the 100 Hz
 * tick) ends the halt that follows, and the hooks run again. */
#ifndef GUEST_KERNEL_IDLE_H
#define GUEST_KERNEL_IDLE_H

#define IDLE_MAX_HOOKS 8

typedef void (*idle_hook)(void);

void idle_register(idle_hook hook);
void idle_run_hooks(void);

#endif
