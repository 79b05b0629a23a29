/* The CMOS clock as a guest's driver sees it through ports 0x70-0x71,
 * against a host clock the test sets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "devices/rtc_cmos.h"

/* Tuesday 2026-11-24 19:30:45 UTC. */
#define HOST_TIME 1795548645

struct rig {
	struct rtc_cmos rtc;
	struct timespec host;
};

static void fixed_now(void *ctx, struct timespec *ts)
{
	*ts = ((struct rig *)ctx)->host;
}

static int rig_setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	r->host.tv_sec = HOST_TIME;
	r->host.tv_nsec = 500000000;
	rtc_cmos_init(&r->rtc, (struct rtc_cmos_clock){fixed_now, r});
	*state = r;
	return 0;
}

static int rig_teardown(void **state)
{
	struct rig *r = *state;

	rtc_cmos_exit(&r->rtc);
	free(r);
	return 0;
}

static uint8_t reg_read(struct rig *r, uint8_t reg)
{
	uint8_t v = 0;

	rtc_cmos_ops.write(&r->rtc, 0, &reg, 1);
	rtc_cmos_ops.read(&r->rtc, 1, &v, 1);
	return v;
}

static void reg_write(struct rig *r, uint8_t reg, uint8_t v)
{
	rtc_cmos_ops.write(&r->rtc, 0, &reg, 1);
	rtc_cmos_ops.write(&r->rtc, 1, &v, 1);
}

static void starts_at_the_host_time_in_bcd_and_24_hours(void **state)
{
	struct rig *r = *state;

	assert_int_equal(reg_read(r, RTC_SECONDS), 0x45);
	assert_int_equal(reg_read(r, RTC_MINUTES), 0x30);
	assert_int_equal(reg_read(r, RTC_HOURS), 0x19);
	assert_int_equal(reg_read(r, RTC_DAY_OF_WEEK), 3); /* Sunday is 1 */
	assert_int_equal(reg_read(r, RTC_DAY_OF_MONTH), 0x24);
	assert_int_equal(reg_read(r, RTC_MONTH), 0x11);
	assert_int_equal(reg_read(r, RTC_YEAR), 0x26);
	assert_int_equal(reg_read(r, RTC_CENTURY), 0x20);
	assert_int_equal(reg_read(r, RTC_REG_D), RTC_D_VALID);
}

static void register_b_switches_to_binary_and_12_hours(void **state)
{
	struct rig *r = *state;

	reg_write(r, RTC_REG_B, RTC_B_BINARY);
	assert_int_equal(reg_read(r, RTC_HOURS), 7 | RTC_HOUR_PM);
	assert_int_equal(reg_read(r, RTC_SECONDS), 45);
	assert_int_equal(reg_read(r, RTC_YEAR), 26);
	r->host.tv_sec -= 19 * 3600; /* 00:30: 12 AM */
	assert_int_equal(reg_read(r, RTC_HOURS), 12);
}

/* As Linux sets it: SET on, every field, SET off. */
static void set_time(struct rig *r, uint8_t day, uint8_t month, uint8_t year, uint8_t hours)
{
	uint8_t b = reg_read(r, RTC_REG_B);

	reg_write(r, RTC_REG_B, b | RTC_B_SET);
	reg_write(r, RTC_SECONDS, 0);
	reg_write(r, RTC_MINUTES, 0);
	reg_write(r, RTC_HOURS, hours);
	reg_write(r, RTC_DAY_OF_MONTH, day);
	reg_write(r, RTC_MONTH, month);
	reg_write(r, RTC_YEAR, year);
	reg_write(r, RTC_REG_B, b);
}

static void a_time_set_under_set_is_taken_whole_and_runs_on(void **state)
{
	struct rig *r = *state;

	/* The 31st is written while the month still reads November. */
	set_time(r, 0x31, 0x12, 0x30, 0x23);
	assert_int_equal(reg_read(r, RTC_DAY_OF_MONTH), 0x31);
	assert_int_equal(reg_read(r, RTC_MONTH), 0x12);
	r->host.tv_sec += 3600 + 61; /* into the new year */
	assert_int_equal(reg_read(r, RTC_SECONDS), 0x01);
	assert_int_equal(reg_read(r, RTC_MINUTES), 0x01);
	assert_int_equal(reg_read(r, RTC_HOURS), 0x00);
	assert_int_equal(reg_read(r, RTC_DAY_OF_MONTH), 0x01);
	assert_int_equal(reg_read(r, RTC_MONTH), 0x01);
	assert_int_equal(reg_read(r, RTC_YEAR), 0x31);
}

static void a_12_hour_time_is_set_as_such(void **state)
{
	struct rig *r = *state;

	reg_write(r, RTC_REG_B, 0);
	set_time(r, 0x01, 0x02, 0x27, 0x12); /* 12 AM: midnight */
	reg_write(r, RTC_REG_B, RTC_B_24H);
	assert_int_equal(reg_read(r, RTC_HOURS), 0x00);
	reg_write(r, RTC_REG_B, 0);
	set_time(r, 0x01, 0x02, 0x27, 0x01 | RTC_HOUR_PM);
	reg_write(r, RTC_REG_B, RTC_B_24H);
	assert_int_equal(reg_read(r, RTC_HOURS), 0x13);
}

static void the_century_register_moves_the_year(void **state)
{
	struct rig *r = *state;

	reg_write(r, RTC_CENTURY, 0x21);
	assert_int_equal(reg_read(r, RTC_CENTURY), 0x21);
	assert_int_equal(reg_read(r, RTC_YEAR), 0x26);
	assert_int_equal(reg_read(r, RTC_MONTH), 0x11);
}

static void update_in_progress_shows_in_the_last_244_us_of_a_second(void **state)
{
	struct rig *r = *state;

	assert_int_equal(reg_read(r, RTC_REG_A) & RTC_A_UIP, 0);
	r->host.tv_nsec = 999800000;
	assert_int_equal(reg_read(r, RTC_REG_A) & RTC_A_UIP, RTC_A_UIP);
	/* A stopped clock does not update. */
	reg_write(r, RTC_REG_B, RTC_B_24H | RTC_B_SET);
	assert_int_equal(reg_read(r, RTC_REG_A) & RTC_A_UIP, 0);
	/* UIP is the chip's to set, not the guest's. */
	reg_write(r, RTC_REG_B, RTC_B_24H);
	r->host.tv_nsec = 0;
	reg_write(r, RTC_REG_A, 0xa6);
	assert_int_equal(reg_read(r, RTC_REG_A), 0x26);
}

static void nvram_keeps_bytes_and_the_nmi_bit_is_not_part_of_the_index(void **state)
{
	struct rig *r = *state;
	uint8_t v = 0;

	reg_write(r, 0x40 | RTC_INDEX_NMI, 0x5a);
	assert_int_equal(reg_read(r, 0x40), 0x5a);
	reg_write(r, 0x7f, 0xa5);
	assert_int_equal(reg_read(r, 0x7f), 0xa5);
	/* C and D are read-only; C has no flags, since nothing interrupts. */
	reg_write(r, RTC_REG_C, 0xff);
	reg_write(r, RTC_REG_D, 0);
	assert_int_equal(reg_read(r, RTC_REG_C), 0);
	assert_int_equal(reg_read(r, RTC_REG_D), RTC_D_VALID);
	/* The index port reads as nothing. */
	rtc_cmos_ops.read(&r->rtc, 0, &v, 1);
	assert_int_equal(v, 0xff);
}

static void a_word_access_writes_the_index_then_the_data(void **state)
{
	struct rig *r = *state;
	const uint8_t both[2] = {0x50, 0x77};
	uint8_t v[2] = {0};

	rtc_cmos_ops.write(&r->rtc, 0, both, 2);
	assert_int_equal(reg_read(r, 0x50), 0x77);
	rtc_cmos_ops.read(&r->rtc, 0, v, 2);
	assert_int_equal(v[0], 0xff);
	assert_int_equal(v[1], 0x77);
}

static void nonsense_digits_still_give_a_valid_date(void **state)
{
	struct rig *r = *state;
	const uint8_t regs[] = {RTC_SECONDS, RTC_MINUTES, RTC_HOURS,  RTC_DAY_OF_MONTH,
				RTC_MONTH,   RTC_YEAR,	  RTC_CENTURY};

	for (size_t i = 0; i < sizeof(regs); i++)
		reg_write(r, regs[i], 0xff);
	for (int v = 0; v < 2; v++) {
		uint8_t month = reg_read(r, RTC_MONTH), day = reg_read(r, RTC_DAY_OF_MONTH);
		assert_true(month >= 0x01 && month <= 0x12 && (month & 0x0f) <= 9);
		assert_true(day >= 0x01 && day <= 0x31 && (day & 0x0f) <= 9);
		assert_true(reg_read(r, RTC_SECONDS) <= 0x59);
		assert_true(reg_read(r, RTC_HOURS) <= 0x23);
		set_time(r, 0x00, 0x00, 0x99, 0x99);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(starts_at_the_host_time_in_bcd_and_24_hours,
						rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(register_b_switches_to_binary_and_12_hours,
						rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(a_time_set_under_set_is_taken_whole_and_runs_on,
						rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(a_12_hour_time_is_set_as_such, rig_setup,
						rig_teardown),
		cmocka_unit_test_setup_teardown(the_century_register_moves_the_year, rig_setup,
						rig_teardown),
		cmocka_unit_test_setup_teardown(
			update_in_progress_shows_in_the_last_244_us_of_a_second, rig_setup,
			rig_teardown),
		cmocka_unit_test_setup_teardown(
			nvram_keeps_bytes_and_the_nmi_bit_is_not_part_of_the_index, rig_setup,
			rig_teardown),
		cmocka_unit_test_setup_teardown(a_word_access_writes_the_index_then_the_data,
						rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(nonsense_digits_still_give_a_valid_date, rig_setup,
						rig_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
