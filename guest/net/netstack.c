#include "net/netstack.h"

#include "lib/string.h"

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806

#define ARP_LEN 28
#define ARP_HTYPE_ETHERNET 1
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY 2

#define IPV4_MIN_HEADER 20
#define IPV4_FLAG_MF 0x2000
#define IPV4_OFFSET_MASK 0x1fff
#define IP_PROTO_ICMP 1
#define IP_PROTO_UDP 17
#define DEFAULT_TTL 64

#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO_REQUEST 8
#define ICMP_HEADER_LEN 8
#define UDP_HEADER_LEN 8

static const uint8_t broadcast_mac[ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* The reply being built: one at a time, on the BSP. */
static uint8_t reply[ETH_MAX_FRAME];

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* The Internet checksum: a ones' complement sum of 16-bit words. */
static uint32_t sum_add(uint32_t sum, const uint8_t *data, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += get16(data + i);
	if (len & 1)
		sum += (uint32_t)data[len - 1] << 8;
	return sum;
}

static uint16_t sum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The UDP pseudo-header: addresses, protocol and length. */
static uint32_t pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
	return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + len;
}

static void send_frame(struct netif *nif, uint8_t *frame, size_t len)
{
	if (len < ETH_MIN_FRAME) {
		memset(frame + len, 0, ETH_MIN_FRAME - len);
		len = ETH_MIN_FRAME;
	}
	if (nif->transmit(frame, len))
		nif->tx_frames++;
	else
		nif->dropped++;
}

static void eth_header(uint8_t *frame, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	memcpy(frame, dst, ETH_ALEN);
	memcpy(frame + ETH_ALEN, src, ETH_ALEN);
	put16(frame + 2 * ETH_ALEN, type);
}

static void arp_frame(struct netif *nif, uint16_t op, const uint8_t *eth_dst,
		      const uint8_t *target_mac, uint32_t target_ip)
{
	uint8_t *a = reply + ETH_HEADER_LEN;

	eth_header(reply, eth_dst, nif->mac, ETHERTYPE_ARP);
	put16(a, ARP_HTYPE_ETHERNET);
	put16(a + 2, ETHERTYPE_IPV4);
	a[4] = ETH_ALEN;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, nif->mac, ETH_ALEN);
	put32(a + 14, nif->ip);
	memcpy(a + 18, target_mac, ETH_ALEN);
	put32(a + 24, target_ip);
	send_frame(nif, reply, ETH_HEADER_LEN + ARP_LEN);
}

static void arp_input(struct netif *nif, const uint8_t *a, size_t len)
{
	if (len < ARP_LEN || get16(a) != ARP_HTYPE_ETHERNET || get16(a + 2) != ETHERTYPE_IPV4 ||
	    a[4] != ETH_ALEN || a[5] != 4)
		return;
	if (get16(a + 6) != ARP_OP_REQUEST || get32(a + 24) != nif->ip)
		return;
	const uint8_t *sender_mac = a + 8;
	arp_frame(nif, ARP_OP_REPLY, sender_mac, sender_mac, get32(a + 14));
	nif->arp_replies++;
}

void netstack_announce(struct netif *nif)
{
	static const uint8_t zero_mac[ETH_ALEN];

	arp_frame(nif, ARP_OP_REQUEST, broadcast_mac, zero_mac, nif->ip);
}

/* Starts an IPv4 reply to the sender of the frame in 'in': Ethernet and IP
 * headers (20 bytes, no options) for a payload of payload_len bytes.
 * Returns where the payload goes. */
static uint8_t *ip_reply(struct netif *nif, const uint8_t *in_frame, const uint8_t *in_ip,
			 uint8_t proto, size_t payload_len)
{
	uint8_t *ip = reply + ETH_HEADER_LEN;

	eth_header(reply, in_frame + ETH_ALEN, nif->mac, ETHERTYPE_IPV4);
	memset(ip, 0, IPV4_MIN_HEADER);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(IPV4_MIN_HEADER + payload_len));
	put16(ip + 4, get16(in_ip + 4)); /* the request's ID: as good as any */
	ip[8] = DEFAULT_TTL;
	ip[9] = proto;
	put32(ip + 12, nif->ip);
	memcpy(ip + 16, in_ip + 12, 4); /* back to the source */
	put16(ip + 10, sum_fold(sum_add(0, ip, IPV4_MIN_HEADER)));
	return ip + IPV4_MIN_HEADER;
}

static void icmp_input(struct netif *nif, const uint8_t *frame, const uint8_t *ip,
		       const uint8_t *icmp, size_t len)
{
	if (len < ICMP_HEADER_LEN || icmp[0] != ICMP_ECHO_REQUEST || icmp[1] != 0)
		return;
	if (sum_fold(sum_add(0, icmp, len)) != 0)
		return; /* bad checksum */
	if (ETH_HEADER_LEN + IPV4_MIN_HEADER + len > sizeof(reply))
		return;
	uint8_t *out = ip_reply(nif, frame, ip, IP_PROTO_ICMP, len);
	memcpy(out, icmp, len);
	out[0] = ICMP_ECHO_REPLY;
	put16(out + 2, 0);
	put16(out + 2, sum_fold(sum_add(0, out, len)));
	send_frame(nif, reply, ETH_HEADER_LEN + IPV4_MIN_HEADER + len);
	nif->icmp_replies++;
}

static void udp_input(struct netif *nif, const uint8_t *frame, const uint8_t *ip,
		      const uint8_t *udp, size_t len)
{
	if (len < UDP_HEADER_LEN)
		return;
	uint16_t udp_len = get16(udp + 4);
	if (udp_len < UDP_HEADER_LEN || udp_len > len || get16(udp + 2) != UDP_ECHO_PORT)
		return;
	uint32_t src = get32(ip + 12), dst = get32(ip + 16);
	if (get16(udp + 6) &&
	    sum_fold(sum_add(pseudo_sum(src, dst, IP_PROTO_UDP, udp_len), udp, udp_len)) != 0)
		return; /* a checksum was sent and it is wrong */
	if ((size_t)ETH_HEADER_LEN + IPV4_MIN_HEADER + udp_len > sizeof(reply))
		return;
	uint8_t *out = ip_reply(nif, frame, ip, IP_PROTO_UDP, udp_len);
	memcpy(out, udp, udp_len);
	put16(out, get16(udp + 2)); /* ports swapped */
	put16(out + 2, get16(udp));
	put16(out + 6, 0);
	uint16_t sum = sum_fold(sum_add(pseudo_sum(dst, src, IP_PROTO_UDP, udp_len), out, udp_len));
	put16(out + 6, sum ? sum : 0xffff); /* 0 would mean "no checksum" */
	send_frame(nif, reply, ETH_HEADER_LEN + IPV4_MIN_HEADER + udp_len);
	nif->udp_echoes++;
}

static void ipv4_input(struct netif *nif, const uint8_t *frame, const uint8_t *ip, size_t len)
{
	if (len < IPV4_MIN_HEADER || ip[0] >> 4 != 4)
		return;
	size_t header_len = (size_t)(ip[0] & 0xf) * 4;
	size_t total = get16(ip + 2);
	if (header_len < IPV4_MIN_HEADER || total < header_len || total > len)
		return;
	if (sum_fold(sum_add(0, ip, header_len)) != 0)
		return;
	if (get32(ip + 16) != nif->ip)
		return;
	if (get16(ip + 6) & (IPV4_FLAG_MF | IPV4_OFFSET_MASK))
		return; /* fragments are not reassembled */
	const uint8_t *payload = ip + header_len;
	size_t payload_len = total - header_len;
	if (ip[9] == IP_PROTO_ICMP)
		icmp_input(nif, frame, ip, payload, payload_len);
	else if (ip[9] == IP_PROTO_UDP)
		udp_input(nif, frame, ip, payload, payload_len);
}

void netstack_input(struct netif *nif, const uint8_t *frame, size_t len)
{
	nif->rx_frames++;
	if (len < ETH_HEADER_LEN)
		return;
	if (memcmp(frame, nif->mac, ETH_ALEN) != 0 && memcmp(frame, broadcast_mac, ETH_ALEN) != 0)
		return;
	uint16_t type = get16(frame + 2 * ETH_ALEN);
	if (type == ETHERTYPE_ARP)
		arp_input(nif, frame + ETH_HEADER_LEN, len - ETH_HEADER_LEN);
	else if (type == ETHERTYPE_IPV4)
		ipv4_input(nif, frame, frame + ETH_HEADER_LEN, len - ETH_HEADER_LEN);
}

static bool parse_number(const char **p, unsigned max, unsigned *out)
{
	unsigned v = 0, digits = 0;

	while (**p >= '0' && **p <= '9' && digits < 4) {
		v = v * 10 + (unsigned)(**p - '0');
		(*p)++;
		digits++;
	}
	if (!digits || v > max)
		return false;
	*out = v;
	return true;
}

bool netstack_parse_ip(const char *text, uint32_t *ip, uint8_t *prefix_len)
{
	const char *p = text;
	uint32_t addr = 0;
	unsigned part, prefix = 32;

	for (int i = 0; i < 4; i++) {
		if (!parse_number(&p, 255, &part))
			return false;
		addr = addr << 8 | part;
		if (i < 3 && *p++ != '.')
			return false;
	}
	if (*p == '/') {
		p++;
		if (!parse_number(&p, 32, &prefix))
			return false;
	}
	if (*p)
		return false;
	*ip = addr;
	*prefix_len = (uint8_t)prefix;
	return true;
}
