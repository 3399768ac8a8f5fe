/*
 * streamdump: a test tool.  Reads a capture with libpcap, decodes every
 * packet and runs the flow table, and writes what reassembly delivers:
 *
 *   DIR/N.client, DIR/N.server   the bytes of flow N, each direction
 *   DIR/N.gaps                   one line per gap: "client|server OFFSET
 *                                BYTES" (OFFSET: position in the file)
 *   DIR/index                    one line per flow: "N CLIENT SERVER
 *                                mid|syn REASON CBYTES SBYTES"
 *
 * usage: streamdump [-P PORTS] [-t IDLE] [-o DIR] FILE
 * The tests compare these files with what the endpoints sent (netem
 * fixtures) and with tshark's "follow,tcp,raw" output (public captures).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "decode.h"
#include "event.h"
#include "flow.h"
#include "xmalloc.h"

#define STREAMDUMP_PORTS_MAX 64

struct sd_flow {
	FILE *out[2];
	FILE *gaps;
	uint64_t bytes[2];
};

struct sd {
	const char *dir;
	FILE *index;
};

static const char *const sd_dirname[2] = {"client", "server"};

static FILE *
sd_open(const struct sd *sd, uint64_t id, const char *suffix)
{
	char path[PATH_MAX];
	FILE *fp;

	snprintf(path, sizeof path, "%s/%llu.%s", sd->dir,
	    (unsigned long long)id, suffix);
	if ((fp = fopen(path, "w")) == NULL) {
		fprintf(stderr, "streamdump: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return fp;
}

static void
sd_flow_open(void *arg, struct flow *f, const struct timeval *ts)
{
	struct sd *sd = arg;
	struct sd_flow *s = xcalloc(1, sizeof *s);

	(void)ts;
	s->out[0] = sd_open(sd, f->id, "client");
	s->out[1] = sd_open(sd, f->id, "server");
	s->gaps = sd_open(sd, f->id, "gaps");
	f->user = s;
}

static void
sd_flow_data(void *arg, struct flow *f, int dir, const uint8_t *data,
    size_t len, const struct timeval *ts)
{
	struct sd_flow *s = f->user;

	(void)arg;
	(void)ts;
	if (fwrite(data, 1, len, s->out[dir]) != len) {
		fprintf(stderr, "streamdump: write failed\n");
		exit(1);
	}
	s->bytes[dir] += len;
}

static void
sd_flow_gap(void *arg, struct flow *f, int dir, uint64_t bytes,
    const struct timeval *ts)
{
	struct sd_flow *s = f->user;

	(void)arg;
	(void)ts;
	fprintf(s->gaps, "%s %llu %llu\n", sd_dirname[dir],
	    (unsigned long long)s->bytes[dir], (unsigned long long)bytes);
}

static void
sd_flow_close(void *arg, struct flow *f, enum flow_close_reason why,
    const struct timeval *ts)
{
	struct sd *sd = arg;
	struct sd_flow *s = f->user;
	char c[64], sv[64];

	(void)ts;
	decode_format_endpoint(c, sizeof c, f->af, f->client, f->cport);
	decode_format_endpoint(sv, sizeof sv, f->af, f->server, f->sport);
	fprintf(sd->index, "%llu %s %s %s %s %llu %llu\n",
	    (unsigned long long)f->id, c, sv, f->midstream ? "mid" : "syn",
	    flow_close_reason_name(why), (unsigned long long)s->bytes[0],
	    (unsigned long long)s->bytes[1]);
	fclose(s->out[0]);
	fclose(s->out[1]);
	fclose(s->gaps);
	free(s);
	f->user = NULL;
}

static void
sd_flow_anomaly(void *arg, struct flow *f, const char *what, const char *detail,
    const struct timeval *ts)
{
	(void)arg;
	(void)ts;
	fprintf(stderr, "streamdump: flow %llu: %s: %s\n",
	    f ? (unsigned long long)f->id : 0ULL, what, detail ? detail : "");
}

static const struct flow_ops sd_ops = {sd_flow_open, sd_flow_data, sd_flow_gap,
    sd_flow_close, sd_flow_anomaly, NULL, NULL};

static void
usage(void)
{
	fprintf(stderr, "usage: streamdump [-P PORTS] [-t IDLE] [-o DIR] "
			"FILE\n");
	exit(2);
}

static size_t
parse_ports(const char *arg, uint16_t *ports)
{
	char *copy = xstrdup(arg), *p = copy, *tok, *end;
	size_t n = 0;
	long v;

	while ((tok = strsep(&p, ",")) != NULL) {
		errno = 0;
		v = strtol(tok, &end, 10);
		if (*tok == '\0' || *end != '\0' || v < 1 || v > 65535 ||
		    n == STREAMDUMP_PORTS_MAX)
			usage();
		ports[n++] = (uint16_t)v;
	}
	free(copy);
	return n;
}

int
main(int argc, char **argv)
{
	uint16_t ports[STREAMDUMP_PORTS_MAX] = {25, 465, 587};
	char errbuf[PCAP_ERRBUF_SIZE], path[PATH_MAX];
	struct flow_config cfg;
	struct flow_table *t;
	struct pcap_pkthdr *h;
	struct decode_pkt pkt;
	struct timeval last = {0, 0};
	const u_char *data;
	const char *why;
	struct sd sd = {".", NULL};
	pcap_t *pc;
	time_t tick = 0;
	int ch, dlt, r;

	flow_config_default(&cfg);
	cfg.ports = ports;
	cfg.n_ports = 3;
	while ((ch = getopt(argc, argv, "P:t:o:")) != -1) {
		switch (ch) {
		case 'P':
			cfg.n_ports = parse_ports(optarg, ports);
			break;
		case 't':
			cfg.idle_timeout = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'o':
			sd.dir = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc)
		usage();
	if ((pc = pcap_open_offline(argv[optind], errbuf)) == NULL) {
		fprintf(stderr, "streamdump: %s\n", errbuf);
		return 1;
	}
	dlt = pcap_datalink(pc);
	snprintf(path, sizeof path, "%s/index", sd.dir);
	if ((sd.index = fopen(path, "w")) == NULL) {
		fprintf(stderr, "streamdump: %s: %s\n", path, strerror(errno));
		return 1;
	}
	t = flow_table_new(&cfg, &sd_ops, &sd);
	while ((r = pcap_next_ex(pc, &h, &data)) == 1) {
		last = h->ts;
		/* capture time drives idle expiry, once per second as the
		   program does */
		if (h->ts.tv_sec != tick) {
			tick = h->ts.tv_sec;
			flow_expire(t, &h->ts);
		}
		if (decode_packet(dlt, data, h->caplen, &h->ts, &pkt, &why) ==
		    DECODE_OK)
			flow_input(t, &pkt);
	}
	if (r == -1)
		fprintf(stderr, "streamdump: %s\n", pcap_geterr(pc));
	flow_finish(t, &last);
	flow_table_free(t);
	pcap_close(pc);
	fclose(sd.index);
	return r == -1 ? 1 : 0;
}
