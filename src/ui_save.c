/*
 * ui_save: `w` writes the kept packets of sessions to a pcap file (in
 * capture order across sessions, so that Wireshark and `smtpscope -r` see
 * the same conversation again), `t` writes a transcript as text.  Both ask
 * for a file name with a dated default, never overwrite an existing file,
 * and report the outcome on the status line.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pcap_writer.h"
#include "privdrop.h"
#include "ui_screen.h"
#include "xmalloc.h"

/* Snapshot length written in the file header: the capture's maximum. */
#define UI_SAVE_SNAPLEN 262144

/* The sessions a pending prompt is about (main thread only). */
static uint64_t *ui_save_ids;
static size_t ui_save_n;

/*
 * Where a default name goes: "" (the current directory) when we can write
 * there, else $TMPDIR when writable, else /tmp.
 */
static const char *
ui_save_dir(void)
{
	const char *t = getenv("TMPDIR");

	if (access(".", W_OK) == 0)
		return "";
	if (t != NULL && *t == '/' && access(t, W_OK) == 0)
		return t;
	return "/tmp";
}

void
ui_save_default_name(char *buf, size_t len, const char *ext)
{
	time_t t = time(NULL);
	const char *dir = ui_save_dir();
	size_t dl = strlen(dir);
	struct tm tm;
	char stamp[32];

	if (localtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof tm);
	strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
	snprintf(buf, len, "%s%ssmtpscope-%s.%s", dir,
	    dl > 0 && dir[dl - 1] != '/' ? "/" : "", stamp, ext);
}

/*
 * "PATH: reason".  A refusal after dropping root is not obvious (the user
 * typed the command as root), so say who is writing and what to do.
 */
static void
ui_save_error(char **cause, const char *path, int e)
{
	const char *user = privdrop_user();
	const char *dir = ui_save_dir();

	if ((e == EACCES || e == EPERM) && user != NULL)
		xasprintf(cause,
		    "%s: %s (running as %s: save under %s, or start with -Z "
		    "root)",
		    path, strerror(e), user, *dir != '\0' ? dir : "/tmp");
	else
		xasprintf(cause, "%s: %s", path, strerror(e));
}

/*
 * Create path, empty, refusing an existing file: the check and the creation
 * are one step, and a refusal comes with its errno.
 */
static int
ui_save_create(const char *path, char **cause)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	if (fd == -1) {
		if (errno == EEXIST)
			xasprintf(cause, "%s exists; not overwritten", path);
		else
			ui_save_error(cause, path, errno);
		return -1;
	}
	return fd;
}

struct ui_save_pkt {
	uint64_t seq;
	const struct event *ev;
};

static int
ui_save_pkt_cmp(const void *a, const void *b)
{
	const struct ui_save_pkt *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int
ui_save_pcap(struct store_session **ss, size_t n, const char *path,
    size_t *written, char **cause)
{
	struct ui_save_pkt *all;
	struct pcap_writer *w;
	char *why = NULL;
	size_t total = 0, i, j, k = 0, skipped = 0;
	uint64_t dropped = 0;
	int linktype = -1, fd;

	*written = 0;
	*cause = NULL;
	for (i = 0; i < n; i++) {
		total += ss[i]->n_packets;
		dropped += ss[i]->pkt_dropped;
	}
	if (total == 0) {
		if (dropped > 0)
			xasprintf(cause,
			    "no packets kept for %s: %" PRIu64
			    " cop%s dropped under the memory budget",
			    n == 1 ? "this session" : "these sessions", dropped,
			    dropped == 1 ? "y" : "ies");
		else
			xasprintf(cause, "no packets kept for %s",
			    n == 1 ? "this session" : "these sessions");
		return -1;
	}
	if ((fd = ui_save_create(path, cause)) == -1)
		return -1;
	close(fd);
	all = xcalloc(total, sizeof *all);
	for (i = 0; i < n; i++)
		for (j = 0; j < ss[i]->n_packets; j++) {
			all[k].seq = ss[i]->pkt_seq[j];
			all[k].ev = ss[i]->packets[j];
			k++;
		}
	qsort(all, total, sizeof *all, ui_save_pkt_cmp);
	linktype = all[0].ev->linktype;
	w = pcap_writer_open(path, linktype, UI_SAVE_SNAPLEN, &why);
	if (w == NULL) {
		xasprintf(cause, "%s: %s", path, why);
		free(why);
		unlink(path); /* the empty file made above */
		free(all);
		return -1;
	}
	for (i = 0; i < total; i++) {
		const struct event *ev = all[i].ev;

		/* A pcap file has one link type. */
		if (ev->linktype != linktype) {
			skipped++;
			continue;
		}
		pcap_writer_packet(
		    w, &ev->pkt_ts, ev->pkt_data, ev->pkt_caplen, ev->pkt_len);
		(*written)++;
	}
	free(all);
	if (pcap_writer_close(w) != 0) {
		xasprintf(cause, "%s: write error", path);
		return -1;
	}
	if (dropped > 0 && skipped > 0)
		xasprintf(cause,
		    "INCOMPLETE: %" PRIu64 " packet%s not kept (memory budget "
		    "for the save); %zu packets of another link type skipped",
		    dropped, dropped == 1 ? "" : "s", skipped);
	else if (dropped > 0)
		xasprintf(cause,
		    "INCOMPLETE: %" PRIu64 " packet%s not kept (memory budget "
		    "for the save)",
		    dropped, dropped == 1 ? "" : "s");
	else if (skipped > 0)
		xasprintf(
		    cause, "%zu packets of another link type skipped", skipped);
	return 0;
}

/* The transcript's builder, given with the prompt (ui_session_doc). */
static ui_save_doc_fn ui_save_doc;

/* Write the transcript doc makes of ss to path; -1 with *cause set. */
static int
ui_save_text(struct ui_ctx *ctx, const struct store_session *ss,
    ui_save_doc_fn doc, const char *path, char **cause)
{
	struct ui_doc d;
	FILE *f;
	int rc, fd;

	if ((fd = ui_save_create(path, cause)) == -1)
		return -1;
	if ((f = fdopen(fd, "w")) == NULL) {
		ui_save_error(cause, path, errno);
		close(fd);
		return -1;
	}
	memset(&d, 0, sizeof d);
	doc(ctx, ss, 100, &d);
	rc = ui_doc_write(&d, f);
	ui_doc_clear(&d);
	free(d.lines);
	if (fclose(f) != 0 || rc != 0) {
		xasprintf(cause, "%s: write error", path);
		return -1;
	}
	return 0;
}

static void
ui_save_pcap_done(struct ui_ctx *ctx, const char *answer)
{
	struct store_session **ss;
	char *why = NULL, *lost = NULL;
	size_t n = 0, i, written;

	if (answer == NULL || *answer == '\0') {
		ui_message(ctx, false, "not saved");
		goto out;
	}
	ss = xcalloc(ui_save_n + 1, sizeof *ss);
	for (i = 0; i < ui_save_n; i++)
		if ((ss[n] = store_find(ctx->store, ui_save_ids[i])) != NULL)
			n++;
	if (n == 0)
		ui_message(ctx, true, "save: the sessions were evicted");
	else if (ui_save_pcap(ss, n, answer, &written, &why) != 0)
		ui_message(ctx, true, "save failed: %s", why);
	else {
		/* Live, copies dropped on a full queue are not counted per
		   session: say that some may be missing. */
		if (ctx->queue_dropped_packets > 0)
			xasprintf(&lost,
			    "%" PRIu64 " packet cop%s of any session lost on "
			    "the full live queue",
			    ctx->queue_dropped_packets,
			    ctx->queue_dropped_packets == 1 ? "y" : "ies");
		/* Packets missing from the file are a warning, not news. */
		ui_message(ctx, why != NULL || lost != NULL,
		    "saved %zu packets of %zu session%s to %s%s%s%s%s", written,
		    n, n == 1 ? "" : "s", answer, why != NULL ? "; " : "",
		    why != NULL ? why : "", lost != NULL ? "; " : "",
		    lost != NULL ? lost : "");
	}
	free(why);
	free(lost);
	free(ss);
out:
	free(ui_save_ids);
	ui_save_ids = NULL;
	ui_save_n = 0;
}

void
ui_save_pcap_prompt(struct ui_ctx *ctx, struct store_session **ss, size_t n)
{
	char name[256], label[64];
	size_t i;

	free(ui_save_ids);
	ui_save_ids = xcalloc(n, sizeof *ui_save_ids);
	for (i = 0; i < n; i++)
		ui_save_ids[i] = ss[i]->id;
	ui_save_n = n;
	ui_save_default_name(name, sizeof name, "pcap");
	if (n == 1)
		snprintf(label, sizeof label,
		    "Save session %" PRIu64 " as pcap: ", ss[0]->id);
	else
		snprintf(label, sizeof label, "Save %zu sessions as pcap: ", n);
	ui_prompt(ctx, label, name, ui_save_pcap_done, NULL);
}

static void
ui_save_text_done(struct ui_ctx *ctx, const char *answer)
{
	struct store_session *ss;
	char *why = NULL;

	if (answer == NULL || *answer == '\0' || ui_save_n != 1 ||
	    ui_save_doc == NULL) {
		ui_message(ctx, false, "not saved");
		goto out;
	}
	ss = store_find(ctx->store, ui_save_ids[0]);
	if (ss == NULL)
		ui_message(ctx, true, "save: the session was evicted");
	else if (ui_save_text(ctx, ss, ui_save_doc, answer, &why) != 0)
		ui_message(ctx, true, "save failed: %s", why);
	else
		ui_message(ctx, false,
		    "saved the transcript of session %" PRIu64 " to %s", ss->id,
		    answer);
	free(why);
out:
	free(ui_save_ids);
	ui_save_ids = NULL;
	ui_save_n = 0;
}

void
ui_save_text_prompt(struct ui_ctx *ctx, uint64_t id, ui_save_doc_fn doc)
{
	char name[256], label[64];

	ui_save_doc = doc;
	free(ui_save_ids);
	ui_save_ids = xcalloc(1, sizeof *ui_save_ids);
	ui_save_ids[0] = id;
	ui_save_n = 1;
	ui_save_default_name(name, sizeof name, "txt");
	snprintf(
	    label, sizeof label, "Save transcript of %" PRIu64 " as: ", id);
	ui_prompt(ctx, label, name, ui_save_text_done, NULL);
}
