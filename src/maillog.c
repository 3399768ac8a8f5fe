/*
 * maillog: the MTA's own log joined to the captured sessions.
 *
 * Parsing.  A line is "DATE HOST PROGRAM[PID]: MESSAGE" with an RFC 3164
 * date ("Dec  5 03:04:05": no year, no zone) or an ISO 8601 one
 * ("2026-12-05T03:04:05.123456+00:00", as Postfix's maillog_file with
 * maillog_file_rotate... and journalctl -o short-iso write), or Exim's main
 * log "2026-12-05 03:04:05 [PID] MESSAGE" (no host, no program).  Postfix
 * programs are "postfix/ROLE" (or "NAME/ROLE" with syslog_name); the role
 * says where the addresses are: smtpd and postscreen name the client
 * ("host[192.0.2.1]:port"), smtp and lmtp the relay ("relay=name[addr]:port"
 * and the reply the server "said").  Exim names the client in "H=name
 * [addr]:port" of "<=" lines and the server in the same field of delivery
 * lines of a remote transport; Sendmail in "relay=name [addr]".  Every read
 * is bounded by the line's length.
 *
 * Joining.  Sessions are learnt from the events the pipeline emits and kept
 * in a table indexed by session id modulo MAILLOG_SESSIONS_MAX (a newer
 * session takes an older one's slot: eviction of the oldest).  A line is
 * joined when the capture's clock has passed its time plus the skew, in
 * file order, trying in turn:
 *	addr-port	the client's address and port (postscreen, Exim, and
 *			Postfix with smtpd_client_port_logging)
 *	relay-reply	outbound: the relay's address and port, and the reply
 *			the line quotes was one the session received
 *	relay-time	outbound: the relay's address within the skew
 *	pid		the same program[pid] between its connect and
 *			disconnect lines
 *	queue-id	the queue id the 250 after DATA named, or that an
 *			earlier line of the session carried
 *	addr-time	the client's address, the line's time within the
 *			session's life (plus the skew); a connect line takes
 *			the earliest session no connect line claimed yet
 * and "none" (session 0) when nothing matches.
 *
 * Invariants: every table is bounded (MAILLOG_* in maillog.h); a line over
 * MAILLOG_LINE_MAX is dropped up to its newline, with an anomaly.
 */
#include "config.h"

#include "maillog.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kb.h"
#include "xmalloc.h"

const char MAILLOG_JOIN_ADDR_PORT[] = "addr-port";
const char MAILLOG_JOIN_ADDR_TIME[] = "addr-time";
const char MAILLOG_JOIN_PID[] = "pid";
const char MAILLOG_JOIN_QUEUE_ID[] = "queue-id";
const char MAILLOG_JOIN_RELAY_REPLY[] = "relay-reply";
const char MAILLOG_JOIN_RELAY_TIME[] = "relay-time";
const char MAILLOG_JOIN_NONE[] = "none";

/* Replies remembered per session (4xx/5xx and the reply after DATA), and
   the bytes of each that are compared with the text a log line quotes. */
#define ML_REPLIES 4
#define ML_REPLY_TEXT 96
/* Bytes read from the file per poll when following. */
#define ML_READ_MAX (4 * 1024 * 1024)

struct ml_sess {
	uint64_t id; /* 0: free */
	char client[64], server[64];
	char cip[48], sip[48];
	int cport, sport;
	double open, close;
	bool closed;
	bool connected; /* a connect line claimed it */
	bool outbound;	/* a relay line claimed it */
	char replies[ML_REPLIES][ML_REPLY_TEXT];
	unsigned n_replies;
	/* The latest 421 or 452 (hl_code 0: none yet), and the cause its
	   diagnosis gave (a kb_causes id, NULL when none). */
	int hl_code;
	struct timeval hl_ts;
	const char *hl_cause;
};

struct ml_pid {
	char program[48];
	long pid;
	uint64_t id; /* 0: free */
};

struct ml_qid {
	char qid[32];
	uint64_t id;
};

/* An outbound delivery of one recipient of one queued message. */
struct ml_try {
	char key[32 + 1 + 96]; /* "qid rcpt"; "" when free */
	unsigned attempts;
	struct timeval last;
};

struct ml_pending {
	struct maillog_rec rec;
	char *line;
	size_t len;
};

struct maillog {
	double skew;
	maillog_emit_fn emit;
	void *arg;

	struct ml_sess *sess; /* MAILLOG_SESSIONS_MAX slots, lazily */
	struct ml_pid pids[MAILLOG_PIDS_MAX];
	size_t pid_next;
	struct ml_qid *qids; /* MAILLOG_QIDS_MAX, lazily */
	size_t qid_next;
	struct ml_try *tries; /* MAILLOG_TRIES_MAX, lazily */
	size_t try_next;
	bool try_used;		  /* since the last reset */
	bool sess_used, qid_used; /* since the last reset */

	struct ml_pending *pend; /* FIFO: [head, head + n) */
	size_t pend_cap, pend_head, pend_n;

	/* The file. */
	char *path;
	bool follow, read_once;
	int fd;
	dev_t dev;
	ino_t ino;
	off_t off;
	char part[MAILLOG_LINE_MAX];
	size_t part_len;
	bool skipping;

	uint64_t lines, joined, too_long, unparsed;
};

/* ---- parsing */

static const char *const ml_months[12] = {"Jan", "Feb", "Mar", "Apr", "May",
    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static bool
ml_isdigit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
ml_isalnum(char c)
{
	return ml_isdigit(c) || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

/* n digits at s[i..]: their value, or -1. */
static long
ml_num(const char *s, size_t len, size_t i, size_t n)
{
	long v = 0;
	size_t k;

	if (i + n > len)
		return -1;
	for (k = 0; k < n; k++) {
		if (!ml_isdigit(s[i + k]))
			return -1;
		v = v * 10 + (s[i + k] - '0');
	}
	return v;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static long
ml_days(long y, long m, long d)
{
	long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static time_t
ml_time(
    long y, long mo, long d, long h, long mi, long s, bool zoned, long off_s)
{
	struct tm tm;

	if (zoned)
		return (time_t)(ml_days(y, mo, d) * 86400 + h * 3600 + mi * 60 +
				s - off_s);
	memset(&tm, 0, sizeof tm);
	tm.tm_year = (int)(y - 1900);
	tm.tm_mon = (int)(mo - 1);
	tm.tm_mday = (int)d;
	tm.tm_hour = (int)h;
	tm.tm_min = (int)mi;
	tm.tm_sec = (int)s;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

/* Copy s[a..b) into dst (NUL-terminated, cut to fit). */
static void
ml_copy(char *dst, size_t size, const char *s, size_t a, size_t b)
{
	size_t n = b > a ? b - a : 0;

	if (n >= size)
		n = size - 1;
	memcpy(dst, s + a, n);
	dst[n] = '\0';
}

/* The first occurrence of needle in s[from..len), or len. */
static size_t
ml_find(const char *s, size_t len, size_t from, const char *needle)
{
	size_t n = strlen(needle), i;

	if (n == 0 || len < n)
		return len;
	for (i = from; i + n <= len; i++)
		if (s[i] == needle[0] && memcmp(s + i, needle, n) == 0)
			return i;
	return len;
}

static bool
ml_starts(const char *s, size_t len, size_t at, const char *prefix)
{
	size_t n = strlen(prefix);

	return at + n <= len && memcmp(s + at, prefix, n) == 0;
}

/* An address in canonical text form, or false. */
static bool
ml_canon(const char *in, char *out, size_t size)
{
	unsigned char b[16];

	if (strncmp(in, "IPv6:", 5) == 0)
		in += 5;
	if (inet_pton(AF_INET, in, b) == 1)
		return inet_ntop(AF_INET, b, out, (socklen_t)size) != NULL;
	if (inet_pton(AF_INET6, in, b) == 1)
		return inet_ntop(AF_INET6, b, out, (socklen_t)size) != NULL;
	return false;
}

/*
 * The first "[address]" (optionally ":port") in s[from..len): the address
 * canonical in addr, the port in *port (-1 when none).  Returns the index
 * after it, or 0 when there is none.
 */
static size_t
ml_bracket_addr(
    const char *s, size_t len, size_t from, char *addr, size_t size, int *port)
{
	size_t i, j;
	char tmp[64];
	long p;

	for (i = from; i < len; i++) {
		if (s[i] != '[')
			continue;
		for (j = i + 1; j < len && j - i < sizeof tmp && s[j] != ']';
		     j++)
			;
		if (j >= len || s[j] != ']' || j - i - 1 >= sizeof tmp)
			continue;
		ml_copy(tmp, sizeof tmp, s, i + 1, j);
		if (!ml_canon(tmp, addr, size))
			continue;
		*port = -1;
		j++;
		if (j < len && s[j] == ':') {
			size_t k = j + 1;

			p = 0;
			while (k < len && ml_isdigit(s[k]) && p <= 65535)
				p = p * 10 + (s[k++] - '0');
			if (k > j + 1 && p <= 65535) {
				*port = (int)p;
				j = k;
			}
		}
		return j;
	}
	return 0;
}

/* A queue id token at s[i..] followed by ": " (Postfix, Sendmail): its end,
   or 0.  Words of lower case letters ("warning", "statistics") are not. */
static size_t
ml_qid_token(const char *s, size_t len, size_t i)
{
	size_t j = i;
	bool marked = false;

	while (j < len && ml_isalnum(s[j])) {
		if (!(s[j] >= 'a' && s[j] <= 'z'))
			marked = true;
		j++;
	}
	if (j - i < 5 || j - i > 20 || !marked || j + 1 >= len || s[j] != ':' ||
	    s[j + 1] != ' ')
		return 0;
	if (j - i == 7 && memcmp(s + i, "NOQUEUE", 7) == 0)
		return 0;
	return j;
}

/* An Exim message id at s[i..]: 6-6-2 or, since 4.97, 6-11-4 base-62. */
static size_t
ml_exim_id(const char *s, size_t len, size_t i)
{
	size_t j = i, parts[3], k;

	for (k = 0; k < 3; k++) {
		size_t st = j;

		while (j < len && ml_isalnum(s[j]))
			j++;
		parts[k] = j - st;
		if (k < 2) {
			if (j >= len || s[j] != '-')
				return 0;
			j++;
		}
	}
	if (parts[0] != 6 || (parts[1] != 6 && parts[1] != 11) ||
	    (parts[2] != 2 && parts[2] != 4))
		return 0;
	if (j < len && s[j] != ' ')
		return 0;
	return j;
}

/* The reply quoted from msg[from..len) up to stop (or the end), trimmed. */
static void
ml_said(struct maillog_rec *r, const char *s, size_t len, size_t from,
    const char *stop)
{
	size_t end = stop != NULL ? ml_find(s, len, from, stop) : len;

	while (end > from && (s[end - 1] == ' ' || s[end - 1] == '"'))
		end--;
	if (from + 3 <= end && ml_num(s, len, from, 3) >= 200)
		ml_copy(r->said, sizeof r->said, s, from, end);
}

/* The recipient of a Postfix or Sendmail delivery line: to=<...>. */
static void
ml_rcpt_to(struct maillog_rec *r, const char *s, size_t len)
{
	size_t a = ml_find(s, len, 0, "to=<"), e;

	if (a == len)
		return;
	a += 4;
	for (e = a; e < len && s[e] != '>'; e++)
		;
	ml_copy(r->rcpt, sizeof r->rcpt, s, a, e);
}

static void
ml_parse_postfix(struct maillog_rec *r, const char *s, size_t len)
{
	const char *role = strrchr(r->program, '/');
	size_t q, i;

	role = role != NULL ? role + 1 : r->program;
	q = ml_qid_token(s, len, 0);
	if (q > 0)
		ml_copy(r->qid, sizeof r->qid, s, 0, q);
	if (strcmp(role, "smtp") == 0 || strcmp(role, "lmtp") == 0) {
		i = ml_find(s, len, 0, "relay=");
		if (i == len)
			i = ml_find(s, len, 0, "connect to ");
		if (i < len && ml_bracket_addr(s, len, i, r->relay,
				   sizeof r->relay, &r->relay_port) > 0) {
			r->outbound = true;
			ml_rcpt_to(r, s, len);
			if (ml_find(s, len, 0, "status=sent") < len)
				r->outcome = MAILLOG_SENT;
			else if (ml_find(s, len, 0, "status=deferred") < len)
				r->outcome = MAILLOG_DEFERRED;
			else if (ml_find(s, len, 0, "status=bounced") < len)
				r->outcome = MAILLOG_BOUNCED;
			i = ml_find(s, len, 0, " said: ");
			if (i < len)
				ml_said(r, s, len, i + 7, " (in reply to ");
			else if ((i = ml_find(s, len, 0, "status=")) < len &&
				 (i = ml_find(s, len, i, " (")) < len) {
				size_t e = len;

				while (e > i && s[e - 1] != ')')
					e--;
				if (e > i + 2)
					ml_said(r, s, e - 1, i + 2, NULL);
			}
		}
		return;
	}
	if (strcmp(role, "smtpd") != 0 && strcmp(role, "postscreen") != 0 &&
	    strcmp(role, "tlsproxy") != 0)
		return;
	if (ml_starts(s, len, 0, "connect from ") ||
	    ml_starts(s, len, 0, "CONNECT from "))
		r->kind = MAILLOG_CONNECT;
	else if (ml_starts(s, len, 0, "disconnect from ") ||
		 ml_starts(s, len, 0, "DISCONNECT "))
		r->kind = MAILLOG_DISCONNECT;
	ml_bracket_addr(s, len, 0, r->addr, sizeof r->addr, &r->port);
}

static void
ml_parse_exim(struct maillog_rec *r, const char *s, size_t len)
{
	size_t q = ml_exim_id(s, len, 0), i, h;

	if (q > 0)
		ml_copy(r->qid, sizeof r->qid, s, 0, q);
	i = q > 0 ? q + 1 : 0;
	if (ml_starts(s, len, 0, "SMTP connection from ")) {
		bool end = ml_find(s, len, 0, " closed by ") < len ||
			   ml_find(s, len, 0, " lost") < len;

		r->kind = end ? MAILLOG_DISCONNECT : MAILLOG_CONNECT;
	}
	h = ml_find(s, len, 0, "H=");
	if (q > 0 &&
	    (ml_starts(s, len, i, "=> ") || ml_starts(s, len, i, "-> ") ||
		ml_starts(s, len, i, "** ") || ml_starts(s, len, i, "== "))) {
		/* A delivery: H= is the server (a remote transport). */
		if (h < len && ml_bracket_addr(s, len, h, r->relay,
				   sizeof r->relay, &r->relay_port) > 0) {
			size_t a = i + 3, e = a;

			r->outbound = true;
			while (e < len && s[e] != ' ')
				e++;
			ml_copy(r->rcpt, sizeof r->rcpt, s, a, e);
			r->outcome = s[i] == '=' && s[i + 1] == '='
					 ? MAILLOG_DEFERRED
				     : s[i] == '*' ? MAILLOG_BOUNCED
						   : MAILLOG_SENT;
			i = ml_find(
			    s, len, 0, "SMTP error from remote mail server");
			if (i < len && (i = ml_find(s, len, i, ": ")) < len)
				ml_said(r, s, len, i + 2, NULL);
			else if ((i = ml_find(s, len, 0, "C=\"")) < len)
				ml_said(r, s, len, i + 3, "\"");
		}
		return;
	}
	ml_bracket_addr(
	    s, len, h < len ? h : 0, r->addr, sizeof r->addr, &r->port);
}

static void
ml_parse_sendmail(struct maillog_rec *r, const char *s, size_t len)
{
	size_t q = ml_qid_token(s, len, 0), i;

	if (q > 0)
		ml_copy(r->qid, sizeof r->qid, s, 0, q);
	i = ml_find(s, len, 0, "relay=");
	if (i == len)
		return;
	if (ml_starts(s, len, q > 0 ? q + 2 : 0, "to=")) {
		if (ml_bracket_addr(s, len, i, r->relay, sizeof r->relay,
			&r->relay_port) > 0) {
			r->outbound = true;
			ml_rcpt_to(r, s, len);
			if (ml_find(s, len, 0, "stat=Sent") < len)
				r->outcome = MAILLOG_SENT;
			else if (ml_find(s, len, 0, "stat=Deferred") < len)
				r->outcome = MAILLOG_DEFERRED;
			else if (ml_find(s, len, 0, "dsn=5.") < len)
				r->outcome = MAILLOG_BOUNCED;
			if ((i = ml_find(s, len, 0, "stat=Deferred: ")) < len)
				ml_said(r, s, len, i + 15, NULL);
			else if ((i = ml_find(s, len, 0, "stat=Sent (")) < len)
				ml_said(r, s, len, i + 11, ")");
		}
	} else
		ml_bracket_addr(s, len, i, r->addr, sizeof r->addr, &r->port);
}

int
maillog_parse(const char *s, size_t len, time_t year_ref, struct maillog_rec *r)
{
	long y, mo, d, h, mi, sec, usec = 0, off = 0;
	bool zoned = false, exim = false;
	size_t i, st;
	time_t t;

	memset(r, 0, sizeof *r);
	r->pid = -1;
	r->port = r->relay_port = -1;
	if (len >= 19 && ml_num(s, len, 0, 4) >= 0 && s[4] == '-' &&
	    s[7] == '-' && (s[10] == 'T' || s[10] == ' ') && s[13] == ':' &&
	    s[16] == ':') {
		y = ml_num(s, len, 0, 4);
		mo = ml_num(s, len, 5, 2);
		d = ml_num(s, len, 8, 2);
		h = ml_num(s, len, 11, 2);
		mi = ml_num(s, len, 14, 2);
		sec = ml_num(s, len, 17, 2);
		exim = s[10] == ' ';
		i = 19;
		if (i < len && (s[i] == '.' || s[i] == ',')) {
			long scale = 100000;

			for (i++; i < len && ml_isdigit(s[i]); i++) {
				usec += (s[i] - '0') * scale;
				scale /= 10;
			}
		}
		if (exim && i + 6 <= len && s[i] == ' ' &&
		    (s[i + 1] == '+' || s[i + 1] == '-') &&
		    ml_num(s, len, i + 2, 4) >= 0)
			i++; /* Exim's log_timezone: " +0100" */
		if (i < len && s[i] == 'Z') {
			zoned = true;
			i++;
		} else if (i + 5 <= len && (s[i] == '+' || s[i] == '-') &&
			   ml_num(s, len, i + 1, 2) >= 0) {
			long oh = ml_num(s, len, i + 1, 2), om;
			size_t k = i + 3;

			if (k < len && s[k] == ':')
				k++;
			om = ml_num(s, len, k, 2);
			if (om < 0)
				return -1;
			off = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
			zoned = true;
			i = k + 2;
		}
	} else if (len >= 16 && s[3] == ' ' && s[6] == ' ' && s[9] == ':' &&
		   s[12] == ':') {
		struct tm ref;
		time_t now = year_ref;

		for (mo = 0; mo < 12; mo++)
			if (memcmp(s, ml_months[mo], 3) == 0)
				break;
		if (mo == 12)
			return -1;
		mo++;
		d = s[4] == ' ' ? ml_num(s, len, 5, 1) : ml_num(s, len, 4, 2);
		h = ml_num(s, len, 7, 2);
		mi = ml_num(s, len, 10, 2);
		sec = ml_num(s, len, 13, 2);
		if (gmtime_r(&now, &ref) == NULL)
			return -1;
		y = ref.tm_year + 1900;
		/* December's lines read in January belong to last year. */
		if (mo > ref.tm_mon + 1 + 6)
			y--;
		i = 15;
	} else
		return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 ||
	    h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
		return -1;
	t = ml_time(y, mo, d, h, mi, sec, zoned, off);
	if (t == (time_t)-1)
		return -1;
	r->ts.tv_sec = t;
	r->ts.tv_usec = (suseconds_t)usec;

	if (exim) {
		while (i < len && s[i] == ' ')
			i++;
		if (i < len && s[i] == '[') {
			long p = 0;

			for (i++; i < len && ml_isdigit(s[i]) && p < 1L << 30;
			     i++)
				p = p * 10 + (s[i] - '0');
			if (i >= len || s[i] != ']')
				return -1;
			r->pid = p;
			i++;
			while (i < len && s[i] == ' ')
				i++;
		}
		strcpy(r->program, "exim");
		ml_parse_exim(r, s + i, len - i);
		return 0;
	}
	/* " HOST PROGRAM[PID]: MESSAGE" */
	if (i >= len || s[i] != ' ')
		return -1;
	while (i < len && s[i] == ' ')
		i++;
	while (i < len && s[i] != ' ')
		i++;
	while (i < len && s[i] == ' ')
		i++;
	st = i;
	while (i < len && s[i] != '[' && s[i] != ':' && s[i] != ' ')
		i++;
	if (i == st || i >= len)
		return -1;
	ml_copy(r->program, sizeof r->program, s, st, i);
	if (s[i] == '[') {
		long p = 0;

		for (i++; i < len && ml_isdigit(s[i]) && p < 1L << 30; i++)
			p = p * 10 + (s[i] - '0');
		if (i >= len || s[i] != ']')
			return -1;
		r->pid = p;
		i++;
	}
	if (i >= len || s[i] != ':')
		return -1;
	i++;
	if (i < len && s[i] == ' ')
		i++;
	if (strncmp(r->program, "exim", 4) == 0) {
		/* Exim through syslog: the main log's line without its
		   date, possibly with it. */
		if (i + 20 <= len && ml_num(s, len, i, 4) >= 0 &&
		    s[i + 4] == '-' && s[i + 10] == ' ')
			i += 20;
		ml_parse_exim(r, s + i, len - i);
	} else if (strcmp(r->program, "sendmail") == 0 ||
		   strncmp(r->program, "sm-", 3) == 0)
		ml_parse_sendmail(r, s + i, len - i);
	else
		ml_parse_postfix(r, s + i, len - i);
	return 0;
}

/* ---- the joiner */

static double
ml_secs(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

/* "192.0.2.1:25" or "[2001:db8::1]:25" into a canonical address and port. */
static void
ml_endpoint(const char *s, char *addr, size_t size, int *port)
{
	const char *colon = strrchr(s, ':');
	char tmp[64];
	size_t n;

	addr[0] = '\0';
	*port = -1;
	if (colon == NULL)
		return;
	n = (size_t)(colon - s);
	if (n > 1 && s[0] == '[' && s[n - 1] == ']')
		ml_copy(tmp, sizeof tmp, s, 1, n - 1);
	else
		ml_copy(tmp, sizeof tmp, s, 0, n);
	if (!ml_canon(tmp, addr, size))
		addr[0] = '\0';
	*port = atoi(colon + 1); /* our own text, not the wire's */
}

struct maillog *
maillog_new(double skew_s, maillog_emit_fn emit, void *arg)
{
	struct maillog *m = xcalloc(1, sizeof *m);

	m->skew = skew_s >= 0 ? skew_s : 0;
	m->emit = emit;
	m->arg = arg;
	m->fd = -1;
	return m;
}

void
maillog_free(struct maillog *m)
{
	size_t k;

	if (m == NULL)
		return;
	for (k = 0; k < m->pend_n; k++)
		free(m->pend[(m->pend_head + k) % m->pend_cap].line);
	free(m->pend);
	free(m->sess);
	free(m->qids);
	free(m->tries);
	free(m->path);
	if (m->fd >= 0)
		close(m->fd);
	free(m);
}

void
maillog_set_emit(struct maillog *m, maillog_emit_fn emit, void *arg)
{
	m->emit = emit;
	m->arg = arg;
}

bool
maillog_following(const struct maillog *m)
{
	return m->follow;
}

void
maillog_reset(struct maillog *m)
{
	size_t k;

	for (k = 0; k < m->pend_n; k++) {
		free(m->pend[(m->pend_head + k) % m->pend_cap].line);
		m->pend[(m->pend_head + k) % m->pend_cap].line = NULL;
	}
	m->pend_head = m->pend_n = 0;
	if (m->sess != NULL && m->sess_used)
		memset(m->sess, 0, MAILLOG_SESSIONS_MAX * sizeof *m->sess);
	if (m->qids != NULL && m->qid_used)
		memset(m->qids, 0, MAILLOG_QIDS_MAX * sizeof *m->qids);
	if (m->tries != NULL && m->try_used)
		memset(m->tries, 0, MAILLOG_TRIES_MAX * sizeof *m->tries);
	m->sess_used = m->qid_used = m->try_used = false;
	memset(m->pids, 0, sizeof m->pids);
	m->pid_next = m->qid_next = m->try_next = 0;
	m->part_len = 0;
	m->skipping = false;
	m->lines = m->joined = m->too_long = m->unparsed = 0;
}

static struct ml_sess *
ml_sess_get(struct maillog *m, uint64_t id)
{
	struct ml_sess *s;

	if (m->sess == NULL || id == 0)
		return NULL;
	s = &m->sess[id % MAILLOG_SESSIONS_MAX];
	return s->id == id ? s : NULL;
}

static void
ml_qid_add(struct maillog *m, const char *qid, uint64_t id)
{
	size_t k;

	if (m->qids == NULL)
		m->qids = xcalloc(MAILLOG_QIDS_MAX, sizeof *m->qids);
	for (k = 0; k < MAILLOG_QIDS_MAX; k++)
		if (m->qids[k].id != 0 && strcmp(m->qids[k].qid, qid) == 0) {
			m->qids[k].id = id;
			return;
		}
	m->qid_used = true;
	snprintf(m->qids[m->qid_next].qid, sizeof m->qids[0].qid, "%s", qid);
	m->qids[m->qid_next].id = id;
	m->qid_next = (m->qid_next + 1) % MAILLOG_QIDS_MAX;
}

static uint64_t
ml_qid_find(const struct maillog *m, const char *qid)
{
	size_t k;

	if (m->qids == NULL)
		return 0;
	for (k = 0; k < MAILLOG_QIDS_MAX; k++)
		if (m->qids[k].id != 0 && strcmp(m->qids[k].qid, qid) == 0)
			return m->qids[k].id;
	return 0;
}

static struct ml_pid *
ml_pid_find(struct maillog *m, const char *program, long pid)
{
	size_t k;

	for (k = 0; k < MAILLOG_PIDS_MAX; k++)
		if (m->pids[k].id != 0 && m->pids[k].pid == pid &&
		    strcmp(m->pids[k].program, program) == 0)
			return &m->pids[k];
	return NULL;
}

static void
ml_pid_bind(struct maillog *m, const char *program, long pid, uint64_t id)
{
	struct ml_pid *p = ml_pid_find(m, program, pid);

	if (p == NULL) {
		p = &m->pids[m->pid_next];
		m->pid_next = (m->pid_next + 1) % MAILLOG_PIDS_MAX;
	}
	snprintf(p->program, sizeof p->program, "%s", program);
	p->pid = pid;
	p->id = id;
}

void
maillog_observe(struct maillog *m, const struct event *ev)
{
	struct ml_sess *s;
	char text[ML_REPLY_TEXT];
	size_t n;

	if (!m->follow && !m->read_once && m->path != NULL &&
	    ev->type != EV_STATS && ev->ts.tv_sec != 0)
		maillog_poll(m, &ev->ts);
	switch (ev->type) {
	case EV_SESSION_OPEN:
		if (m->sess == NULL)
			m->sess =
			    xcalloc(MAILLOG_SESSIONS_MAX, sizeof *m->sess);
		s = &m->sess[ev->session % MAILLOG_SESSIONS_MAX];
		memset(s, 0, sizeof *s);
		m->sess_used = true;
		s->id = ev->session;
		snprintf(s->client, sizeof s->client, "%s", ev->client);
		snprintf(s->server, sizeof s->server, "%s", ev->server);
		ml_endpoint(ev->client, s->cip, sizeof s->cip, &s->cport);
		ml_endpoint(ev->server, s->sip, sizeof s->sip, &s->sport);
		s->open = ml_secs(&ev->ts);
		break;
	case EV_REPLY:
		s = ml_sess_get(m, ev->session);
		if (s != NULL && (ev->code == 421 || ev->code == 452)) {
			int ci = ev->diag != NULL
				     ? kb_cause_index(ev->diag->cause)
				     : -1;

			s->hl_code = ev->code;
			s->hl_ts = ev->ts;
			s->hl_cause = ci >= 0 ? kb_causes[ci].id : NULL;
		}
		if (s == NULL ||
		    (ev->code < 400 && strcmp(ev->answers, "DATA-END") != 0))
			break;
		/* "452 4.5.3 Error: too many recipients": the first line,
		   as a log quotes it. */
		n = 0;
		if (ev->text != NULL)
			while (n < ev->text_len && ev->text[n] != '\n' &&
			       ev->text[n] != '\0')
				n++;
		snprintf(text, sizeof text, "%d%s%s %.*s", ev->code,
		    ev->enhanced[0] != '\0' ? " " : "", ev->enhanced, (int)n,
		    ev->text != NULL ? ev->text : "");
		memcpy(
		    s->replies[s->n_replies % ML_REPLIES], text, sizeof text);
		s->n_replies++;
		break;
	case EV_MESSAGE:
		if (ev->queue_id != NULL && ev->queue_id[0] != '\0' &&
		    ev->session != 0)
			ml_qid_add(m, ev->queue_id, ev->session);
		break;
	case EV_SESSION_CLOSE:
		s = ml_sess_get(m, ev->session);
		if (s != NULL) {
			s->closed = true;
			s->close = ml_secs(&ev->ts);
		}
		break;
	default:
		break;
	}
}

/*
 * How far the line's time, [t, t + res) (res: 1 s for a date without a
 * fraction), is from the session's life [open, close]: 0 when they meet.
 */
static double
ml_dist(const struct ml_sess *s, double t, double res)
{
	if (t + res < s->open)
		return s->open - (t + res);
	if (s->closed && t > s->close)
		return t - s->close;
	return 0;
}

/* The line's time falls in the session's life, widened by the skew. */
static bool
ml_in_window(
    const struct maillog *m, const struct ml_sess *s, double t, double res)
{
	return ml_dist(s, t, res) <= m->skew;
}

/* a is a better match than b: nearer in time; then, for a connect line,
   the one opened first (the server accepts in order), else the latest. */
static bool
ml_better(const struct ml_sess *a, const struct ml_sess *b, double t,
    double res, bool first)
{
	double da, db;

	if (b == NULL)
		return true;
	da = ml_dist(a, t, res);
	db = ml_dist(b, t, res);
	if (da != db)
		return da < db;
	return first ? a->open < b->open : a->open > b->open;
}

/* The quoted reply is one the session got: the shorter is a prefix of the
   other, and they share at least the code. */
static bool
ml_reply_match(const struct ml_sess *s, const char *said)
{
	unsigned k, n = s->n_replies < ML_REPLIES ? s->n_replies : ML_REPLIES;
	size_t a, b, l;

	for (k = 0; k < n; k++) {
		a = strlen(s->replies[k]);
		b = strlen(said);
		l = a < b ? a : b;
		/* A stored reply is cut at ML_REPLY_TEXT - 1 bytes. */
		if (l >= 3 && strncmp(s->replies[k], said, l) == 0)
			return true;
	}
	return false;
}

static const char *
ml_join(struct maillog *m, const struct maillog_rec *r, uint64_t *sid)
{
	double t = ml_secs(&r->ts), res = r->ts.tv_usec == 0 ? 1.0 : 0.001;
	struct ml_sess *s, *best = NULL, *fallback = NULL;
	struct ml_pid *p;
	size_t k;
	uint64_t id;

	*sid = 0;
	if (m->sess != NULL && r->addr[0] != '\0' && r->port >= 0) {
		for (k = 0; k < MAILLOG_SESSIONS_MAX; k++) {
			s = &m->sess[k];
			if (s->id != 0 && s->cport == r->port &&
			    strcmp(s->cip, r->addr) == 0 &&
			    ml_in_window(m, s, t, res) &&
			    ml_better(s, best, t, res, false))
				best = s;
		}
		if (best != NULL) {
			*sid = best->id;
			return MAILLOG_JOIN_ADDR_PORT;
		}
	}
	if (m->sess != NULL && r->outbound) {
		for (k = 0; k < MAILLOG_SESSIONS_MAX; k++) {
			s = &m->sess[k];
			if (s->id == 0 || strcmp(s->sip, r->relay) != 0 ||
			    (r->relay_port >= 0 && s->sport != r->relay_port) ||
			    !ml_in_window(m, s, t, res))
				continue;
			if (r->said[0] != '\0' && ml_reply_match(s, r->said) &&
			    ml_better(s, best, t, res, false))
				best = s;
			if (ml_better(s, fallback, t, res, false))
				fallback = s;
		}
		if (best != NULL || fallback != NULL) {
			s = best != NULL ? best : fallback;
			s->outbound = true;
			*sid = s->id;
			return best != NULL ? MAILLOG_JOIN_RELAY_REPLY
					    : MAILLOG_JOIN_RELAY_TIME;
		}
	}
	if (r->pid >= 0 && (p = ml_pid_find(m, r->program, r->pid)) != NULL &&
	    ml_sess_get(m, p->id) != NULL) {
		*sid = p->id;
		return MAILLOG_JOIN_PID;
	}
	if (r->qid[0] != '\0' && (id = ml_qid_find(m, r->qid)) != 0 &&
	    ml_sess_get(m, id) != NULL) {
		*sid = id;
		return MAILLOG_JOIN_QUEUE_ID;
	}
	if (m->sess != NULL && r->addr[0] != '\0') {
		for (k = 0; k < MAILLOG_SESSIONS_MAX; k++) {
			s = &m->sess[k];
			if (s->id == 0 || s->outbound ||
			    strcmp(s->cip, r->addr) != 0 ||
			    !ml_in_window(m, s, t, res))
				continue;
			if (r->kind == MAILLOG_CONNECT) {
				/* Connect lines come in the order the
				   server accepted: the earliest unclaimed. */
				if (!s->connected &&
				    ml_better(s, best, t, res, true))
					best = s;
			} else if (ml_better(s, best, t, res, false))
				best = s;
		}
		if (best != NULL) {
			*sid = best->id;
			return MAILLOG_JOIN_ADDR_TIME;
		}
	}
	return MAILLOG_JOIN_NONE;
}

static const char *const ml_outcomes[] = {NULL, "sent", "deferred", "bounced"};

/*
 * Count the delivery attempts of one recipient of one queued message: a
 * line for a (queue id, recipient) seen before is a later attempt (a
 * deferred message is tried again; the MTA does not log when).
 */
static void
ml_attempt(struct maillog *m, const struct maillog_rec *r, struct event *ev)
{
	char key[sizeof m->tries[0].key];
	struct ml_try *t = NULL;
	size_t k;

	ev->log_outcome = ml_outcomes[r->outcome];
	if (r->qid[0] == '\0')
		return;
	snprintf(key, sizeof key, "%s %s", r->qid, r->rcpt);
	if (m->tries == NULL)
		m->tries = xcalloc(MAILLOG_TRIES_MAX, sizeof *m->tries);
	for (k = 0; k < MAILLOG_TRIES_MAX; k++)
		if (m->tries[k].key[0] != '\0' &&
		    strcmp(m->tries[k].key, key) == 0) {
			t = &m->tries[k];
			break;
		}
	m->try_used = true;
	if (t == NULL) {
		t = &m->tries[m->try_next];
		m->try_next = (m->try_next + 1) % MAILLOG_TRIES_MAX;
		memcpy(t->key, key, sizeof key);
		t->attempts = 0;
	} else
		ev->log_prev_attempt = t->last;
	t->attempts++;
	t->last = r->ts;
	ev->log_attempt = t->attempts;
}

/*
 * What a log line can say about a refusal, most specific first: the words
 * Postfix (smtpd, postscreen, anvil's warnings), Exim and Sendmail log, and
 * the cause they mean.  A line that quotes the reply (Postfix's "NOQUEUE:
 * reject: ... 452 4.5.3 Error: too many recipients", "status=deferred
 * (... said: ...)") is read by the same words.
 */
static const struct maillog_reason ml_reasons[] = {
    {"concurrency limit exceeded", "conn-limit"},
    {"connection rate limit exceeded", "conn-rate"},
    {"message delivery request rate limit", "msg-rate"},
    {"recipient address rate limit", "rcpt-rate"},
    {"too many connections from", "conn-limit"},
    {"too many concurrent", "conn-limit"},
    {"too many open connections", "conn-limit"},
    {"refused: too many connections", "overload"},
    {"too many connections", "conn-limit"},
    {"all server ports busy", "overload"},
    {"load average", "overload"},
    {"too much load", "overload"},
    {"not enough free space", "storage"},
    {"low on free space", "storage"},
    {"insufficient system storage", "storage"},
    {"insufficient disk space", "storage"},
    {"out of disk space", "storage"},
    {"space shortage", "storage"},
    {"no space left on device", "storage"},
    {"too many recipients", "rcpt-limit"},
    {"too many errors", "too-many-errors"},
    {"too many bad commands", "too-many-errors"},
    {"timeout after", "idle-timeout"},
    {"pregreet", "protocol"},
    {"command pipelining", "protocol"},
    {"non-smtp command", "protocol"},
    {"bare newline", "protocol"},
    {"dnsbl rank", "reputation"},
    {"greylist", "greylist"},
    {"must issue a starttls", "tls-required"},
    {"tls required", "tls-required"},
    {"over quota", "mailbox-full"},
    {"mailbox full", "mailbox-full"},
    {"shutting down", "shutdown"},
};

/* Whether s[0..len) holds w (lower case ASCII), ignoring case. */
static bool
ml_has_ci(const char *s, size_t len, const char *w)
{
	size_t n = strlen(w), i, k;

	if (n == 0 || n > len)
		return false;
	for (i = 0; i + n <= len; i++) {
		for (k = 0; k < n; k++)
			if (tolower((unsigned char)s[i + k]) != w[k])
				break;
		if (k == n)
			return true;
	}
	return false;
}

const struct maillog_reason *
maillog_reason(const char *line, size_t len)
{
	size_t i;

	if (line == NULL)
		return NULL;
	for (i = 0; i < sizeof ml_reasons / sizeof *ml_reasons; i++)
		if (ml_has_ci(line, len, ml_reasons[i].says))
			return &ml_reasons[i];
	return NULL;
}

/* Process-per-connection servers, whose pid names the session. */
static bool
ml_pid_per_session(const char *program)
{
	const char *role = strrchr(program, '/');

	role = role != NULL ? role + 1 : program;
	return strcmp(role, "smtpd") == 0 || strncmp(program, "exim", 4) == 0;
}

static void
ml_process(struct maillog *m, struct ml_pending *pl)
{
	const struct maillog_rec *r = &pl->rec;
	const struct maillog_reason *why;
	struct event *ev;
	struct ml_sess *s;
	struct ml_pid *p;
	uint64_t sid;
	const char *how = ml_join(m, r, &sid);

	s = ml_sess_get(m, sid);
	if (s != NULL) {
		m->joined++;
		if (r->kind == MAILLOG_CONNECT) {
			s->connected = true;
			if (r->pid >= 0 && ml_pid_per_session(r->program))
				ml_pid_bind(m, r->program, r->pid, sid);
		}
		if (r->qid[0] != '\0' && !r->outbound)
			ml_qid_add(m, r->qid, sid);
	}
	if (r->kind == MAILLOG_DISCONNECT && r->pid >= 0 &&
	    (p = ml_pid_find(m, r->program, r->pid)) != NULL)
		p->id = 0;
	ev = event_new(EV_LOG);
	ev->ts = r->ts;
	ev->session = s != NULL ? sid : 0;
	if (s != NULL) {
		memcpy(ev->client, s->client, sizeof ev->client);
		memcpy(ev->server, s->server, sizeof ev->server);
	}
	ev->text = pl->line;
	ev->text_len = pl->len;
	pl->line = NULL;
	ev->program = xstrdup(r->program);
	ev->queue_id = r->qid[0] != '\0' ? xstrdup(r->qid) : NULL;
	ev->join = how;
	if (r->outbound && r->outcome != MAILLOG_NO_OUTCOME)
		ml_attempt(m, r, ev);
	if (s != NULL && s->hl_code != 0 &&
	    (why = maillog_reason(ev->text, ev->text_len)) != NULL) {
		ev->log_code = s->hl_code;
		ev->log_reply_ts = s->hl_ts;
		ev->log_cause = why->cause;
		ev->log_says = why->says;
		ev->log_diag_cause = s->hl_cause;
	}
	m->emit(m->arg, ev);
}

static void
ml_pop(struct maillog *m)
{
	struct ml_pending *pl = &m->pend[m->pend_head];

	ml_process(m, pl);
	free(pl->line);
	pl->line = NULL;
	m->pend_head = (m->pend_head + 1) % m->pend_cap;
	m->pend_n--;
}

static void
ml_line(struct maillog *m, const char *s, size_t len, time_t ref)
{
	struct ml_pending *pl;
	struct maillog_rec r;

	if (len > 0 && s[len - 1] == '\r')
		len--;
	if (len == 0)
		return;
	if (maillog_parse(s, len, ref, &r) != 0) {
		m->unparsed++;
		return;
	}
	m->lines++;
	if (m->pend_n == MAILLOG_PENDING_MAX)
		ml_pop(m); /* the oldest line is joined now */
	if (m->pend_n == m->pend_cap) {
		/* Grow the ring, unwrapping it. */
		size_t cap = m->pend_cap == 0 ? 64 : m->pend_cap * 2, k;
		struct ml_pending *n;

		if (cap > MAILLOG_PENDING_MAX)
			cap = MAILLOG_PENDING_MAX;
		n = xcalloc(cap, sizeof *n);
		for (k = 0; k < m->pend_n; k++)
			n[k] = m->pend[(m->pend_head + k) % m->pend_cap];
		free(m->pend);
		m->pend = n;
		m->pend_cap = cap;
		m->pend_head = 0;
	}
	pl = &m->pend[(m->pend_head + m->pend_n) % m->pend_cap];
	pl->rec = r;
	pl->line = xmemdup0(s, len);
	pl->len = len;
	m->pend_n++;
}

void
maillog_feed(
    struct maillog *m, const char *buf, size_t len, const struct timeval *ref)
{
	const char *lf;
	size_t seg;

	while (len > 0) {
		lf = memchr(buf, '\n', len);
		seg = lf != NULL ? (size_t)(lf - buf) : len;
		if (!m->skipping) {
			if (m->part_len + seg > sizeof m->part) {
				char detail[80];

				m->skipping = true;
				m->too_long++;
				snprintf(detail, sizeof detail,
				    "--maillog line over %d bytes, dropped",
				    MAILLOG_LINE_MAX);
				m->emit(
				    m->arg, event_new_anomaly(ref,
						EV_ANOM_LINE_TOO_LONG, detail));
			} else {
				memcpy(m->part + m->part_len, buf, seg);
				m->part_len += seg;
			}
		}
		if (lf == NULL)
			break;
		if (!m->skipping)
			ml_line(m, m->part, m->part_len, ref->tv_sec);
		m->part_len = 0;
		m->skipping = false;
		buf += seg + 1;
		len -= seg + 1;
	}
}

int
maillog_open(struct maillog *m, const char *path, bool follow, char **cause)
{
	struct stat st;

	*cause = NULL;
	m->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (m->fd < 0) {
		*cause = xstrdup(strerror(errno));
		return -1;
	}
	if (fstat(m->fd, &st) != 0) {
		*cause = xstrdup(strerror(errno));
		close(m->fd);
		m->fd = -1;
		return -1;
	}
	m->dev = st.st_dev;
	m->ino = st.st_ino;
	m->path = xstrdup(path);
	m->follow = follow;
	if (follow && S_ISREG(st.st_mode)) {
		m->off = lseek(m->fd, 0, SEEK_END);
		if (m->off < 0)
			m->off = 0;
	}
	return 0;
}

/* Read fd to its end (at most max bytes). */
static void
ml_read(struct maillog *m, const struct timeval *ref, size_t max)
{
	char buf[65536];
	ssize_t n;
	size_t total = 0;

	while (total < max) {
		n = read(m->fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		m->off += n;
		total += (size_t)n;
		maillog_feed(m, buf, (size_t)n, ref);
	}
}

void
maillog_poll(struct maillog *m, const struct timeval *ref)
{
	struct stat st, cur;
	int fd;

	if (m->path == NULL)
		return;
	if (!m->follow) {
		if (m->read_once || m->fd < 0)
			return;
		m->read_once = true;
		ml_read(m, ref, SIZE_MAX);
		if (m->part_len > 0 && !m->skipping)
			ml_line(m, m->part, m->part_len, ref->tv_sec);
		m->part_len = 0;
		return;
	}
	if (m->fd >= 0 && stat(m->path, &st) == 0 &&
	    (st.st_ino != m->ino || st.st_dev != m->dev)) {
		/* Rotated: finish the old file, then the new one from its
		   start. */
		ml_read(m, ref, ML_READ_MAX);
		close(m->fd);
		m->fd = -1;
	}
	if (m->fd < 0) {
		fd = open(m->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) != 0) {
			if (fd >= 0)
				close(fd);
			return;
		}
		m->fd = fd;
		m->dev = st.st_dev;
		m->ino = st.st_ino;
		m->off = 0;
		m->part_len = 0;
		m->skipping = false;
	}
	if (fstat(m->fd, &cur) == 0 && S_ISREG(cur.st_mode) &&
	    cur.st_size < m->off) {
		/* Truncated: read it again from the start. */
		if (lseek(m->fd, 0, SEEK_SET) == 0) {
			m->off = 0;
			m->part_len = 0;
			m->skipping = false;
		}
	}
	ml_read(m, ref, ML_READ_MAX);
}

void
maillog_advance(struct maillog *m, const struct timeval *now)
{
	double t = ml_secs(now);

	while (m->pend_n > 0 &&
	       ml_secs(&m->pend[m->pend_head].rec.ts) + m->skew < t)
		ml_pop(m);
}

void
maillog_finish(struct maillog *m)
{
	struct timeval now;

	if (!m->follow && !m->read_once && m->path != NULL) {
		gettimeofday(&now, NULL);
		maillog_poll(m, &now);
	}
	while (m->pend_n > 0)
		ml_pop(m);
}

void
maillog_counts(const struct maillog *m, uint64_t *lines, uint64_t *joined,
    uint64_t *too_long)
{
	*lines = m->lines;
	*joined = m->joined;
	*too_long = m->too_long;
}
