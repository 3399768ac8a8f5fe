#ifndef SMTPSCOPE_CAPTURE_H
#define SMTPSCOPE_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

/*
 * libpcap: live capture (block-batched, CAPTURE_TIMEOUT_MS) or a capture
 * file (pcap, pcapng, "-" for stdin), the SMTP port filter ANDed with the
 * user's BPF expression, the -w dumper, kernel drop counters, and optional
 * real-time pacing.
 */

/* Live: longest wait (ms) before the kernel hands over a partly filled
   block of packets; bounds the delay between the wire and the events. */
#define CAPTURE_TIMEOUT_MS 50
/* Live: default kernel buffer (MiB), -B overrides. */
#define CAPTURE_BUFFER_MIB 32

struct capture_config {
	const char *iface;     /* live: interface; NULL with file == NULL:
				  the default device */
	const char *file;      /* read a capture file, "-" = stdin */
	const char *bpf;       /* user's expression, may be NULL */
	const uint16_t *ports; /* SMTP ports, for the filter */
	size_t n_ports;
	bool any_port;	/* -P any: the filter keeps all of TCP */
	int snaplen;	/* default 262144 */
	int buffer_mib; /* 0: CAPTURE_BUFFER_MIB */
	bool promisc;	/* false with -p */
	long count;	/* stop after this many packets, 0 = no limit */
	double replay;	/* 0: as fast as possible; 1: real time */
};

struct capture;

/* Called for every packet; data is borrowed for the call. */
typedef void (*capture_packet_fn)(void *arg, int linktype,
    const struct timeval *ts, const uint8_t *data, uint32_t caplen,
    uint32_t len);

/*
 * Optional, told of a packet a little before it is delivered (files read
 * ahead, which have the next packets at hand): the consumer may fetch
 * into the cache what it will need for it.  data is borrowed for the call
 * and may be cut short (caplen); nothing may depend on the call being made.
 */
typedef void (*capture_peek_fn)(
    void *arg, int linktype, const uint8_t *data, uint32_t caplen);

/* capture_open's failures: the user's input, or the environment. */
#define CAPTURE_EUSAGE (-2)   /* a bad BPF expression */
#define CAPTURE_ERUNTIME (-1) /* a device, permissions, a file */
/*
 * Open the capture into *out.  Returns 0, or CAPTURE_EUSAGE or
 * CAPTURE_ERUNTIME with *out NULL and *cause the whole message, "WHAT: WHY"
 * with err_cause's hint line when there is advice (caller frees).
 */
int capture_open(
    const struct capture_config *, struct capture **out, char **cause);
void capture_close(struct capture *);
bool capture_is_live(const struct capture *);
/* Reading stdin or a pipe (packets arrive as the writer sends them). */
bool capture_is_stream(const struct capture *);
/* A short description of the source for the status bar ("lo", "x.pcap"). */
const char *capture_source(const struct capture *);

/*
 * Read packets until end of file, count reached, error, or capture_stop().
 * Returns 1 at end of input (or count/stop), -1 on a read error (*cause set,
 * caller frees;
 * a file cut in the middle of a packet is reported here after the complete
 * packets were delivered).  For live captures timeout_ms bounds each wait so
 * the caller can run timers; it returns 0 when it came back for that, or
 * because it delivered packets and the kernel has none ready (the capture
 * went idle: a moment to write out what they made).
 */
int capture_loop(struct capture *, capture_packet_fn, void *arg, int timeout_ms,
    char **cause);
/* Safe from another thread or a signal handler. */
void capture_stop(struct capture *);
/* Set (or with fn NULL clear) the peek callback; before capture_loop. */
void capture_set_peek(struct capture *, capture_peek_fn fn, void *arg);
/*
 * --replay: the reader was held for ms milliseconds (a pause), so the
 * replay clock moves on by as much and the next packet keeps its pace
 * instead of catching up.  Only from the thread that runs capture_loop
 * (between calls, or from its packet callback).  No-op without --replay.
 */
void capture_replay_hold(struct capture *, long long ms);
/* Kernel drops (live), 0 for files. */
uint64_t capture_dropped(struct capture *);

/* Also write packets that dump_packet() is called for to this pcap file. */
/* -1 with *cause set (the WHY; caller frees) when it cannot be created. */
int capture_dump_open(struct capture *, const char *path, char **cause);
void capture_dump_packet(struct capture *, const struct timeval *ts,
    const uint8_t *data, uint32_t caplen, uint32_t len);

/* Print the capture devices (-D) to stdout, tcpdump style; -1 with *cause
   set (caller frees) on error. */
int capture_list_devices(char **cause);
/* "libpcap version 1.10.3 (...)" */
const char *capture_lib_version(void);

#endif
