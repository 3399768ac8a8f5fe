#ifndef SMTPSCOPE_PCAP_WRITER_H
#define SMTPSCOPE_PCAP_WRITER_H

#include <stdint.h>
#include <sys/time.h>

/*
 * A new pcap file of one link type, written packet by packet (the UI's
 * save).  Not the capture: it holds no pcap_t that reads, only libpcap's
 * file writer, so a front end can write packets it was handed without
 * reaching into the capture side.
 */
struct pcap_writer;

/* NULL on failure, with *cause set (the WHY; caller frees). */
struct pcap_writer *pcap_writer_open(
    const char *path, int linktype, int snaplen, char **cause);
void pcap_writer_packet(struct pcap_writer *, const struct timeval *ts,
    const uint8_t *data, uint32_t caplen, uint32_t len);
/* Flush and close; -1 when a write failed.  NULL is a no-op. */
int pcap_writer_close(struct pcap_writer *);

#endif
