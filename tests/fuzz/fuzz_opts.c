/*
 * libFuzzer target for the command line (opts): the input split at NUL
 * bytes is argv after "smtpscope".  Any argv must give either options
 * whose values are in range or one "OPTION: why" error line without
 * control bytes, never a crash or a leak.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"
#include "xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_ARGS 64

/* An error is one printable line naming the option first. */
static void
fuzz_check_error(const char *e)
{
	const unsigned char *p;

	if (e[0] == '\0' || strstr(e, ": ") == NULL ||
	    strncmp(e, "smtpscope", 9) == 0)
		abort();
	/* The option's name is escaped; a value quoted after it may hold
	   any byte of argv, but the name may not. */
	for (p = (const unsigned char *)e; *p != ':'; p++)
		if (*p < 0x20 || *p >= 0x7f)
			abort();
}

static void
fuzz_check_opts(const struct opts *o)
{
	size_t i;

	if (o->cap.snaplen < 1 || o->cap.snaplen > 262144)
		abort();
	if (o->limit < 1 || o->memory_mib < OPTS_MEMORY_MIN)
		abort();
	if (o->cap.replay < 0 || o->cap.replay > 1000 ||
	    o->cap.replay != o->cap.replay)
		abort();
	if (o->pipe.n_ports > PIPELINE_PORTS_MAX ||
	    o->pipe.n_tls_ports > PIPELINE_PORTS_MAX)
		abort();
	for (i = 0; i < o->pipe.n_ports; i++)
		if (o->pipe.ports[i] == 0)
			abort();
	if (o->argc < 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *argv[FUZZ_ARGS + 2], *p, *end, *bpf;
	struct opts o;
	const char *e;
	int argc = 0;

	/* NUL-terminated copy: the last argument ends at the input's end. */
	buf = xmalloc(size + 1);
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[argc++] = (char *)"smtpscope";
	for (p = buf, end = buf + size; p <= end && argc <= FUZZ_ARGS;
	     p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;

	opts_init(&o);
	e = opts_parse(&o, argc, argv);
	if (e != NULL)
		fuzz_check_error(e);
	else {
		fuzz_check_opts(&o);
		e = opts_check(&o);
		if (e != NULL)
			fuzz_check_error(e);
		bpf = opts_bpf(&o);
		if ((bpf == NULL) != (o.argc == 0))
			abort();
		free(bpf);
	}
	free(buf);
	return 0;
}
