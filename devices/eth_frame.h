/* What a device may need to know about an Ethernet frame it passes on
 * without looking inside otherwise. Pure functions over a byte buffer. */
#ifndef SKIFF_DEVICES_ETH_FRAME_H
#define SKIFF_DEVICES_ETH_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest frame that can be a pure TCP ACK: Ethernet with one 802.1Q
 * tag, IPv4 with the most options, TCP with the most options. A frame
 * longer than this carries data (or padding no tap adds). */
#define ETH_FRAME_PURE_ACK_MAX (14 + 4 + 60 + 60)

/* Whether frame[0, len) is a TCP segment over IPv4 or IPv6 (an optional
 * 802.1Q tag in front) that carries no data and only acknowledges: ACK
 * set; SYN, FIN, RST and URG clear; no payload by the IP length (so an
 * Ethernet pad does not count); not a fragment. An IPv6 extension header
 * between IP and TCP makes it "no". Reads nothing outside frame[0, len). */
bool eth_frame_is_pure_tcp_ack(const uint8_t *frame, size_t len);

#endif
