#include "kernel/idle.h"

static idle_hook hooks[IDLE_MAX_HOOKS];
static unsigned nr_hooks;

void idle_register(idle_hook hook)
{
	if (nr_hooks < IDLE_MAX_HOOKS)
		hooks[nr_hooks++] = hook;
}

void idle_run_hooks(void)
{
	for (unsigned i = 0; i < nr_hooks; i++)
		hooks[i]();
}
