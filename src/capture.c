/* capture.c: STUB, to be written. */
#include "config.h"

#include "capture.h"

#include <stdlib.h>

#include <pcap/pcap.h>
struct capture *
capture_open(const struct capture_config *c, const char **what, const char **why,
    const char **hint, bool *usage)
{
	(void)c;
	*what = "capture";
	*why = "not implemented";
	*hint = NULL;
	*usage = false;
	return NULL;
}

void
capture_close(struct capture *c)
{
	(void)c;
}

int
capture_linktype(const struct capture *c)
{
	(void)c;
	return 1;
}

bool
capture_is_live(const struct capture *c)
{
	(void)c;
	return false;
}

const char *
capture_source(const struct capture *c)
{
	(void)c;
	return "";
}

int
capture_loop(struct capture *c, capture_packet_fn fn, void *arg,
    int timeout_ms, const char **why)
{
	(void)c; (void)fn; (void)arg; (void)timeout_ms; (void)why;
	return 1;
}

void
capture_stop(struct capture *c)
{
	(void)c;
}

uint64_t
capture_dropped(struct capture *c)
{
	(void)c;
	return 0;
}

int
capture_dump_open(struct capture *c, const char *path, const char **why)
{
	(void)c; (void)path;
	*why = "not implemented";
	return -1;
}

void
capture_dump_packet(struct capture *c, const struct timeval *ts,
    const uint8_t *data, uint32_t caplen, uint32_t len)
{
	(void)c; (void)ts; (void)data; (void)caplen; (void)len;
}

struct capture_writer *
capture_writer_open(const char *path, int linktype, int snaplen, const char **why)
{
	(void)path; (void)linktype; (void)snaplen;
	*why = "not implemented";
	return NULL;
}

void
capture_writer_packet(struct capture_writer *w, const struct timeval *ts,
    const uint8_t *data, uint32_t caplen, uint32_t len)
{
	(void)w; (void)ts; (void)data; (void)caplen; (void)len;
}

int
capture_writer_close(struct capture_writer *w)
{
	(void)w;
	return 0;
}

int
capture_list_devices(const char **why)
{
	*why = "not implemented";
	return -1;
}

const char *
capture_lib_version(void)
{
	return pcap_lib_version();
}
