/*
 * skiff-net: a tiny TCP load tool for network benchmarks (tools/linux-guest
 * builds it static into the guest's initramfs; tools/bench-net runs it in
 * the guest and, built for the host, on the host).
 *
 *   skiff-net send [--check] HOST PORT MIB
 *       connect to HOST:PORT (an IPv4 address), write MIB MiB in 64 KiB
 *       writes, shut the write side down, wait for the peer's EOF
 *   skiff-net recv [--check] PORT [MIB]
 *       listen on PORT, print "skiff-net: listening port=PORT", accept one
 *       connection, read until EOF (or MIB MiB), close
 *   skiff-net ping HOST PORT ROUNDS
 *       connect to HOST:PORT (TCP_NODELAY), then ROUNDS times send 64
 *       bytes and wait for them to come back: request/response latency
 *   skiff-net pong PORT
 *       listen on PORT as recv does, accept one connection, send back
 *       whatever arrives until EOF
 *   skiff-net feature IFACE NAME [on|off]
 *       ethtool -K and -k for one feature of a network device, by its
 *       ethtool name (rx-gro-hw...), for guests without ethtool: turn it
 *       on or off, then print "skiff-net: feature NAME on|off" as the
 *       device now has it; exit 1 when it did not take the change
 *
 * With --check the sender writes a pattern in which every byte depends on
 * its offset in the stream, and the receiver checks each byte it reads: a
 * lost, repeated, reordered or corrupted byte ends it with "skiff-net:
 * data differs at byte N" and exit 1. Both ends must say --check.
 *
 * Each then prints one line, timed from connect or accept to the end:
 *
 *   skiff-net: recv bytes=268435456 usec=812345 mib_s=315.1
 *   skiff-net: ping rounds=2000 bytes=128000 usec=812345 rtt_us=406.2
 *
 * and exits 0, or names the failing call and exits 1 (2 for bad
 * arguments). Every wait is bounded: connect is retried while refused for
 * at most 60 s, accept waits at most 60 s, and a read or write that makes
 * no progress for 60 s fails.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (64u << 10)
#define WAIT_S 60
#define PING_BYTES 64

static char buf[CHUNK];

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int fail(const char *what)
{
	fprintf(stderr, "skiff-net: %s: %s\n", what, strerror(errno));
	return 1;
}

/* fail() for a function that returns an fd. */
static int fail_fd(const char *what)
{
	fail(what);
	return -1;
}

static int usage(void)
{
	fprintf(stderr, "usage: skiff-net send [--check] HOST PORT MIB | "
			"skiff-net recv [--check] PORT [MIB] | "
			"skiff-net ping HOST PORT ROUNDS | skiff-net pong PORT | "
			"skiff-net feature IFACE NAME [on|off]\n");
	return 2;
}

/* Reads and writes that stall for WAIT_S seconds fail with EAGAIN. */
static void set_timeouts(int fd)
{
	struct timeval tv = {.tv_sec = WAIT_S};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* The --check pattern: a byte of the stream from its offset, with no short
 * period, so a segment lost or repeated anywhere shows. */
static uint8_t pattern_byte(uint64_t off)
{
	return (uint8_t)((off * 0x9e3779b97f4a7c15ull) >> 56);
}

static void pattern_fill(uint8_t *dst, size_t len, uint64_t off)
{
	for (size_t i = 0; i < len; i++)
		dst[i] = pattern_byte(off + i);
}

/* The first byte of src that is not the pattern at off, or len. */
static size_t pattern_check(const uint8_t *src, size_t len, uint64_t off)
{
	size_t i = 0;

	while (i < len && src[i] == pattern_byte(off + i))
		i++;
	return i;
}

static int report(const char *mode, uint64_t bytes, uint64_t start)
{
	uint64_t usec = now_us() - start;

	if (usec == 0)
		usec = 1;
	printf("skiff-net: %s bytes=%" PRIu64 " usec=%" PRIu64 " mib_s=%.1f\n", mode, bytes, usec,
	       (double)bytes / 1048576.0 / ((double)usec / 1e6));
	return 0;
}

static unsigned long parse(const char *s, unsigned long max)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	return (*s && !*end && v <= max) ? v : 0;
}

/* A connected socket to host:port, or -1 (reported). The peer may not
 * listen yet: retried while refused, up to WAIT_S. */
static int connect_to(const char *host, unsigned long port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	uint64_t give_up = now_us() + WAIT_S * 1000000ull;

	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "skiff-net: '%s' is not an IPv4 address\n", host);
		return -1;
	}
	for (;;) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			return fail_fd("socket");
		set_timeouts(fd);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		if (errno != ECONNREFUSED || now_us() > give_up)
			return fail_fd("connect");
		close(fd);
		nanosleep(&(struct timespec){.tv_nsec = 20000000}, NULL);
	}
}

static int do_send(const char *host, unsigned long port, unsigned long mib, bool check)
{
	int fd = connect_to(host, port);
	if (fd < 0)
		return 1;
	uint64_t start = now_us(), total = (uint64_t)mib << 20, sent = 0;
	memset(buf, 0x5a, sizeof(buf));
	while (sent < total) {
		size_t n = total - sent < CHUNK ? (size_t)(total - sent) : CHUNK;
		if (check)
			pattern_fill((uint8_t *)buf, n, sent);
		ssize_t done = send(fd, buf, n, MSG_NOSIGNAL);
		if (done <= 0)
			return fail("send");
		sent += (uint64_t)done;
	}
	/* Done when the receiver has read everything and closed. */
	if (shutdown(fd, SHUT_WR) < 0)
		return fail("shutdown");
	while (recv(fd, buf, sizeof(buf), 0) > 0)
		;
	close(fd);
	return report("send", sent, start);
}

/* Listens on port, says so, and returns the one connection accepted
 * within WAIT_S, or -1 (reported). */
static int accept_one(unsigned long port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_ANY)};
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0)
		return fail_fd("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0)
		return fail_fd("bind/listen");
	printf("skiff-net: listening port=%lu\n", port);
	fflush(stdout);
	struct pollfd pfd = {.fd = lfd, .events = POLLIN};
	int ready = poll(&pfd, 1, WAIT_S * 1000);
	if (ready <= 0) {
		if (ready == 0)
			errno = ETIMEDOUT;
		return fail_fd("accept");
	}
	int fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return fail_fd("accept");
	close(lfd);
	set_timeouts(fd);
	return fd;
}

static int do_recv(unsigned long port, unsigned long mib, bool check)
{
	int fd = accept_one(port);
	if (fd < 0)
		return 1;
	uint64_t start = now_us(), limit = mib ? (uint64_t)mib << 20 : UINT64_MAX, got = 0;
	while (got < limit) {
		size_t n = limit - got < CHUNK ? (size_t)(limit - got) : CHUNK;
		ssize_t done = recv(fd, buf, n, 0);
		if (done < 0)
			return fail("recv");
		if (done == 0)
			break;
		size_t good =
			check ? pattern_check((uint8_t *)buf, (size_t)done, got) : (size_t)done;
		if (good < (size_t)done) {
			fprintf(stderr, "skiff-net: data differs at byte %" PRIu64 "\n",
				got + good);
			return 1;
		}
		got += (uint64_t)done;
	}
	close(fd);
	return report("recv", got, start);
}

/* Sends or receives exactly len bytes; false on an error or EOF. */
static bool move_all(int fd, char *p, size_t len, bool out)
{
	while (len) {
		ssize_t n = out ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);
		if (n <= 0)
			return false;
		p += n, len -= (size_t)n;
	}
	return true;
}

static void no_delay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int do_ping(const char *host, unsigned long port, unsigned long rounds)
{
	int fd = connect_to(host, port);
	if (fd < 0)
		return 1;
	no_delay(fd);
	uint64_t start = now_us();
	for (unsigned long i = 0; i < rounds; i++) {
		char want = (char)('a' + i % 26);
		memset(buf, want, PING_BYTES);
		if (!move_all(fd, buf, PING_BYTES, true) || !move_all(fd, buf, PING_BYTES, false))
			return fail("ping");
		if (memchr(buf, want, PING_BYTES) != buf || buf[PING_BYTES - 1] != want) {
			fprintf(stderr, "skiff-net: round %lu came back different\n", i);
			return 1;
		}
	}
	uint64_t usec = now_us() - start;
	close(fd);
	printf("skiff-net: ping rounds=%lu bytes=%lu usec=%" PRIu64 " rtt_us=%.1f\n", rounds,
	       rounds * 2 * PING_BYTES, usec, (double)usec / (double)rounds);
	return 0;
}

static int do_pong(unsigned long port)
{
	int fd = accept_one(port);
	uint64_t start = now_us(), bytes = 0;
	ssize_t n;

	if (fd < 0)
		return 1;
	no_delay(fd);
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		if (!move_all(fd, buf, (size_t)n, true))
			return fail("pong");
		bytes += 2 * (uint64_t)n;
	}
	if (n < 0)
		return fail("pong");
	close(fd);
	return report("pong", bytes, start);
}

/* One SIOCETHTOOL request on ifname. */
static int ethtool(int fd, const char *ifname, void *request)
{
	struct ifreq ifr = {.ifr_data = request};

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	return ioctl(fd, SIOCETHTOOL, &ifr);
}

/* Feature names come as a string set, bits of the feature words in the
 * same order (what ethtool -K does). want: 1 on, 0 off, -1 only show. */
static int do_feature(const char *ifname, const char *name, int want)
{
	union {
		struct ethtool_sset_info info;
		uint8_t room[sizeof(struct ethtool_sset_info) + sizeof(uint32_t)];
	} sset = {.info = {.cmd = ETHTOOL_GSSET_INFO, .sset_mask = 1ull << ETH_SS_FEATURES}};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	uint32_t n, bit = UINT32_MAX;

	if (fd < 0)
		return fail("socket");
	if (ethtool(fd, ifname, &sset) < 0)
		return fail("ETHTOOL_GSSET_INFO");
	n = sset.info.data[0];
	if (!(sset.info.sset_mask & (1ull << ETH_SS_FEATURES)) || n == 0 || n > 4096) {
		fprintf(stderr, "skiff-net: %s has no feature names\n", ifname);
		return 1;
	}
	struct ethtool_gstrings *names = calloc(1, sizeof(*names) + (size_t)n * ETH_GSTRING_LEN);
	uint32_t words = (n + 31) / 32;
	struct ethtool_sfeatures *set =
		calloc(1, sizeof(*set) + words * sizeof(struct ethtool_set_features_block));
	struct ethtool_gfeatures *get =
		calloc(1, sizeof(*get) + words * sizeof(struct ethtool_get_features_block));
	if (!names || !set || !get)
		return fail("calloc");
	*names = (struct ethtool_gstrings){
		.cmd = ETHTOOL_GSTRINGS, .string_set = ETH_SS_FEATURES, .len = n};
	if (ethtool(fd, ifname, names) < 0)
		return fail("ETHTOOL_GSTRINGS");
	for (uint32_t i = 0; i < n && bit == UINT32_MAX; i++)
		if (!strncmp((const char *)names->data + (size_t)i * ETH_GSTRING_LEN, name,
			     ETH_GSTRING_LEN))
			bit = i;
	if (bit == UINT32_MAX) {
		fprintf(stderr, "skiff-net: %s has no feature '%s'\n", ifname, name);
		return 1;
	}
	uint32_t mask = 1u << (bit % 32);
	if (want >= 0) {
		set->cmd = ETHTOOL_SFEATURES;
		set->size = words;
		set->features[bit / 32].valid = mask;
		set->features[bit / 32].requested = want ? mask : 0;
		if (ethtool(fd, ifname, set) < 0)
			return fail("ETHTOOL_SFEATURES");
	}
	get->cmd = ETHTOOL_GFEATURES;
	get->size = words;
	if (ethtool(fd, ifname, get) < 0)
		return fail("ETHTOOL_GFEATURES");
	int on = !!(get->features[bit / 32].active & mask);
	printf("skiff-net: feature %s %s\n", name, on ? "on" : "off");
	close(fd);
	return want >= 0 && on != want;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	bool check = argc > 2 && !strcmp(argv[2], "--check");

	/* From here on argv[0 .. argc) are the mode's own arguments. */
	argc = argc < 2 ? 0 : argc - 2 - check;
	argv += 2 + check;
	if (argc == 3 && !strcmp(mode, "send")) {
		unsigned long port = parse(argv[1], 65535), mib = parse(argv[2], 1ul << 20);
		return port && mib ? do_send(argv[0], port, mib, check) : usage();
	}
	if ((argc == 1 || argc == 2) && !strcmp(mode, "recv")) {
		unsigned long port = parse(argv[0], 65535),
			      mib = argc == 2 ? parse(argv[1], 1ul << 20) : 0;
		return port && (argc == 1 || mib) ? do_recv(port, mib, check) : usage();
	}
	if (argc == 3 && !check && !strcmp(mode, "ping")) {
		unsigned long port = parse(argv[1], 65535), rounds = parse(argv[2], 1ul << 24);
		return port && rounds ? do_ping(argv[0], port, rounds) : usage();
	}
	if (argc == 1 && !check && !strcmp(mode, "pong")) {
		unsigned long port = parse(argv[0], 65535);
		return port ? do_pong(port) : usage();
	}
	if ((argc == 2 || argc == 3) && !check && !strcmp(mode, "feature")) {
		int want = argc == 2		     ? -1
			   : !strcmp(argv[2], "on")  ? 1
			   : !strcmp(argv[2], "off") ? 0
						     : 2;
		return want < 2 ? do_feature(argv[0], argv[1], want) : usage();
	}
	return usage();
}
