#include "devices/eth_frame.h"

#define ETH_HDR 14
#define ETH_TYPE_VLAN 0x8100
#define ETH_TYPE_IPV4 0x0800
#define ETH_TYPE_IPV6 0x86dd
#define VLAN_TAG 4
#define IPV4_MIN_HDR 20
#define IPV4_MF_OFFSET_MASK 0x3fff /* more fragments, fragment offset */
#define IPV6_HDR 40
#define IP_PROTO_TCP 6
#define TCP_MIN_HDR 20
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10
#define TCP_URG 0x20

static unsigned be16_at(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* The TCP header at tcp, with tcp_len bytes of segment by the IP header
 * (and at least that many in the frame): a pure ACK? */
static bool tcp_is_pure_ack(const uint8_t *tcp, size_t tcp_len)
{
	if (tcp_len < TCP_MIN_HDR)
		return false;
	size_t hdr = (size_t)(tcp[12] >> 4) * 4;
	uint8_t flags = tcp[13];

	return hdr >= TCP_MIN_HDR && hdr == tcp_len && (flags & TCP_ACK) &&
	       !(flags & (TCP_SYN | TCP_FIN | TCP_RST | TCP_URG));
}

static bool ipv4_is_pure_ack(const uint8_t *ip, size_t len)
{
	if (len < IPV4_MIN_HDR || ip[0] >> 4 != 4)
		return false;
	size_t hdr = (size_t)(ip[0] & 0xf) * 4, total = be16_at(ip + 2);

	if (hdr < IPV4_MIN_HDR || total < hdr || total > len || ip[9] != IP_PROTO_TCP ||
	    (be16_at(ip + 6) & IPV4_MF_OFFSET_MASK))
		return false;
	return tcp_is_pure_ack(ip + hdr, total - hdr);
}

static bool ipv6_is_pure_ack(const uint8_t *ip, size_t len)
{
	if (len < IPV6_HDR || ip[0] >> 4 != 6 || ip[6] != IP_PROTO_TCP)
		return false;
	size_t payload = be16_at(ip + 4);

	if (payload > len - IPV6_HDR)
		return false;
	return tcp_is_pure_ack(ip + IPV6_HDR, payload);
}

bool eth_frame_is_pure_tcp_ack(const uint8_t *frame, size_t len)
{
	size_t l2 = ETH_HDR;

	if (len < ETH_HDR)
		return false;
	unsigned type = be16_at(frame + 12);
	if (type == ETH_TYPE_VLAN) {
		if (len < ETH_HDR + VLAN_TAG)
			return false;
		type = be16_at(frame + 16);
		l2 += VLAN_TAG;
	}
	if (type == ETH_TYPE_IPV4)
		return ipv4_is_pure_ack(frame + l2, len - l2);
	if (type == ETH_TYPE_IPV6)
		return ipv6_is_pure_ack(frame + l2, len - l2);
	return false;
}
