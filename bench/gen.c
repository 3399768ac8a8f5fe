/*
 * gen: write a large synthetic SMTP capture for the benchmark.
 *
 * usage: gen [-d] [-b MIN:MAX] [-g PERMILLE] [-s SEED] [-c CONCURRENT]
 *            [-S SERVERS] OUTFILE [SIZE]
 *
 * SIZE takes a K, M or G suffix (powers of 1024); the default is 1G.  The
 * file is Ethernet/IPv4/TCP, thousands of sessions interleaved the way a
 * busy MX sees them: handshake, greeting, EHLO with a multi-line reply,
 * MAIL, RCPTs (some refused with 452 4.5.3 from the 4th on, some sessions
 * cut with 421), DATA with a 20-200 KB body split into 1448-byte segments,
 * the final dot, "250 ... queued as", QUIT/221 and FIN.  A small share of
 * segments is swapped or sent twice so that the reassembly's out-of-order
 * and retransmission paths are on the measured path too.
 *
 * Memory stays small whatever SIZE is: the bodies are slices of one shared
 * text block, so a session only owns its short command and reply lines.
 * The output is deterministic for a given seed.
 *
 * -d: the dialogue-heavy shape of a busy inbound MX: short sessions, 10 %
 * refused at the greeting with 421, a third of the recipients refused
 * (550 unknown user, or 450 greylisted: the client then quits without
 * DATA when none was accepted), bodies of 2-16 KB.  About 90,000 sessions
 * per GiB, a mean frame of about 300 bytes.
 *
 * -b MIN:MAX: with -d, bodies of MIN to MAX KiB instead (at most 200):
 * -b 12:40 gives about 51,000 sessions and 2 million frames per GiB, a
 * mean frame of about 530 bytes.
 *
 * -g PERMILLE: with -d, that many sessions per thousand are refused at
 * the greeting with 421 instead of 100: -g 900 is an outage, a storm of
 * 421 "too many connections" (about 400,000 sessions per GiB).
 *
 * -S SERVERS: the sessions go to that many servers, 198.19.0.1 up (16 by
 * default), round robin.
 */

#include <errno.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MSS		1448
#define SNAPLEN		65535
#define BODYTEXT_LINES	4096
#define LINE_LEN	74		/* 72 characters + CRLF */
#define MAX_STEPS	64
#define PKT_USEC	20		/* capture clock step per packet */

/* Shares, in per-mille, of the unusual behaviours. */
#define P_GREET421	20		/* 421 instead of the greeting */
#define P_MID421	10		/* 421 after the RCPTs */
#define P_LIMIT452	120		/* recipient limit: 452 4.5.3 from 4th */
#define P_PIPELINE	300		/* MAIL/RCPT/DATA sent in one go */
#define P_TWO_MSGS	100		/* a second message in the session */
#define P_SWAP		10		/* two segments sent out of order */
#define P_RETX		5		/* a segment sent twice */

/* -d: the dialogue-heavy shape (see the top of this file). */
static int	 dialogue;
/* -d: body sizes (-b). */
static uint32_t	 body_min = 2 * 1024, body_max = 16 * 1024;
/* Servers the sessions go to, 198.19.0.1 up (16 by default; -S). */
static unsigned long nservers = 16;
#define D_GREET421	100		/* per mille, instead of P_GREET421 */
/* -d: sessions refused at the greeting with 421, per mille (-g). */
static unsigned	 greet421 = D_GREET421;
#define D_REJECT	250		/* a RCPT refused: 550 user unknown */
#define D_GREY		100		/* a RCPT refused: 450 greylisted */

enum dir { C2S, S2C };

struct step {
	enum dir	 dir;
	char		*text;		/* owned: commands or replies */
	size_t		 textlen;
	size_t		 body_off;	/* slice of the shared body text */
	size_t		 body_len;
	const char	*tail;		/* static: ".\r\n" after a body */
	size_t		 taillen;
};

enum sess_state { S_HANDSHAKE, S_STEPS, S_CLOSE, S_DONE };

struct session {
	uint32_t	 cip, sip;
	uint16_t	 cport, sport;
	uint32_t	 seq[2];	/* next sequence number per direction */
	enum sess_state	 state;
	struct step	 steps[MAX_STEPS];
	int		 nsteps;
	int		 cur;		/* current step */
	size_t		 pos;		/* bytes of the current step sent */
	enum dir	 closer;	/* who sends the first FIN */
	uint64_t	 estimate;	/* file bytes this session still owes */
};

static pcap_dumper_t	*dumper;
static uint64_t		 written;	/* file bytes so far */
static uint64_t		 npackets;
static uint64_t		 clock_us = 1700000000ULL * 1000000ULL;
static uint16_t		 ip_id;
static uint64_t		 rng_state;
static char		*bodytext;
static size_t		 bodytext_len;
static uint64_t		 nsessions;

static uint64_t
rnd(void)
{
	/* xorshift64*: good enough and reproducible everywhere. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static uint32_t
rnd_range(uint32_t lo, uint32_t hi)
{
	return lo + (uint32_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static int
chance(unsigned permille)
{
	return rnd() % 1000 < permille;
}

static void *
xcalloc(size_t n, size_t sz)
{
	void	*p;

	if ((p = calloc(n, sz)) == NULL) {
		perror("gen: calloc");
		exit(1);
	}
	return p;
}

/*
 * The shared body: fixed-length lines of letters so that any slice that
 * starts and ends on a multiple of LINE_LEN is a valid message body.  A
 * few lines start with ".." (dot-stuffed) to keep the end-of-data scanner
 * honest.
 */
static void
make_bodytext(void)
{
	static const char alpha[] =
	    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789";
	size_t	 i, j;
	char	*p;

	bodytext_len = (size_t)BODYTEXT_LINES * LINE_LEN;
	bodytext = xcalloc(1, bodytext_len);
	for (i = 0; i < BODYTEXT_LINES; i++) {
		p = bodytext + i * LINE_LEN;
		for (j = 0; j < LINE_LEN - 2; j++)
			p[j] = alpha[rnd() % (sizeof alpha - 1)];
		if (i % 211 == 17)
			p[0] = p[1] = '.';
		p[LINE_LEN - 2] = '\r';
		p[LINE_LEN - 1] = '\n';
	}
}

static void
add_step(struct session *s, enum dir d, const char *fmt, ...)
{
	struct step	*st;
	va_list		 ap;
	char		 buf[4096];
	int		 n;

	if (s->nsteps >= MAX_STEPS) {
		fprintf(stderr, "gen: too many steps\n");
		exit(1);
	}
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof buf) {
		fprintf(stderr, "gen: step too long\n");
		exit(1);
	}
	st = &s->steps[s->nsteps++];
	memset(st, 0, sizeof *st);
	st->dir = d;
	st->text = xcalloc(1, (size_t)n + 1);
	memcpy(st->text, buf, (size_t)n);
	st->textlen = (size_t)n;
}

/* Append a body slice and the final dot to the last step. */
static void
add_body(struct session *s, size_t bytes)
{
	struct step	*st = &s->steps[s->nsteps - 1];
	size_t		 lines, first;

	lines = bytes / LINE_LEN;
	if (lines < 1)
		lines = 1;
	if (lines > BODYTEXT_LINES)
		lines = BODYTEXT_LINES;
	first = rnd() % (BODYTEXT_LINES - lines + 1);
	st->body_off = first * LINE_LEN;
	st->body_len = lines * LINE_LEN;
	st->tail = ".\r\n";
	st->taillen = 3;
}

static size_t
step_len(const struct step *st)
{
	return st->textlen + st->body_len + st->taillen;
}

/* Copy len bytes of the step's stream at off into out. */
static void
step_bytes(const struct step *st, size_t off, size_t len, uint8_t *out)
{
	size_t	 n;

	while (len > 0) {
		if (off < st->textlen) {
			n = st->textlen - off;
			if (n > len)
				n = len;
			memcpy(out, st->text + off, n);
		} else if (off < st->textlen + st->body_len) {
			n = st->textlen + st->body_len - off;
			if (n > len)
				n = len;
			memcpy(out, bodytext + st->body_off +
			    (off - st->textlen), n);
		} else {
			n = step_len(st) - off;
			if (n > len)
				n = len;
			memcpy(out, st->tail +
			    (off - st->textlen - st->body_len), n);
		}
		out += n;
		off += n;
		len -= n;
	}
}

static uint16_t
cksum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t
cksum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t	 i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

#define TH_FIN	0x01
#define TH_SYN	0x02
#define TH_RST	0x04
#define TH_PSH	0x08
#define TH_ACK	0x10

/*
 * Write one frame from direction d of session s: sequence number seq,
 * flags, payload.  ack is the other direction's next sequence number.
 */
static void
emit(const struct session *s, enum dir d, uint32_t seq, uint8_t flags,
    const uint8_t *payload, size_t plen)
{
	static uint8_t		 frame[14 + 20 + 24 + MSS];
	struct pcap_pkthdr	 h;
	uint8_t			*ip = frame + 14, *tcp;
	uint32_t		 src, dst, sum;
	uint16_t		 sp, dp;
	size_t			 thl, len;

	src = d == C2S ? s->cip : s->sip;
	dst = d == C2S ? s->sip : s->cip;
	sp = d == C2S ? s->cport : s->sport;
	dp = d == C2S ? s->sport : s->cport;
	thl = (flags & TH_SYN) ? 24 : 20;

	/* Ethernet: locally administered MACs, one per side. */
	memcpy(frame, d == C2S ? "\x02\x00\x00\x00\x00\x02" :
	    "\x02\x00\x00\x00\x00\x01", 6);
	memcpy(frame + 6, d == C2S ? "\x02\x00\x00\x00\x00\x01" :
	    "\x02\x00\x00\x00\x00\x02", 6);
	frame[12] = 0x08;
	frame[13] = 0x00;

	len = 20 + thl + plen;
	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, (uint16_t)len);
	put16(ip + 4, ip_id++);
	put16(ip + 6, 0x4000);		/* DF */
	ip[8] = 64;
	ip[9] = 6;
	put16(ip + 10, 0);
	put32(ip + 12, src);
	put32(ip + 16, dst);
	put16(ip + 10, cksum_fold(cksum_add(0, ip, 20)));

	tcp = ip + 20;
	put16(tcp, sp);
	put16(tcp + 2, dp);
	put32(tcp + 4, seq);
	put32(tcp + 8, (flags & TH_ACK) ? s->seq[d == C2S ? S2C : C2S] : 0);
	tcp[12] = (uint8_t)((thl / 4) << 4);
	tcp[13] = flags;
	put16(tcp + 14, 65535);
	put16(tcp + 16, 0);
	put16(tcp + 18, 0);
	if (thl == 24) {
		tcp[20] = 2;		/* MSS option */
		tcp[21] = 4;
		put16(tcp + 22, MSS);
	}
	if (plen > 0)
		memcpy(tcp + thl, payload, plen);

	/* TCP checksum over the pseudo-header, header and payload. */
	sum = cksum_add(0, ip + 12, 8);
	sum += 6 + (uint32_t)(thl + plen);
	sum = cksum_add(sum, tcp, thl + plen);
	put16(tcp + 16, cksum_fold(sum));

	clock_us += rnd_range(PKT_USEC / 2, PKT_USEC * 3 / 2);
	h.ts.tv_sec = (time_t)(clock_us / 1000000);
	h.ts.tv_usec = (suseconds_t)(clock_us % 1000000);
	h.caplen = h.len = (uint32_t)(14 + len);
	pcap_dump((u_char *)dumper, &h, frame);
	written += 16 + h.caplen;
	npackets++;
}

static void
queue_id(char *buf, size_t sz)
{
	static const char set[] = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz";
	size_t	 i;

	for (i = 0; i + 1 < sz; i++)
		buf[i] = set[rnd() % (sizeof set - 1)];
	buf[sz - 1] = '\0';
}

/*
 * -d: an envelope whose recipients are often refused; DATA only when one
 * was accepted, with a short body.  Returns 0 when the session ends here.
 */
static int
script_dialogue(struct session *s, unsigned nrcpt, unsigned mno)
{
	char		 qid[13];
	unsigned	 i, ok = 0, hostid = (unsigned)nsessions, u;

	add_step(s, C2S, "MAIL FROM:<sender%u.%u@example.org>\r\n", hostid,
	    mno);
	add_step(s, S2C, "250 2.1.0 Ok\r\n");
	for (i = 1; i <= nrcpt; i++) {
		u = rnd_range(1, 99999);
		add_step(s, C2S, "RCPT TO:<user%u@example.net>\r\n", u);
		if (chance(D_REJECT))
			add_step(s, S2C, "550 5.1.1 <user%u@example.net>: "
			    "Recipient address rejected: User unknown in "
			    "virtual mailbox table\r\n", u);
		else if (chance(D_GREY))
			add_step(s, S2C, "450 4.2.0 <user%u@example.net>: "
			    "Recipient address rejected: Greylisted, see "
			    "http://postgrey.schweikert.ch/help/example.net."
			    "html\r\n", u);
		else {
			add_step(s, S2C, "250 2.1.5 Ok\r\n");
			ok++;
		}
	}
	if (ok == 0)
		return 0;
	add_step(s, C2S, "DATA\r\n");
	add_step(s, S2C, "354 End data with <CR><LF>.<CR><LF>\r\n");
	add_step(s, C2S, "From: <sender%u.%u@example.org>\r\n"
	    "To: <user@example.net>\r\nSubject: note %u\r\n\r\n", hostid,
	    mno, mno);
	add_body(s, rnd_range(body_min, body_max));
	queue_id(qid, sizeof qid);
	add_step(s, S2C, "250 2.0.0 Ok: queued as %s\r\n", qid);
	return 1;
}

/* Script one message transaction: envelope, DATA, body, final reply. */
static int
script_message(struct session *s, int pipelined, int limit452, int mid421,
    unsigned mno)
{
	char		 cmds[2048], reps[2048], qid[13];
	size_t		 cl = 0, rl = 0;
	unsigned	 i, nrcpt, hostid = (unsigned)nsessions;

	nrcpt = rnd_range(1, limit452 ? 8 : 5);
	if (limit452 && nrcpt < 4)
		nrcpt = 4;
	if (dialogue && !pipelined && !limit452 && !mid421)
		return script_dialogue(s, nrcpt, mno);

#define CMD(...) (cl += (size_t)snprintf(cmds + cl, sizeof cmds - cl, __VA_ARGS__))
#define REP(...) (rl += (size_t)snprintf(reps + rl, sizeof reps - rl, __VA_ARGS__))
	if (pipelined) {
		CMD("MAIL FROM:<sender%u.%u@example.org> SIZE=%u\r\n",
		    hostid, mno, rnd_range(20000, 200000));
		REP("250 2.1.0 Ok\r\n");
		for (i = 1; i <= nrcpt; i++) {
			CMD("RCPT TO:<user%u@example.net>\r\n", rnd_range(1, 99999));
			if (limit452 && i >= 4)
				REP("452 4.5.3 Error: too many recipients\r\n");
			else
				REP("250 2.1.5 Ok\r\n");
		}
		CMD("DATA\r\n");
		REP("354 End data with <CR><LF>.<CR><LF>\r\n");
		add_step(s, C2S, "%s", cmds);
		add_step(s, S2C, "%s", reps);
	} else {
		add_step(s, C2S, "MAIL FROM:<sender%u.%u@example.org>\r\n",
		    hostid, mno);
		add_step(s, S2C, "250 2.1.0 Ok\r\n");
		for (i = 1; i <= nrcpt; i++) {
			add_step(s, C2S, "RCPT TO:<user%u@example.net>\r\n",
			    rnd_range(1, 99999));
			if (limit452 && i >= 4)
				add_step(s, S2C,
				    "452 4.5.3 Error: too many recipients\r\n");
			else
				add_step(s, S2C, "250 2.1.5 Ok\r\n");
		}
		if (mid421) {
			add_step(s, S2C, "421 4.4.2 mx%u.example.net Error: "
			    "timeout exceeded\r\n", s->sip & 0xff);
			s->closer = S2C;
			return 0;
		}
		add_step(s, C2S, "DATA\r\n");
		add_step(s, S2C, "354 End data with <CR><LF>.<CR><LF>\r\n");
	}
#undef CMD
#undef REP
	add_step(s, C2S, "Received: from client%u.example.org\r\n"
	    "From: <sender%u.%u@example.org>\r\nTo: <user@example.net>\r\n"
	    "Subject: benchmark message %u\r\nMessage-ID: <%u.%u@example.org>\r\n"
	    "\r\n", hostid, hostid, mno, mno, hostid, mno);
	if (dialogue)
		add_body(s, rnd_range(body_min, body_max));
	else
		add_body(s, rnd_range(20 * 1024, 200 * 1024));
	queue_id(qid, sizeof qid);
	add_step(s, S2C, "250 2.0.0 Ok: queued as %s\r\n", qid);
	return 1;
}

static void
session_new(struct session *s)
{
	uint64_t	 i = nsessions++;
	uint64_t	 payload = 0;
	int		 k, pipelined, limit452;

	memset(s, 0, sizeof *s);
	/* 198.18.0.0/15 is the benchmarking range (RFC 2544). */
	s->cip = 0xc6120000u | (uint32_t)(1 + i % 65533);
	s->sip = 0xc6130000u | (uint32_t)(1 + i % nservers);
	s->cport = (uint16_t)(1024 + (i / 65533 * 7919 + i) % 64000);
	s->sport = 25;
	s->seq[C2S] = (uint32_t)rnd();
	s->seq[S2C] = (uint32_t)rnd();
	s->state = S_HANDSHAKE;
	s->closer = C2S;

	if (chance(dialogue ? greet421 : P_GREET421)) {
		add_step(s, S2C, "421 4.7.0 mx%u.example.net Error: too many "
		    "connections from 198.18.%u.%u\r\n", s->sip & 0xff,
		    (s->cip >> 8) & 0xff, s->cip & 0xff);
		s->closer = S2C;
		goto done;
	}
	add_step(s, S2C, "220 mx%u.example.net ESMTP Postfix\r\n",
	    s->sip & 0xff);
	add_step(s, C2S, "EHLO client%" PRIu64 ".example.org\r\n", i);
	add_step(s, S2C, "250-mx%u.example.net\r\n250-PIPELINING\r\n"
	    "250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 DSN\r\n",
	    s->sip & 0xff);
	pipelined = chance(P_PIPELINE);
	limit452 = chance(P_LIMIT452);
	if (!script_message(s, pipelined, limit452,
	    !pipelined && chance(P_MID421), 1)) {
		if (dialogue && s->closer == C2S) {
			/* Nobody was accepted: the client gives up politely. */
			add_step(s, C2S, "QUIT\r\n");
			add_step(s, S2C, "221 2.0.0 Bye\r\n");
		}
		goto done;
	}
	if (chance(P_TWO_MSGS) &&
	    !script_message(s, pipelined, 0, 0, 2))
		goto done;
	add_step(s, C2S, "QUIT\r\n");
	add_step(s, S2C, "221 2.0.0 Bye\r\n");
	s->closer = chance(500) ? S2C : C2S;
done:
	for (k = 0; k < s->nsteps; k++)
		payload += step_len(&s->steps[k]);
	/* Frames: data segments, about as many ACKs, handshake and close. */
	s->estimate = payload + (payload / MSS + s->nsteps) * 2 * (16 + 54) +
	    8 * (16 + 58);
}

static void
session_free(struct session *s)
{
	int	 k;

	for (k = 0; k < s->nsteps; k++)
		free(s->steps[k].text);
	s->nsteps = 0;
}

/*
 * One burst of the session: the handshake, or one to four segments of the
 * current step followed by the receiver's ACK, or the close.  Bursts of
 * all sessions interleave, which gives the flow table thousands of live
 * flows with reassembly in progress.
 */
static void
session_burst(struct session *s)
{
	struct step	*st;
	uint8_t		 seg[4][MSS];
	uint32_t	 segseq[4];
	size_t		 seglen[4], left;
	uint64_t	 before = written;
	int		 n, k, last;
	enum dir	 d, o;

	switch (s->state) {
	case S_HANDSHAKE:
		emit(s, C2S, s->seq[C2S], TH_SYN, NULL, 0);
		s->seq[C2S]++;
		emit(s, S2C, s->seq[S2C], TH_SYN | TH_ACK, NULL, 0);
		s->seq[S2C]++;
		emit(s, C2S, s->seq[C2S], TH_ACK, NULL, 0);
		s->state = S_STEPS;
		break;
	case S_STEPS:
		st = &s->steps[s->cur];
		d = st->dir;
		o = d == C2S ? S2C : C2S;
		n = (int)rnd_range(1, 4);
		for (k = 0; k < n && s->pos < step_len(st); k++) {
			left = step_len(st) - s->pos;
			seglen[k] = left < MSS ? left : MSS;
			step_bytes(st, s->pos, seglen[k], seg[k]);
			segseq[k] = s->seq[d] + (uint32_t)s->pos;
			s->pos += seglen[k];
		}
		n = k;
		last = s->pos == step_len(st);
		if (n >= 2 && chance(P_SWAP)) {
			/* Second segment overtakes the first. */
			emit(s, d, segseq[1], TH_ACK, seg[1], seglen[1]);
			emit(s, d, segseq[0], TH_ACK, seg[0], seglen[0]);
			for (k = 2; k < n; k++)
				emit(s, d, segseq[k], TH_ACK |
				    (last && k == n - 1 ? TH_PSH : 0),
				    seg[k], seglen[k]);
		} else {
			for (k = 0; k < n; k++)
				emit(s, d, segseq[k], TH_ACK |
				    (last && k == n - 1 ? TH_PSH : 0),
				    seg[k], seglen[k]);
		}
		if (chance(P_RETX))
			emit(s, d, segseq[0], TH_ACK, seg[0], seglen[0]);
		if (last) {
			s->seq[d] += (uint32_t)step_len(st);
			s->cur++;
			s->pos = 0;
			if (s->cur == s->nsteps)
				s->state = S_CLOSE;
		}
		/* The receiver acknowledges what it has (ack = seq[d]). */
		if (last || n > 1) {
			uint32_t save = s->seq[d];

			s->seq[d] = segseq[n - 1] + (uint32_t)seglen[n - 1];
			emit(s, o, s->seq[o], TH_ACK, NULL, 0);
			s->seq[d] = save;
		}
		break;
	case S_CLOSE:
		d = s->closer;
		o = d == C2S ? S2C : C2S;
		emit(s, d, s->seq[d], TH_FIN | TH_ACK, NULL, 0);
		s->seq[d]++;
		emit(s, o, s->seq[o], TH_FIN | TH_ACK, NULL, 0);
		s->seq[o]++;
		emit(s, d, s->seq[d], TH_ACK, NULL, 0);
		s->state = S_DONE;
		break;
	case S_DONE:
		break;
	}
	left = (size_t)(written - before);
	s->estimate = s->estimate > left ? s->estimate - left : 0;
}

static uint64_t
parse_size(const char *str)
{
	char		*end;
	uint64_t	 v;

	errno = 0;
	v = strtoull(str, &end, 10);
	if (errno != 0 || end == str)
		return 0;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	return *end == '\0' ? v : 0;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: gen [-d] [-b MIN:MAX] [-g PERMILLE] [-s SEED] "
	    "[-c CONCURRENT] [-S SERVERS] OUTFILE [SIZE]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct session	*act;
	pcap_t		*dead;
	uint64_t	 target = 1ULL << 30, owed = 0;
	unsigned long	 conc = 5000;
	size_t		 nact = 0, i;
	int		 ch;

	rng_state = 0x5eed5eed12345678ULL;
	while ((ch = getopt(argc, argv, "db:g:s:c:S:")) != -1) {
		switch (ch) {
		case 'd':
			dialogue = 1;
			break;
		case 'b': {
			unsigned long lo, hi;
			char c;

			if (sscanf(optarg, "%lu:%lu%c", &lo, &hi, &c) != 2 ||
			    lo == 0 || lo > hi || hi > 200)
				usage();
			body_min = lo * 1024;
			body_max = hi * 1024;
			break;
		}
		case 'g':
			greet421 = (unsigned)strtoul(optarg, NULL, 10);
			if (greet421 > 1000)
				usage();
			break;
		case 's':
			rng_state ^= strtoull(optarg, NULL, 0) *
			    0x9e3779b97f4a7c15ULL;
			if (rng_state == 0)
				rng_state = 1;
			break;
		case 'S':
			nservers = strtoul(optarg, NULL, 10);
			if (nservers == 0 || nservers > 65533)
				usage();
			break;
		case 'c':
			conc = strtoul(optarg, NULL, 10);
			if (conc == 0 || conc > 1000000)
				usage();
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc > 2)
		usage();
	if (argc == 2 && (target = parse_size(argv[1])) == 0)
		usage();

	make_bodytext();
	if ((dead = pcap_open_dead(DLT_EN10MB, SNAPLEN)) == NULL) {
		fprintf(stderr, "gen: pcap_open_dead failed\n");
		return 1;
	}
	if ((dumper = pcap_dump_open(dead, argv[0])) == NULL) {
		fprintf(stderr, "gen: %s: %s\n", argv[0], pcap_geterr(dead));
		return 1;
	}
	written = 24;
	act = xcalloc(conc, sizeof *act);

	/*
	 * Start sessions while what is written plus what the live sessions
	 * still owe stays under the target, so that every session is
	 * complete and the file ends close to SIZE.
	 */
	for (;;) {
		while (nact < conc && written + owed < target) {
			session_new(&act[nact]);
			owed += act[nact].estimate;
			nact++;
		}
		if (nact == 0)
			break;
		i = (size_t)(rnd() % nact);
		owed -= act[i].estimate;
		session_burst(&act[i]);
		owed += act[i].estimate;
		if (act[i].state == S_DONE) {
			owed -= act[i].estimate;
			session_free(&act[i]);
			act[i] = act[--nact];
		}
	}
	if (pcap_dump_flush(dumper) == -1) {
		fprintf(stderr, "gen: %s: write error\n", argv[0]);
		return 1;
	}
	pcap_dump_close(dumper);
	pcap_close(dead);
	fprintf(stderr, "gen: %s: %" PRIu64 " bytes, %" PRIu64 " packets, %"
	    PRIu64 " sessions\n", argv[0], written, npackets, nsessions);
	free(act);
	free(bodytext);
	return 0;
}
