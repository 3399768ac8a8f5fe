/*
 * capture: everything that touches libpcap.
 *
 * Live: pcap_create + options + pcap_activate, then non-blocking reads
 * driven by poll() on the selectable descriptor, so the caller gets control
 * back every timeout_ms to run timers and to notice a stop request.  Not in
 * immediate mode: on Linux that costs libpcap's TPACKET_V3 ring, whose
 * blocks hold packets of any size back to back and are handed over a block
 * at a time (one wake-up for many packets).  Immediate mode uses fixed
 * slots of the snapshot length instead, 64 KiB each on lo, so a 2 MiB
 * buffer holds 32 packets and drops at a few thousand packets a second.  A
 * block is handed over when full or after CAPTURE_TIMEOUT_MS, which bounds
 * the delay a quiet link adds.  The kernel buffer defaults to
 * CAPTURE_BUFFER_MIB, enough for about a quarter of a second at 1 Gbit/s.
 * Files: pcap and pcapng (libpcap tells them apart), "-" for stdin, read with
 * pcap_next_ex as fast as possible or paced by timestamps
 * (--replay).  A file cut in the middle of a packet delivers every complete
 * packet, then reports the cut.
 *
 * Filtering, and why it differs between live and files:
 *  - Live, the SMTP port filter runs in the kernel ("tcp and (port 25 or
 *    ...)"), ANDed with the user's expression, so a busy host copies only
 *    mail traffic to us.
 *  - Files get only the user's expression: the flow table already ignores
 *    non-SMTP ports, and without a port filter IP fragments (which carry no
 *    ports after the first) still reach decode and are counted, and
 *    encapsulations the BPF "port" primitive cannot see through (IPv6
 *    extension headers, deep VLAN stacks) still work.
 *  - On Ethernet a plain "tcp port 25" does not match 802.1Q-tagged frames,
 *    since BPF reads the IP header at a fixed offset.  The expression E is
 *    therefore widened to "(E) or (vlan and ((E) or (vlan and (E))))": each
 *    "vlan" moves libpcap's offsets by one tag for the rest of the
 *    expression, so this matches untagged, single-tagged and QinQ frames
 *    (on Linux live captures libpcap also handles tags the kernel moved out
 *    of the frame).  When the user's own expression says vlan, mpls or
 *    pppoes, it is used as written, first, so those keywords keep their
 *    meaning for the port test that follows.
 *
 * Read-ahead: a capture file read as fast as it goes (a regular file, not
 * stdin or a pipe, not --replay) is read by a second thread, which runs
 * pcap_next_ex (and the BPF filter) and copies the packets into a few fixed
 * blocks; the caller's thread decodes and analyses them.  Reading (the kernel's
 * copy, stdio, libpcap) then overlaps the analysis on another core.  The blocks
 * are a bounded ring (CAPTURE_RA_BLOCKS x CAPTURE_RA_BLOCK): the reader waits
 * when the analysis falls behind, so memory does not follow the file size.
 * With one CPU to run on (taskset, a small container) the copy and the
 * hand-overs would only cost time, so the file is then read directly.
 * Packets are delivered in file order, the reader's end (end of file, a
 * cut, a read error) only after every packet read before it.
 *
 * Invariants: the pcap handle is opened once and owned here, and used by
 * one thread at a time (the reader thread owns it between its start and its
 * join in capture_close); the optional dumper shares its link type and
 * snapshot length; capture_stop only sets an atomic flag and calls
 * pcap_breakloop, both safe from a signal handler or another thread.
 */
#include "config.h"

#include "capture.h"

#include <sys/stat.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pcap/pcap.h>

#include "decode.h"
#include "err.h"
#include "xmalloc.h"

/* Pacing sleeps in slices this long so a stop is noticed quickly. */
#define CAPTURE_REPLAY_SLICE_MS 100
/* Live -w output is flushed at most this often (ms), and when idle. */
#define CAPTURE_FLUSH_MS 250
/* The port filter is built in a buffer of this size. */
#define CAPTURE_FILTER_MAX 4096
/*
 * stdio buffer for a capture file.  The default (st_blksize, often 4 KiB)
 * costs one read(2) per two or three packets; 64 KiB cuts the system calls
 * sixteenfold and still fits in the L2 cache (larger measured slower).
 * glibc ignores the size given to setvbuf without a buffer, so the capture
 * owns one.
 */
#define CAPTURE_FILE_BUF (64 * 1024)
/*
 * Read-ahead ring: this many blocks of this many bytes.  A block holds
 * about seventy full-size Ethernet frames, so the two threads meet once per
 * block, not per packet; a small ring stays in the caches (larger rings
 * measured slower).  A packet larger than a block (loopback and offloaded
 * captures carry 64 KiB frames) grows its block, up to
 * CAPTURE_RA_PKT_MAX; libpcap itself refuses packets over its maximum
 * snapshot length (256 KiB for the link types we decode).
 */
#define CAPTURE_RA_BLOCKS 8
#define CAPTURE_RA_BLOCK (64 * 1024)
#define CAPTURE_RA_PKT_MAX (16 * 1024 * 1024)
/* Bytes of the next packet prefetched (a full Ethernet frame). */
#define CAPTURE_RA_PREFETCH 1600
/* The packet shown to the peek callback: this many after the one about to
   be delivered. */
#define CAPTURE_PEEK_AHEAD 5

/* One packet in a read-ahead block: this header, then caplen bytes,
   padded to the header's alignment. */
struct capture_rec {
	struct timeval ts;
	uint32_t caplen;
	uint32_t len;
};

/* Bytes a packet of caplen bytes takes in a block. */
static inline size_t
capture_rec_size(uint32_t caplen)
{
	size_t a = _Alignof(struct capture_rec);

	return sizeof(struct capture_rec) +
	       (((size_t)caplen + a - 1) & ~(a - 1));
}

struct capture_block {
	uint8_t *buf;
	size_t size; /* of buf: CAPTURE_RA_BLOCK, more after a big packet */
	size_t used;
	int end; /* 0: more follow; 1: end of input; -1: read error */
};

struct capture_ra {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t filled;	/* reader -> analysis: a block is ready */
	pthread_cond_t emptied; /* analysis -> reader: a block is free */
	struct capture_block blk[CAPTURE_RA_BLOCKS];
	unsigned long head;	    /* blocks published by the reader */
	unsigned long tail;	    /* blocks given back by the analysis */
	bool reader_waits;	    /* on emptied, for half the ring */
	bool analysis_waits;	    /* on filled */
	atomic_int quit;	    /* capture_close: the reader must stop */
	struct capture_block *cur;  /* being delivered, NULL between blocks */
	size_t off;		    /* next record in cur */
	size_t pf;		    /* cur is prefetched up to here */
	size_t pk;		    /* the record last shown to peek, or 0 */
	char why[PCAP_ERRBUF_SIZE]; /* pcap's text for end == -1 */
};

struct capture {
	pcap_t *p;
	bool live;
	int linktype;
	char source[256];
	char *filebuf; /* stdio buffer of the file, freed after pcap_close */
	bool stream;   /* "-" or a pipe: packets come as they are written */
	struct capture_ra *ra; /* read-ahead, once started */
	bool ra_failed;	       /* could not start it: read directly */
	long count;
	long seen;
	double replay;
	atomic_int stop;

	/* Set by the callback when -c is reached. */
	bool done;
	capture_packet_fn fn;
	void *arg;
	capture_peek_fn peek; /* NULL when none */
	void *peek_arg;

	/* Replay: the first packet's timestamp and when it was delivered. */
	bool have_base;
	struct timeval base_ts;
	struct timespec base_wall;
	/* A packet read but not yet delivered while pacing. */
	struct pcap_pkthdr *pend_hdr;
	const u_char *pend_data;

	/* -w */
	pcap_dumper_t *dump;
	bool dump_dirty;
	struct timespec dump_flushed;
};

static void capture_ra_stop(struct capture *);

#define CAPTURE_PERM_HINT                                                      \
	"run as root or grant CAP_NET_RAW "                                    \
	"(setcap cap_net_raw,cap_net_admin=eip $(command -v smtpscope))"

static void
capture_now(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

static long long
capture_ms_since(const struct timespec *then)
{
	struct timespec now;

	capture_now(&now);
	return (long long)(now.tv_sec - then->tv_sec) * 1000 +
	       (now.tv_nsec - then->tv_nsec) / 1000000;
}

/* Does the user's expression move libpcap's offsets itself? */
static bool
capture_bpf_encap(const char *bpf)
{
	return strstr(bpf, "vlan") != NULL || strstr(bpf, "mpls") != NULL ||
	       strstr(bpf, "pppoes") != NULL || strstr(bpf, "geneve") != NULL;
}

/*
 * The expression actually compiled (see the comment at the top).  Returns
 * NULL when no filter is needed.  Caller frees.
 */
static char *
capture_filter_text(const struct capture_config *cfg, bool live, int dlt)
{
	char ports[CAPTURE_FILTER_MAX], *e, *out;
	size_t i, off = 0;
	bool user = cfg->bpf != NULL && cfg->bpf[strspn(cfg->bpf, " \t")] != 0;

	ports[0] = '\0';
	if (live && cfg->any_port)
		snprintf(ports, sizeof ports, "tcp");
	else if (live && cfg->n_ports > 0) {
		off = (size_t)snprintf(ports, sizeof ports, "tcp and (");
		for (i = 0; i < cfg->n_ports && off < sizeof ports; i++)
			off += (size_t)snprintf(ports + off, sizeof ports - off,
			    "%sport %u", i > 0 ? " or " : "", cfg->ports[i]);
		if (off < sizeof ports)
			snprintf(ports + off, sizeof ports - off, ")");
	}
	if (user && ports[0] != '\0')
		xasprintf(&e, "(%s) and (%s)", cfg->bpf, ports);
	else if (user)
		e = xstrdup(cfg->bpf);
	else if (ports[0] != '\0')
		e = xstrdup(ports);
	else
		return NULL;
	if (dlt != DLT_EN10MB || (user && capture_bpf_encap(cfg->bpf)))
		return e;
	xasprintf(
	    &out, "(%s) or (vlan and ((%s) or (vlan and (%s))))", e, e, e);
	free(e);
	return out;
}

/*
 * Check the user's expression on its own, for a message about it alone.
 * Returns NULL when it compiles, else the error (caller frees).
 */
static char *
capture_check_bpf(const char *bpf, int dlt)
{
	struct bpf_program prog;
	pcap_t *dead;
	char *cause = NULL;

	dead = pcap_open_dead(dlt, 262144);
	if (dead == NULL)
		return NULL;
	if (pcap_compile(dead, &prog, bpf, 1, PCAP_NETMASK_UNKNOWN) != 0)
		xasprintf(&cause, "bad BPF expression '%s': %s", bpf,
		    pcap_geterr(dead));
	else
		pcap_freecode(&prog);
	pcap_close(dead);
	return cause;
}

/* Returns 0, or CAPTURE_EUSAGE or CAPTURE_ERUNTIME with *cause set. */
static int
capture_set_filter(
    struct capture *c, const struct capture_config *cfg, char **cause)
{
	struct bpf_program prog;
	bpf_u_int32 net = 0, mask = PCAP_NETMASK_UNKNOWN;
	char errbuf[PCAP_ERRBUF_SIZE];
	char *text;

	if (cfg->bpf != NULL && *cfg->bpf != '\0') {
		*cause = capture_check_bpf(cfg->bpf, c->linktype);
		if (*cause != NULL)
			return CAPTURE_EUSAGE;
	}
	text = capture_filter_text(cfg, c->live, c->linktype);
	if (text == NULL)
		return 0;
	/* The netmask only matters for "ip broadcast"; unknown is fine. */
	if (c->live && pcap_lookupnet(c->source, &net, &mask, errbuf) != 0)
		mask = PCAP_NETMASK_UNKNOWN;
	if (pcap_compile(c->p, &prog, text, 1, mask) != 0) {
		xasprintf(cause, "bad BPF expression '%s': %s",
		    cfg->bpf != NULL ? cfg->bpf : text, pcap_geterr(c->p));
		free(text);
		return cfg->bpf != NULL ? CAPTURE_EUSAGE : CAPTURE_ERUNTIME;
	}
	free(text);
	if (pcap_setfilter(c->p, &prog) != 0) {
		xasprintf(cause, "%s: cannot set the filter: %s", c->source,
		    pcap_geterr(c->p));
		pcap_freecode(&prog);
		return CAPTURE_ERUNTIME;
	}
	pcap_freecode(&prog);
	return 0;
}

/*
 * The default device, as tcpdump picks it: the first libpcap lists, into
 * c->source.  Returns -1 with *cause set when there is none.
 */
static int
capture_default_device(struct capture *c, char **cause)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_if_t *all = NULL;

	errbuf[0] = '\0';
	if (pcap_findalldevs(&all, errbuf) != 0 || all == NULL) {
		*cause = err_cause("cannot find a capture device",
		    errbuf[0] != '\0' ? errbuf : "no capture device found",
		    "name one with -i, or " CAPTURE_PERM_HINT);
		return -1;
	}
	snprintf(c->source, sizeof c->source, "%s", all->name);
	pcap_freealldevs(all);
	return 0;
}

/*
 * If the device's default link type is one we cannot decode, try the
 * others it offers (e.g. Ethernet instead of a radio header).
 */
static void
capture_pick_linktype(struct capture *c)
{
	int *dlts = NULL, n, i;

	if (decode_linktype_supported(pcap_datalink(c->p)))
		return;
	n = pcap_list_datalinks(c->p, &dlts);
	for (i = 0; i < n; i++) {
		if (decode_linktype_supported(dlts[i]) &&
		    pcap_set_datalink(c->p, dlts[i]) == 0)
			break;
	}
	if (dlts != NULL)
		pcap_free_datalinks(dlts);
}

static int
capture_open_live(
    struct capture *c, const struct capture_config *cfg, char **cause)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	const char *why, *hint = NULL;
	long long bytes;
	int rc;

	if (cfg->iface != NULL)
		snprintf(c->source, sizeof c->source, "%s", cfg->iface);
	else if (capture_default_device(c, cause) != 0)
		return -1;
	errbuf[0] = '\0';
	c->p = pcap_create(c->source, errbuf);
	if (c->p == NULL) {
		*cause = err_cause(c->source, errbuf, NULL);
		return -1;
	}
	c->live = true;
	pcap_set_snaplen(c->p, cfg->snaplen > 0 ? cfg->snaplen : 262144);
	pcap_set_promisc(c->p, cfg->promisc ? 1 : 0);
	/* Block-batched, not immediate mode: see the top of this file. */
	pcap_set_immediate_mode(c->p, 0);
	pcap_set_timeout(c->p, CAPTURE_TIMEOUT_MS);
	bytes = (long long)(cfg->buffer_mib > 0 ? cfg->buffer_mib
						: CAPTURE_BUFFER_MIB) *
		1024 * 1024;
	pcap_set_buffer_size(c->p, bytes > INT_MAX ? INT_MAX : (int)bytes);
	rc = pcap_activate(c->p);
	if (rc < 0) {
		const char *detail = pcap_geterr(c->p);
		char *perm = NULL;

		switch (rc) {
		case PCAP_ERROR_PERM_DENIED:
			xasprintf(&perm, "permission denied (%s)", detail);
			why = perm;
			hint = CAPTURE_PERM_HINT;
			break;
		case PCAP_ERROR_PROMISC_PERM_DENIED:
			why = "no permission to enable promiscuous mode";
			hint = "use -p to capture without promiscuous mode";
			break;
		case PCAP_ERROR_NO_SUCH_DEVICE:
			why = "no such device";
			hint = "list the capture devices with smtpscope -D";
			break;
		case PCAP_ERROR_IFACE_NOT_UP:
			why = "the interface is down";
			break;
		case PCAP_ERROR_RFMON_NOTSUP:
		case PCAP_ERROR_NOT_RFMON:
		default:
			why = *detail != '\0' ? detail : pcap_statustostr(rc);
			break;
		}
		*cause = err_cause(c->source, why, hint);
		free(perm);
		return -1;
	}
	/* rc > 0 is a warning (e.g. promiscuous mode not supported on
	   "any"): capturing works, so carry on. */
	capture_pick_linktype(c);
	if (pcap_setnonblock(c->p, 1, errbuf) != 0) {
		*cause = err_cause(c->source, errbuf, NULL);
		return -1;
	}
	return 0;
}

/* The file's WHY of a failed open, or NULL. */
static const char *
capture_file_unusable(FILE *f, struct capture *c)
{
	struct stat st;

	if (fstat(fileno(f), &st) != 0)
		return NULL;
	if (!S_ISREG(st.st_mode))
		c->stream = true;
	if (S_ISDIR(st.st_mode))
		return "is a directory";
	if (S_ISREG(st.st_mode) && st.st_size == 0)
		return "empty file (not a pcap or pcapng capture)";
	return NULL;
}

/* libpcap's text for a file it refused -> the WHY of our error. */
static const char *
capture_file_refused(const char *errbuf)
{
	if (strstr(errbuf, "unknown file format") != NULL)
		return "not a pcap or pcapng capture file";
	/* Not even the 4-byte magic number: nothing came.  libpcap also says
	   "only got 0" after a magic number alone. */
	if (strstr(errbuf, "truncated") != NULL &&
	    strstr(errbuf, " 4 file header bytes, only got 0") != NULL)
		return "empty input (not a pcap or pcapng capture)";
	if (strstr(errbuf, "truncated") != NULL)
		return "capture file is truncated (cut in its header)";
	return errbuf;
}

static int
capture_open_file(
    struct capture *c, const struct capture_config *cfg, char **cause)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	const char *base, *what = cfg->file, *why;
	FILE *f;

	if (strcmp(cfg->file, "-") == 0) {
		f = stdin;
		c->stream = true;
		snprintf(c->source, sizeof c->source, "stdin");
		what = "stdin";
	} else {
		f = fopen(cfg->file, "rb");
		if (f == NULL) {
			*cause = err_cause(what, strerror(errno), NULL);
			return -1;
		}
		base = strrchr(cfg->file, '/');
		base = base != NULL && base[1] != '\0' ? base + 1 : cfg->file;
		snprintf(c->source, sizeof c->source, "%s", base);
	}
	if ((why = capture_file_unusable(f, c)) != NULL) {
		*cause = err_cause(what, why, NULL);
		if (f != stdin)
			fclose(f);
		return -1;
	}
	/*
	 * Before libpcap's first read, as setvbuf requires.  Not on stdin,
	 * which outlives pcap_close and so would keep a freed buffer.
	 */
	if (f != stdin) {
		c->filebuf = xmalloc(CAPTURE_FILE_BUF);
		setvbuf(f, c->filebuf, _IOFBF, CAPTURE_FILE_BUF);
		/*
		 * One thread at a time reads it (the read-ahead thread, or
		 * the caller's), so stdio need not lock it: with a second
		 * thread running glibc otherwise takes the lock in each of
		 * libpcap's two freads per packet (-5 % CPU on the bench).
		 */
		__fsetlocking(f, FSETLOCKING_BYCALLER);
	}
	errbuf[0] = '\0';
	c->p = pcap_fopen_offline(f, errbuf);
	if (c->p == NULL) {
		/* libpcap did not take the stream: close it ourselves. */
		if (f != stdin)
			fclose(f);
		*cause = err_cause(what, capture_file_refused(errbuf), NULL);
		return -1;
	}
	return 0;
}

int
capture_open(
    const struct capture_config *cfg, struct capture **out, char **cause)
{
	struct capture *c = xcalloc(1, sizeof *c);
	char *bad = NULL;
	char name[64], why[128];
	int rc;

	*out = NULL;
	*cause = NULL;
	atomic_init(&c->stop, 0);
	c->count = cfg->count;
	c->replay = cfg->file != NULL ? cfg->replay : 0;

	/*
	 * A syntax error in the user's expression is a usage error and should
	 * win over, say, a permission problem; but only the opened capture
	 * knows its link type, so Ethernet is a guess here and the real check
	 * comes after opening.
	 */
	if (cfg->bpf != NULL && *cfg->bpf != '\0')
		bad = capture_check_bpf(cfg->bpf, DLT_EN10MB);

	if (cfg->file != NULL)
		rc = capture_open_file(c, cfg, cause);
	else
		rc = capture_open_live(c, cfg, cause);
	if (rc != 0) {
		capture_close(c);
		if (bad == NULL)
			return CAPTURE_ERUNTIME;
		free(*cause);
		*cause = bad;
		return CAPTURE_EUSAGE;
	}
	free(bad);
	c->linktype = pcap_datalink(c->p);
	if (!decode_linktype_supported(c->linktype)) {
		snprintf(why, sizeof why, "unsupported link type %s (%d)",
		    decode_linktype_name(c->linktype, name, sizeof name),
		    c->linktype);
		*cause = err_cause(c->source, why,
		    "supported: Ethernet (with VLAN tags), Linux cooked (SLL, "
		    "SLL2), BSD loopback, raw IPv4/IPv6");
		capture_close(c);
		return CAPTURE_ERUNTIME;
	}
	if ((rc = capture_set_filter(c, cfg, cause)) != 0) {
		capture_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

void
capture_close(struct capture *c)
{
	if (c == NULL)
		return;
	capture_ra_stop(c);
	if (c->dump != NULL) {
		pcap_dump_flush(c->dump);
		pcap_dump_close(c->dump);
	}
	if (c->p != NULL)
		pcap_close(c->p);
	free(c->filebuf);
	free(c);
}

bool
capture_is_live(const struct capture *c)
{
	return c->live;
}

bool
capture_is_stream(const struct capture *c)
{
	return c->stream;
}

const char *
capture_source(const struct capture *c)
{
	return c->source;
}

static void
capture_deliver(
    struct capture *c, const struct pcap_pkthdr *h, const u_char *data)
{
	c->seen++;
	c->fn(c->arg, c->linktype, &h->ts, data, h->caplen, h->len);
	if (c->count > 0 && c->seen >= c->count)
		c->done = true;
}

static void
capture_handler(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
	struct capture *c = (struct capture *)(void *)user;

	capture_deliver(c, h, data);
	if (c->done)
		pcap_breakloop(c->p);
}

static void
capture_flush(struct capture *c)
{
	if (c->dump != NULL && c->dump_dirty) {
		pcap_dump_flush(c->dump);
		c->dump_dirty = false;
		capture_now(&c->dump_flushed);
	}
}

/*
 * --replay: how long (ms) until this packet is due.  The first packet sets
 * the origin; timestamps going backwards are due at once.
 */
static long long
capture_due_in(struct capture *c, const struct timeval *ts)
{
	double delta;
	long long elapsed;

	if (!c->have_base) {
		c->have_base = true;
		c->base_ts = *ts;
		capture_now(&c->base_wall);
		return 0;
	}
	delta = (double)(ts->tv_sec - c->base_ts.tv_sec) * 1000.0 +
		(double)(ts->tv_usec - c->base_ts.tv_usec) / 1000.0;
	delta /= c->replay;
	elapsed = capture_ms_since(&c->base_wall);
	if (delta <= (double)elapsed)
		return 0;
	if (delta - (double)elapsed > (double)LLONG_MAX / 2)
		return LLONG_MAX / 2;
	return (long long)(delta - (double)elapsed);
}

void
capture_replay_hold(struct capture *c, long long ms)
{
	if (c->replay <= 0 || !c->have_base || ms <= 0)
		return;
	c->base_wall.tv_sec += (time_t)(ms / 1000);
	c->base_wall.tv_nsec += (long)(ms % 1000) * 1000000;
	if (c->base_wall.tv_nsec >= 1000000000) {
		c->base_wall.tv_sec++;
		c->base_wall.tv_nsec -= 1000000000;
	}
}

static void
capture_sleep_ms(long long ms)
{
	struct timespec t;

	t.tv_sec = (time_t)(ms / 1000);
	t.tv_nsec = (long)(ms % 1000) * 1000000;
	nanosleep(&t, NULL); /* a signal cuts it short: fine */
}

/* pcap's text for a failed read -> the WHY of our one-line error. */
static void
capture_read_error(const char *e, char **cause)
{
	*cause = xstrdup(strstr(e, "truncated") != NULL
			     ? "capture file is truncated (cut in the middle "
			       "of a packet)"
			     : e);
}

/*
 * Reader side: publish the block being filled and wait for a free one.
 * Returns NULL when capture_close asks the reader to quit.
 */
static struct capture_block *
capture_ra_next(struct capture_ra *ra, struct capture_block *done)
{
	struct capture_block *b = NULL;

	pthread_mutex_lock(&ra->lock);
	if (done != NULL) {
		ra->head++;
		if (ra->analysis_waits)
			pthread_cond_signal(&ra->filled);
	}
	/* A full ring: sleep until half of it is free, so that the analysis
	   wakes this thread once every few blocks, not after each (a wake-up
	   cost it several microseconds, 4 % of a dialogue-heavy file). */
	if (ra->head - ra->tail == CAPTURE_RA_BLOCKS) {
		ra->reader_waits = true;
		while (ra->head - ra->tail > CAPTURE_RA_BLOCKS / 2 &&
		       !atomic_load(&ra->quit))
			pthread_cond_wait(&ra->emptied, &ra->lock);
		ra->reader_waits = false;
	}
	if (!atomic_load(&ra->quit)) {
		b = &ra->blk[ra->head % CAPTURE_RA_BLOCKS];
		b->used = 0;
		b->end = 0;
	}
	pthread_mutex_unlock(&ra->lock);
	return b;
}

/* The read-ahead thread: pcap_next_ex into the blocks, until the end. */
static void *
capture_ra_main(void *arg)
{
	struct capture *c = arg;
	struct capture_ra *ra = c->ra;
	struct capture_block *b;
	struct capture_rec rec;
	struct pcap_pkthdr *h;
	const u_char *data;
	size_t need;
	int rc;

	if ((b = capture_ra_next(ra, NULL)) == NULL)
		return NULL;
	for (;;) {
		if (atomic_load(&c->stop) || atomic_load(&ra->quit)) {
			b->end = 1;
			break;
		}
		rc = pcap_next_ex(c->p, &h, &data);
		if (rc == PCAP_ERROR_BREAK) {
			b->end = 1;
			break;
		}
		if (rc != 1) {
			snprintf(
			    ra->why, sizeof ra->why, "%s", pcap_geterr(c->p));
			b->end = -1;
			break;
		}
		need = capture_rec_size(h->caplen);
		if (need > CAPTURE_RA_PKT_MAX) {
			/* libpcap's own snapshot cap makes this a bug in it
			   or in a future link type: stop cleanly. */
			snprintf(ra->why, sizeof ra->why,
			    "packet of %u bytes is larger than smtpscope "
			    "reads (%d bytes)",
			    h->caplen, CAPTURE_RA_PKT_MAX);
			b->end = -1;
			break;
		}
		if (b->used + need > b->size) {
			if (b->used > 0 && (b = capture_ra_next(ra, b)) == NULL)
				return NULL;
			if (need > b->size) {
				b->buf = xrealloc(b->buf, need);
				b->size = need;
			}
		}
		rec.ts = h->ts;
		rec.caplen = h->caplen;
		rec.len = h->len;
		memcpy(b->buf + b->used, &rec, sizeof rec);
		memcpy(b->buf + b->used + sizeof rec, data, h->caplen);
		b->used += need;
	}
	pthread_mutex_lock(&ra->lock);
	ra->head++;
	if (ra->analysis_waits)
		pthread_cond_signal(&ra->filled);
	pthread_mutex_unlock(&ra->lock);
	return NULL;
}

static void
capture_ra_free(struct capture_ra *ra)
{
	size_t i;

	pthread_mutex_destroy(&ra->lock);
	pthread_cond_destroy(&ra->filled);
	pthread_cond_destroy(&ra->emptied);
	for (i = 0; i < CAPTURE_RA_BLOCKS; i++)
		free(ra->blk[i].buf);
	free(ra);
}

/* May this process run on more than one CPU? */
static bool
capture_multicore(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof set, &set) != 0)
		return false;
	return CPU_COUNT(&set) > 1;
}

/*
 * Start the read-ahead thread.  It takes no signals (they belong to the
 * thread that handles them, main's or the UI's).  On failure the caller
 * reads directly, as on stdin.
 */
static int
capture_ra_start(struct capture *c)
{
	struct capture_ra *ra;
	sigset_t all, old;
	size_t i;
	int rc;

	ra = xcalloc(1, sizeof *ra);
	for (i = 0; i < CAPTURE_RA_BLOCKS; i++) {
		ra->blk[i].buf = xmalloc(CAPTURE_RA_BLOCK);
		ra->blk[i].size = CAPTURE_RA_BLOCK;
	}
	pthread_mutex_init(&ra->lock, NULL);
	pthread_cond_init(&ra->filled, NULL);
	pthread_cond_init(&ra->emptied, NULL);
	c->ra = ra;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&ra->thread, NULL, capture_ra_main, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		c->ra = NULL;
		capture_ra_free(ra);
		return -1;
	}
	return 0;
}

/* capture_close: stop and join the reader before the handle goes. */
static void
capture_ra_stop(struct capture *c)
{
	struct capture_ra *ra = c->ra;

	if (ra == NULL)
		return;
	pthread_mutex_lock(&ra->lock);
	atomic_store(&ra->quit, 1);
	pthread_cond_broadcast(&ra->emptied);
	pthread_mutex_unlock(&ra->lock);
	pthread_join(ra->thread, NULL);
	capture_ra_free(ra);
	c->ra = NULL;
}

/*
 * Show the peek callback the packet CAPTURE_PEEK_AHEAD packets ahead (next
 * is the next one's record), so that what it asks for from memory, a chain
 * of a few pointers followed one step per packet, has arrived by the time
 * the packet is analysed.  Only within the block.  ra->pk remembers the
 * record shown last: after the first packets of a block, one step.
 */
static void
capture_peek_ahead(struct capture *c, struct capture_ra *ra,
    const struct capture_block *b, size_t next)
{
	struct capture_rec rec;
	size_t off = ra->pk;
	int i;

	if (off >= b->used)
		return;
	if (off > next) {
		/* one record further than last time */
		memcpy(&rec, b->buf + off, sizeof rec);
		off += capture_rec_size(rec.caplen);
	} else {
		off = next;
		for (i = 1;
		     i < CAPTURE_PEEK_AHEAD && off + sizeof rec <= b->used;
		     i++) {
			memcpy(&rec, b->buf + off, sizeof rec);
			off += capture_rec_size(rec.caplen);
		}
	}
	if (off + sizeof rec > b->used) {
		ra->pk = b->used; /* nothing more to show in this block */
		return;
	}
	memcpy(&rec, b->buf + off, sizeof rec);
	if (off + sizeof rec + rec.caplen > b->used) {
		ra->pk = b->used;
		return;
	}
	ra->pk = off;
	c->peek(
	    c->peek_arg, c->linktype, b->buf + off + sizeof rec, rec.caplen);
}

/* Analysis side of the read-ahead: deliver the blocks in order. */
static int
capture_loop_ahead(struct capture *c, char **cause)
{
	struct capture_ra *ra = c->ra;
	struct capture_block *b;
	struct capture_rec rec;
	struct pcap_pkthdr h;
	size_t next, pf;
	int end;

	memset(&h, 0, sizeof h);
	for (;;) {
		if (ra->cur == NULL) {
			pthread_mutex_lock(&ra->lock);
			ra->analysis_waits = true;
			while (ra->head == ra->tail)
				pthread_cond_wait(&ra->filled, &ra->lock);
			ra->analysis_waits = false;
			ra->cur = &ra->blk[ra->tail % CAPTURE_RA_BLOCKS];
			ra->off = 0;
			ra->pf = 0;
			ra->pk = 0;
			pthread_mutex_unlock(&ra->lock);
		}
		b = ra->cur;
		while (ra->off < b->used) {
			if (atomic_load(&c->stop) || c->done)
				return 1;
			memcpy(&rec, b->buf + ra->off, sizeof rec);
			h.ts = rec.ts;
			h.caplen = rec.caplen;
			h.len = rec.len;
			/* The next packet was written on the other core:
			   fetch it while this one is analysed.  The windows
			   of small packets overlap: each line is asked for
			   once (ra->pf), not once per packet before it. */
			next = ra->off + capture_rec_size(rec.caplen);
			for (pf = next > ra->pf ? next : ra->pf;
			     pf < next + CAPTURE_RA_PREFETCH && pf < b->used;
			     pf += 64)
				__builtin_prefetch(b->buf + pf);
			ra->pf = pf;
			if (c->peek != NULL)
				capture_peek_ahead(c, ra, b, next);
			capture_deliver(c, &h, b->buf + ra->off + sizeof rec);
			ra->off = next;
		}
		end = b->end;
		if (end != 0) {
			/* Keep the last block: the reader has finished.  Its
			   error is not ours when -c was reached first (the
			   direct path never reads past the count). */
			ra->off = b->used;
			if (end > 0 || c->done || atomic_load(&c->stop))
				return 1;
			capture_read_error(ra->why, cause);
			return -1;
		}
		pthread_mutex_lock(&ra->lock);
		ra->tail++;
		ra->cur = NULL;
		if (ra->reader_waits &&
		    ra->head - ra->tail <= CAPTURE_RA_BLOCKS / 2)
			pthread_cond_signal(&ra->emptied);
		pthread_mutex_unlock(&ra->lock);
	}
}

static int
capture_loop_file(struct capture *c, int timeout_ms, char **cause)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	struct timespec start;
	long long due, waited;
	int rc;

	if (c->replay <= 0 && !c->stream && !c->ra_failed) {
		if (c->ra != NULL ||
		    (capture_multicore() && capture_ra_start(c) == 0))
			return capture_loop_ahead(c, cause);
		c->ra_failed = true;
	}
	capture_now(&start);
	for (;;) {
		if (atomic_load(&c->stop) || c->done)
			return 1;
		if (c->pend_hdr != NULL) {
			h = c->pend_hdr;
			data = c->pend_data;
		} else {
			rc = pcap_next_ex(c->p, &h, &data);
			if (rc == PCAP_ERROR_BREAK)
				return 1; /* end of file */
			if (rc != 1) {
				/* A signal interrupting a read on stdin. */
				if (atomic_load(&c->stop))
					return 1;
				capture_read_error(pcap_geterr(c->p), cause);
				return -1;
			}
		}
		if (c->replay > 0) {
			due = capture_due_in(c, &h->ts);
			if (due > 0) {
				c->pend_hdr = h;
				c->pend_data = data;
				waited = capture_ms_since(&start);
				if (timeout_ms >= 0 && waited >= timeout_ms)
					return 0;
				if (due > CAPTURE_REPLAY_SLICE_MS)
					due = CAPTURE_REPLAY_SLICE_MS;
				if (timeout_ms >= 0 &&
				    due > timeout_ms - waited)
					due = timeout_ms - waited;
				capture_sleep_ms(due);
				continue;
			}
		}
		c->pend_hdr = NULL;
		c->pend_data = NULL;
		capture_deliver(c, h, data);
		/* While pacing, give the caller its timer ticks. */
		if (c->replay > 0 && timeout_ms >= 0 &&
		    capture_ms_since(&start) >= timeout_ms)
			return c->done || atomic_load(&c->stop) ? 1 : 0;
	}
}

static int
capture_loop_live(struct capture *c, int timeout_ms, char **cause)
{
	struct pollfd pfd;
	struct timespec start;
	long long left;
	int fd, n, cnt;

	fd = pcap_get_selectable_fd(c->p);
	capture_now(&start);
	for (;;) {
		if (atomic_load(&c->stop) || c->done)
			return 1;
		left =
		    timeout_ms < 0 ? -1 : timeout_ms - capture_ms_since(&start);
		if (timeout_ms >= 0 && left <= 0) {
			capture_flush(c);
			return 0;
		}
		if (fd >= 0) {
			pfd.fd = fd;
			pfd.events = POLLIN;
			pfd.revents = 0;
			n = poll(&pfd, 1, left < 0 ? -1 : (int)left);
			if (n < 0 && errno != EINTR) {
				xasprintf(cause, "poll: %s", strerror(errno));
				return -1;
			}
			if (n <= 0)
				continue;
		}
		cnt = -1;
		if (c->count > 0)
			cnt = c->count - c->seen > INT_MAX
				  ? INT_MAX
				  : (int)(c->count - c->seen);
		n = pcap_dispatch(c->p, cnt, capture_handler, (u_char *)c);
		if (n == PCAP_ERROR_BREAK)
			return 1;
		if (n < 0) {
			*cause = xstrdup(pcap_geterr(c->p));
			return -1;
		}
		if (n == 0 && fd < 0) {
			/* No selectable descriptor: pcap's own timeout. */
			capture_flush(c);
		}
		if (n > 0 && fd >= 0 && !c->done) {
			/* Caught up with the kernel: come back now, so the
			   caller can write out what these packets made. */
			pfd.fd = fd;
			pfd.events = POLLIN;
			pfd.revents = 0;
			if (poll(&pfd, 1, 0) == 0) {
				capture_flush(c);
				return 0;
			}
		}
	}
}

void
capture_set_peek(struct capture *c, capture_peek_fn fn, void *arg)
{
	c->peek = fn;
	c->peek_arg = arg;
}

int
capture_loop(struct capture *c, capture_packet_fn fn, void *arg, int timeout_ms,
    char **cause)
{
	int rc;

	*cause = NULL;
	c->fn = fn;
	c->arg = arg;
	if (c->live)
		rc = capture_loop_live(c, timeout_ms, cause);
	else
		rc = capture_loop_file(c, timeout_ms, cause);
	if (rc != 0)
		capture_flush(c);
	return rc;
}

void
capture_stop(struct capture *c)
{
	atomic_store(&c->stop, 1);
	if (c->p != NULL)
		pcap_breakloop(c->p);
}

uint64_t
capture_dropped(struct capture *c)
{
	struct pcap_stat st;

	if (!c->live || c->p == NULL)
		return 0;
	memset(&st, 0, sizeof st);
	if (pcap_stats(c->p, &st) != 0)
		return 0;
	return (uint64_t)st.ps_drop + st.ps_ifdrop;
}

int
capture_dump_open(struct capture *c, const char *path, char **cause)
{
	if (c->dump != NULL)
		return 0;
	errno = 0;
	c->dump = pcap_dump_open(c->p, path);
	if (c->dump == NULL) {
		/* pcap's text repeats the path, which is already the WHAT. */
		*cause =
		    xstrdup(errno != 0 ? strerror(errno) : pcap_geterr(c->p));
		return -1;
	}
	capture_now(&c->dump_flushed);
	return 0;
}

void
capture_dump_packet(struct capture *c, const struct timeval *ts,
    const uint8_t *data, uint32_t caplen, uint32_t len)
{
	struct pcap_pkthdr h;

	if (c->dump == NULL)
		return;
	memset(&h, 0, sizeof h);
	h.ts = *ts;
	h.caplen = caplen;
	h.len = len;
	pcap_dump((u_char *)c->dump, &h, data);
	c->dump_dirty = true;
	/* Live: keep the file usable while running, at bounded cost. */
	if (c->live && capture_ms_since(&c->dump_flushed) >= CAPTURE_FLUSH_MS)
		capture_flush(c);
}

int
capture_list_devices(char **cause)
{
	char msg[PCAP_ERRBUF_SIZE];
	pcap_if_t *all = NULL, *d;
	int i = 0;

	if (pcap_findalldevs(&all, msg) != 0) {
		*cause = xstrdup(msg);
		return -1;
	}
	if (all == NULL) {
		*cause = xstrdup("no capture devices found");
		return -1;
	}
	for (d = all; d != NULL; d = d->next) {
		printf("%d.%s", ++i, d->name);
		if (d->description != NULL)
			printf(" (%s)", d->description);
		printf(" [%s%s%s]\n", d->flags & PCAP_IF_UP ? "Up" : "Down",
		    d->flags & PCAP_IF_RUNNING ? ", Running" : "",
		    d->flags & PCAP_IF_LOOPBACK ? ", Loopback" : "");
	}
	pcap_freealldevs(all);
	if (fflush(stdout) != 0) {
		*cause = xstrdup(strerror(errno));
		return -1;
	}
	return 0;
}

const char *
capture_lib_version(void)
{
	return pcap_lib_version();
}
