/* The PC's CMOS real-time clock (a Motorola MC146818 at ports 0x70-0x71):
 * the date and time, in BCD or binary and in 12- or 24-hour form as the
 * guest sets register B, the update-in-progress flag, and the rest of the
 * 128 bytes as NVRAM. The guest's time runs with the host's real-time
 * clock from an offset the guest sets by writing the clock.
 *
 * It raises no interrupt: register C reads 0, and alarms, update-ended
 * and periodic interrupts (IRQ 8) never come. Linux reads and sets the
 * time through it (hwclock, rtc_cmos); without it, its rtc_cmos driver
 * polls the update flag of a chip that reads 0xff. */
#ifndef SKIFF_DEVICES_RTC_CMOS_H
#define SKIFF_DEVICES_RTC_CMOS_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "devices/bus.h"

#define RTC_CMOS_PORT_BASE 0x70 /* index; 0x71 data */
#define RTC_CMOS_PORT_LEN 2
#define RTC_CMOS_BYTES 128

/* Registers of the clock (the rest of the bytes are NVRAM). */
enum rtc_cmos_reg {
	RTC_SECONDS = 0x00,
	RTC_SECONDS_ALARM = 0x01,
	RTC_MINUTES = 0x02,
	RTC_MINUTES_ALARM = 0x03,
	RTC_HOURS = 0x04,
	RTC_HOURS_ALARM = 0x05,
	RTC_DAY_OF_WEEK = 0x06,
	RTC_DAY_OF_MONTH = 0x07,
	RTC_MONTH = 0x08,
	RTC_YEAR = 0x09,
	RTC_REG_A = 0x0a,
	RTC_REG_B = 0x0b,
	RTC_REG_C = 0x0c,
	RTC_REG_D = 0x0d,
	RTC_CENTURY = 0x32, /* where ACPI's FADT and Linux look for it */
};

#define RTC_A_UIP 0x80	   /* an update is due within 244 us */
#define RTC_B_SET 0x80	   /* the clock is stopped while the guest sets it */
#define RTC_B_BINARY 0x04  /* DM: binary, not BCD */
#define RTC_B_24H 0x02	   /* 24-hour, not 12-hour with bit 7 for PM */
#define RTC_D_VALID 0x80   /* VRT: the time and RAM are valid */
#define RTC_HOUR_PM 0x80   /* in 12-hour form */
#define RTC_INDEX_NMI 0x80 /* the index port's NMI-disable bit */

/* Where the device reads the host's real time (tests give a fixed one). */
struct rtc_cmos_clock {
	void (*now)(void *ctx, struct timespec *ts);
	void *ctx;
};

struct rtc_cmos {
	pthread_mutex_t lock; /* vCPUs access the ports concurrently */
	struct rtc_cmos_clock clock;
	uint8_t index;
	/* Registers that are not the running clock: alarms, A-D, NVRAM. */
	uint8_t bytes[RTC_CMOS_BYTES];
	int64_t offset; /* guest time minus host time, seconds */
	/* While register B's SET bit is on: the time the guest is setting,
	 * field by field, taken as a whole when SET goes off (a day of 31
	 * written before the month must not roll February over). */
	struct tm held;
};

extern const struct bus_ops rtc_cmos_ops;

/* The clock starts at the host's time (UTC), in BCD and 24-hour form. A
 * NULL clock.now reads CLOCK_REALTIME. */
void rtc_cmos_init(struct rtc_cmos *rtc, struct rtc_cmos_clock clock);
void rtc_cmos_exit(struct rtc_cmos *rtc);

#endif
