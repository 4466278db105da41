/*
 * The clients of jbus bench's workloads (bench_work.c runs each in a
 * process of its own): publishers, subscribers, the two ends of W3's round
 * trips, W4's idle clients and W6's churn, and the pipes they report
 * through.
 *
 * Payloads are JSON of exactly size bytes, {"seq":N,"src":P,"pad":"xx..."}:
 * the sequence number and the publisher's index are read back at the
 * receiver with a few byte comparisons (no JSON parser), which proves that
 * each message arrived once, whole and in order.
 */
#include "bench_role.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAYLOAD_SEQ "{\"seq\":"
#define PAYLOAD_SRC ",\"src\":"
#define PAYLOAD_PAD ",\"pad\":\""
#define LIT_LEN(s) (sizeof(s) - 1)

static unsigned digits(uint64_t v)
{
	unsigned n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

/* section: payloads */

size_t bench_min_size(const struct bench_opts *p)
{
	uint64_t seq = p->messages, w3 = p->trips + BENCH_W3_WARMUP(p->trips);

	if (w3 > seq)
		seq = w3;
	return LIT_LEN(PAYLOAD_SEQ) + digits(seq) + LIT_LEN(PAYLOAD_SRC) +
	       digits(p->publishers ? p->publishers - 1 : 0) + LIT_LEN(PAYLOAD_PAD) + 2;
}

/* A payload of size bytes (at least bench_min_size): all padding but the closing '"}'. */
static char *payload_new(size_t size)
{
	char *b = malloc(size);

	if (b) {
		memset(b, 'x', size);
		b[size - 2] = '"';
		b[size - 1] = '}';
	}
	return b;
}

static char *put_uint(char *p, uint64_t v)
{
	unsigned n = digits(v);

	for (unsigned i = n; i-- > 0; v /= 10)
		p[i] = (char)('0' + v % 10);
	return p + n;
}

/*
 * Write the head of message seq from src into b. The head only grows with
 * seq, so what an earlier, shorter head left behind is always overwritten.
 */
static void payload_set(char *b, uint64_t seq, unsigned src)
{
	char *p = b;

	memcpy(p, PAYLOAD_SEQ, LIT_LEN(PAYLOAD_SEQ));
	p = put_uint(p + LIT_LEN(PAYLOAD_SEQ), seq);
	memcpy(p, PAYLOAD_SRC, LIT_LEN(PAYLOAD_SRC));
	p = put_uint(p + LIT_LEN(PAYLOAD_SRC), src);
	memcpy(p, PAYLOAD_PAD, LIT_LEN(PAYLOAD_PAD));
}

static const char *get_uint(const char *p, const char *end, uint64_t *v)
{
	const char *start = p;

	*v = 0;
	while (p < end && *p >= '0' && *p <= '9' && p - start < 19)
		*v = *v * 10 + (uint64_t)(*p++ - '0');
	return p == start ? NULL : p;
}

/* Is s[0..n) a payload of size bytes? Its sequence number and source then. */
static bool payload_get(const char *s, size_t n, size_t size, uint64_t *seq, uint64_t *src)
{
	const char *end = s + n, *p = s + LIT_LEN(PAYLOAD_SEQ);

	if (n != size || memcmp(s, PAYLOAD_SEQ, LIT_LEN(PAYLOAD_SEQ)) || s[n - 2] != '"' ||
	    s[n - 1] != '}')
		return false;
	p = get_uint(p, end, seq);
	if (!p || end - p < (ptrdiff_t)LIT_LEN(PAYLOAD_SRC) ||
	    memcmp(p, PAYLOAD_SRC, LIT_LEN(PAYLOAD_SRC)))
		return false;
	p = get_uint(p + LIT_LEN(PAYLOAD_SRC), end, src);
	return p && end - p >= (ptrdiff_t)LIT_LEN(PAYLOAD_PAD) + 2 &&
	       !memcmp(p, PAYLOAD_PAD, LIT_LEN(PAYLOAD_PAD));
}

/* section: pipes */

/* Read exactly n bytes by deadline_ms (cli-style monotonic ms; < 0: none): 0 or -errno. */
int bench_read_full(int fd, void *buf, size_t n, long long deadline_ms)
{
	char *p = buf;

	while (n) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		int t = -1;
		ssize_t k;

		if (deadline_ms >= 0) {
			long long left = deadline_ms - (long long)(bench_now_ns() / 1000000);

			if (left <= 0)
				return -ETIMEDOUT;
			t = left > 60000 ? 60000 : (int)left;
		}
		k = poll(&pf, 1, t);
		if (k < 0 && errno != EINTR)
			return -errno;
		if (k <= 0)
			continue;
		k = read(fd, p, n);
		if (k < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
		if (k == 0)
			return -EPIPE;
		if (k > 0) {
			p += k;
			n -= (size_t)k;
		}
	}
	return 0;
}

int bench_write_full(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t k = write(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* section: roles */

int role_fail(struct run *run, int r, const char *fmt, ...)
{
	va_list ap;
	size_t k;

	va_start(ap, fmt);
	k = (size_t)vsnprintf(run->m->err, sizeof(run->m->err), fmt, ap);
	va_end(ap);
	if (k < sizeof(run->m->err))
		snprintf(run->m->err + k, sizeof(run->m->err) - k, ": %s", strerror(-r));
	run->m->status = r;
	return r;
}

/* Tell the parent this child is set up and wait for go: 0, or -EPIPE if the parent gave up. */
static int ready(struct run *run)
{
	struct child_msg rm = { .kind = MSG_READY };
	char go;
	int r = bench_write_full(run->msg_fd, &rm, sizeof(rm));

	if (r == 0)
		r = bench_read_full(run->go_fd, &go, 1, -1);
	return r;
}

static struct bench_conn *connect_sub(struct run *run, const char *who, const char *topic)
{
	const struct bench_driver *d = run->d;
	char err[160];
	struct bench_conn *c = d->connect(run->target, err, sizeof(err));
	int r;

	if (!c) {
		snprintf(run->m->err, sizeof(run->m->err), "%s %u: %s", who, run->idx, err);
		run->m->status = -ECONNREFUSED;
		return NULL;
	}
	if (topic && (r = d->subscribe(c, topic)) < 0) {
		role_fail(run, r, "%s %u: subscribe to '%s'", who, run->idx, topic);
		d->close(c);
		return NULL;
	}
	return c;
}

/*
 * The end of the role who, which made connection c (NULL: connecting
 * failed, already reported) and allocated mem, with the outcome r.
 */
static int role_end(struct run *run, const char *who, struct bench_conn *c, void *mem, int r)
{
	if (c && r < 0)
		role_fail(run, r, "%s %u: after %llu messages", who, run->idx,
			  (unsigned long long)run->m->count);
	if (c)
		run->d->close(c);
	free(mem);
	return c ? r : run->m->status;
}

/* W1, W2, W5: publish messages numbered 0.., flushing in batches. */
int role_pub(struct run *run)
{
	const struct bench_driver *d = run->d;
	struct bench_conn *c = connect_sub(run, "publisher", NULL);
	char *b = payload_new(run->p->size);
	int r = -ENOMEM;

	if (!c || !b)
		goto out;
	r = ready(run);
	run->m->first_ns = bench_now_ns();
	for (uint64_t i = 0; r == 0 && i < run->p->messages; i++) {
		payload_set(b, i, run->idx);
		r = d->publish(c, run->topic_a, b, run->p->size);
		if (r == 0 && (i % BENCH_BATCH == BENCH_BATCH - 1 || i + 1 == run->p->messages))
			r = d->flush(c);
		run->m->count += r == 0;
	}
	run->m->last_ns = bench_now_ns();
out:
	return role_end(run, "publisher", c, b, r);
}

struct sink {
	struct run *run;
	uint64_t next[BENCH_MAX_PROCS]; /* the sequence number expected from each source */
	unsigned nsrc;
};

static void sink_msg(void *ud, const char *topic, size_t tlen, const char *payload, size_t len)
{
	struct sink *s = ud;
	struct child_msg *m = s->run->m;
	uint64_t seq, src;

	if (!payload_get(payload, len, s->run->p->size, &seq, &src) || src >= s->nsrc) {
		m->errors++;
		return;
	}
	if (!m->count++)
		m->first_ns = bench_now_ns();
	if (seq != s->next[src])
		m->errors++;
	s->next[src] = seq + 1;
	m->per_src[src]++;
}

/* W1, W2, W5: receive messages from nsrc publishers until all came or none for a while. */
int role_sink(struct run *run)
{
	const struct bench_driver *d = run->d;
	struct bench_conn *c = connect_sub(run, "subscriber", run->topic_a);
	struct sink *s = calloc(1, sizeof(*s));
	uint64_t want;
	int r = -ENOMEM;

	if (!c || !s)
		goto out;
	s->run = run;
	s->nsrc = run->w == BENCH_W5 ? run->p->publishers : 1;
	want = run->p->messages * s->nsrc;
	r = ready(run);
	while (r == 0 && run->m->count < want) {
		r = d->receive(c, BENCH_IDLE_MS, sink_msg, s);
		if (r == 0)
			break; /* idle: the rest is lost */
		run->m->last_ns = bench_now_ns();
		r = r < 0 ? r : 0;
	}
out:
	return role_end(run, "subscriber", c, s, r);
}

/* W3, the echo: what it receives waits here until receive() returned. */
struct echo {
	struct run *run;
	char *buf; /* n slots of size bytes */
	size_t n, cap;
};

static void echo_msg(void *ud, const char *topic, size_t tlen, const char *payload, size_t len)
{
	struct echo *e = ud;
	size_t size = e->run->p->size;

	if (len != size) {
		e->run->m->errors++;
		return;
	}
	if (e->n == e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 4;
		char *b = realloc(e->buf, cap * size);

		if (!b) {
			e->run->m->errors++;
			return;
		}
		e->buf = b;
		e->cap = cap;
	}
	memcpy(e->buf + e->n++ * size, payload, size);
}

/* W3, B: publish every message of topic a on topic b, at once. */
int role_echo(struct run *run)
{
	const struct bench_driver *d = run->d;
	struct bench_conn *c = connect_sub(run, "echo", run->topic_a);
	struct echo e = { .run = run };
	uint64_t want = run->warmup + run->p->trips;
	int r;

	if (!c)
		return run->m->status;
	r = ready(run);
	while (r == 0 && run->m->count < want) {
		e.n = 0;
		r = d->receive(c, BENCH_IDLE_MS, echo_msg, &e);
		if (r == 0)
			break;
		r = r < 0 ? r : 0;
		for (size_t i = 0; r == 0 && i < e.n; i++)
			r = d->publish(c, run->topic_b, e.buf + i * run->p->size, run->p->size);
		if (r == 0 && e.n)
			r = d->flush(c);
		run->m->count += e.n;
	}
	return role_end(run, "echo", c, e.buf, r);
}

struct pinger {
	struct run *run;
	uint64_t seq;
	bool back; /* the echo of seq arrived */
};

static void pinger_msg(void *ud, const char *topic, size_t tlen, const char *payload, size_t len)
{
	struct pinger *pg = ud;
	uint64_t seq, src;

	if (!payload_get(payload, len, pg->run->p->size, &seq, &src) || seq != pg->seq)
		pg->run->m->errors++;
	else
		pg->back = true;
}

/* W3, A: publish on a, wait for the echo on b, again; the round trips go to the histogram. */
int role_pinger(struct run *run)
{
	const struct bench_driver *d = run->d;
	struct bench_conn *c = connect_sub(run, "pinger", run->topic_b);
	struct pinger pg = { .run = run };
	uint64_t total = run->warmup + run->p->trips;
	char *b = payload_new(run->p->size);
	int r = -ENOMEM;

	if (!c || !b)
		goto out;
	bench_hist_init(run->hist);
	r = ready(run);
	for (pg.seq = 0; r == 0 && pg.seq < total; pg.seq++) {
		uint64_t t0;

		payload_set(b, pg.seq, 0);
		pg.back = false;
		t0 = bench_now_ns();
		r = d->publish(c, run->topic_a, b, run->p->size);
		if (r == 0)
			r = d->flush(c);
		while (r == 0 && !pg.back) {
			r = d->receive(c, BENCH_IDLE_MS, pinger_msg, &pg);
			r = r < 0 ? r : r == 0 && !pg.back ? -ETIMEDOUT : 0;
		}
		if (r == 0 && pg.seq >= run->warmup) {
			uint64_t t1 = bench_now_ns();

			if (!run->m->count++)
				run->m->first_ns = t0;
			run->m->last_ns = t1;
			bench_hist_add(run->hist, t1 - t0);
		}
	}
	run->m->has_hist = true;
out:
	return role_end(run, "pinger", c, b, r);
}

/* W4: clients connections, each subscribed to a topic of its own, idle until go. */
int role_idle(struct run *run)
{
	const struct bench_driver *d = run->d;
	struct bench_conn **cs = calloc(run->p->clients, sizeof(*cs));
	char topic[96];
	int r = 0;

	if (!cs)
		return role_fail(run, -ENOMEM, "clients");
	for (unsigned i = 0; i < run->p->clients && r == 0; i++) {
		run->idx = i;
		snprintf(topic, sizeof(topic), "%s/%u", run->topic_a, i);
		cs[i] = connect_sub(run, "client", topic);
		r = cs[i] ? 0 : run->m->status;
	}
	if (r == 0) {
		run->m->count = run->p->clients;
		r = ready(run);
	}
	for (unsigned i = 0; i < run->p->clients; i++)
		if (cs[i])
			d->close(cs[i]);
	free(cs);
	return r;
}

static int churn_once(struct run *run)
{
	struct bench_conn *c = connect_sub(run, "churn", run->topic_a);

	if (!c)
		return run->m->status;
	run->d->close(c);
	return 0;
}

/* W6: connect, subscribe, close, as often as the time or the count allows. */
int role_churn(struct run *run)
{
	struct child_msg *m = run->m;
	uint64_t end;
	int r = 0;

	for (unsigned i = 0; i < BENCH_W6_WARMUP && r == 0; i++)
		r = churn_once(run);
	if (r == 0)
		r = ready(run);
	if (r < 0)
		return r;
	m->first_ns = bench_now_ns();
	end = m->first_ns + (uint64_t)run->p->duration_ms * 1000000;
	do {
		r = churn_once(run);
		m->count += r == 0;
	} while (r == 0 && (run->p->cycles ? m->count < run->p->cycles : bench_now_ns() < end));
	m->last_ns = bench_now_ns();
	return r;
}
