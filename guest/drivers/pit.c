#include "drivers/pit.h"

#include "arch/cpu.h"

#define PORT_CH0 0x40
#define PORT_CH2 0x42
#define PORT_COMMAND 0x43
#define PORT_SPEAKER 0x61 /* NMI status and speaker control */

#define SPEAKER_GATE2 0x01
#define SPEAKER_DATA 0x02
#define SPEAKER_OUT2 0x20

/* Command byte: channel (bits 6-7), access lobyte/hibyte (0x30), mode 0
 * (interrupt on terminal count: output low, high when the count runs
 * out), binary counting. */
#define CMD_CH0 0x00
#define CMD_CH2 0x80
#define CMD_LOHI 0x30
#define CMD_MODE0 0x00
/* Read-back: latch channel 0's status byte only; bit 7 of it is OUT. */
#define CMD_READBACK_CH0_STATUS 0xe2
#define STATUS_OUT 0x80

static void ch2_prepare(uint16_t count)
{
	/* Gate high before loading the count, as Linux does: some PITs (KVM's
	 * in-kernel one) start mode 0 at the load and ignore the gate. */
	outb(PORT_SPEAKER, (uint8_t)((inb(PORT_SPEAKER) & ~SPEAKER_DATA) | SPEAKER_GATE2));
	outb(PORT_COMMAND, CMD_CH2 | CMD_LOHI | CMD_MODE0);
	outb(PORT_CH2, (uint8_t)count);
}

static void ch2_start(uint16_t count)
{
	outb(PORT_CH2, (uint8_t)(count >> 8));
}

static bool ch2_expired(void)
{
	return inb(PORT_SPEAKER) & SPEAKER_OUT2;
}

static void ch2_stop(void)
{
	outb(PORT_SPEAKER, (uint8_t)(inb(PORT_SPEAKER) & ~(SPEAKER_DATA | SPEAKER_GATE2)));
}

const struct pit_oneshot pit_channel2 = {
	.name = "PIT channel 2",
	.prepare = ch2_prepare,
	.start = ch2_start,
	.expired = ch2_expired,
	.stop = ch2_stop,
};

static void ch0_prepare(uint16_t count)
{
	outb(PORT_COMMAND, CMD_CH0 | CMD_LOHI | CMD_MODE0);
	outb(PORT_CH0, (uint8_t)count);
}

static void ch0_start(uint16_t count)
{
	outb(PORT_CH0, (uint8_t)(count >> 8));
}

static bool ch0_expired(void)
{
	outb(PORT_COMMAND, CMD_READBACK_CH0_STATUS);
	return inb(PORT_CH0) & STATUS_OUT;
}

static void ch0_stop(void)
{
	/* Nothing: the count has run out and OUT stays high until reloaded. */
}

const struct pit_oneshot pit_channel0 = {
	.name = "PIT channel 0",
	.prepare = ch0_prepare,
	.start = ch0_start,
	.expired = ch0_expired,
	.stop = ch0_stop,
};
