/*
 * decode: one captured frame -> a borrowed view of its TCP segment.
 *
 * Layers: link (Ethernet with any number of 802.1Q/802.1ad tags up to a
 * small cap, Linux cooked v1 and v2, BSD NULL/LOOP, raw IP), then IPv4
 * (options skipped by IHL) or IPv6 (extension headers walked), then TCP
 * (options skipped by the data offset).
 *
 * Invariants: every byte is read through struct rd, so nothing outside
 * data[0..caplen) is ever touched; every loop over headers is bounded by a
 * constant; the IP length fields, not the captured length, define where the
 * packet ends (Ethernet pads short frames to 60 bytes, and those pad bytes
 * must never become TCP payload).  Checksums are not verified: captures
 * taken on the mail server itself carry offloaded, still-empty checksums.
 */
#include "config.h"

#include "decode.h"

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <pcap/pcap.h>

#include "rd.h"

/* Not every libpcap header defines the newer link types. */
#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6 229
#endif
/*
 * LINKTYPE_RAW as stored in files.  libpcap maps it to DLT_RAW when reading,
 * but a caller handing us the file value directly must work too.
 */
#define DECODE_LINKTYPE_RAW 101

/* Ethertypes (IEEE registry). */
#define DECODE_ET_IPV4 0x0800
#define DECODE_ET_IPV6 0x86dd
#define DECODE_ET_VLAN 0x8100	  /* 802.1Q customer tag */
#define DECODE_ET_QINQ 0x88a8	  /* 802.1ad service tag */
#define DECODE_ET_QINQ_OLD 0x9100 /* pre-standard QinQ */
/* Below this an Ethernet type field is an 802.3 length (LLC follows). */
#define DECODE_ET_MIN 0x0600
/* More stacked tags than this is not a real network: give up. */
#define DECODE_VLAN_MAX 8

/* IP protocol numbers (IANA). */
#define DECODE_IP_HOPOPTS 0
#define DECODE_IP_TCP 6
#define DECODE_IP_ROUTING 43
#define DECODE_IP_FRAGMENT 44
#define DECODE_IP_ESP 50
#define DECODE_IP_AH 51
#define DECODE_IP_NONE 59
#define DECODE_IP_DSTOPTS 60
/* Bound on IPv6 extension headers walked (RFC 8200 section 4.1 order has
   at most 8 distinct ones; repeats are allowed only for destination
   options, so a few more is generous). */
#define DECODE_EXT_MAX 12

/*
 * BSD NULL/LOOP address families.  AF_INET is 2 everywhere; AF_INET6
 * differs by system (Linux 10, NetBSD/OpenBSD 24, FreeBSD 28, Darwin 30).
 */
#define DECODE_BSD_AF_INET 2
#define DECODE_BSD_AF_INET6_LINUX 10
#define DECODE_BSD_AF_INET6_BSD 24
#define DECODE_BSD_AF_INET6_FREEBSD 28
#define DECODE_BSD_AF_INET6_DARWIN 30

/* Fragment reasons; the first fragment still carries the TCP ports. */
static const char decode_v4_first[] = "IPv4 first fragment";
static const char decode_v4_frag[] = "IPv4 fragment";
static const char decode_v6_first[] = "IPv6 first fragment";
static const char decode_v6_frag[] = "IPv6 fragment";

/* What the link layer found. */
enum decode_net {
	DECODE_NET_NONE,
	DECODE_NET_V4,
	DECODE_NET_V6,
	DECODE_NET_RAW
};

int
decode_linktype_supported(int dlt)
{
	switch (dlt) {
	case DLT_NULL:
	case DLT_LOOP:
	case DLT_EN10MB:
	case DLT_RAW:
	case DECODE_LINKTYPE_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
		return 1;
	default:
		return 0;
	}
}

const char *
decode_linktype_name(int dlt, char *buf, size_t len)
{
	const char *name = pcap_datalink_val_to_name(dlt);

	if (dlt == DECODE_LINKTYPE_RAW)
		name = "RAW";
	if (name != NULL)
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "DLT %d", dlt);
	return buf;
}

static enum decode_net
decode_ethertype(uint16_t type)
{
	if (type == DECODE_ET_IPV4)
		return DECODE_NET_V4;
	if (type == DECODE_ET_IPV6)
		return DECODE_NET_V6;
	return DECODE_NET_NONE;
}

/*
 * After an ethertype: skip any VLAN tags (each is 2 bytes of TCI followed
 * by the next ethertype) and map the final type.
 */
static enum decode_net
decode_vlan(struct rd *r, uint16_t type)
{
	int n;

	for (n = 0; n < DECODE_VLAN_MAX; n++) {
		if (type != DECODE_ET_VLAN && type != DECODE_ET_QINQ &&
		    type != DECODE_ET_QINQ_OLD)
			break;
		rd_skip(r, 2); /* priority, DEI, VLAN id */
		type = rd_be16(r);
	}
	if (r->err)
		return DECODE_NET_NONE;
	return decode_ethertype(type);
}

static enum decode_net
decode_bsd_af(uint32_t af)
{
	switch (af) {
	case DECODE_BSD_AF_INET:
		return DECODE_NET_V4;
	case DECODE_BSD_AF_INET6_LINUX:
	case DECODE_BSD_AF_INET6_BSD:
	case DECODE_BSD_AF_INET6_FREEBSD:
	case DECODE_BSD_AF_INET6_DARWIN:
		return DECODE_NET_V6;
	default:
		return DECODE_NET_NONE;
	}
}

/*
 * Move r past the link header.  Returns what follows; DECODE_NET_NONE for
 * non-IP frames (and sets *truncated when the link header itself is cut).
 */
static enum decode_net
decode_link(int dlt, struct rd *r, int *truncated)
{
	enum decode_net net = DECODE_NET_NONE;
	uint32_t af;
	uint16_t type;

	*truncated = 0;
	switch (dlt) {
	case DLT_EN10MB:
		rd_skip(r, 12); /* destination, source */
		type = rd_be16(r);
		if (r->err)
			break;
		if (type < DECODE_ET_MIN)
			return DECODE_NET_NONE; /* 802.3 + LLC */
		net = decode_vlan(r, type);
		break;
	case DLT_LINUX_SLL:
		/* packet type, ARPHRD, address length, 8 address bytes */
		rd_skip(r, 14);
		type = rd_be16(r);
		if (r->err)
			break;
		net = decode_vlan(r, type);
		break;
	case DLT_LINUX_SLL2:
		type = rd_be16(r);
		/* reserved, ifindex, ARPHRD, packet type, addr len, addr */
		rd_skip(r, 18);
		if (r->err)
			break;
		net = decode_vlan(r, type);
		break;
	case DLT_NULL:
		/*
		 * The family is in the byte order of the machine that wrote
		 * the capture, which need not be ours.  Families are small:
		 * if the low half is empty, the other order was used.
		 */
		af = rd_le32(r);
		if (r->err)
			break;
		if ((af & 0xffff) == 0)
			af = ((af >> 24) & 0xff) | ((af >> 8) & 0xff00);
		net = decode_bsd_af(af);
		break;
	case DLT_LOOP:
		af = rd_be32(r);
		if (r->err)
			break;
		net = decode_bsd_af(af);
		break;
	case DLT_RAW:
	case DECODE_LINKTYPE_RAW:
		net = DECODE_NET_RAW;
		break;
	case DLT_IPV4:
		net = DECODE_NET_V4;
		break;
	case DLT_IPV6:
		net = DECODE_NET_V6;
		break;
	default:
		return DECODE_NET_NONE;
	}
	if (r->err)
		*truncated = 1;
	return r->err ? DECODE_NET_NONE : net;
}

/*
 * IPv4 (RFC 791).  On success *r covers exactly the IP payload that was
 * captured, *wire the payload length by the header.
 */
static enum decode_result
decode_ipv4(
    struct rd *r, struct decode_pkt *out, size_t *wire, const char **why)
{
	uint8_t vhl, proto;
	uint16_t total, frag;
	size_t hlen, avail;

	avail = rd_left(r);
	vhl = rd_u8(r);
	if (r->err) {
		*why = "IPv4 header cut";
		return DECODE_TRUNCATED;
	}
	if ((vhl >> 4) != 4) {
		*why = "IP version is not 4";
		return DECODE_MALFORMED;
	}
	hlen = (size_t)(vhl & 0x0f) * 4;
	if (hlen < 20) {
		*why = "IPv4 header length below 20";
		return DECODE_MALFORMED;
	}
	rd_skip(r, 1); /* DSCP, ECN */
	total = rd_be16(r);
	rd_skip(r, 2); /* identification */
	frag = rd_be16(r);
	rd_skip(r, 1); /* TTL */
	proto = rd_u8(r);
	rd_skip(r, 2); /* checksum: not verified */
	out->af = AF_INET;
	rd_copy(r, out->src, 4);
	rd_copy(r, out->dst, 4);
	if (r->err) {
		*why = "IPv4 header cut";
		return DECODE_TRUNCATED;
	}
	/*
	 * A total length of 0 is what a capture on the sender shows for a
	 * segmentation-offloaded super-packet: trust the captured bytes.
	 */
	if (total == 0)
		total = avail > 0xffff ? 0xffff : (uint16_t)avail;
	if (total < hlen) {
		*why = "IPv4 total length shorter than its header";
		return DECODE_MALFORMED;
	}
	rd_skip(r, hlen - 20); /* options */
	if (r->err) {
		*why = "IPv4 options cut";
		return DECODE_TRUNCATED;
	}
	*wire = total - hlen;
	/* Cut off Ethernet padding beyond the datagram. */
	if (rd_left(r) > *wire)
		r->len = r->off + *wire;
	if (proto != DECODE_IP_TCP)
		return DECODE_NOT_TCP;
	/* More-fragments flag or a non-zero offset: a piece of a datagram. */
	if ((frag & 0x3fff) != 0) {
		*why = (frag & 0x1fff) == 0 ? decode_v4_first : decode_v4_frag;
		return DECODE_FRAGMENT;
	}
	return DECODE_OK;
}

/* IPv6 (RFC 8200) and its extension headers. */
static enum decode_result
decode_ipv6(
    struct rd *r, struct decode_pkt *out, size_t *wire, const char **why)
{
	uint8_t next, hlen;
	uint16_t plen, fragoff;
	size_t avail, used;
	int n;

	if ((rd_peek(r, 0) >> 4) != 6 && rd_left(r) > 0) {
		*why = "IP version is not 6";
		return DECODE_MALFORMED;
	}
	rd_skip(r, 4); /* version, traffic class, flow label */
	plen = rd_be16(r);
	next = rd_u8(r);
	rd_skip(r, 1); /* hop limit */
	out->af = AF_INET6;
	rd_copy(r, out->src, 16);
	rd_copy(r, out->dst, 16);
	if (r->err) {
		*why = "IPv6 header cut";
		return DECODE_TRUNCATED;
	}
	avail = rd_left(r);
	/* 0: a jumbogram or an offloaded super-packet; use what we have. */
	if (plen == 0)
		plen = avail > 0xffff ? 0xffff : (uint16_t)avail;
	if (avail > plen)
		r->len = r->off + plen; /* link-layer padding */
	used = 0;
	for (n = 0; n < DECODE_EXT_MAX; n++) {
		size_t skip;

		switch (next) {
		case DECODE_IP_TCP:
			*wire = plen - used;
			return DECODE_OK;
		case DECODE_IP_HOPOPTS:
		case DECODE_IP_ROUTING:
		case DECODE_IP_DSTOPTS:
			next = rd_u8(r);
			hlen = rd_u8(r);
			skip = ((size_t)hlen + 1) * 8;
			break;
		case DECODE_IP_AH:
			/* RFC 4302: length in 4-byte units, minus 2. */
			next = rd_u8(r);
			hlen = rd_u8(r);
			skip = ((size_t)hlen + 2) * 4;
			break;
		case DECODE_IP_FRAGMENT:
			next = rd_u8(r);
			rd_skip(r, 1);
			fragoff = rd_be16(r);
			rd_skip(r, 4); /* identification */
			if (r->err)
				break;
			used += 8;
			if (used > plen) {
				*why = "IPv6 extension header beyond the "
				       "payload length";
				return DECODE_MALFORMED;
			}
			/*
			 * An "atomic" fragment (offset 0, no more) is a whole
			 * datagram (RFC 6946): decode on.
			 */
			if ((fragoff & 0xfff9) != 0) {
				if (next != DECODE_IP_TCP)
					return DECODE_NOT_TCP;
				*why = (fragoff & 0xfff8) == 0 ? decode_v6_first
							       : decode_v6_frag;
				return DECODE_FRAGMENT;
			}
			continue;
		default:
			/* ESP, no next header, UDP, ICMPv6, ... */
			return DECODE_NOT_TCP;
		}
		if (r->err)
			break;
		if (used + skip > plen) {
			*why =
			    "IPv6 extension header beyond the payload length";
			return DECODE_MALFORMED;
		}
		used += skip;
		rd_skip(r, skip - 2);
		if (r->err)
			break;
	}
	if (r->err) {
		*why = "IPv6 extension header cut";
		return DECODE_TRUNCATED;
	}
	*why = "too many IPv6 extension headers";
	return DECODE_MALFORMED;
}

/* TCP (RFC 9293 section 3.1); r covers the captured IP payload. */
static enum decode_result
decode_tcp(struct rd *r, size_t wire, struct decode_pkt *out, const char **why)
{
	uint8_t off;
	size_t hlen;

	out->sport = rd_be16(r);
	out->dport = rd_be16(r);
	out->seq = rd_be32(r);
	out->ack = rd_be32(r);
	off = rd_u8(r);
	out->flags = rd_u8(r);
	out->window = rd_be16(r);
	rd_skip(r, 4); /* checksum, urgent pointer */
	if (r->err) {
		*why = wire < 20 ? "TCP header longer than the packet"
				 : "TCP header cut";
		return wire < 20 ? DECODE_MALFORMED : DECODE_TRUNCATED;
	}
	hlen = (size_t)(off >> 4) * 4;
	if (hlen < 20) {
		*why = "TCP data offset below 5";
		return DECODE_MALFORMED;
	}
	if (hlen > wire) {
		*why = "TCP header longer than the packet";
		return DECODE_MALFORMED;
	}
	rd_skip(r, hlen - 20); /* options */
	out->wire_len = wire - hlen;
	if (r->err) {
		/* A snapshot length that keeps only headers ("tcpdump -s 64")
		   cuts the options: the fixed header still tells ports,
		   sequence numbers, flags and the payload's size. */
		out->len = 0;
		out->payload = NULL;
		return DECODE_OK;
	}
	out->len = rd_left(r);
	if (out->len > out->wire_len)
		out->len = out->wire_len;
	out->payload = out->len > 0 ? rd_bytes(r, out->len) : NULL;
	return DECODE_OK;
}

static uint16_t
decode_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
decode_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/*
 * The packet nearly every SMTP capture is made of: Ethernet without a tag,
 * IPv4 without options, an unfragmented TCP segment whose headers were
 * captured whole.  It is decoded here from fixed offsets, bounds checked
 * once, with the result the general path below would give; anything else
 * (or anything odd about this one) returns false and takes that path.
 */
static bool
decode_fast_v4(const uint8_t *data, size_t caplen, struct decode_pkt *out)
{
	const uint8_t *ip = data + 14, *tcp = ip + 20;
	size_t total, wire, thlen, avail;

	if (caplen < 14 + 20 + 20 || data[12] != 0x08 || data[13] != 0x00 ||
	    ip[0] != 0x45 || ip[9] != DECODE_IP_TCP ||
	    (decode_be16(ip + 6) & 0x3fff) != 0)
		return false;
	total = decode_be16(ip + 2);
	if (total < 20 + 20)
		return false; /* 0 (offload), too short: the general path */
	wire = total - 20;
	thlen = (size_t)(tcp[12] >> 4) * 4;
	if (thlen < 20 || thlen > wire || caplen - 34 < thlen)
		return false;
	/* Captured IP payload, without the Ethernet padding. */
	avail = caplen - 34;
	if (avail > wire)
		avail = wire;
	out->af = AF_INET;
	memcpy(out->src, ip + 12, 4);
	memcpy(out->dst, ip + 16, 4);
	out->sport = decode_be16(tcp);
	out->dport = decode_be16(tcp + 2);
	out->seq = decode_be32(tcp + 4);
	out->ack = decode_be32(tcp + 8);
	out->flags = tcp[13];
	out->window = decode_be16(tcp + 14);
	out->wire_len = wire - thlen;
	out->len = avail - thlen;
	out->payload = out->len > 0 ? tcp + thlen : NULL;
	return true;
}

enum decode_result
decode_packet(int dlt, const uint8_t *data, size_t caplen,
    const struct timeval *ts, struct decode_pkt *out, const char **why)
{
	struct rd r;
	enum decode_net net;
	enum decode_result res;
	size_t wire = 0;
	int truncated;

	memset(out, 0, sizeof *out);
	if (ts != NULL)
		out->ts = *ts;
	*why = NULL;
	if (dlt == DLT_EN10MB && data != NULL &&
	    decode_fast_v4(data, caplen, out))
		return DECODE_OK;
	rd_init(&r, data, caplen);
	net = decode_link(dlt, &r, &truncated);
	if (truncated) {
		*why = "link-layer header cut";
		return DECODE_TRUNCATED;
	}
	if (net == DECODE_NET_RAW) {
		switch (rd_peek(&r, 0) >> 4) {
		case 4:
			net = DECODE_NET_V4;
			break;
		case 6:
			net = DECODE_NET_V6;
			break;
		default:
			if (rd_left(&r) == 0) {
				*why = "IP header cut";
				return DECODE_TRUNCATED;
			}
			*why = "raw packet is neither IPv4 nor IPv6";
			return DECODE_MALFORMED;
		}
	}
	if (net == DECODE_NET_V4)
		res = decode_ipv4(&r, out, &wire, why);
	else if (net == DECODE_NET_V6)
		res = decode_ipv6(&r, out, &wire, why);
	else
		return DECODE_NOT_IP;
	if (res == DECODE_FRAGMENT &&
	    (*why == decode_v4_first || *why == decode_v6_first)) {
		/* A first fragment: name the ports when they are there. */
		struct rd t = r;

		out->sport = rd_be16(&t);
		out->dport = rd_be16(&t);
		if (t.err)
			out->sport = out->dport = 0;
	}
	if (res != DECODE_OK)
		return res;
	return decode_tcp(&r, wire, out, why);
}

/* A decimal number of at most 5 digits at p; the bytes written. */
static size_t
decode_udec(char *p, unsigned v)
{
	char tmp[8];
	size_t n = 0, k;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (k = 0; k < n; k++)
		p[k] = tmp[n - 1 - k];
	return n;
}

/* "192.0.2.1:25" as inet_ntop and "%s:%u" write it, without their cost
   (every session formats two). */
static void
decode_format_v4(char *buf, size_t len, const uint8_t *addr, uint16_t port)
{
	char t[24];
	size_t n = 0, k;

	for (k = 0; k < 4; k++) {
		if (k > 0)
			t[n++] = '.';
		n += decode_udec(t + n, addr[k]);
	}
	t[n++] = ':';
	n += decode_udec(t + n, port);
	if (n > len - 1)
		n = len - 1;
	memcpy(buf, t, n);
	buf[n] = '\0';
}

void
decode_format_endpoint(
    char *buf, size_t len, int af, const uint8_t *addr, uint16_t port)
{
	char a[INET6_ADDRSTRLEN];

	if (len == 0)
		return;
	if (af == AF_INET) {
		decode_format_v4(buf, len, addr, port);
		return;
	}
	if ((af != AF_INET && af != AF_INET6) ||
	    inet_ntop(af, addr, a, sizeof a) == NULL) {
		snprintf(buf, len, "?:%u", port);
		return;
	}
	if (af == AF_INET6)
		snprintf(buf, len, "[%s]:%u", a, port);
	else
		snprintf(buf, len, "%s:%u", a, port);
}
