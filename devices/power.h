/* How a platform device asks the VMM to end the guest's run. */
#ifndef SKIFF_DEVICES_POWER_H
#define SKIFF_DEVICES_POWER_H

#include <stdint.h>

enum power_event {
	POWER_OFF, /* detail: the value the guest wrote (0 = clean) */
	POWER_RESET,
};

struct power_ctl {
	void (*request)(void *ctx, enum power_event event, uint32_t detail);
	void *ctx;
};

static inline void power_request(const struct power_ctl *ctl, enum power_event event,
				 uint32_t detail)
{
	if (ctl->request)
		ctl->request(ctl->ctx, event, detail);
}

#endif
