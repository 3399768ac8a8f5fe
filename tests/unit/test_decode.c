/*
 * Unit tests of decode: crafted frames for every supported link type,
 * VLAN/QinQ tags, IPv4 options and padding, IPv6 extension headers,
 * fragments, truncated and malformed headers, snaplen cuts, and endpoint
 * formatting.  Frames are built byte by byte by a small writer below so each
 * test states exactly what is on the wire.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#include "decode.h"

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif

/* ---- a tiny frame writer */

struct fb {
	uint8_t b[2048];
	size_t n;
};

static void
fb_u8(struct fb *f, unsigned v)
{
	f->b[f->n++] = (uint8_t)v;
}

static void
fb_be16(struct fb *f, unsigned v)
{
	fb_u8(f, v >> 8);
	fb_u8(f, v & 0xff);
}

static void
fb_be32(struct fb *f, uint32_t v)
{
	fb_be16(f, v >> 16);
	fb_be16(f, v & 0xffff);
}

static void
fb_le32(struct fb *f, uint32_t v)
{
	fb_u8(f, v & 0xff);
	fb_u8(f, (v >> 8) & 0xff);
	fb_u8(f, (v >> 16) & 0xff);
	fb_u8(f, v >> 24);
}

static void
fb_bytes(struct fb *f, const void *p, size_t n)
{
	memcpy(f->b + f->n, p, n);
	f->n += n;
}

static void
fb_zero(struct fb *f, size_t n)
{
	memset(f->b + f->n, 0, n);
	f->n += n;
}

static void
fb_eth(struct fb *f, unsigned type)
{
	static const uint8_t mac[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};

	fb_bytes(f, mac, sizeof mac);
	fb_be16(f, type);
}

/*
 * IPv4 header; hlen includes options (filled with NOPs = 1); total is
 * the IP total length to write.
 */
static void
fb_ipv4(
    struct fb *f, size_t hlen, unsigned total, unsigned frag, unsigned proto)
{
	size_t i;

	fb_u8(f, 0x40 | (unsigned)(hlen / 4));
	fb_u8(f, 0);
	fb_be16(f, total);
	fb_be16(f, 0x1234);
	fb_be16(f, frag);
	fb_u8(f, 64);
	fb_u8(f, proto);
	fb_be16(f, 0);
	fb_be32(f, 0xc0000201); /* 192.0.2.1 */
	fb_be32(f, 0xc6336402); /* 198.51.100.2 */
	for (i = 20; i < hlen; i++)
		fb_u8(f, 1);
}

static const uint8_t v6src[16] = {
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t v6dst[16] = {
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x25};

static void
fb_ipv6(struct fb *f, unsigned plen, unsigned next)
{
	fb_be32(f, 0x60000000);
	fb_be16(f, plen);
	fb_u8(f, next);
	fb_u8(f, 64);
	fb_bytes(f, v6src, 16);
	fb_bytes(f, v6dst, 16);
}

/* TCP header of hlen bytes (options: NOPs), then payload. */
static void
fb_tcp(struct fb *f, size_t hlen, const char *payload)
{
	size_t i;

	fb_be16(f, 51234);
	fb_be16(f, 25);
	fb_be32(f, 0x01020304);
	fb_be32(f, 0xa0b0c0d0);
	fb_u8(f, (unsigned)(hlen / 4) << 4);
	fb_u8(f, DECODE_TH_PSH | DECODE_TH_ACK);
	fb_be16(f, 65535);
	fb_be32(f, 0);
	for (i = 20; i < hlen; i++)
		fb_u8(f, 1);
	if (payload != NULL)
		fb_bytes(f, payload, strlen(payload));
}

/* An IPv4 + TCP (20 + 20) segment carrying "EHLO x\r\n" (8 bytes). */
#define PAYLOAD "EHLO x\r\n"
#define PLEN 8

static void
fb_v4seg(struct fb *f)
{
	fb_ipv4(f, 20, 20 + 20 + PLEN, 0x4000, 6);
	fb_tcp(f, 20, PAYLOAD);
}

static void
fb_v6seg(struct fb *f)
{
	fb_ipv6(f, 20 + PLEN, 6);
	fb_tcp(f, 20, PAYLOAD);
}

/* Decode and check every field of the standard segment. */
static void
check_v4seg(int dlt, const struct fb *f)
{
	struct decode_pkt p;
	struct timeval ts = {1700000000, 123456};
	const char *why = "unset";
	static const uint8_t src[4] = {192, 0, 2, 1},
			     dst[4] = {198, 51, 100, 2};

	assert_int_equal(
	    decode_packet(dlt, f->b, f->n, &ts, &p, &why), DECODE_OK);
	assert_null(why);
	assert_int_equal(p.af, AF_INET);
	assert_memory_equal(p.src, src, 4);
	assert_memory_equal(p.dst, dst, 4);
	assert_int_equal(p.sport, 51234);
	assert_int_equal(p.dport, 25);
	assert_int_equal(p.seq, 0x01020304);
	assert_int_equal(p.ack, 0xa0b0c0d0);
	assert_int_equal(p.flags, DECODE_TH_PSH | DECODE_TH_ACK);
	assert_int_equal(p.window, 65535);
	assert_int_equal(p.len, PLEN);
	assert_int_equal(p.wire_len, PLEN);
	assert_memory_equal(p.payload, PAYLOAD, PLEN);
	assert_int_equal(p.ts.tv_sec, 1700000000);
	assert_int_equal(p.ts.tv_usec, 123456);
}

static void
check_v6seg(int dlt, const struct fb *f)
{
	struct decode_pkt p;
	const char *why;

	assert_int_equal(
	    decode_packet(dlt, f->b, f->n, NULL, &p, &why), DECODE_OK);
	assert_int_equal(p.af, AF_INET6);
	assert_memory_equal(p.src, v6src, 16);
	assert_memory_equal(p.dst, v6dst, 16);
	assert_int_equal(p.sport, 51234);
	assert_int_equal(p.dport, 25);
	assert_int_equal(p.seq, 0x01020304);
	assert_int_equal(p.len, PLEN);
	assert_int_equal(p.wire_len, PLEN);
	assert_memory_equal(p.payload, PAYLOAD, PLEN);
}

/* Every strict prefix of a frame must decode as truncated/malformed/not-IP
   and never read past its end (ASan checks the latter). */
static void
check_prefixes(int dlt, const struct fb *f)
{
	struct decode_pkt p;
	const char *why;
	size_t n;
	enum decode_result r;

	for (n = 0; n < f->n; n++) {
		r = decode_packet(dlt, f->b, n, NULL, &p, &why);
		if (r == DECODE_OK) {
			/* Only the payload may be cut, never a header. */
			assert_true(p.len < p.wire_len);
			continue;
		}
		assert_true(r == DECODE_TRUNCATED || r == DECODE_NOT_IP);
		if (r == DECODE_TRUNCATED)
			assert_non_null(why);
	}
}

/* ---- link types */

static void
test_ethernet(void **state)
{
	struct fb f = {{0}, 0};

	(void)state;
	fb_eth(&f, 0x0800);
	fb_v4seg(&f);
	check_v4seg(DLT_EN10MB, &f);
	check_prefixes(DLT_EN10MB, &f);

	f.n = 0;
	fb_eth(&f, 0x86dd);
	fb_v6seg(&f);
	check_v6seg(DLT_EN10MB, &f);
	check_prefixes(DLT_EN10MB, &f);
}

static void
test_ethernet_padding(void **state)
{
	struct fb f = {{0}, 0};
	struct decode_pkt p;
	const char *why;

	(void)state;
	/* A bare ACK: 14 + 40 = 54 bytes, padded to 60 on the wire. */
	fb_eth(&f, 0x0800);
	fb_ipv4(&f, 20, 40, 0, 6);
	fb_tcp(&f, 20, NULL);
	fb_bytes(&f, "\xde\xad\xbe\xef\x00\x00", 6);
	assert_int_equal(f.n, 60);
	assert_int_equal(
	    decode_packet(DLT_EN10MB, f.b, f.n, NULL, &p, &why), DECODE_OK);
	assert_int_equal(p.len, 0);
	assert_int_equal(p.wire_len, 0);
	assert_null(p.payload);

	/* Same for IPv6 with a trailer. */
	f.n = 0;
	fb_eth(&f, 0x86dd);
	fb_ipv6(&f, 20 + 2, 6);
	fb_tcp(&f, 20, "ok");
	fb_bytes(&f, "XXXX", 4);
	assert_int_equal(
	    decode_packet(DLT_EN10MB, f.b, f.n, NULL, &p, &why), DECODE_OK);
	assert_int_equal(p.len, 2);
	assert_memory_equal(p.payload, "ok", 2);
}

static void
test_vlan(void **state)
{
	struct fb f = {{0}, 0};

	(void)state;
	/* 802.1Q, VLAN 100. */
	fb_eth(&f, 0x8100);
	fb_be16(&f, 100);
	fb_be16(&f, 0x0800);
	fb_v4seg(&f);
	check_v4seg(DLT_EN10MB, &f);
	check_prefixes(DLT_EN10MB, &f);

	/* QinQ: 802.1ad outer tag, 802.1Q inner. */
	f.n = 0;
	fb_eth(&f, 0x88a8);
	fb_be16(&f, 200);
	fb_be16(&f, 0x8100);
	fb_be16(&f, 100);
	fb_be16(&f, 0x86dd);
	fb_v6seg(&f);
	check_v6seg(DLT_EN10MB, &f);
	check_prefixes(DLT_EN10MB, &f);

	/* Old-style 0x9100 outer tag. */
	f.n = 0;
	fb_eth(&f, 0x9100);
	fb_be16(&f, 7);
	fb_be16(&f, 0x8100);
	fb_be16(&f, 8);
	fb_be16(&f, 0x0800);
	fb_v4seg(&f);
	check_v4seg(DLT_EN10MB, &f);
}

static void
test_vlan_too_deep(void **state)
{
	struct fb f = {{0}, 0};
	struct decode_pkt p;
	const char *why;
	int i;

	(void)state;
	fb_eth(&f, 0x8100);
	for (i = 0; i < 20; i++) {
		fb_be16(&f, 1);
		fb_be16(&f, 0x8100);
	}
	fb_be16(&f, 1);
	fb_be16(&f, 0x0800);
	fb_v4seg(&f);
	assert_int_equal(
	    decode_packet(DLT_EN10MB, f.b, f.n, NULL, &p, &why), DECODE_NOT_IP);
}

static void
test_not_ip(void **state)
{
	struct fb f = {{0}, 0};
	struct decode_pkt p;
	const char *why;

	(void)state;
	/* ARP */
	fb_eth(&f, 0x0806);
	fb_zero(&f, 28);
	assert_int_equal(
	    decode_packet(DLT_EN10MB, f.b, f.n, NULL, &p, &why), DECODE_NOT_IP);
	/* 802.3 length field + LLC (e.g. STP) */
	f.n = 0;
	fb_eth(&f, 0x0026);
	fb_zero(&f, 38);
	assert_int_equal(
	    decode_packet(DLT_EN10MB, f.b, f.n, NULL, &p, &why), DECODE_NOT_IP);
	/* A VLAN-tagged ARP */
	f.n = 0;
	fb_eth(&f, 0x8100);
	fb_be16(&f, 5);
	fb_be16(&f, 0x0806);
	fb_zero(&f, 28);
	assert_int_equal(
	    decode_packet(DLT_EN10MB, f.b, f.n, NULL, &p, &why), DECODE_NOT_IP);
}

static void
test_sll(void **state)
{
	struct fb f = {{0}, 0};

	(void)state;
	fb_be16(&f, 0);	  /* to us */
	fb_be16(&f, 772); /* ARPHRD_LOOPBACK */
	fb_be16(&f, 6);
	fb_zero(&f, 8);
	fb_be16(&f, 0x0800);
	fb_v4seg(&f);
	check_v4seg(DLT_LINUX_SLL, &f);
	check_prefixes(DLT_LINUX_SLL, &f);

	/* A VLAN tag kept in a cooked capture. */
	f.n = 0;
	fb_be16(&f, 4);
	fb_be16(&f, 1);
	fb_be16(&f, 6);
	fb_zero(&f, 8);
	fb_be16(&f, 0x8100);
	fb_be16(&f, 42);
	fb_be16(&f, 0x86dd);
	fb_v6seg(&f);
	check_v6seg(DLT_LINUX_SLL, &f);
}

static void
test_sll2(void **state)
{
	struct fb f = {{0}, 0};
	struct decode_pkt p;
	const char *why;

	(void)state;
	fb_be16(&f, 0x86dd); /* protocol first in v2 */
	fb_be16(&f, 0);
	fb_be32(&f, 1); /* ifindex */
	fb_be16(&f, 772);
	fb_u8(&f, 0);
	fb_u8(&f, 6);
	fb_zero(&f, 8);
	assert_int_equal(f.n, 20);
	fb_v6seg(&f);
	check_v6seg(DLT_LINUX_SLL2, &f);
	check_prefixes(DLT_LINUX_SLL2, &f);

	f.n = 0;
	fb_be16(&f, 0x0800);
	fb_zero(&f, 18);
	fb_v4seg(&f);
	check_v4seg(DLT_LINUX_SLL2, &f);

	/* Netlink and other non-IP protocols. */
	f.n = 0;
	fb_be16(&f, 0x0000);
	fb_zero(&f, 18);
	fb_zero(&f, 40);
	assert_int_equal(
	    decode_packet(DLT_LINUX_SLL2, f.b, f.n, NULL, &p, &why),
	    DECODE_NOT_IP);
}

static void
test_null_loop(void **state)
{
	struct fb f = {{0}, 0};
	struct decode_pkt p;
	const char *why;
	static const uint32_t v6afs[] = {10, 24, 28, 30};
	size_t i;

	(void)state;
	/* DLT_NULL written by a little-endian host */
	fb_le32(&f, 2);
	fb_v4seg(&f);
	check_v4seg(DLT_NULL, &f);
	check_prefixes(DLT_NULL, &f);
	/* ... and by a big-endian one */
	f.n = 0;
	fb_be32(&f, 2);
	fb_v4seg(&f);
	check_v4seg(DLT_NULL, &f);
	for (i = 0; i < sizeof v6afs / sizeof v6afs[0]; i++) {
		f.n = 0;
		fb_le32(&f, v6afs[i]);
		fb_v6seg(&f);
		check_v6seg(DLT_NULL, &f);
		f.n = 0;
		fb_be32(&f, v6afs[i]);
		fb_v6seg(&f);
		check_v6seg(DLT_NULL, &f);
	}
	/* DLT_LOOP: always network byte order. */
	f.n = 0;
	fb_be32(&f, 24);
	fb_v6seg(&f);
	check_v6seg(DLT_LOOP, &f);
	f.n = 0;
	fb_be32(&f, 2);
	fb_v4seg(&f);
	check_v4seg(DLT_LOOP, &f);
	/* An unknown family (AppleTalk = 16) */
	f.n = 0;
	fb_le32(&f, 16);
	fb_v4seg(&f);
	assert_int_equal(
	    decode_packet(DLT_NULL, f.b, f.n, NULL, &p, &why), DECODE_NOT_IP);
}

static void
test_raw(void **state)
{
	struct fb f = {{0}, 0};
	struct decode_pkt p;
	const char *why;

	(void)state;
	fb_v4seg(&f);
	check_v4seg(DLT_RAW, &f);
	check_v4seg(101, &f);
	check_v4seg(DLT_IPV4, &f);
	check_prefixes(DLT_RAW, &f);
	f.n = 0;
	fb_v6seg(&f);
	check_v6seg(DLT_RAW, &f);
	check_v6seg(101, &f);
	check_v6seg(DLT_IPV6, &f);
	/* DLT_IPV4 with an IPv6 packet inside is malformed. */
	assert_int_equal(decode_packet(DLT_IPV4, f.b, f.n, NULL, &p, &why),
	    DECODE_MALFORMED);
	assert_string_equal(why, "IP version is not 4");
	/* Raw with a version 5 nibble. */
	f.b[0] = 0x50;
	assert_int_equal(
	    decode_packet(DLT_RAW, f.b, f.n, NULL, &p, &why), DECODE_MALFORMED);
	assert_string_equal(why, "raw packet is neither IPv4 nor IPv6");
}

static void
test_linktype_names(void **state)
{
	char buf[32];

	(void)state;
	assert_true(decode_linktype_supported(DLT_EN10MB));
	assert_true(decode_linktype_supported(DLT_LINUX_SLL));
	assert_true(decode_linktype_supported(DLT_LINUX_SLL2));
	assert_true(decode_linktype_supported(DLT_NULL));
	assert_true(decode_linktype_supported(DLT_LOOP));
	assert_true(decode_linktype_supported(DLT_RAW));
	assert_true(decode_linktype_supported(101));
	assert_false(decode_linktype_supported(DLT_IEEE802_11_RADIO));
	assert_false(decode_linktype_supported(DLT_PPP));
	assert_string_equal(
	    decode_linktype_name(DLT_EN10MB, buf, sizeof buf), "EN10MB");
	assert_string_equal(
	    decode_linktype_name(DLT_LINUX_SLL2, buf, sizeof buf),
	    "LINUX_SLL2");
	assert_string_equal(
	    decode_linktype_name(DLT_IEEE802_11_RADIO, buf, sizeof buf),
	    "IEEE802_11_RADIO");
	assert_string_equal(decode_linktype_name(101, buf, sizeof buf), "RAW");
	assert_string_equal(
	    decode_linktype_name(9999, buf, sizeof buf), "DLT 9999");
	/* The buffer bounds the name. */
	assert_string_equal(
	    decode_linktype_name(DLT_LINUX_SLL2, buf, 5), "LINU");
}

static void
test_unsupported_linktype(void **state)
{
	struct fb f = {{0}, 0};
	struct decode_pkt p;
	const char *why;

	(void)state;
	fb_v4seg(&f);
	assert_int_equal(
	    decode_packet(DLT_PPP, f.b, f.n, NULL, &p, &why), DECODE_NOT_IP);
}

/* ---- IPv4 */

static void
test_ipv4_options(void **state)
{
	struct fb f = {{0}, 0};

	(void)state;
	/* IHL 15: 40 bytes of options. */
	fb_ipv4(&f, 60, 60 + 20 + PLEN, 0, 6);
	fb_tcp(&f, 20, PAYLOAD);
	check_v4seg(DLT_RAW, &f);
	check_prefixes(DLT_RAW, &f);
	/* IHL 6 with a record-route-like 4 byte option. */
	f.n = 0;
	fb_ipv4(&f, 24, 24 + 20 + PLEN, 0, 6);
	fb_tcp(&f, 20, PAYLOAD);
	check_v4seg(DLT_RAW, &f);
}

static void
test_ipv4_malformed(void **state)
{
	struct fb f = {{0}, 0};
	struct decode_pkt p;
	const char *why;

	(void)state;
	/* IHL 4 (16 bytes) is impossible. */
	fb_ipv4(&f, 20, 48, 0, 6);
	fb_tcp(&f, 20, PAYLOAD);
	f.b[0] = 0x44;
	assert_int_equal(
	    decode_packet(DLT_RAW, f.b, f.n, NULL, &p, &why), DECODE_MALFORMED);
	assert_string_equal(why, "IPv4 header length below 20");
	/* Total length below the header length. */
	f.b[0] = 0x46;
	f.b[2] = 0;
	f.b[3] = 20;
	assert_int_equal(
	    decode_packet(DLT_RAW, f.b, f.n, NULL, &p, &why), DECODE_MALFORMED);
	assert_string_equal(why, "IPv4 total length shorter than its header");
	/* Total length 22: only 2 bytes for TCP. */
	f.b[0] = 0x45;
	f.b[3] = 22;
	assert_int_equal(
	    decode_packet(DLT_RAW, f.b, f.n, NULL, &p, &why), DECODE_MALFORMED);
	assert_string_equal(why, "TCP header longer than the packet");
	/* Options cut by the capture. */
	f.n = 0;
	fb_ipv4(&f, 60, 100, 0, 6);
	assert_int_equal(
	    decode_packet(DLT_RAW, f.b, 40, NULL, &p, &why), DECODE_TRUNCATED);
	assert_string_equal(why, "IPv4 options cut");
	assert_int_equal(
	    decode_packet(DLT_RAW, f.b, 10, NULL, &p, &why), DECODE_TRUNCATED);
	assert_string_equal(why, "IPv4 header cut");
}

static void
test_ipv4_not_tcp(void **state)
{
	struct fb f = {{0}, 0};
	struct decode_pkt p;
	const char *why;

	(void)state;
	fb_ipv4(&f, 20, 28, 0, 17); /* UDP */
	fb_zero(&f, 8);
	assert_int_equal(
	    decode_packet(DLT_RAW, f.b, f.n, NULL, &p, &why), DECODE_NOT_TCP);
	/* A UDP fragment is not our business either. */
	f.n = 0;
	fb_ipv4(&f, 20, 28, 0x2000, 17);
	fb_zero(&f, 8);
	assert_int_equal(
	    decode_packet(DLT_RAW, f.b, f.n, NULL, &p, &why), DECODE_NOT_TCP);
}

static void
test_ipv4_fragments(void **state)
{
	struct fb f = {{0}, 0};
	struct decode_pkt p;
	const char *why;
	static const uint8_t src[4] = {192, 0, 2, 1};

	(void)state;
	/* First fragment: MF set, offset 0; the ports are visible. */
	fb_ipv4(&f, 20, 20 + 20 + PLEN, 0x2000, 6);
	fb_tcp(&f, 20, PAYLOAD);
	assert_int_equal(
	    decode_packet(DLT_RAW, f.b, f.n, NULL, &p, &why), DECODE_FRAGMENT);
	assert_string_equal(why, "IPv4 first fragment");
	assert_int_equal(p.af, AF_INET);
	assert_memory_equal(p.src, src, 4);
	assert_int_equal(p.sport, 51234);
	assert_int_equal(p.dport, 25);
	/* A later fragment: offset 185 (1480 bytes), no ports. */
	f.n = 0;
	fb_ipv4(&f, 20, 20 + PLEN, 185, 6);
	fb_bytes(&f, PAYLOAD, PLEN);
	assert_int_equal(
	    decode_packet(DLT_RAW, f.b, f.n, NULL, &p, &why), DECODE_FRAGMENT);
	assert_string_equal(why, "IPv4 fragment");
	assert_int_equal(p.sport, 0);
	/* The last fragment (offset, no MF) and the DF bit alone. */
	f.n = 0;
	fb_ipv4(&f, 20, 20 + 20 + PLEN, 0x0001, 6);
	fb_tcp(&f, 20, PAYLOAD);
	assert_int_equal(
	    decode_packet(DLT_RAW, f.b, f.n, NULL, &p, &why), DECODE_FRAGMENT);
	f.b[6] = 0x40;
	f.b[7] = 0;
	assert_int_equal(
	    decode_packet(DLT_RAW, f.b, f.n, NULL, &p, &why), DECODE_OK);
}

static void
test_ipv4_tso(void **state)
{
	struct fb f = {{0}, 0};
	struct decode_pkt p;
	const char *why;

	(void)state;
	/* Total length 0 on an offloaded send: the capture decides. */
	fb_ipv4(&f, 20, 0, 0x4000, 6);
	fb_tcp(&f, 20, PAYLOAD);
	assert_int_equal(
	    decode_packet(DLT_RAW, f.b, f.n, NULL, &p, &why), DECODE_OK);
	assert_int_equal(p.len, PLEN);
	assert_int_equal(p.wire_len, PLEN);
}

/* ---- snapshot length */

static void
test_snaplen_cut(void **state)
{
	struct fb f = {{0}, 0};
	struct decode_pkt p;
	const char *why;

	(void)state;
	fb_eth(&f, 0x0800);
	fb_v4seg(&f);
	/* Cut 3 bytes into the payload. */
	assert_int_equal(
	    decode_packet(DLT_EN10MB, f.b, 14 + 40 + 3, NULL, &p, &why),
	    DECODE_OK);
	assert_int_equal(p.len, 3);
	assert_int_equal(p.wire_len, PLEN);
	assert_memory_equal(p.payload, "EHL", 3);
	/* Cut right after the TCP header. */
	assert_int_equal(
	    decode_packet(DLT_EN10MB, f.b, 14 + 40, NULL, &p, &why), DECODE_OK);
	assert_int_equal(p.len, 0);
	assert_int_equal(p.wire_len, PLEN);
	/* Cut inside the TCP header. */
	assert_int_equal(
	    decode_packet(DLT_EN10MB, f.b, 14 + 30, NULL, &p, &why),
	    DECODE_TRUNCATED);
	assert_string_equal(why, "TCP header cut");
	/* Cut inside TCP options (tcpdump -s 64 on Ethernet with
	   timestamps): a header-only packet, payload size from the IP
	   header. */
	f.n = 0;
	fb_ipv4(&f, 20, 20 + 40 + PLEN, 0, 6);
	fb_tcp(&f, 40, PAYLOAD);
	assert_int_equal(
	    decode_packet(DLT_RAW, f.b, 50, NULL, &p, &why), DECODE_OK);
	assert_int_equal(p.len, 0);
	assert_null(p.payload);
	assert_int_equal(p.wire_len, PLEN);
	/* Cut in the Ethernet header. */
	assert_int_equal(decode_packet(DLT_EN10MB, f.b, 13, NULL, &p, &why),
	    DECODE_TRUNCATED);
	assert_string_equal(why, "link-layer header cut");
	/* Cut in a VLAN tag. */
	f.n = 0;
	fb_eth(&f, 0x8100);
	fb_be16(&f, 1);
	assert_int_equal(decode_packet(DLT_EN10MB, f.b, f.n, NULL, &p, &why),
	    DECODE_TRUNCATED);
	/* Nothing at all. */
	assert_int_equal(
	    decode_packet(DLT_RAW, f.b, 0, NULL, &p, &why), DECODE_TRUNCATED);
	assert_int_equal(decode_packet(DLT_EN10MB, NULL, 0, NULL, &p, &why),
	    DECODE_TRUNCATED);
}

/* ---- TCP */

static void
test_tcp_options(void **state)
{
	struct fb f = {{0}, 0};

	(void)state;
	/* Data offset 15: 40 bytes of options (e.g. SACK blocks). */
	fb_ipv4(&f, 20, 20 + 60 + PLEN, 0, 6);
	fb_tcp(&f, 60, PAYLOAD);
	check_v4seg(DLT_RAW, &f);
	/* Timestamps (offset 8) over IPv6. */
	f.n = 0;
	fb_ipv6(&f, 32 + PLEN, 6);
	fb_tcp(&f, 32, PAYLOAD);
	check_v6seg(DLT_RAW, &f);
	check_prefixes(DLT_RAW, &f);
}

static void
test_tcp_bad_offset(void **state)
{
	struct fb f = {{0}, 0};
	struct decode_pkt p;
	const char *why;
	unsigned doff;

	(void)state;
	fb_ipv4(&f, 20, 20 + 20 + PLEN, 0, 6);
	fb_tcp(&f, 20, PAYLOAD);
	for (doff = 0; doff < 5; doff++) {
		f.b[20 + 12] = (uint8_t)(doff << 4);
		assert_int_equal(
		    decode_packet(DLT_RAW, f.b, f.n, NULL, &p, &why),
		    DECODE_MALFORMED);
		assert_string_equal(why, "TCP data offset below 5");
	}
	/* Offset 8 = 32 bytes, but only 28 bytes of IP payload. */
	f.b[20 + 12] = 8 << 4;
	assert_int_equal(
	    decode_packet(DLT_RAW, f.b, f.n, NULL, &p, &why), DECODE_MALFORMED);
	assert_string_equal(why, "TCP header longer than the packet");
	/* Offset 7 = 28 bytes: exactly the packet, no payload. */
	f.b[20 + 12] = 7 << 4;
	assert_int_equal(
	    decode_packet(DLT_RAW, f.b, f.n, NULL, &p, &why), DECODE_OK);
	assert_int_equal(p.len, 0);
	assert_int_equal(p.wire_len, 0);
}

static void
test_tcp_flags(void **state)
{
	struct fb f = {{0}, 0};
	struct decode_pkt p;
	const char *why;

	(void)state;
	fb_ipv4(&f, 20, 40, 0, 6);
	fb_tcp(&f, 20, NULL);
	f.b[20 + 13] = DECODE_TH_SYN;
	assert_int_equal(
	    decode_packet(DLT_RAW, f.b, f.n, NULL, &p, &why), DECODE_OK);
	assert_int_equal(p.flags, DECODE_TH_SYN);
	f.b[20 + 13] = DECODE_TH_FIN | DECODE_TH_ACK;
	decode_packet(DLT_RAW, f.b, f.n, NULL, &p, &why);
	assert_int_equal(p.flags & 0x1f, DECODE_TH_FIN | DECODE_TH_ACK);
	f.b[20 + 13] = DECODE_TH_RST;
	decode_packet(DLT_RAW, f.b, f.n, NULL, &p, &why);
	assert_int_equal(p.flags & 0x1f, DECODE_TH_RST);
}

/* ---- IPv6 extension headers */

static void
test_ipv6_ext(void **state)
{
	struct fb f = {{0}, 0};

	(void)state;
	/* hop-by-hop (8) -> routing (24) -> dest opts (16) -> AH (24) -> TCP */
	fb_ipv6(&f, 8 + 24 + 16 + 24 + 20 + PLEN, 0);
	fb_u8(&f, 43);
	fb_u8(&f, 0);
	fb_zero(&f, 6);
	fb_u8(&f, 60);
	fb_u8(&f, 2);
	fb_zero(&f, 22);
	fb_u8(&f, 51);
	fb_u8(&f, 1);
	fb_zero(&f, 14);
	fb_u8(&f, 6);
	fb_u8(&f, 4); /* (4 + 2) * 4 = 24 */
	fb_zero(&f, 22);
	fb_tcp(&f, 20, PAYLOAD);
	check_v6seg(DLT_RAW, &f);
	check_prefixes(DLT_RAW, &f);
}

static void
test_ipv6_fragment(void **state)
{
	struct fb f = {{0}, 0};
	struct decode_pkt p;
	const char *why;

	(void)state;
	/* Atomic fragment (offset 0, M 0): a whole datagram. */
	fb_ipv6(&f, 8 + 20 + PLEN, 44);
	fb_u8(&f, 6);
	fb_u8(&f, 0);
	fb_be16(&f, 0);
	fb_be32(&f, 0xabcdef);
	fb_tcp(&f, 20, PAYLOAD);
	check_v6seg(DLT_RAW, &f);
	/* First fragment: M set. */
	f.b[40 + 3] = 1;
	assert_int_equal(
	    decode_packet(DLT_RAW, f.b, f.n, NULL, &p, &why), DECODE_FRAGMENT);
	assert_string_equal(why, "IPv6 first fragment");
	assert_int_equal(p.af, AF_INET6);
	assert_memory_equal(p.dst, v6dst, 16);
	assert_int_equal(p.dport, 25);
	/* Later fragment: offset 1 (8 bytes). */
	f.b[40 + 3] = 8;
	assert_int_equal(
	    decode_packet(DLT_RAW, f.b, f.n, NULL, &p, &why), DECODE_FRAGMENT);
	assert_string_equal(why, "IPv6 fragment");
	assert_int_equal(p.dport, 0);
	/* A fragmented UDP datagram is not TCP. */
	f.b[40] = 17;
	assert_int_equal(
	    decode_packet(DLT_RAW, f.b, f.n, NULL, &p, &why), DECODE_NOT_TCP);
}

static void
test_ipv6_bad(void **state)
{
	struct fb f = {{0}, 0};
	struct decode_pkt p;
	const char *why;
	int i;

	(void)state;
	/* A hop-by-hop header longer than the payload length. */
	fb_ipv6(&f, 16, 0);
	fb_u8(&f, 6);
	fb_u8(&f, 10);
	fb_zero(&f, 100);
	assert_int_equal(
	    decode_packet(DLT_RAW, f.b, f.n, NULL, &p, &why), DECODE_MALFORMED);
	assert_string_equal(
	    why, "IPv6 extension header beyond the payload length");
	/* The same header cut by the capture. */
	f.b[5] = 200;
	assert_int_equal(decode_packet(DLT_RAW, f.b, 40 + 30, NULL, &p, &why),
	    DECODE_TRUNCATED);
	assert_string_equal(why, "IPv6 extension header cut");
	/* A chain of 40 destination options headers. */
	f.n = 0;
	fb_ipv6(&f, 40 * 8 + 20, 60);
	for (i = 0; i < 40; i++) {
		fb_u8(&f, i == 39 ? 6 : 60);
		fb_u8(&f, 0);
		fb_zero(&f, 6);
	}
	fb_tcp(&f, 20, NULL);
	assert_int_equal(
	    decode_packet(DLT_RAW, f.b, f.n, NULL, &p, &why), DECODE_MALFORMED);
	assert_string_equal(why, "too many IPv6 extension headers");
	/* ESP, no next header, ICMPv6: not TCP. */
	f.n = 0;
	fb_ipv6(&f, 8, 50);
	fb_zero(&f, 8);
	assert_int_equal(
	    decode_packet(DLT_RAW, f.b, f.n, NULL, &p, &why), DECODE_NOT_TCP);
	f.b[6] = 59;
	assert_int_equal(
	    decode_packet(DLT_RAW, f.b, f.n, NULL, &p, &why), DECODE_NOT_TCP);
	f.b[6] = 58;
	assert_int_equal(
	    decode_packet(DLT_RAW, f.b, f.n, NULL, &p, &why), DECODE_NOT_TCP);
	/* Version nibble 4 under an IPv6 ethertype. */
	f.n = 0;
	fb_eth(&f, 0x86dd);
	fb_v4seg(&f);
	assert_int_equal(decode_packet(DLT_EN10MB, f.b, f.n, NULL, &p, &why),
	    DECODE_MALFORMED);
	assert_string_equal(why, "IP version is not 6");
}

static void
test_ipv6_snaplen(void **state)
{
	struct fb f = {{0}, 0};
	struct decode_pkt p;
	const char *why;

	(void)state;
	fb_ipv6(&f, 20 + 1000, 6);
	fb_tcp(&f, 20, PAYLOAD);
	assert_int_equal(
	    decode_packet(DLT_RAW, f.b, f.n, NULL, &p, &why), DECODE_OK);
	assert_int_equal(p.len, PLEN);
	assert_int_equal(p.wire_len, 1000);
}

/* ---- garbage never crashes */

static void
test_garbage(void **state)
{
	static const int dlts[] = {DLT_NULL, DLT_LOOP, DLT_EN10MB, DLT_RAW, 101,
	    DLT_IPV4, DLT_IPV6, DLT_LINUX_SLL, DLT_LINUX_SLL2};
	uint8_t buf[256];
	uint32_t x = 12345;
	struct decode_pkt p;
	const char *why;
	size_t i, j, n;
	enum decode_result r;

	(void)state;
	for (i = 0; i < 2000; i++) {
		for (j = 0; j < sizeof buf; j++) {
			x = x * 1103515245 + 12345;
			buf[j] = (uint8_t)(x >> 16);
		}
		/* Bias towards IP so the deeper layers get exercised. */
		buf[0] = (uint8_t)((i & 1 ? 0x40 : 0x60) | (buf[0] & 0x0f));
		n = (x >> 8) % sizeof buf;
		for (j = 0; j < sizeof dlts / sizeof dlts[0]; j++) {
			r = decode_packet(dlts[j], buf, n, NULL, &p, &why);
			if (r == DECODE_OK) {
				assert_true(p.len <= p.wire_len);
				assert_true(p.len == 0 ||
					    (p.payload >= buf &&
						p.payload + p.len <= buf + n));
			}
			if (r == DECODE_TRUNCATED || r == DECODE_MALFORMED ||
			    r == DECODE_FRAGMENT)
				assert_non_null(why);
		}
	}
}

/* ---- the captures made by tests/scripts/make-linktype-captures.sh */

/* What a capture decodes to, per address family (0: IPv4, 1: IPv6). */
struct fixture_sum {
	unsigned segments[2];
	unsigned long bytes[2];
	uint32_t hash[2]; /* FNV-1a over payloads, in order */
	unsigned other;	  /* anything but DECODE_OK */
};

static int
fixture_read(const char *name, struct fixture_sum *sum)
{
	char path[4096], errbuf[PCAP_ERRBUF_SIZE];
	const char *top = getenv("top_srcdir");
	struct pcap_pkthdr *h;
	const u_char *data;
	struct decode_pkt p;
	const char *why;
	pcap_t *pc;
	size_t i;
	int k;

	memset(sum, 0, sizeof *sum);
	sum->hash[0] = sum->hash[1] = 2166136261u;
	snprintf(path, sizeof path, "%s/tests/fixtures/%s",
	    top != NULL ? top : "..", name);
	pc = pcap_open_offline(path, errbuf);
	if (pc == NULL)
		return -1;
	while (pcap_next_ex(pc, &h, &data) == 1) {
		if (decode_packet(pcap_datalink(pc), data, h->caplen, &h->ts,
			&p, &why) != DECODE_OK) {
			sum->other++;
			continue;
		}
		k = p.af == AF_INET6;
		sum->segments[k]++;
		sum->bytes[k] += p.len;
		for (i = 0; i < p.len; i++)
			sum->hash[k] =
			    (sum->hash[k] ^ p.payload[i]) * 16777619u;
		assert_int_equal(p.len, p.wire_len);
		assert_true(p.dport == 10025 || p.sport == 10025 ||
			    p.dport == 10026 || p.sport == 10026);
	}
	pcap_close(pc);
	return 0;
}

static void
test_fixtures(void **state)
{
	static const struct {
		const char *name;
		int v4, v6;
	} fx[] = {
	    {"linktype-en10mb.pcapng", 1, 1},
	    {"linktype-vlan.pcap", 1, 1},
	    {"linktype-qinq.pcap", 1, 1},
	    {"linktype-sll.pcap", 1, 1},
	    {"linktype-sll2.pcap", 1, 1},
	    {"linktype-raw.pcap", 1, 1},
	    {"linktype-ipv4.pcap", 1, 0},
	    {"linktype-ipv6.pcap", 0, 1},
	    {"linktype-null.pcap", 1, 0},
	    {"linktype-null6.pcap", 0, 1},
	    {"linktype-loop.pcap", 1, 0},
	};
	struct fixture_sum ref, got;
	size_t i;

	(void)state;
	if (fixture_read("linktype-en10mb.pcap", &ref) != 0)
		skip();
	/* One IPv4 and one IPv6 SMTP exchange of 24 segments each. */
	assert_int_equal(ref.segments[0], 24);
	assert_int_equal(ref.segments[1], 24);
	assert_int_equal(ref.other, 0);
	assert_true(ref.bytes[0] > 200 && ref.bytes[1] > 200);
	for (i = 0; i < sizeof fx / sizeof fx[0]; i++) {
		print_message("%s\n", fx[i].name);
		assert_int_equal(fixture_read(fx[i].name, &got), 0);
		assert_int_equal(got.other, 0);
		assert_int_equal(got.segments[0], fx[i].v4 ? 24 : 0);
		assert_int_equal(got.segments[1], fx[i].v6 ? 24 : 0);
		if (fx[i].v4) {
			assert_int_equal(got.bytes[0], ref.bytes[0]);
			assert_int_equal(got.hash[0], ref.hash[0]);
		}
		if (fx[i].v6) {
			assert_int_equal(got.bytes[1], ref.bytes[1]);
			assert_int_equal(got.hash[1], ref.hash[1]);
		}
	}
}

/* ---- endpoints */

static void
test_endpoint(void **state)
{
	char buf[64];
	static const uint8_t v4[4] = {192, 0, 2, 1};
	static const uint8_t v6[16] = {
	    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	static const uint8_t mapped[16] = {
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1};

	(void)state;
	decode_format_endpoint(buf, sizeof buf, AF_INET, v4, 51234);
	assert_string_equal(buf, "192.0.2.1:51234");
	decode_format_endpoint(buf, sizeof buf, AF_INET6, v6, 25);
	assert_string_equal(buf, "[2001:db8::1]:25");
	decode_format_endpoint(buf, sizeof buf, AF_INET6, mapped, 587);
	assert_string_equal(buf, "[::ffff:10.0.0.1]:587");
	decode_format_endpoint(buf, sizeof buf, 0, v4, 25);
	assert_string_equal(buf, "?:25");
	decode_format_endpoint(buf, 8, AF_INET, v4, 51234);
	assert_string_equal(buf, "192.0.2");
	decode_format_endpoint(buf, 1, AF_INET, v4, 25);
	assert_string_equal(buf, "");

	/* IPv4 is formatted without inet_ntop: every address byte and port
	   value in its extremes gives what inet_ntop and "%s:%u" give. */
	{
		static const unsigned vals[] = {0, 9, 10, 99, 100, 255};
		static const unsigned ports[] = {0, 7, 25, 65535};
		char want[64], a[INET_ADDRSTRLEN];
		uint8_t x[4];
		size_t i, j, k;

		for (i = 0; i < 6; i++) {
			for (j = 0; j < 4; j++) {
				for (k = 0; k < 4; k++)
					x[k] = (uint8_t)vals[(i + k * j) % 6];
				assert_non_null(
				    inet_ntop(AF_INET, x, a, sizeof a));
				snprintf(
				    want, sizeof want, "%s:%u", a, ports[j]);
				decode_format_endpoint(buf, sizeof buf, AF_INET,
				    x, (uint16_t)ports[j]);
				assert_string_equal(buf, want);
			}
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ethernet),
	    cmocka_unit_test(test_ethernet_padding),
	    cmocka_unit_test(test_vlan),
	    cmocka_unit_test(test_vlan_too_deep),
	    cmocka_unit_test(test_not_ip),
	    cmocka_unit_test(test_sll),
	    cmocka_unit_test(test_sll2),
	    cmocka_unit_test(test_null_loop),
	    cmocka_unit_test(test_raw),
	    cmocka_unit_test(test_linktype_names),
	    cmocka_unit_test(test_unsupported_linktype),
	    cmocka_unit_test(test_ipv4_options),
	    cmocka_unit_test(test_ipv4_malformed),
	    cmocka_unit_test(test_ipv4_not_tcp),
	    cmocka_unit_test(test_ipv4_fragments),
	    cmocka_unit_test(test_ipv4_tso),
	    cmocka_unit_test(test_snaplen_cut),
	    cmocka_unit_test(test_tcp_options),
	    cmocka_unit_test(test_tcp_bad_offset),
	    cmocka_unit_test(test_tcp_flags),
	    cmocka_unit_test(test_ipv6_ext),
	    cmocka_unit_test(test_ipv6_fragment),
	    cmocka_unit_test(test_ipv6_bad),
	    cmocka_unit_test(test_ipv6_snaplen),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_endpoint),
	    cmocka_unit_test(test_fixtures),
	};

	return cmocka_run_group_tests_name("decode", tests, NULL, NULL);
}
