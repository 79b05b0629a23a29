#include "drivers/pit.h"

#include "arch/cpu.h"

#define PORT_CH0 0x40
#define PORT_CH2 0x42
#define PORT_COMMAND 0x43
#define PORT_SPEAKER 0x61 /* NMI status and speaker control */

#define SPEAKER_GATE2 0x01
#define SPEAKER_DATA 0x02
#define SPEAKER_OUT2 0x20

/* Command byte: channel (bits 6-7), access lobyte/hibyte (0x30), mode (bits
 * 1-3), binary counting. */
#define CMD_CH0 0x00
#define CMD_CH2 0x80
#define CMD_LOHI 0x30
#define CMD_LATCH 0x00
#define CMD_MODE0 0x00 /* interrupt on terminal count: OUT low, high at 0 */
#define CMD_MODE2 0x04 /* rate generator */

void pit_ch2_start_oneshot(uint16_t count)
{
	/* Gate high before loading the count, as Linux does: some PITs (KVM's
	 * in-kernel one) start mode 0 at the load and ignore the gate. */
	outb(PORT_SPEAKER, (uint8_t)((inb(PORT_SPEAKER) & ~SPEAKER_DATA) | SPEAKER_GATE2));
	outb(PORT_COMMAND, CMD_CH2 | CMD_LOHI | CMD_MODE0);
	outb(PORT_CH2, (uint8_t)count);
	outb(PORT_CH2, (uint8_t)(count >> 8));
}

bool pit_ch2_expired(void)
{
	return inb(PORT_SPEAKER) & SPEAKER_OUT2;
}

void pit_ch2_stop(void)
{
	outb(PORT_SPEAKER, (uint8_t)(inb(PORT_SPEAKER) & ~(SPEAKER_DATA | SPEAKER_GATE2)));
}

void pit_ch0_start_free_running(void)
{
	outb(PORT_COMMAND, CMD_CH0 | CMD_LOHI | CMD_MODE2);
	outb(PORT_CH0, 0); /* 0 means 65536 */
	outb(PORT_CH0, 0);
}

uint16_t pit_ch0_read(void)
{
	outb(PORT_COMMAND, CMD_CH0 | CMD_LATCH);
	uint8_t lo = inb(PORT_CH0);
	uint8_t hi = inb(PORT_CH0);
	return (uint16_t)(lo | (hi << 8));
}
