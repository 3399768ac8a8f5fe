/*
 * diag_tables: the fixed knowledge of the diagnosis, apart from the rules
 * (data/rules.conf) and the lexicon (data/lexicon.conf): what the basic
 * reply codes and their digits mean, and the idle timeouts that server
 * software ships with.  Read-only data and lookups; diag.c uses them.
 */
#include "config.h"

#include "diag_tables.h"

#include <stddef.h>
#include <string.h>

#include "diag.h"

/* ---- knowledge: basic reply codes (RFC 5321 4.2.2, 4.2.3; RFC 4954;
   RFC 7504; RFC 3207) ---- */

struct diag_code {
	int code;
	const char *name;
	const char *meaning;
};

static const struct diag_code diag_codes[] = {
    {211, "System status",
	"A status or help reply to a HELP or similar request; "
	"informational, nothing failed."},
    {214, "Help message",
	"Text for a human reading the session by hand (HELP)."},
    {220, "Service ready",
	"The greeting: the server is ready for EHLO. After STARTTLS it "
	"means: start the TLS handshake now."},
    {221, "Closing connection",
	"The server says goodbye, normally in answer to QUIT."},
    {235, "Authentication succeeded",
	"AUTH worked; the client is now logged in (RFC 4954)."},
    {250, "OK",
	"The command was done. After the final dot it means the server "
	"now owns the message and must deliver or bounce it."},
    {251, "User not local, will forward",
	"Accepted; the server will relay to another address."},
    {252, "Cannot verify, will try",
	"The server will not confirm the mailbox (VRFY) but will accept "
	"mail for it and try to deliver."},
    {334, "AUTH challenge",
	"The server waits for the next SASL line from the client "
	"(base64); not an error."},
    {354, "Start mail input",
	"Send the message now and end it with a line holding a single "
	"dot."},
    {421, "Service not available, closing connection",
	"The server is hanging up on this connection: overload, "
	"connection or rate limits, an idle timeout, a policy decision, "
	"or a shutdown. Everything not yet finished in this session is "
	"lost and must be retried later, on a new connection."},
    {432, "Password transition needed",
	"The account must log in once with PLAIN (over TLS) before this "
	"mechanism works (RFC 4954)."},
    {450, "Mailbox unavailable (try later)",
	"This one command was refused for now: the mailbox is busy, a "
	"rate limit or greylisting is in force. The connection stays up."},
    {451, "Local error in processing",
	"The server hit a temporary problem of its own (lookup, queue "
	"write, policy service) or is greylisting; retry later."},
    {452, "Insufficient system storage / too many recipients",
	"Not done for now. To RCPT after some recipients were accepted it "
	"almost always means the per-message recipient limit was reached "
	"(RFC 5321 4.5.3.1.10), not a full disk. To MAIL it means the "
	"server is short of queue space (or, with some servers, a rate "
	"or connection control). After the data: no room for this "
	"message now, or a mailbox over quota."},
    {454, "Temporary failure (TLS or AUTH)",
	"To STARTTLS: TLS cannot be started right now. To AUTH: the "
	"authentication back end failed temporarily. Not a storage "
	"problem."},
    {455, "Server cannot accommodate parameters",
	"MAIL or RCPT parameters cannot be handled at this time."},
    {500, "Syntax error, command unrecognised",
	"The server did not understand the command, or the line was too "
	"long."},
    {501, "Syntax error in parameters",
	"The command is known but its arguments are malformed."},
    {502, "Command not implemented", "The server does not offer this command."},
    {503, "Bad sequence of commands",
	"The command came at the wrong time (RCPT before MAIL, DATA "
	"without an accepted recipient, a second AUTH...)."},
    {504, "Parameter not implemented",
	"The command is known but this parameter or mechanism is not."},
    {521, "Host does not accept mail",
	"This host never takes mail (RFC 7504); do not retry it, try the "
	"next MX."},
    {523, "Encryption needed",
	"The requested action needs TLS first (RFC 5248)."},
    {530, "Authentication or TLS required",
	"The server wants AUTH (or STARTTLS) before it takes mail."},
    {534, "Authentication mechanism too weak",
	"Use a stronger SASL mechanism (RFC 4954)."},
    {535, "Authentication credentials invalid",
	"Wrong user name or password (RFC 4954)."},
    {538, "Encryption required for this mechanism",
	"The mechanism is only allowed over TLS (RFC 4954, historical)."},
    {550, "Mailbox unavailable (permanent)",
	"Refused for good: no such user, or a policy refusal. Do not "
	"retry unchanged."},
    {551, "User not local",
	"The server will not relay; the text may name the right "
	"address."},
    {552, "Exceeded storage allocation",
	"The message is too big for the server or the mailbox is full; "
	"to RCPT some servers use it for too many recipients."},
    {553, "Mailbox name not allowed",
	"The address is syntactically wrong or not permitted (e.g. "
	"non-ASCII without SMTPUTF8)."},
    {554, "Transaction failed",
	"As a greeting: no SMTP service for you here. To DATA: no valid "
	"recipients. After the data: the message was refused (content "
	"or policy)."},
    {555, "Parameters not recognised",
	"A MAIL FROM or RCPT TO parameter is unknown or not supported."},
    {556, "Domain does not accept mail",
	"The recipient's domain said it takes no mail, e.g. with a null "
	"MX (RFC 7504, RFC 7505)."},
};

const char *const diag_first_digit[6] = {
    NULL,
    NULL,
    "2xx: positive completion: the command succeeded.",
    "3xx: positive intermediate: the server waits for more (message "
    "data, the next AUTH line).",
    "4xx: transient failure: not done now, but the same request may work "
    "later; the client keeps the message and retries.",
    "5xx: permanent failure: do not repeat the same request unchanged.",
};

const char *const diag_second_digit[6] = {
    "x0x: about syntax.",
    "x1x: information.",
    "x2x: about the connection (transmission channel).",
    "x3x: unassigned.",
    "x4x: unassigned.",
    "x5x: about the mail system (mailbox, storage, policy).",
};

const char *
diag_code_meaning(int code)
{
	size_t i;

	for (i = 0; i < sizeof diag_codes / sizeof diag_codes[0]; i++) {
		if (diag_codes[i].code == code)
			return diag_codes[i].meaning;
	}
	return NULL;
}

const char *
diag_code_name(int code)
{
	size_t i;

	for (i = 0; i < sizeof diag_codes / sizeof diag_codes[0]; i++) {
		if (diag_codes[i].code == code)
			return diag_codes[i].name;
	}
	return NULL;
}

/* Software defaults of the idle timeout, to compare the measured one. */
static const struct diag_idle_default diag_idle_defaults[] = {
    {"postfix", "Postfix's default smtpd_timeout", 300000},
    {"exim", "Exim's default smtp_receive_timeout", 300000},
    {"haraka", "Haraka's default inactivity_timeout", 300000},
};

const struct diag_idle_default *
diag_idle_default(const char *id)
{
	size_t i;

	for (i = 0;
	     i < sizeof diag_idle_defaults / sizeof diag_idle_defaults[0]; i++)
		if (strcmp(id, diag_idle_defaults[i].id) == 0)
			return &diag_idle_defaults[i];
	return NULL;
}
