/*
 * pcap_writer: a pcap file written from packets handed in (the UI's save of
 * a session).  pcap_open_dead gives the dumper its link type and snapshot
 * length; nothing is read.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "pcap_writer.h"
#include "xmalloc.h"

struct pcap_writer {
	pcap_t *p;
	pcap_dumper_t *d;
};

struct pcap_writer *
pcap_writer_open(const char *path, int linktype, int snaplen, char **cause)
{
	struct pcap_writer *w;

	w = xcalloc(1, sizeof *w);
	w->p = pcap_open_dead(linktype, snaplen > 0 ? snaplen : 262144);
	if (w->p == NULL) {
		*cause = xstrdup("cannot create a pcap handle");
		free(w);
		return NULL;
	}
	errno = 0;
	w->d = pcap_dump_open(w->p, path);
	if (w->d == NULL) {
		*cause =
		    xstrdup(errno != 0 ? strerror(errno) : pcap_geterr(w->p));
		pcap_close(w->p);
		free(w);
		return NULL;
	}
	return w;
}

void
pcap_writer_packet(struct pcap_writer *w, const struct timeval *ts,
    const uint8_t *data, uint32_t caplen, uint32_t len)
{
	struct pcap_pkthdr h;

	memset(&h, 0, sizeof h);
	h.ts = *ts;
	h.caplen = caplen;
	h.len = len;
	pcap_dump((u_char *)w->d, &h, data);
}

int
pcap_writer_close(struct pcap_writer *w)
{
	int rc = 0;

	if (w == NULL)
		return 0;
	if (pcap_dump_flush(w->d) != 0 || ferror(pcap_dump_file(w->d)))
		rc = -1;
	pcap_dump_close(w->d);
	pcap_close(w->p);
	free(w);
	return rc;
}
