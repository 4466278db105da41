/*
 * Unit tests of frames and output queues (broker/outq.h): building a frame
 * from a wire_buf, reference counts across queues (run under SANITIZE=1 to
 * prove nothing leaks or is freed early), byte accounting, writing into a
 * socketpair whose small send buffer forces short writes, dropping the
 * backlog without cutting a frame in half, and a peer that has gone away.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jt.h"
#include "outq.h"
#include "util.h"

/*
 * Fixture-owned state: teardown clears the queues, drops the test's own frame
 * references and closes the sockets, even after a failed assertion.
 */
static int sv[2] = { -1, -1 };
static struct outq q1, q2;
static struct frame *held[4096];
static size_t nheld;
static char *rx;          /* bytes received by the peer */
static size_t rxlen, rxcap;
static char *expect;      /* bytes the peer should receive */
static size_t explen, expcap;

static void setup(void)
{
	/* a write to a closed peer must fail with EPIPE, not kill the test */
	signal(SIGPIPE, SIG_IGN);
	outq_init(&q1);
	outq_init(&q2);
	nheld = 0;
	rxlen = explen = 0;
}

static void teardown(void)
{
	outq_clear(&q1);
	outq_clear(&q2);
	for (size_t i = 0; i < nheld; i++)
		frame_unref(held[i]);
	nheld = 0;
	free(rx);
	free(expect);
	rx = expect = NULL;
	rxcap = expcap = 0;
	sv[0] = safe_close(sv[0]);
	sv[1] = safe_close(sv[1]);
}

static void append(char **p, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n > *cap) {
		*cap = (*len + n) * 2;
		*p = realloc(*p, *cap);
		ck_assert_ptr_nonnull(*p);
	}
	memcpy(*p + *len, s, n);
	*len += n;
}

/* A frame holding s[0..n), kept by the fixture (one reference). */
static struct frame *mk(const char *s, size_t n)
{
	struct wire_buf b;
	struct frame *f;

	wire_buf_init(&b, FRAME_HEADROOM);
	wire_buf_put(&b, s, n);
	f = frame_from_buf(&b);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_lt(nheld, ARRAY_SIZE(held));
	held[nheld++] = f;
	return f;
}

/* A numbered frame of n bytes ("#<seq> xxx...\n"), so order is checkable. */
static struct frame *mk_seq(unsigned seq, size_t n)
{
	char *s = malloc(n);
	struct frame *f;
	int h;

	ck_assert_ptr_nonnull(s);
	memset(s, 'a' + (char)(seq % 26), n);
	h = snprintf(s, n, "#%u ", seq);
	ck_assert_int_lt(h, (int)n);
	s[h] = ' '; /* snprintf's NUL */
	s[n - 1] = '\n';
	f = mk(s, n);
	free(s);
	return f;
}

/* Push f onto q and record what the peer should then receive. */
static void push(struct outq *q, struct frame *f)
{
	size_t before = q->bytes;

	ck_assert_int_eq(outq_push(q, f), 0);
	ck_assert_uint_eq(q->bytes, before + f->len);
	if (q == &q1)
		append(&expect, &explen, &expcap, f->data, f->len);
}

/* Bytes still owed according to the ring itself. */
static size_t owed(const struct outq *q)
{
	size_t n = 0;

	for (uint32_t i = 0; i < q->count; i++)
		n += q->ring[(q->head + i) & (q->cap - 1)]->len;
	return n - q->off;
}

static void open_pair(int sndbuf)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv),
			 0);
	if (sndbuf)
		ck_assert_int_eq(
			setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
}

/* Read everything the peer has (waiting up to 5 s for the first byte). */
static size_t drain_peer(void)
{
	struct pollfd p = { .fd = sv[1], .events = POLLIN };
	char tmp[65536];
	size_t got = 0;
	ssize_t r;

	ck_assert_int_eq(poll(&p, 1, JT_TIMEOUT_MS), 1);
	while ((r = read(sv[1], tmp, sizeof(tmp))) > 0) {
		append(&rx, &rxlen, &rxcap, tmp, (size_t)r);
		got += (size_t)r;
	}
	ck_assert_msg(r < 0 && errno == EAGAIN, "read: %zd, %s", r, strerror(errno));
	return got;
}

/* One outq_write, checking the accounting; returns its result. */
static int write_once(struct outq *q, size_t max_bytes, size_t *written)
{
	size_t before = q->bytes, w = (size_t)-1;
	int r = outq_write(q, sv[0], max_bytes, &w);

	ck_assert_msg(r == 0 || r == OUTQ_E_AGAIN, "outq_write: %d", r);
	ck_assert_uint_le(w, before);
	ck_assert_uint_eq(q->bytes, before - w);
	ck_assert_uint_eq(q->bytes, owed(q));
	ck_assert_int_eq(r == 0, outq_empty(q));
	if (r == 0)
		ck_assert_uint_eq(q->bytes, 0);
	if (written)
		*written = w;
	return r;
}

/* Write and drain until the queue is empty; returns how many AGAINs it took. */
static int pump(struct outq *q)
{
	int again = 0;

	while (write_once(q, SIZE_MAX, NULL) == OUTQ_E_AGAIN) {
		again++;
		ck_assert_int_lt(again, 1000000);
		drain_peer();
	}
	return again;
}

/* Everything queued arrived, intact and in order, and nothing else. */
static void assert_stream(void)
{
	struct pollfd p = { .fd = sv[1], .events = POLLIN };

	if (poll(&p, 1, 0) == 1)
		drain_peer();
	ck_assert_uint_eq(rxlen, explen);
	if (rxlen && memcmp(rx, expect, rxlen)) {
		size_t i = 0;
		while (rx[i] == expect[i])
			i++;
		ck_abort_msg("byte %zu of %zu differs", i, rxlen);
	}
}

START_TEST(test_outq_frame_from_buf)
{
	static const char want[] = "{\"op\":\"pong\",\"id\":1}\n";
	struct wire_buf b;
	struct frame *f;

	wire_buf_init(&b, FRAME_HEADROOM);
	wire_build_pong(&b, (struct wire_raw){ "1", 1 });
	f = frame_from_buf(&b);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(f->refs, 1);
	ck_assert_uint_eq(f->len, sizeof(want) - 1);
	ck_assert_mem_eq(f->data, want, f->len);
	/* the buffer's memory was taken, not copied */
	ck_assert_ptr_null(b.p);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
	frame_unref(f);

	/* a failed build gives no frame and frees the buffer (ASan: no leak) */
	wire_buf_init(&b, FRAME_HEADROOM);
	wire_build_pong(&b, (struct wire_raw){ NULL, 0 });
	b.failed = true;
	ck_assert_ptr_null(frame_from_buf(&b));
	ck_assert_ptr_null(b.p);
	/* nothing built at all */
	wire_buf_init(&b, FRAME_HEADROOM);
	ck_assert_ptr_null(frame_from_buf(&b));
	frame_unref(NULL);
}
END_TEST

START_TEST(test_outq_refcount)
{
	struct frame *f, *g;

	/* not via mk(): this test owns the references itself */
	struct wire_buf b;
	wire_buf_init(&b, FRAME_HEADROOM);
	wire_buf_puts(&b, "shared\n");
	f = frame_from_buf(&b);
	ck_assert_ptr_nonnull(f);

	ck_assert_int_eq(outq_push(&q1, f), 0);
	ck_assert_int_eq(outq_push(&q2, f), 0);
	ck_assert_int_eq(outq_push(&q2, f), 0); /* twice in one queue: two references */
	ck_assert_uint_eq(f->refs, 4);
	frame_unref(f); /* the builder's reference */
	ck_assert_uint_eq(f->refs, 3);
	outq_clear(&q1);
	/* still alive for q2: ASan would flag these reads after a premature free */
	ck_assert_uint_eq(f->refs, 2);
	ck_assert_mem_eq(f->data, "shared\n", 7);
	ck_assert_uint_eq(q2.bytes, 14);
	outq_clear(&q2); /* the last reference: freed (ASan: no leak) */
	ck_assert_uint_eq(q2.bytes, 0);
	ck_assert(outq_empty(&q2));

	/* the same through writes: each queue drops its reference once written */
	open_pair(0);
	g = mk("written\n", 8);
	ck_assert_int_eq(outq_push(&q1, g), 0);
	ck_assert_int_eq(outq_push(&q2, g), 0);
	ck_assert_uint_eq(g->refs, 3);
	ck_assert_int_eq(write_once(&q1, SIZE_MAX, NULL), 0);
	ck_assert_uint_eq(g->refs, 2);
	ck_assert_int_eq(write_once(&q2, SIZE_MAX, NULL), 0);
	ck_assert_uint_eq(g->refs, 1);
	ck_assert_uint_eq(drain_peer(), 16);
	ck_assert_mem_eq(rx, "written\nwritten\n", 16);
}
END_TEST

START_TEST(test_outq_bytes)
{
	size_t w;

	open_pair(0);
	ck_assert(outq_empty(&q1));
	ck_assert_uint_eq(q1.bytes, 0);
	push(&q1, mk("0123456789", 10));
	push(&q1, mk_seq(1, 20));
	push(&q1, mk_seq(2, 30));
	ck_assert_uint_eq(q1.bytes, 60);
	ck_assert_uint_eq(q1.count, 3);
	ck_assert_int_eq(write_once(&q1, SIZE_MAX, &w), 0);
	ck_assert_uint_eq(w, 60);
	ck_assert_uint_eq(q1.bytes, 0);
	ck_assert(outq_empty(&q1));
	/* an empty queue writes nothing and says so */
	ck_assert_int_eq(write_once(&q1, SIZE_MAX, &w), 0);
	ck_assert_uint_eq(w, 0);
	assert_stream();
}
END_TEST

/*
 * A small SO_SNDBUF: the first write stops inside a large head frame
 * (OUTQ_E_AGAIN, off > 0, bytes counts what is left); draining the peer and
 * writing again finishes it, and the bytes arrive intact and in order. More
 * frames are pushed while writing, so the ring wraps around.
 */
START_TEST(test_outq_write_again)
{
	size_t w, big = 200000;
	unsigned seq = 0;
	int again = 0;

	open_pair(4096);
	push(&q1, mk_seq(seq++, big));
	for (int i = 0; i < 5; i++)
		push(&q1, mk_seq(seq++, 997));
	ck_assert_int_eq(write_once(&q1, SIZE_MAX, &w), OUTQ_E_AGAIN);
	ck_assert_uint_gt(w, 0);
	ck_assert_uint_lt(w, big);
	/* the head is partly written; bytes covers its rest plus the others */
	ck_assert_uint_eq(q1.count, 6);
	ck_assert_uint_eq(q1.off, w);
	ck_assert_uint_eq(q1.bytes, big - w + 5 * 997);
	/* the socket is full: another write makes no progress */
	ck_assert_int_eq(write_once(&q1, SIZE_MAX, &w), OUTQ_E_AGAIN);
	ck_assert_uint_eq(w, 0);

	while (seq < 400) {
		drain_peer();
		for (int i = 0; i < 3; i++, seq++)
			push(&q1, mk_seq(seq, 97 + seq * 37 % 1500));
		if (write_once(&q1, SIZE_MAX, NULL) == OUTQ_E_AGAIN)
			again++;
	}
	again += pump(&q1);
	ck_assert_int_gt(again, 0);
	ck_assert(outq_empty(&q1));
	assert_stream();
}
END_TEST

/* Many frames at once: several writev batches; a large ring is given back. */
START_TEST(test_outq_write_many)
{
	size_t w;

	open_pair(0);
	for (unsigned i = 0; i < 1000; i++)
		push(&q1, mk_seq(i, 12));
	ck_assert_uint_ge(q1.cap, 1000);
	ck_assert_int_eq(write_once(&q1, SIZE_MAX, &w), 0);
	ck_assert_uint_eq(w, 12000);
	ck_assert_ptr_null(q1.ring);
	ck_assert_uint_eq(q1.cap, 0);
	assert_stream();

	/* a small ring is kept for the next burst */
	for (unsigned i = 0; i < 5; i++)
		push(&q1, mk_seq(i, 12));
	ck_assert_int_eq(write_once(&q1, SIZE_MAX, &w), 0);
	ck_assert_ptr_nonnull(q1.ring);
	assert_stream();
}
END_TEST

/*
 * max_bytes bounds how long one call goes on: once it is reached no new
 * writev batch starts, although the socket would take more. Only this is
 * asserted: a batch already started is not cut at max_bytes (up to IOV_MAX
 * frames go in one writev), so "at most max_bytes per call" in outq.h is a
 * soft limit.
 */
START_TEST(test_outq_write_max_bytes)
{
	const unsigned n = 2 * IOV_MAX + 600; /* three batches */
	size_t w, total = 0;
	int calls = 0, r;

	open_pair(0);
	for (unsigned i = 0; i < n; i++)
		push(&q1, mk_seq(i, 10));
	r = write_once(&q1, 1, &w);
	ck_assert_int_eq(r, OUTQ_E_AGAIN);
	ck_assert_uint_gt(w, 0);
	ck_assert_uint_lt(w, (size_t)n * 10);
	total += w;
	calls++;
	while ((r = write_once(&q1, 1, &w)) == OUTQ_E_AGAIN) {
		ck_assert_uint_gt(w, 0);
		total += w;
		calls++;
		ck_assert_int_lt(calls, 1000);
	}
	total += w;
	ck_assert_uint_eq(total, (size_t)n * 10);
	ck_assert_int_gt(calls, 1);
	assert_stream();
}
END_TEST

/* Nothing started yet: everything goes, with the references and the ring. */
START_TEST(test_outq_drop_backlog_all)
{
	struct frame *f[3];

	for (int i = 0; i < 3; i++) {
		f[i] = mk_seq((unsigned)i, 50);
		ck_assert_int_eq(outq_push(&q1, f[i]), 0);
		ck_assert_uint_eq(f[i]->refs, 2);
	}
	ck_assert_uint_eq(q1.bytes, 150);
	outq_drop_backlog(&q1);
	ck_assert(outq_empty(&q1));
	ck_assert_uint_eq(q1.bytes, 0);
	ck_assert_ptr_null(q1.ring);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(f[i]->refs, 1);
	/* on an empty queue it does nothing */
	outq_drop_backlog(&q1);
	ck_assert(outq_empty(&q1));
	ck_assert_uint_eq(q1.bytes, 0);
}
END_TEST

/*
 * A partly written head is kept (the stream stays well formed: the peer gets
 * the whole frame), the rest is dropped with its bytes and references.
 */
START_TEST(test_outq_drop_backlog_partial)
{
	struct frame *head, *rest[4];
	size_t w, big = 150000, left;

	open_pair(4096);
	push(&q1, mk("first\n", 6));
	head = mk_seq(1, big);
	push(&q1, head);
	for (int i = 0; i < 4; i++) {
		rest[i] = mk_seq((unsigned)(2 + i), 300);
		ck_assert_int_eq(outq_push(&q1, rest[i]), 0);
	}
	ck_assert_int_eq(write_once(&q1, SIZE_MAX, &w), OUTQ_E_AGAIN);
	ck_assert_uint_gt(w, 6);
	ck_assert_uint_lt(w, 6 + big);
	ck_assert_uint_eq(q1.count, 5);
	ck_assert_ptr_eq(q1.ring[q1.head], head);
	ck_assert_uint_eq(q1.off, w - 6);
	left = big - q1.off;
	ck_assert_uint_eq(q1.bytes, left + 4 * 300);

	outq_drop_backlog(&q1);
	ck_assert_uint_eq(q1.count, 1);
	ck_assert_ptr_eq(q1.ring[q1.head], head);
	ck_assert_uint_eq(q1.off, big - left);
	ck_assert_uint_eq(q1.bytes, left);
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(rest[i]->refs, 1);
	ck_assert_uint_eq(head->refs, 2);
	/* dropping again keeps the head as well */
	outq_drop_backlog(&q1);
	ck_assert_uint_eq(q1.count, 1);
	ck_assert_uint_eq(q1.bytes, left);

	pump(&q1);
	ck_assert_uint_eq(head->refs, 1);
	/* exactly "first\n" and the whole head frame, ending in its '\n' */
	assert_stream();
	ck_assert_int_eq(rx[rxlen - 1], '\n');
}
END_TEST

START_TEST(test_outq_write_closed_peer)
{
	size_t w = 123;
	int r;

	open_pair(0);
	push(&q1, mk("lost\n", 5));
	sv[1] = safe_close(sv[1]);
	r = outq_write(&q1, sv[0], SIZE_MAX, &w);
	ck_assert_msg(r == -EPIPE || r == -ECONNRESET, "outq_write: %d", r);
	ck_assert_uint_eq(w, 0);
	/* nothing was written, so nothing was taken off the queue */
	ck_assert_uint_eq(q1.count, 1);
	ck_assert_uint_eq(q1.bytes, 5);
}
END_TEST

/* The peer goes away after a short write: the error still comes through. */
START_TEST(test_outq_write_closed_peer_partial)
{
	size_t w;
	int r;

	open_pair(4096);
	push(&q1, mk_seq(0, 100000));
	ck_assert_int_eq(write_once(&q1, SIZE_MAX, &w), OUTQ_E_AGAIN);
	sv[1] = safe_close(sv[1]);
	r = outq_write(&q1, sv[0], SIZE_MAX, &w);
	ck_assert_msg(r == -EPIPE || r == -ECONNRESET, "outq_write: %d", r);
	ck_assert_uint_eq(q1.bytes, owed(&q1));
}
END_TEST

Suite *jt_suite(void)
{
	Suite *s = suite_create("outq");
	const struct jt_case cases[] = {
		{ "frame_from_buf", test_outq_frame_from_buf },
		{ "refcount", test_outq_refcount },
		{ "bytes", test_outq_bytes },
		{ "write_again", test_outq_write_again },
		{ "write_many", test_outq_write_many },
		{ "write_max_bytes", test_outq_write_max_bytes },
		{ "drop_backlog_all", test_outq_drop_backlog_all },
		{ "drop_backlog_partial", test_outq_drop_backlog_partial },
		{ "write_closed_peer", test_outq_write_closed_peer },
		{ "write_closed_peer_partial", test_outq_write_closed_peer_partial },
	};

	jt_add_cases(s, cases, ARRAY_SIZE(cases), setup, teardown, 60);
	return s;
}
