/* The pure-ACK test virtio-net's ACK moderation rests on: a frame it
 * calls a pure ACK has its interrupt held back, so anything that carries
 * data or changes a connection's state must never pass, and no frame,
 * however cut or forged, may make it read past the bytes it was given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/eth_frame.h"

#define TCP_ACK 0x10
#define TCP_PSH 0x08

struct frame_spec {
	bool vlan;
	bool ipv6;
	unsigned ip_options;  /* bytes, IPv4 only, a multiple of 4 */
	unsigned tcp_options; /* bytes, a multiple of 4 */
	unsigned payload;
	uint8_t tcp_flags;
	uint16_t frag; /* IPv4 flags and fragment offset */
	uint8_t proto;
};

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Writes the frame spec describes into buf; returns its length. */
static size_t build(uint8_t *buf, const struct frame_spec *f)
{
	size_t at = 12, tcp_len = 20 + f->tcp_options + f->payload;

	memset(buf, 0, 256);
	if (f->vlan) {
		put16(buf + at, 0x8100);
		at += 4;
	}
	put16(buf + at, f->ipv6 ? 0x86dd : 0x0800);
	at += 2;
	if (f->ipv6) {
		buf[at] = 0x60;
		put16(buf + at + 4, (unsigned)tcp_len);
		buf[at + 6] = f->proto ? f->proto : 6;
		at += 40;
	} else {
		size_t ihl = 20 + f->ip_options;
		buf[at] = (uint8_t)(0x40 | ihl / 4);
		put16(buf + at + 2, (unsigned)(ihl + tcp_len));
		put16(buf + at + 6, f->frag);
		buf[at + 9] = f->proto ? f->proto : 6;
		at += ihl;
	}
	buf[at + 12] = (uint8_t)((20 + f->tcp_options) / 4 << 4);
	buf[at + 13] = f->tcp_flags;
	return at + tcp_len;
}

static bool is_ack(const struct frame_spec *f)
{
	uint8_t buf[256];

	return eth_frame_is_pure_tcp_ack(buf, build(buf, f));
}

static void bare_acks_over_ipv4_and_ipv6_are_pure_acks(void **state)
{
	(void)state;
	assert_true(is_ack(&(struct frame_spec){.tcp_flags = TCP_ACK}));
	assert_true(is_ack(&(struct frame_spec){.ipv6 = true, .tcp_flags = TCP_ACK}));
	/* Timestamps and SACK blocks, a VLAN tag, PSH without data: still. */
	assert_true(is_ack(&(struct frame_spec){.tcp_options = 12, .tcp_flags = TCP_ACK}));
	assert_true(is_ack(&(struct frame_spec){
		.vlan = true, .tcp_options = 40, .tcp_flags = TCP_ACK | TCP_PSH}));
	assert_true(is_ack(&(struct frame_spec){
		.ip_options = 40, .tcp_options = 40, .tcp_flags = TCP_ACK, .vlan = true}));
}

static void an_ack_padded_to_the_ethernet_minimum_is_still_one(void **state)
{
	uint8_t buf[256];
	size_t len = build(buf, &(struct frame_spec){.tcp_flags = TCP_ACK});

	(void)state;
	assert_int_equal(len, 54);
	assert_true(eth_frame_is_pure_tcp_ack(buf, 60));
}

static void a_segment_with_data_is_not(void **state)
{
	(void)state;
	assert_false(is_ack(&(struct frame_spec){.payload = 1, .tcp_flags = TCP_ACK}));
	assert_false(
		is_ack(&(struct frame_spec){.ipv6 = true, .payload = 1, .tcp_flags = TCP_ACK}));
}

static void connection_changes_are_not(void **state)
{
	static const uint8_t flags[] = {0x02 /* SYN */, 0x12 /* SYN-ACK */, 0x11 /* FIN */,
					0x14 /* RST */, 0x30 /* URG */,	    0x00 /* no ACK */};

	(void)state;
	for (unsigned i = 0; i < sizeof(flags); i++) {
		assert_false(is_ack(&(struct frame_spec){.tcp_flags = flags[i]}));
		assert_false(is_ack(&(struct frame_spec){.ipv6 = true, .tcp_flags = flags[i]}));
	}
}

static void other_protocols_and_fragments_are_not(void **state)
{
	(void)state;
	assert_false(is_ack(&(struct frame_spec){.proto = 17, .tcp_flags = TCP_ACK}));
	assert_false(is_ack(&(struct frame_spec){.ipv6 = true, .proto = 17, .tcp_flags = TCP_ACK}));
	/* IPv6 with an extension header in front of TCP. */
	assert_false(is_ack(&(struct frame_spec){.ipv6 = true, .proto = 60, .tcp_flags = TCP_ACK}));
	assert_false(is_ack(&(struct frame_spec){.frag = 0x2000, .tcp_flags = TCP_ACK}));
	assert_false(is_ack(&(struct frame_spec){.frag = 0x0001, .tcp_flags = TCP_ACK}));
	/* Don't-fragment is not a fragment. */
	assert_true(is_ack(&(struct frame_spec){.frag = 0x4000, .tcp_flags = TCP_ACK}));
}

/* Every cut of a valid ACK, and forged lengths, are refused; run under
 * ASan the heap copy of exactly len bytes catches any read past it. */
static void cut_and_forged_frames_are_not_and_are_read_in_bounds(void **state)
{
	uint8_t buf[256];
	size_t len = build(
		buf, &(struct frame_spec){.vlan = true, .tcp_options = 12, .tcp_flags = TCP_ACK});

	(void)state;
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1);
		memcpy(copy, buf, cut);
		assert_false(eth_frame_is_pure_tcp_ack(copy, cut));
		free(copy);
	}
	/* IP total length beyond the frame; header lengths under the minimum. */
	len = build(buf, &(struct frame_spec){.tcp_flags = TCP_ACK});
	put16(buf + 16, 41);
	assert_false(eth_frame_is_pure_tcp_ack(buf, len));
	build(buf, &(struct frame_spec){.tcp_flags = TCP_ACK});
	buf[14] = 0x44; /* IHL 4 words */
	assert_false(eth_frame_is_pure_tcp_ack(buf, len));
	build(buf, &(struct frame_spec){.tcp_flags = TCP_ACK});
	buf[14 + 20 + 12] = 0x40; /* data offset 4 words */
	assert_false(eth_frame_is_pure_tcp_ack(buf, len));
	/* A data offset reaching past the IP length: options, or data? No. */
	build(buf, &(struct frame_spec){.tcp_flags = TCP_ACK});
	buf[14 + 20 + 12] = 0xf0;
	assert_false(eth_frame_is_pure_tcp_ack(buf, len));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bare_acks_over_ipv4_and_ipv6_are_pure_acks),
		cmocka_unit_test(an_ack_padded_to_the_ethernet_minimum_is_still_one),
		cmocka_unit_test(a_segment_with_data_is_not),
		cmocka_unit_test(connection_changes_are_not),
		cmocka_unit_test(other_protocols_and_fragments_are_not),
		cmocka_unit_test(cut_and_forged_frames_are_not_and_are_read_in_bounds),
	};
	return cmocka_run_group_tests_name("eth_frame", tests, NULL, NULL);
}
