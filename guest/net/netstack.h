/* A tiny IPv4 responder for one interface: answers ARP requests for its
 * address, ICMP echo requests, and UDP datagrams to port 7 (echo). Frames
 * are Ethernet II; nothing is sent unprompted except the announcement. */
#ifndef GUEST_NET_NETSTACK_H
#define GUEST_NET_NETSTACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ETH_ALEN 6
#define ETH_HEADER_LEN 14
#define ETH_MAX_FRAME 1514 /* without the FCS */
#define ETH_MIN_FRAME 60
#define UDP_ECHO_PORT 7

struct netif {
	uint8_t mac[ETH_ALEN];
	uint32_t ip; /* host byte order */
	uint8_t prefix_len;
	/* Sends one frame; false when it had to be dropped. */
	bool (*transmit)(const void *frame, size_t len);
	uint64_t rx_frames, tx_frames;
	uint64_t arp_replies, icmp_replies, udp_echoes, dropped;
};

/* Handles one received frame (replying through nif->transmit). */
void netstack_input(struct netif *nif, const uint8_t *frame, size_t len);
/* A gratuitous ARP request for our address, so neighbours learn our MAC. */
void netstack_announce(struct netif *nif);
/* "A.B.C.D/NN" (the /NN is optional: /32 then). */
bool netstack_parse_ip(const char *text, uint32_t *ip, uint8_t *prefix_len);

#endif
