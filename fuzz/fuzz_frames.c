/*
 * libFuzzer target for the frame reader (wire_next_frame, client-lib/wire.c)
 * on an arbitrary byte stream that arrives in arbitrary pieces.
 *
 * Input: byte 0 sets max_frame (1..256), byte 1 the read size of the
 * broker's shared buffer (1..64), byte 2 how many chunk sizes follow (0..15),
 * then those chunk sizes (1..256 each, used in turn; none: the stream in one
 * piece), then the stream. Each chunk is what one read finds in the socket;
 * a reader with less room than the chunk reads the rest next time.
 *
 * The stream is split three ways:
 *  - whole: wire_next_frame over the complete stream at once: the reference;
 *  - as the broker does (broker/client.c client_read, keep_partial,
 *    grow_input): reads into a shared scratch buffer while nothing is
 *    pending, the trailing partial frame and the cursor carried over in the
 *    client's own buffer (at most max_frame + 2 bytes), which later reads
 *    append to and which is freed once it empties;
 *  - as the library does (client-lib/conn.c conn_read, drain, grow_in):
 *    one buffer that doubles up to its limit, the partial frame moved to
 *    its front after each drain, the cursor adjusted with it.
 * Checked (a violation aborts: a finding): both readers find exactly the
 * reference's frames, byte for byte and in order, and end the same way:
 * frame_too_large after the same frame, or waiting for more with the same
 * partial frame; neither ever has a buffer full with no frame in it (the
 * broker would read 0 bytes and take it for EOF; the library reports a
 * protocol error); the cursor stays inside the buffer.
 * The sizes are scaled down from the real ones (64 KiB reads, 4 KiB
 * buffers) so that short inputs reach every branch; the rules are the same.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The broker's smallest own buffer (4096 in client.c), scaled down. */
#define MIN_KEEP 16
/* The library's read chunk (CONN_READ_CHUNK), scaled down. */
#define CONN_CHUNK 32

/* section: the reference */

#define MAX_FRAMES 4096

struct whole {
	size_t n;
	size_t off[MAX_FRAMES], len[MAX_FRAMES];
	bool too_large; /* ended with frame_too_large after frame n */
	size_t rest;    /* else: the partial frame left at the end starts here */
};

static void split_whole(const char *s, size_t len, size_t max_frame, struct whole *w)
{
	struct wire_cursor cur = { 0, 0 };

	w->n = 0;
	w->too_large = false;
	for (;;) {
		const char *line;
		size_t n;
		int r = wire_next_frame(s, len, &cur, max_frame, &line, &n);

		if (r == WIRE_E_TOO_LARGE) {
			w->too_large = true;
			return;
		}
		if (r == WIRE_E_MORE) {
			w->rest = cur.pos;
			return;
		}
		CHECK(r == 0 && w->n < MAX_FRAMES);
		CHECK(n > 0 && n <= max_frame && line >= s && line + n <= s + len);
		w->off[w->n] = (size_t)(line - s);
		w->len[w->n++] = n;
	}
}

/* section: a reader's progress against the reference */

struct feed {
	const char *s;         /* the stream */
	size_t len, pos;       /* bytes of it handed out so far */
	const uint8_t *chunks; /* chunk sizes - 1, used in turn */
	size_t nchunks, next;
	size_t chunk_left;     /* of the current chunk, not read yet */
};

struct seen {
	const struct whole *w;
	const char *s;
	size_t n; /* frames seen so far */
};

static void feed_init(struct feed *f, const char *s, size_t len, const uint8_t *chunks,
		      size_t nchunks)
{
	*f = (struct feed){ s, len, 0, chunks, nchunks, 0, 0 };
}

/* Like read(2) on a socket the chunks arrive on: at most room bytes of the current chunk. */
static size_t feed_read(struct feed *f, char *dst, size_t room)
{
	size_t k;

	if (f->pos == f->len)
		return 0;
	if (!f->chunk_left) {
		f->chunk_left = f->nchunks ? 1u + f->chunks[f->next++ % f->nchunks] : f->len;
		if (f->chunk_left > f->len - f->pos)
			f->chunk_left = f->len - f->pos;
	}
	k = room < f->chunk_left ? room : f->chunk_left;
	memcpy(dst, f->s + f->pos, k);
	f->pos += k;
	f->chunk_left -= k;
	return k;
}

static void seen_frame(struct seen *sn, const char *line, size_t n)
{
	CHECK(sn->n < sn->w->n);
	CHECK(n == sn->w->len[sn->n] && memcmp(line, sn->s + sn->w->off[sn->n], n) == 0);
	sn->n++;
}

/* The reader stopped: it saw every frame and ended as the reference did. */
static void seen_end(const struct seen *sn, bool too_large)
{
	CHECK(sn->n == sn->w->n);
	CHECK(too_large == sn->w->too_large);
}

/* section: the broker's way (broker/client.c) */

struct bclient {
	char *in; /* partial frame carried between reads, or NULL */
	size_t in_len, in_cap;
	struct wire_cursor cur;
	size_t max_frame;
};

static size_t input_limit(const struct bclient *c)
{
	return c->max_frame + 2;
}

/* keep_partial: buf[cur->pos..len) into the client's own buffer. */
static void keep_partial(struct bclient *c, char *buf, size_t len, struct wire_cursor *cur)
{
	size_t left = len - cur->pos;

	if (buf == c->in) {
		if (left && cur->pos)
			memmove(c->in, c->in + cur->pos, left);
	} else if (left) {
		size_t cap = left * 2 < MIN_KEEP ? MIN_KEEP : left * 2;

		if (cap > input_limit(c))
			cap = input_limit(c);
		CHECK(left <= cap);
		c->in = malloc(cap);
		CHECK(c->in);
		memcpy(c->in, buf + cur->pos, left);
		c->in_cap = cap;
	}
	c->in_len = left;
	c->cur.scanned = cur->scanned - cur->pos;
	c->cur.pos = 0;
	if (!left) {
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
}

/* grow_input, with read_chunk for BROKER_READ_CHUNK and MIN_KEEP for 4096. */
static void grow_input(struct bclient *c, size_t read_chunk)
{
	size_t limit = input_limit(c), cap;

	if (c->in_cap - c->in_len >= MIN_KEEP || c->in_cap >= limit)
		return;
	cap = c->in_cap * 2;
	if (cap < c->in_len + read_chunk)
		cap = c->in_len + read_chunk;
	if (cap > limit)
		cap = limit;
	c->in = realloc(c->in, cap);
	CHECK(c->in);
	c->in_cap = cap;
}

static void broker_way(struct feed *f, size_t max_frame, size_t read_chunk, struct seen *sn)
{
	struct bclient c = { .max_frame = max_frame };
	char *scratch = malloc(read_chunk);
	bool too_large = false;

	CHECK(scratch);
	for (;;) {
		struct wire_cursor cur = { 0, 0 };
		size_t len = 0, room, n;
		char *buf;

		if (c.in_len) {
			grow_input(&c, read_chunk);
			buf = c.in;
			len = c.in_len;
			cur = c.cur;
			room = c.in_cap - len;
			if (room > read_chunk)
				room = read_chunk;
		} else {
			buf = scratch;
			room = read_chunk;
		}
		/* a read of 0 bytes would be taken for the peer's EOF */
		CHECK(room > 0);
		n = feed_read(f, buf + len, room);
		if (n == 0)
			break;
		len += n;
		for (;;) {
			const char *line;
			size_t ln;
			int r = wire_next_frame(buf, len, &cur, max_frame, &line, &ln);

			CHECK(cur.pos <= len && cur.scanned <= len);
			if (r == WIRE_E_MORE)
				break;
			if (r == WIRE_E_TOO_LARGE) {
				too_large = true;
				break;
			}
			CHECK(r == 0 && line >= buf && line + ln <= buf + len);
			seen_frame(sn, line, ln);
		}
		if (too_large)
			break;
		keep_partial(&c, buf, len, &cur);
	}
	seen_end(sn, too_large);
	/* waiting for more: holding exactly the reference's partial frame */
	if (!too_large)
		CHECK(c.in_len == f->len - sn->w->rest &&
		      (!c.in_len || memcmp(c.in, sn->s + sn->w->rest, c.in_len) == 0));
	free(c.in);
	free(scratch);
}

/* section: the library's way (client-lib/conn.c) */

struct lconn {
	char *in;
	size_t in_len, in_cap;
	struct wire_cursor cur;
	size_t limit; /* recv_limit() */
};

/* grow_in: false when the buffer is full at its limit (JBUS_E_PROTOCOL). */
static bool grow_in(struct lconn *c)
{
	size_t cap;

	if (c->in_cap - c->in_len >= CONN_CHUNK / 2)
		return true;
	cap = c->in_cap ? c->in_cap * 2 : CONN_CHUNK;
	if (cap > c->limit + 2)
		cap = c->limit + 2;
	if (cap <= c->in_cap)
		return c->in_len < c->in_cap;
	c->in = realloc(c->in, cap);
	CHECK(c->in);
	c->in_cap = cap;
	return true;
}

/* drain: false on frame_too_large (JBUS_E_PROTOCOL). */
static bool drain(struct lconn *c, struct seen *sn)
{
	for (;;) {
		const char *line;
		size_t len;
		int r = wire_next_frame(c->in, c->in_len, &c->cur, c->limit, &line, &len);

		CHECK(c->cur.pos <= c->in_len && c->cur.scanned <= c->in_len);
		if (r == WIRE_E_MORE)
			break;
		if (r != 0)
			return false;
		seen_frame(sn, line, len);
	}
	memmove(c->in, c->in + c->cur.pos, c->in_len - c->cur.pos);
	c->in_len -= c->cur.pos;
	c->cur.scanned -= c->cur.pos;
	c->cur.pos = 0;
	return true;
}

static void library_way(struct feed *f, size_t max_frame, struct seen *sn)
{
	struct lconn c = { .limit = max_frame };
	bool too_large = false;

	for (;;) {
		size_t n;

		/* a full buffer without a frame in it: the frame is too large, or a bug */
		if (!grow_in(&c)) {
			CHECK(!"buffer full at its limit before frame_too_large");
			break;
		}
		n = feed_read(f, c.in + c.in_len, c.in_cap - c.in_len);
		if (n == 0)
			break;
		c.in_len += n;
		if (!drain(&c, sn)) {
			too_large = true;
			break;
		}
	}
	seen_end(sn, too_large);
	if (!too_large)
		CHECK(c.in_len == f->len - sn->w->rest &&
		      (!c.in_len || memcmp(c.in, sn->s + sn->w->rest, c.in_len) == 0));
	free(c.in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct whole w;
	size_t max_frame, read_chunk, nchunks, len;
	const uint8_t *chunks;
	struct feed f;
	struct seen sn;
	char *s;

	if (size < 3)
		return 0;
	max_frame = 1u + data[0];
	read_chunk = 1u + data[1] % 64;
	nchunks = data[2] % 16;
	if (size < 3 + nchunks)
		return 0;
	chunks = data + 3;
	len = size - 3 - nchunks;
	/* an exact-size copy: ASan reports any read past the end */
	s = malloc(len ? len : 1);
	CHECK(s);
	memcpy(s, data + 3 + nchunks, len);

	split_whole(s, len, max_frame, &w);

	sn = (struct seen){ &w, s, 0 };
	feed_init(&f, s, len, chunks, nchunks);
	broker_way(&f, max_frame, read_chunk, &sn);

	sn = (struct seen){ &w, s, 0 };
	feed_init(&f, s, len, chunks, nchunks);
	library_way(&f, max_frame, &sn);

	free(s);
	return 0;
}
