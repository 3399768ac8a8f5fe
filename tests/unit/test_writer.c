/*
 * Unit tests of writer: the headless output's thread.  Events come out in
 * the order they went in, every one exactly once; idle follows the last;
 * a kick hands over a partial batch; the bytes waiting stay bounded; and
 * the capture side frees what was written, also after long bursts of the
 * writer alone (ASan checks that nothing leaks or is used after its free).
 * Callbacks run on the writer's thread, so they only record; the checks
 * are made on this one.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "event.h"
#include "writer.h"
#include "xmalloc.h"

struct rec {
	atomic_ulong written; /* events through the callback */
	atomic_ulong idles;   /* idle calls */
	atomic_ulong idle_at; /* written when idle was last called */
	atomic_ulong out_of_order;
	atomic_ulong bytes_written;
	atomic_ulong ends; /* end calls */
	uint64_t next;	   /* the session id expected next */
	unsigned sleep_us;
	unsigned sleep_every;
	bool add_diag; /* add a diagnosis, freed by the callback */
};

static void
rec_fn(void *arg, struct event *ev)
{
	struct rec *r = arg;
	unsigned long n;

	if (ev->session != r->next)
		atomic_fetch_add(&r->out_of_order, 1);
	r->next = ev->session + 1;
	if (r->add_diag) {
		/* What the output's callback does: adds and frees its own. */
		ev->diag = xcalloc(1, sizeof *ev->diag);
		ev->diag->rule = xstrdup("rule");
		event_diag_free(ev->diag);
		ev->diag = NULL;
	}
	atomic_fetch_add(&r->bytes_written, event_size(ev));
	n = atomic_fetch_add(&r->written, 1) + 1;
	if (r->sleep_us > 0 && r->sleep_every > 0 && n % r->sleep_every == 0)
		usleep(r->sleep_us);
}

static void
rec_idle(void *arg)
{
	struct rec *r = arg;

	atomic_store(&r->idle_at, atomic_load(&r->written));
	atomic_fetch_add(&r->idles, 1);
}

/* On the writer's thread, last. */
static void
rec_end(void *arg)
{
	struct rec *r = arg;

	atomic_fetch_add(&r->ends, 1);
}

static struct event *
ev_make(uint64_t session, size_t arglen)
{
	struct event *ev = event_new(EV_COMMAND);

	ev->session = session;
	ev->arg = xmalloc(arglen + 1);
	memset(ev->arg, 'a', arglen);
	ev->arg[arglen] = '\0';
	ev->arg_len = arglen;
	return ev;
}

static void
rec_init(struct rec *r)
{
	memset(r, 0, sizeof *r);
	r->next = 1;
}

static void
test_order_and_idle(void **state)
{
	struct rec r;
	struct writer *w;
	uint64_t i, n = 20000;

	(void)state;
	rec_init(&r);
	r.add_diag = true;
	w = writer_new(rec_fn, rec_idle, rec_end, &r, 1 << 20);
	for (i = 1; i <= n; i++)
		writer_put(w, ev_make(i, i % 50));
	writer_free(w);
	assert_int_equal(atomic_load(&r.written), n);
	assert_int_equal(atomic_load(&r.out_of_order), 0);
	/* Idle after the last event, so the output is flushed at the end. */
	assert_true(atomic_load(&r.idles) >= 1);
	assert_int_equal(atomic_load(&r.idle_at), n);
	assert_int_equal(atomic_load(&r.ends), 1);
	writer_free(NULL);
}

static void
wait_for(atomic_ulong *v, unsigned long want)
{
	struct timespec step = {0, 1000 * 1000};
	int i;

	for (i = 0; i < 5000 && atomic_load(v) < want; i++)
		nanosleep(&step, NULL);
}

/* A partial batch waits for a kick (the capture went idle), and is then
   written and flushed without any more events. */
static void
test_kick(void **state)
{
	struct rec r;
	struct writer *w;
	struct timespec step = {0, 20 * 1000 * 1000};

	(void)state;
	rec_init(&r);
	w = writer_new(rec_fn, rec_idle, rec_end, &r, 1 << 20);
	writer_put(w, ev_make(1, 10));
	writer_put(w, ev_make(2, 10));
	writer_put(w, ev_make(3, 10));
	nanosleep(&step, NULL);
	assert_int_equal(atomic_load(&r.written), 0);
	writer_kick(w);
	wait_for(&r.idles, 1);
	assert_int_equal(atomic_load(&r.written), 3);
	assert_int_equal(atomic_load(&r.idle_at), 3);
	/* A kick with nothing new: frees what was written, writes nothing. */
	writer_kick(w);
	writer_put(w, ev_make(4, 10));
	writer_free(w);
	assert_int_equal(atomic_load(&r.written), 4);
	assert_int_equal(atomic_load(&r.out_of_order), 0);
}

/* A slow writer: the capture side waits, and what waits to be written
   stays within the bound (plus the batch being filled, a quarter of it,
   and one event). */
static void
test_bytes_bounded(void **state)
{
	struct rec r;
	struct writer *w;
	const size_t max = 64 * 1024;
	size_t put = 0, gap, worst = 0, one = 0;
	uint64_t i;

	(void)state;
	rec_init(&r);
	r.sleep_us = 200;
	r.sleep_every = 4;
	w = writer_new(rec_fn, rec_idle, rec_end, &r, max);
	for (i = 1; i <= 3000; i++) {
		struct event *ev = ev_make(i, 1000);

		one = event_size(ev);
		put += one;
		writer_put(w, ev);
		gap = put - atomic_load(&r.bytes_written);
		if (gap > worst)
			worst = gap;
	}
	writer_free(w);
	assert_int_equal(atomic_load(&r.written), 3000);
	assert_int_equal(atomic_load(&r.out_of_order), 0);
	assert_true(worst <= max + max / 4 + one);
	/* And the bound did make the capture side wait: more was put than
	   the bound holds. */
	assert_true(put > 4 * max);
}

/*
 * The writer alone for a while: the capture side fills the ring with a
 * slow writer, then stops putting; the writer writes all of it (every
 * slot, and the batch it was writing when the ring was last filled)
 * before the capture side comes back to free them.
 */
static void
test_burst_then_pause(void **state)
{
	struct rec r;
	struct writer *w;
	struct timespec pause = {0, 150 * 1000 * 1000};
	uint64_t i, id = 1;
	int round;

	(void)state;
	rec_init(&r);
	r.sleep_us = 20;
	r.sleep_every = 1;
	w = writer_new(rec_fn, rec_idle, rec_end, &r, 64 << 20);
	for (round = 0; round < 3; round++) {
		for (i = 0; i < 16 * 256; i++)
			writer_put(w, ev_make(id++, 8));
		/* Every batch was handed over (4096 is a multiple of the
		   batch): wait until all of it is written. */
		wait_for(&r.written, (unsigned long)(id - 1));
		nanosleep(&pause, NULL);
	}
	writer_free(w);
	assert_int_equal(atomic_load(&r.written), id - 1);
	assert_int_equal(atomic_load(&r.out_of_order), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order_and_idle),
	    cmocka_unit_test(test_kick),
	    cmocka_unit_test(test_bytes_bounded),
	    cmocka_unit_test(test_burst_then_pause),
	};

	return cmocka_run_group_tests_name("writer", tests, NULL, NULL);
}
