/* decode.c: STUB, to be written. */
#include "config.h"

#include "decode.h"

#include <stdlib.h>

#include <stdio.h>
int
decode_linktype_supported(int dlt)
{
	(void)dlt;
	return 0;
}

const char *
decode_linktype_name(int dlt, char *buf, size_t len)
{
	snprintf(buf, len, "DLT %d", dlt);
	return buf;
}

enum decode_result
decode_packet(int dlt, const uint8_t *data, size_t caplen,
    const struct timeval *ts, struct decode_pkt *out, const char **why)
{
	(void)dlt; (void)data; (void)caplen; (void)ts; (void)out;
	*why = "not implemented";
	return DECODE_NOT_IP;
}

void
decode_format_endpoint(char *buf, size_t len, int af, const uint8_t *addr,
    uint16_t port)
{
	(void)af; (void)addr;
	snprintf(buf, len, "?:%u", port);
}
