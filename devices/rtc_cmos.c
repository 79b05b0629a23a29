#include "devices/rtc_cmos.h"

#include <string.h>

/* UIP reads set for this long before each second begins (MC146818 data
 * sheet: 244 us at the 32.768 kHz time base). */
#define RTC_UIP_NS 244000L
#define RTC_NVRAM_FIRST 0x0e

static void rtc_host_now(void *ctx, struct timespec *ts)
{
	(void)ctx;
	clock_gettime(CLOCK_REALTIME, ts);
}

static bool rtc_setting(const struct rtc_cmos *rtc)
{
	return rtc->bytes[RTC_REG_B] & RTC_B_SET;
}

/* The guest's clock, broken down (UTC: the guest decides what it means). */
static struct tm rtc_guest_tm(const struct rtc_cmos *rtc)
{
	struct timespec now;
	struct tm tm;
	time_t t;

	if (rtc_setting(rtc))
		return rtc->held;
	rtc->clock.now(rtc->clock.ctx, &now);
	t = (time_t)(now.tv_sec + rtc->offset);
	gmtime_r(&t, &tm);
	return tm;
}

/* Makes tm (normalised) the guest's time from now on. */
static void rtc_set_guest_tm(struct rtc_cmos *rtc, struct tm *tm)
{
	struct timespec now;

	rtc->clock.now(rtc->clock.ctx, &now);
	rtc->offset = (int64_t)timegm(tm) - now.tv_sec;
}

static uint8_t rtc_encode(const struct rtc_cmos *rtc, int value)
{
	if (rtc->bytes[RTC_REG_B] & RTC_B_BINARY)
		return (uint8_t)value;
	return (uint8_t)((value / 10) << 4 | value % 10);
}

/* A field the guest wrote, in the form register B says. Digits a BCD
 * byte should not hold still give a number (at most 165), which timegm
 * folds into the next field as it does an hour of 25. */
static int rtc_decode(const struct rtc_cmos *rtc, uint8_t byte)
{
	if (rtc->bytes[RTC_REG_B] & RTC_B_BINARY)
		return byte;
	return (byte >> 4) * 10 + (byte & 0x0f);
}

static uint8_t rtc_encode_hour(const struct rtc_cmos *rtc, int hour)
{
	if (rtc->bytes[RTC_REG_B] & RTC_B_24H)
		return rtc_encode(rtc, hour);
	return (uint8_t)(rtc_encode(rtc, hour % 12 ? hour % 12 : 12) |
			 (hour >= 12 ? RTC_HOUR_PM : 0));
}

static int rtc_decode_hour(const struct rtc_cmos *rtc, uint8_t byte)
{
	if (rtc->bytes[RTC_REG_B] & RTC_B_24H)
		return rtc_decode(rtc, byte);
	return rtc_decode(rtc, byte & (uint8_t)~RTC_HOUR_PM) % 12 + (byte & RTC_HOUR_PM ? 12 : 0);
}

static uint8_t rtc_read_clock(const struct rtc_cmos *rtc, uint8_t reg)
{
	struct tm tm = rtc_guest_tm(rtc);
	int year = tm.tm_year + 1900;

	switch (reg) {
	case RTC_SECONDS:
		return rtc_encode(rtc, tm.tm_sec);
	case RTC_MINUTES:
		return rtc_encode(rtc, tm.tm_min);
	case RTC_HOURS:
		return rtc_encode_hour(rtc, tm.tm_hour);
	case RTC_DAY_OF_WEEK:
		return rtc_encode(rtc, tm.tm_wday + 1);
	case RTC_DAY_OF_MONTH:
		return rtc_encode(rtc, tm.tm_mday);
	case RTC_MONTH:
		return rtc_encode(rtc, tm.tm_mon + 1);
	case RTC_YEAR:
		return rtc_encode(rtc, year % 100);
	default: /* RTC_CENTURY */
		return rtc_encode(rtc, year / 100);
	}
}

/* One field of the time written: into the time being set (SET on), or
 * straight into the running clock. */
static void rtc_write_clock(struct rtc_cmos *rtc, uint8_t reg, uint8_t byte)
{
	struct tm tm = rtc_guest_tm(rtc);
	int value = rtc_decode(rtc, byte);

	switch (reg) {
	case RTC_SECONDS:
		tm.tm_sec = value;
		break;
	case RTC_MINUTES:
		tm.tm_min = value;
		break;
	case RTC_HOURS:
		tm.tm_hour = rtc_decode_hour(rtc, byte);
		break;
	case RTC_DAY_OF_WEEK: /* follows from the date */
		return;
	case RTC_DAY_OF_MONTH:
		tm.tm_mday = value;
		break;
	case RTC_MONTH:
		tm.tm_mon = value - 1;
		break;
	case RTC_YEAR:
		tm.tm_year = (tm.tm_year + 1900) / 100 * 100 + value - 1900;
		break;
	default: /* RTC_CENTURY */
		tm.tm_year = value * 100 + (tm.tm_year + 1900) % 100 - 1900;
		break;
	}
	if (rtc_setting(rtc))
		rtc->held = tm;
	else
		rtc_set_guest_tm(rtc, &tm);
}

static bool rtc_is_clock(uint8_t reg)
{
	return (reg <= RTC_YEAR && reg != RTC_SECONDS_ALARM && reg != RTC_MINUTES_ALARM &&
		reg != RTC_HOURS_ALARM) ||
	       reg == RTC_CENTURY;
}

static uint8_t rtc_update_flag(const struct rtc_cmos *rtc)
{
	struct timespec now;

	if (rtc_setting(rtc))
		return 0;
	rtc->clock.now(rtc->clock.ctx, &now);
	return now.tv_nsec >= 1000000000L - RTC_UIP_NS ? RTC_A_UIP : 0;
}

static uint8_t rtc_read_reg(const struct rtc_cmos *rtc, uint8_t reg)
{
	if (rtc_is_clock(reg))
		return rtc_read_clock(rtc, reg);
	if (reg == RTC_REG_A)
		return (uint8_t)(rtc->bytes[RTC_REG_A] | rtc_update_flag(rtc));
	if (reg == RTC_REG_C)
		return 0; /* no interrupt flags: none is ever raised */
	if (reg == RTC_REG_D)
		return RTC_D_VALID;
	return rtc->bytes[reg];
}

/* Register B: SET on freezes the time being set, SET off starts it. */
static void rtc_write_reg_b(struct rtc_cmos *rtc, uint8_t byte)
{
	bool was_setting = rtc_setting(rtc);

	if ((byte & RTC_B_SET) && !was_setting)
		rtc->held = rtc_guest_tm(rtc);
	rtc->bytes[RTC_REG_B] = byte;
	if (!(byte & RTC_B_SET) && was_setting)
		rtc_set_guest_tm(rtc, &rtc->held);
}

static void rtc_write_reg(struct rtc_cmos *rtc, uint8_t reg, uint8_t byte)
{
	if (rtc_is_clock(reg))
		rtc_write_clock(rtc, reg, byte);
	else if (reg == RTC_REG_A)
		rtc->bytes[RTC_REG_A] = byte & (uint8_t)~RTC_A_UIP;
	else if (reg == RTC_REG_B)
		rtc_write_reg_b(rtc, byte);
	else if (reg != RTC_REG_C && reg != RTC_REG_D) /* read-only */
		rtc->bytes[reg] = byte;
}

static void rtc_cmos_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct rtc_cmos *rtc = opaque;

	pthread_mutex_lock(&rtc->lock);
	for (uint32_t i = 0; i < len; i++)
		/* The index port is write-only: it reads as an undriven bus. */
		data[i] = offset + i == 0 ? 0xff : rtc_read_reg(rtc, rtc->index);
	pthread_mutex_unlock(&rtc->lock);
}

static void rtc_cmos_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct rtc_cmos *rtc = opaque;

	pthread_mutex_lock(&rtc->lock);
	for (uint32_t i = 0; i < len; i++) {
		if (offset + i == 0)
			rtc->index = data[i] & (uint8_t)~RTC_INDEX_NMI;
		else
			rtc_write_reg(rtc, rtc->index, data[i]);
	}
	pthread_mutex_unlock(&rtc->lock);
}

const struct bus_ops rtc_cmos_ops = {
	.name = "rtc-cmos",
	.read = rtc_cmos_read,
	.write = rtc_cmos_write,
};

void rtc_cmos_init(struct rtc_cmos *rtc, struct rtc_cmos_clock clock)
{
	memset(rtc, 0, sizeof(*rtc));
	pthread_mutex_init(&rtc->lock, NULL);
	rtc->clock = clock.now ? clock : (struct rtc_cmos_clock){rtc_host_now, NULL};
	/* 32.768 kHz time base, no periodic rate; BCD, 24-hour, as PC
	 * firmware leaves it. */
	rtc->bytes[RTC_REG_A] = 0x20;
	rtc->bytes[RTC_REG_B] = RTC_B_24H;
}

void rtc_cmos_exit(struct rtc_cmos *rtc)
{
	pthread_mutex_destroy(&rtc->lock);
}
