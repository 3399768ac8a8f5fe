/*
 * metrics_http.c: a small HTTP/1.0 and 1.1 server for --metrics (see
 * metrics_http.h).  One thread polls the listening socket and a stop pipe,
 * serves one connection at a time with a deadline, and always closes the
 * connection after the response.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "metrics_http.h"
#include "xmalloc.h"

struct metrics_http {
	int fd;
	int stop[2]; /* the stop pipe: readable when closing */
	struct metrics *m;
	pthread_t tid;
	int started;
};

/* The end of the headers: offset just past "\r\n\r\n" or "\n\n", or 0. */
static size_t
metrics_http_headers_end(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static int
metrics_http_token_is(const char *tok, size_t n, const char *want)
{
	return n == strlen(want) && memcmp(tok, want, n) == 0;
}

enum metrics_http_req
metrics_http_parse(const char *buf, size_t len)
{
	size_t end, line, i, mlen, tstart, tlen, vstart, vlen, plen;
	const char *method, *target, *version;

	if (buf == NULL || len == 0)
		return METRICS_REQ_INCOMPLETE;
	end = metrics_http_headers_end(buf, len);
	if (end == 0)
		return METRICS_REQ_INCOMPLETE;
	/* The request line: METHOD SP TARGET SP HTTP/1.x */
	for (line = 0; line < end && buf[line] != '\n'; line++)
		;
	if (line > 0 && buf[line - 1] == '\r')
		line--;
	method = buf;
	for (i = 0; i < line && buf[i] != ' '; i++)
		if (buf[i] < 'A' || buf[i] > 'Z')
			return METRICS_REQ_BAD;
	mlen = i;
	if (mlen == 0 || i >= line)
		return METRICS_REQ_BAD;
	tstart = ++i;
	while (i < line && buf[i] != ' ')
		i++;
	tlen = i - tstart;
	if (tlen == 0 || i >= line)
		return METRICS_REQ_BAD;
	target = buf + tstart;
	vstart = ++i;
	vlen = line - vstart;
	version = buf + vstart;
	if (vlen != 8 || memcmp(version, "HTTP/1.", 7) != 0 ||
	    (version[7] != '0' && version[7] != '1'))
		return METRICS_REQ_BAD;
	if (!metrics_http_token_is(method, mlen, "GET") &&
	    !metrics_http_token_is(method, mlen, "HEAD"))
		return METRICS_REQ_METHOD;
	/* The path, without a query string; absolute-form is accepted. */
	if (tlen > 7 && memcmp(target, "http://", 7) == 0) {
		for (i = 7; i < tlen && target[i] != '/'; i++)
			;
		target += i;
		tlen -= i;
	}
	for (plen = 0; plen < tlen && target[plen] != '?'; plen++)
		;
	if (!metrics_http_token_is(target, plen, "/metrics"))
		return METRICS_REQ_NOT_FOUND;
	return metrics_http_token_is(method, mlen, "HEAD")
		   ? METRICS_REQ_HEAD
		   : METRICS_REQ_METRICS;
}

/* metrics_http_addr, with *why a static string. */
static int
metrics_http_parse_addr(const char *spec, struct sockaddr_storage *ss,
    socklen_t *sslen, const char **why)
{
	char host[64];
	const char *port;
	char *end;
	long p;
	size_t hlen;
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');

		if (close == NULL || close[1] != ':') {
			*why = "an IPv6 address is written [ADDR]:PORT";
			return -1;
		}
		hlen = (size_t)(close - spec - 1);
		port = close + 2;
		if (hlen >= sizeof host) {
			*why = "the address is too long";
			return -1;
		}
		memcpy(host, spec + 1, hlen);
		host[hlen] = '\0';
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1) {
			*why = "not an IPv6 address";
			return -1;
		}
		in6->sin6_family = AF_INET6;
		*sslen = sizeof *in6;
	} else {
		const char *colon = strrchr(spec, ':');

		if (colon == NULL) {
			snprintf(host, sizeof host, "127.0.0.1");
			port = spec;
		} else {
			hlen = (size_t)(colon - spec);
			if (hlen >= sizeof host) {
				*why = "the address is too long";
				return -1;
			}
			memcpy(host, spec, hlen);
			host[hlen] = '\0';
			port = colon + 1;
		}
		if (inet_pton(AF_INET, host, &in4->sin_addr) != 1) {
			*why = strchr(host, ':') != NULL
				   ? "an IPv6 address is written [ADDR]:PORT"
				   : "not an IPv4 address (give a numeric "
				     "address)";
			return -1;
		}
		in4->sin_family = AF_INET;
		*sslen = sizeof *in4;
	}
	errno = 0;
	p = strtol(port, &end, 10);
	if (*port == '\0' || *end != '\0' || errno != 0 || p < 1 || p > 65535) {
		*why = "the port must be a number from 1 to 65535";
		return -1;
	}
	if (ss->ss_family == AF_INET6)
		in6->sin6_port = htons((uint16_t)p);
	else
		in4->sin_port = htons((uint16_t)p);
	return 0;
}

int
metrics_http_addr(const char *spec, struct sockaddr_storage *ss,
    socklen_t *sslen, char **cause)
{
	const char *why = NULL;

	*cause = NULL;
	if (metrics_http_parse_addr(spec, ss, sslen, &why) == 0)
		return 0;
	*cause = xstrdup(why);
	return -1;
}

struct metrics_http *
metrics_http_open(const char *spec, char **cause)
{
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	struct metrics_http *h;
	int one = 1, fd;

	if (metrics_http_addr(spec, &ss, &sslen, cause) != 0)
		return NULL;
	fd =
	    socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		*cause = xstrdup(strerror(errno));
		return NULL;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, sslen) != 0 ||
	    listen(fd, 16) != 0) {
		*cause = xstrdup(strerror(errno));
		close(fd);
		return NULL;
	}
	h = xcalloc(1, sizeof *h);
	h->fd = fd;
	h->stop[0] = h->stop[1] = -1;
	return h;
}

/* Milliseconds left until deadline, 0 when past. */
static int
metrics_http_left(const struct timeval *deadline)
{
	struct timeval now;
	long ms;

	gettimeofday(&now, NULL);
	ms = (deadline->tv_sec - now.tv_sec) * 1000 +
	     (deadline->tv_usec - now.tv_usec) / 1000;
	return ms > 0 ? (int)ms : 0;
}

/* Wait for fd (events) or the stop pipe; 1 ready, 0 timeout or stop. */
static int
metrics_http_wait(struct metrics_http *h, int fd, short events,
    const struct timeval *deadline)
{
	struct pollfd p[2];
	int left, rc;

	for (;;) {
		left = metrics_http_left(deadline);
		if (left == 0)
			return 0;
		p[0].fd = fd;
		p[0].events = events;
		p[1].fd = h->stop[0];
		p[1].events = POLLIN;
		rc = poll(p, 2, left);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0 || (p[1].revents & POLLIN) != 0)
			return 0;
		return 1;
	}
}

static void
metrics_http_send(struct metrics_http *h, int fd, const char *buf, size_t len,
    const struct timeval *deadline)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    metrics_http_wait(h, fd, POLLOUT, deadline))
			continue;
		return;
	}
}

static void
metrics_http_respond(struct metrics_http *h, int fd, enum metrics_http_req req,
    const struct timeval *deadline)
{
	char head[512];
	const char *status, *extra = "", *type = "text/plain; charset=utf-8";
	char *body = NULL;
	const char *text;
	size_t blen;
	int n;

	switch (req) {
	case METRICS_REQ_METRICS:
	case METRICS_REQ_HEAD:
		status = "200 OK";
		type = "text/plain; version=0.0.4; charset=utf-8";
		body = metrics_render(h->m, &blen);
		text = body;
		break;
	case METRICS_REQ_NOT_FOUND:
		status = "404 Not Found";
		text = "not found: smtpscope serves /metrics\n";
		blen = strlen(text);
		break;
	case METRICS_REQ_METHOD:
		status = "405 Method Not Allowed";
		extra = "Allow: GET, HEAD\r\n";
		text = "method not allowed\n";
		blen = strlen(text);
		break;
	default:
		status = "400 Bad Request";
		text = "bad request\n";
		blen = strlen(text);
		break;
	}
	n = snprintf(head, sizeof head,
	    "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
	    "Connection: close\r\n\r\n",
	    status, type, blen, extra);
	if (n > 0 && (size_t)n < sizeof head)
		metrics_http_send(h, fd, head, (size_t)n, deadline);
	if (req != METRICS_REQ_HEAD)
		metrics_http_send(h, fd, text, blen, deadline);
	free(body);
}

/* One connection, within METRICS_HTTP_TIMEOUT_MS. */
static void
metrics_http_serve(struct metrics_http *h, int fd)
{
	char buf[METRICS_HTTP_REQ_MAX];
	size_t len = 0;
	ssize_t n;
	struct timeval deadline;
	enum metrics_http_req req = METRICS_REQ_INCOMPLETE;

	gettimeofday(&deadline, NULL);
	deadline.tv_sec += METRICS_HTTP_TIMEOUT_MS / 1000;
	deadline.tv_usec += (METRICS_HTTP_TIMEOUT_MS % 1000) * 1000;
	if (deadline.tv_usec >= 1000000) {
		deadline.tv_sec++;
		deadline.tv_usec -= 1000000;
	}
	while (len < sizeof buf) {
		n = recv(fd, buf + len, sizeof buf - len, 0);
		if (n > 0) {
			len += (size_t)n;
			req = metrics_http_parse(buf, len);
			if (req != METRICS_REQ_INCOMPLETE)
				break;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    metrics_http_wait(h, fd, POLLIN, &deadline))
			continue;
		return; /* closed, error, timeout or stop */
	}
	if (req == METRICS_REQ_INCOMPLETE)
		req = METRICS_REQ_BAD; /* headers longer than the bound */
	metrics_http_respond(h, fd, req, &deadline);
	/* Let the client read the response before the close. */
	shutdown(fd, SHUT_WR);
	while (metrics_http_wait(h, fd, POLLIN, &deadline) &&
	       recv(fd, buf, sizeof buf, 0) > 0)
		;
}

static void *
metrics_http_main(void *arg)
{
	struct metrics_http *h = arg;
	struct pollfd p[2];
	int fd, flags;

	for (;;) {
		p[0].fd = h->fd;
		p[0].events = POLLIN;
		p[1].fd = h->stop[0];
		p[1].events = POLLIN;
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if ((p[1].revents & POLLIN) != 0)
			break;
		if ((p[0].revents & POLLIN) == 0)
			continue;
		fd = accept(h->fd, NULL, NULL);
		if (fd < 0)
			continue;
		flags = fcntl(fd, F_GETFL);
		if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
			close(fd);
			continue;
		}
		metrics_http_serve(h, fd);
		close(fd);
	}
	return NULL;
}

int
metrics_http_start(struct metrics_http *h, struct metrics *m, char **cause)
{
	sigset_t all, old;
	int rc;

	*cause = NULL;
	h->m = m;
	if (pipe(h->stop) != 0) {
		*cause = xstrdup(strerror(errno));
		return -1;
	}
	/* Signals go to the other threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&h->tid, NULL, metrics_http_main, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		*cause = xstrdup(strerror(rc));
		return -1;
	}
	h->started = 1;
	return 0;
}

void
metrics_http_close(struct metrics_http *h)
{
	if (h == NULL)
		return;
	if (h->started) {
		if (write(h->stop[1], "x", 1) < 0) {
			/* The thread is stuck only until its deadline. */
		}
		pthread_join(h->tid, NULL);
	}
	if (h->stop[0] >= 0)
		close(h->stop[0]);
	if (h->stop[1] >= 0)
		close(h->stop[1]);
	close(h->fd);
	free(h);
}
