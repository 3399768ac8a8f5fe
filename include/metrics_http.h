#ifndef SMTPSCOPE_METRICS_HTTP_H
#define SMTPSCOPE_METRICS_HTTP_H

#include <stddef.h>
#include <sys/socket.h>

#include "metrics.h"

/*
 * The HTTP endpoint of --metrics: GET (or HEAD) /metrics on its own thread,
 * one connection at a time, each bounded in size (METRICS_HTTP_REQ_MAX) and
 * time (METRICS_HTTP_TIMEOUT_MS), so a slow or broken scraper delays only
 * other scrapers, never the capture.
 */
#define METRICS_HTTP_REQ_MAX 4096
#define METRICS_HTTP_TIMEOUT_MS 2000
#define METRICS_HTTP_DEFAULT_PORT 9187

/* What a request asks for, from the bytes received so far. */
enum metrics_http_req {
	METRICS_REQ_INCOMPLETE, /* the headers have not ended yet */
	METRICS_REQ_METRICS,	/* GET /metrics: 200 */
	METRICS_REQ_HEAD,	/* HEAD /metrics: 200 without a body */
	METRICS_REQ_NOT_FOUND,	/* another path: 404 */
	METRICS_REQ_METHOD,	/* another method: 405 */
	METRICS_REQ_BAD,	/* not HTTP/1.x: 400 */
};

/* Parse a request (len bytes, not NUL-terminated; bounds-checked). */
enum metrics_http_req metrics_http_parse(const char *buf, size_t len);

/*
 * "[ADDR:]PORT": "9187" (127.0.0.1), "127.0.0.1:9187", "0.0.0.0:9187",
 * "[::1]:9187", "[::]:9187".  Returns 0, or -1 with *cause set (allocated,
 * the caller frees it; the convention of every module here).
 */
int metrics_http_addr(
    const char *spec, struct sockaddr_storage *, socklen_t *, char **cause);

struct metrics_http;

/* Bind and listen (before dropping root).  NULL with *cause (allocated)
   on failure. */
struct metrics_http *metrics_http_open(const char *spec, char **cause);
/* Start serving m on a thread.  Returns 0, or -1 with *cause (allocated). */
int metrics_http_start(struct metrics_http *, struct metrics *m, char **cause);
/* Stop the thread and close; NULL is fine. */
void metrics_http_close(struct metrics_http *);

#endif
