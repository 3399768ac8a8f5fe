/*
 * bareloop: the floor the benchmark compares smtpscope with.  It reads a
 * capture with pcap_open_offline and pcap_next_ex and does nothing else
 * but count packets and bytes, so its time is what libpcap and the page
 * cache cost.  Output, one line:
 *   packets N bytes N seconds S maxrss_kib K
 */

#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

int
main(int argc, char **argv)
{
	char			 errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr	*h;
	const u_char		*data;
	struct timespec		 t0, t1;
	struct rusage		 ru;
	pcap_t			*p;
	uint64_t		 packets = 0, bytes = 0;
	unsigned		 sink = 0;
	int			 rc;

	if (argc != 2) {
		fprintf(stderr, "usage: bareloop FILE\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((p = pcap_open_offline(argv[1], errbuf)) == NULL) {
		fprintf(stderr, "bareloop: %s\n", errbuf);
		return 1;
	}
	while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
		packets++;
		bytes += h->caplen;
		/* One byte per packet so the loop reads what it is given. */
		if (h->caplen > 0)
			sink += data[0];
	}
	if (rc == -1) {
		fprintf(stderr, "bareloop: %s: %s\n", argv[1], pcap_geterr(p));
		pcap_close(p);
		return 1;
	}
	pcap_close(p);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	getrusage(RUSAGE_SELF, &ru);
	printf("packets %" PRIu64 " bytes %" PRIu64 " seconds %.6f "
	    "maxrss_kib %ld sink %u\n", packets, bytes,
	    (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, ru.ru_maxrss, sink & 1);
	return 0;
}
