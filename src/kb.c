/*
 * kb.c: the knowledge base's fixed tables (see kb.h).  Each concept is
 * defined here once; the rules parser validates against these tables, the
 * engine fills and names from them, and tests/unit/test_kb.c walks them.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "kb.h"

/* The cause ids are part of the JSON output (diagnosis.cause, CAUSES in
   doc/smtpscope.1): fixed, added to but never renamed. */
const struct kb_cause kb_causes[] = {
    {"shutdown", "the server is shutting down or restarting"},
    {"overload", "the server is overloaded"},
    {"conn-limit", "too many connections from this client at once"},
    {"conn-rate", "too many new connections from this client in a short time"},
    {"msg-rate", "too many messages (or too much volume) in a short time"},
    {"rcpt-limit", "too many recipients in one transaction"},
    {"rcpt-rate", "too many recipients over a period of time"},
    {"msgs-per-conn", "too many messages on one connection"},
    {"reputation", "the sending IP's or domain's reputation"},
    {"content", "the message's content"},
    {"sender-auth", "sender authentication (SPF, DKIM, DMARC)"},
    {"rdns", "the client's reverse DNS (PTR record)"},
    {"tls-required", "TLS is required, or TLS failed"},
    {"policy", "a local policy of the receiving site"},
    {"greylist", "greylisting: a first attempt is deferred on purpose"},
    {"idle-timeout", "the session was silent too long"},
    {"too-many-errors", "too many errors in this session"},
    {"protocol", "a protocol error (sequence, syntax, pipelining)"},
    {"storage", "the server is short of disk, queue or spool space"},
    {"mailbox-full", "the recipient's mailbox is full"},
    {"size", "the message is too large"},
    {"temporary", "an unspecified temporary fault at the server"},
    {"unknown", "the cause is not stated"},
    /* Beyond the causes of the 421/452 study: a refusal of the address
       itself. */
    {"bad-address", "the address does not exist or is not valid"},
};
const size_t kb_ncauses = sizeof kb_causes / sizeof kb_causes[0];

int
kb_cause_index(const char *id)
{
	/* The diagnosis asks for the same few ids on every reply: remember
	   where each string was found (checked again, as a string at the
	   same address may have changed since). */
	static _Thread_local struct {
		const char *id;
		size_t i;
	} memo[16];
	size_t i, h = (size_t)((uintptr_t)id >> 3) % 16;

	if (memo[h].id == id && strcmp(kb_causes[memo[h].i].id, id) == 0)
		return (int)memo[h].i;
	for (i = 0; i < kb_ncauses; i++) {
		if (strcmp(kb_causes[i].id, id) == 0) {
			memo[h].id = id;
			memo[h].i = i;
			return (int)i;
		}
	}
	return -1;
}

/*
 * Tried in order, first match wins: a more specific product comes before
 * the one it contains (Microsoft 365 before Exchange, postscreen before
 * Postfix).
 */
const struct kb_server kb_servers[] = {
    {"microsoft365", "Microsoft 365 (Exchange Online)",
	"outlook\\.com|protection\\.outlook|\\(AS[0-9]{5,}\\)", "exchange"},
    {"exchange", "Microsoft Exchange",
	"Microsoft ESMTP MAIL Service|Microsoft Exchange", NULL},
    {"gmail", "Gmail", "mx\\.google\\.com|gsmtp|smtp\\.gmail\\.com", NULL},
    {"yahoo", "Yahoo", "yahoo|yahoodns|\\[TS[0-9]+\\]", NULL},
    {"icloud", "Apple iCloud", "icloud\\.com|me\\.com|mac\\.com", NULL},
    {"godaddy", "GoDaddy", "secureserver\\.net|IB[0-9]{3}", NULL},
    {"mimecast", "Mimecast", "mimecast", NULL},
    {"proofpoint", "Proofpoint", "pphosted\\.com|proofpoint", NULL},
    {"barracuda", "Barracuda", "barracuda", NULL},
    {"cisco", "Cisco Secure Email (IronPort)", "ironport", NULL},
    {"postscreen", "Postfix postscreen", "postscreen", "postfix"},
    {"postfix", "Postfix", "ESMTP Postfix|\\(Postfix\\)|Postfix", NULL},
    {"exim", "Exim", "ESMTP Exim|Exim [0-9]", NULL},
    {"sendmail", "Sendmail", "Sendmail", NULL},
    {"opensmtpd", "OpenSMTPD", "OpenSMTPD", NULL},
    {"haraka", "Haraka", "Haraka", NULL},
    {"zimbra", "Zimbra", "Zimbra", NULL},
    {"communigate", "CommuniGate Pro", "CommuniGate", NULL},
    {"mdaemon", "MDaemon", "MDaemon", NULL},
    {"stalwart", "Stalwart", "Stalwart", NULL},
    {"aiosmtpd", "aiosmtpd", "aiosmtpd|Python SMTP", NULL},
    {"dovecot", "Dovecot", "Dovecot", NULL},
    {"qmail", "qmail", "qmail", NULL},
};
const size_t kb_nservers = sizeof kb_servers / sizeof kb_servers[0];

int
kb_server_index(const char *id)
{
	size_t i;

	for (i = 0; i < kb_nservers; i++) {
		if (strcasecmp(kb_servers[i].id, id) == 0)
			return (int)i;
	}
	return -1;
}

/* The product an id belongs to: its family, or itself. */
static const char *
kb_server_family(const char *id)
{
	int i = kb_server_index(id);

	if (i >= 0 && kb_servers[i].family != NULL)
		return kb_servers[i].family;
	return id;
}

bool
kb_server_fits(const char *vendor, const char *id)
{
	return strcasecmp(vendor, id) == 0 ||
	       strcasecmp(kb_server_family(vendor), kb_server_family(id)) == 0;
}

const struct kb_placeholder kb_placeholders[KB_PH_COUNT] = {
    {KB_PH_CODE, "code", "", "the reply code"},
    {KB_PH_ENHANCED, "enhanced", "none",
	"the enhanced status code (unknown when the reply has none)"},
    {KB_PH_ANSWERS, "answers", "the command",
	"the verb of the command answered (RCPT)"},
    {KB_PH_PHASE, "phase", "the command",
	"the command answered in words (\"the 4th RCPT TO\")"},
    {KB_PH_RCPT_SEEN, "rcpt_seen", "some",
	"RCPT commands answered in this transaction, this one included"},
    {KB_PH_RCPT_ACCEPTED, "rcpt_accepted", "some",
	"recipients accepted before this reply (known when above zero)"},
    {KB_PH_RCPT_REJECTED, "rcpt_rejected", "some",
	"recipients refused before this reply (known when above zero)"},
    {KB_PH_NO_RCPT_ACCEPTED, "no_rcpt_accepted", "",
	"shows nothing; known only in a capture where no recipient of "
	"the transaction was accepted before this reply"},
    {KB_PH_ORDINAL_RCPT, "ordinal_rcpt", "a later",
	"which RCPT this is (\"4th\")"},
    {KB_PH_MESSAGES, "messages", "some",
	"messages completed on this connection (known when above zero)"},
    {KB_PH_ORDINAL_MESSAGE, "ordinal_message", "a further",
	"which message of the connection this is (\"3rd\")"},
    {KB_PH_MAIL_SIZE, "mail_size", "the declared size",
	"the SIZE= of MAIL FROM"},
    {KB_PH_EHLO_SIZE, "ehlo_size", "the advertised maximum",
	"the SIZE the server advertised in its EHLO reply"},
    {KB_PH_DATA_BYTES, "data_bytes", "the message size",
	"the bytes of the message sent"},
    {KB_PH_IDLE, "idle", "some time",
	"the silence before the reply (\"5 min 2 s\"), when at least 1 s"},
    {KB_PH_SESSION_TIME, "session_time", "some time",
	"time since the session began"},
    {KB_PH_SERVER_SOFTWARE, "server_software", "the server",
	"the software a greeting named"},
    {KB_PH_HELO, "helo", "the client's name", "the EHLO/HELO argument"},
    {KB_PH_BURST, "burst", "the same reply repeated",
	"how many recent sessions to this server got the same kind of "
	"failure, and within what time"},
    {KB_PH_TLS, "tls", "", "\"inside TLS\" or \"in clear text\""},
    {KB_PH_RCPT_LIMIT_LOW, "rcpt_limit_low", "the limit",
	"the recipient limit a 452 to RCPT revealed, known only when "
	"below the 100 of RFC 5321 4.5.3.1.8"},
    {KB_PH_IDLE_TIMEOUT, "idle_timeout", "the silence measured",
	"the server's timeout judged from the measured silence"},
    {KB_PH_OPEN_CONNS, "open_conns", "some",
	"other connections from the same client to this server open at "
	"that moment in the capture (known when above zero)"},
    {KB_PH_OPEN_CONNS_LOW, "open_conns_low", "some",
	"the same, known only when few (1 to 19)"},
};

int
kb_placeholder_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < KB_PH_COUNT; i++) {
		if (strlen(kb_placeholders[i].name) == len &&
		    strncmp(kb_placeholders[i].name, name, len) == 0)
			return (int)i;
	}
	return -1;
}
