#ifndef SMTPSCOPE_DECODE_H
#define SMTPSCOPE_DECODE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

/*
 * Link layer, IPv4/IPv6 and TCP decoding into a borrowed view of one packet.
 * Every packet is assumed malformed: all reads go through struct rd.
 * Checksums are not verified (offload on the capturing host).
 */

/* TCP flag bits, in decode_pkt.flags */
#define DECODE_TH_FIN 0x01
#define DECODE_TH_SYN 0x02
#define DECODE_TH_RST 0x04
#define DECODE_TH_PSH 0x08
#define DECODE_TH_ACK 0x10

struct decode_pkt {
	struct timeval ts;
	int af;		 /* AF_INET or AF_INET6 */
	uint8_t src[16]; /* IPv4 uses the first 4 bytes */
	uint8_t dst[16];
	uint16_t sport;
	uint16_t dport;
	uint32_t seq;
	uint32_t ack;
	uint8_t flags;
	uint16_t window;
	const uint8_t *payload; /* borrowed: valid during the call only */
	size_t len;		/* captured payload bytes */
	size_t wire_len;	/* payload bytes by the IP header (>= len when
				   the snapshot cut the packet) */
};

enum decode_result {
	DECODE_OK,
	DECODE_NOT_IP,	  /* ARP, LLDP, ...: silently ignored */
	DECODE_NOT_TCP,	  /* UDP, ICMP, ...: silently ignored */
	DECODE_FRAGMENT,  /* an IP fragment: counted, anomaly */
	DECODE_TRUNCATED, /* shorter than its headers say */
	DECODE_MALFORMED, /* impossible header values */
};

/* Whether decode_packet understands this DLT_ link type. */
int decode_linktype_supported(int dlt);
/* A name for a link type for messages ("EN10MB", "LINUX_SLL2", "DLT 147"). */
const char *decode_linktype_name(int dlt, char *buf, size_t len);

/*
 * Decode one captured frame of link type dlt.  On DECODE_OK, *out describes
 * the TCP segment (payload borrowed from data).  On DECODE_TRUNCATED or
 * DECODE_MALFORMED, *why names the problem (static string).  On
 * DECODE_FRAGMENT, *why says which kind ("IPv4 fragment", "IPv6 first
 * fragment") and out->af, src and dst are set (and the ports, for a first
 * fragment that carries them).  Never fails otherwise; never reads outside
 * data[0..caplen).  ts may be NULL.
 */
enum decode_result decode_packet(int dlt, const uint8_t *data, size_t caplen,
    const struct timeval *ts, struct decode_pkt *out, const char **why);

/* Format an address and port as the events show them: "a.b.c.d:p" or
   "[v6]:p". */
void decode_format_endpoint(
    char *buf, size_t len, int af, const uint8_t *addr, uint16_t port);

#endif
