/*
 * Unit tests of the wire codec (client-lib/wire.c): framing with
 * wire_next_frame, the frame builders and their JSON string encoding,
 * reading the broker's msg layout back (wire_msg_parse), and name
 * validation. The scanner has its own suite (check_scan.c). Tables
 * hold the inputs; loop tests report each row on its own, so one wrong row
 * does not hide the others.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jt.h"
#include "util.h"
#include "wire.h"

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	ck_assert_ptr_nonnull(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* section: framing */

#define NEXT(buf, len, cur, max) wire_next_frame(buf, len, cur, max, &line, &line_len)

START_TEST(test_wire_frame_single)
{
	static const char buf[] = "{\"op\":\"ping\"}\n";
	struct wire_cursor cur = { 0 };
	const char *line = NULL;
	size_t line_len = 0;

	ck_assert_int_eq(NEXT(buf, sizeof(buf) - 1, &cur, 1024), 0);
	ck_assert_ptr_eq(line, buf);
	ck_assert_uint_eq(line_len, sizeof(buf) - 2);
	ck_assert_uint_eq(cur.pos, sizeof(buf) - 1);
	/* nothing after it: asks for more, the cursor stays at the end */
	ck_assert_int_eq(NEXT(buf, sizeof(buf) - 1, &cur, 1024), WIRE_E_MORE);
	ck_assert_uint_eq(cur.pos, sizeof(buf) - 1);
}
END_TEST

START_TEST(test_wire_frame_empty_buffer)
{
	struct wire_cursor cur = { 0 };
	const char *line = NULL;
	size_t line_len = 0;

	ck_assert_int_eq(NEXT("", 0, &cur, 1024), WIRE_E_MORE);
	ck_assert_uint_eq(cur.pos, 0);
	ck_assert_ptr_null(line);
}
END_TEST

START_TEST(test_wire_frame_coalesced)
{
	static const char buf[] = "A\nBB\r\nCCC\nDD";
	static const char *const want[] = { "A", "BB", "CCC" };
	struct wire_cursor cur = { 0 };
	const char *line;
	size_t line_len;

	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		ck_assert_int_eq(NEXT(buf, sizeof(buf) - 1, &cur, 1024), 0);
		ck_assert_uint_eq(line_len, strlen(want[i]));
		ck_assert_mem_eq(line, want[i], line_len);
		/* borrowed from the buffer, not copied */
		ck_assert(line >= buf && line + line_len <= buf + sizeof(buf) - 1);
	}
	/* the partial "DD": its start is kept for the next call */
	ck_assert_int_eq(NEXT(buf, sizeof(buf) - 1, &cur, 1024), WIRE_E_MORE);
	ck_assert_uint_eq(cur.pos, sizeof(buf) - 3);
}
END_TEST

/*
 * A receive buffer growing one byte per read (realloc'd every time, so it
 * moves): the cursor holds offsets, each frame comes out exactly when its
 * '\n' arrives, and after every WIRE_E_MORE scanned covers the whole buffer.
 */
START_TEST(test_wire_frame_byte_by_byte)
{
	static const char stream[] = "{\"op\":\"ping\"}\r\n\n  \r\n{\"a\":[1,2]}\n\t\r\n{}\r\n \n"
				     "{\"x\":\"y\"}";
	static const char *const want[] = { "{\"op\":\"ping\"}", "{\"a\":[1,2]}", "{}" };
	struct wire_cursor cur = { 0 };
	size_t n = sizeof(stream) - 1, got = 0;
	char *buf = NULL;

	for (size_t len = 1; len <= n; len++) {
		const char *line;
		size_t line_len;
		int r;

		buf = realloc(buf, len);
		ck_assert_ptr_nonnull(buf);
		buf[len - 1] = stream[len - 1];
		while ((r = NEXT(buf, len, &cur, 64)) == 0) {
			ck_assert_uint_lt(got, ARRAY_SIZE(want));
			ck_assert_int_eq(buf[len - 1], '\n');
			ck_assert_uint_eq(line_len, strlen(want[got]));
			ck_assert_mem_eq(line, want[got], line_len);
			ck_assert(line >= buf && line + line_len <= buf + len);
			got++;
		}
		ck_assert_int_eq(r, WIRE_E_MORE);
		ck_assert_uint_eq(cur.scanned, len);
		ck_assert_uint_le(cur.pos, len);
	}
	ck_assert_uint_eq(got, ARRAY_SIZE(want));
	/* the unterminated last frame starts where the cursor waits */
	ck_assert_uint_eq(cur.pos, n - strlen("{\"x\":\"y\"}"));
	free(buf);
}
END_TEST

/*
 * scanned makes the search resume: a '\n' planted in bytes already searched
 * is not seen again (only the new bytes are searched), as the header promises.
 */
START_TEST(test_wire_frame_resume_scanned)
{
	char buf[16] = "abc";
	struct wire_cursor cur = { 0 };
	const char *line;
	size_t line_len;

	ck_assert_int_eq(NEXT(buf, 3, &cur, 64), WIRE_E_MORE);
	ck_assert_uint_eq(cur.scanned, 3);
	buf[1] = '\n';
	memcpy(buf + 3, "de", 2);
	ck_assert_int_eq(NEXT(buf, 5, &cur, 64), WIRE_E_MORE);
	ck_assert_uint_eq(cur.scanned, 5);
	ck_assert_uint_eq(cur.pos, 0);
	buf[5] = '\n';
	ck_assert_int_eq(NEXT(buf, 6, &cur, 64), 0);
	ck_assert_ptr_eq(line, buf);
	ck_assert_uint_eq(line_len, 5);
	ck_assert_uint_eq(cur.pos, 6);
}
END_TEST

struct frame_case {
	const char *in;
	const char *want; /* the single frame expected; NULL: none (WIRE_E_MORE) */
};

static const struct frame_case crlf_cases[] = {
	{ "abc\r\n", "abc" },
	{ "abc\n", "abc" },
	{ "a\rb\r\n", "a\rb" },      /* a CR inside the line is data */
	{ "abc\r\r\n", "abc\r" },    /* only one trailing CR is the line ending */
	{ "  {}  \r\n", "  {}  " }, /* surrounding blanks are the scanner's business */
	{ "\n", NULL },
	{ "\r\n", NULL },
	{ "   \n", NULL },
	{ "\t \t\r\n", NULL },
	{ " \r \r\n", NULL },
	{ "\r\r\r\n", NULL },
	{ "\n\n\r\n \n\t\nx\n", "x" },
	{ "\n \n\r\n\t\r\n", NULL },
};

START_TEST(test_wire_frame_crlf_blank)
{
	const struct frame_case *c = &crlf_cases[_i];
	struct wire_cursor cur = { 0 };
	size_t n = strlen(c->in);
	const char *line;
	size_t line_len;
	int r = NEXT(c->in, n, &cur, 64);

	if (!c->want) {
		ck_assert_msg(r == WIRE_E_MORE, "'%s': got %d", jt_show(c->in, n), r);
		/* every blank line was consumed */
		ck_assert_uint_eq(cur.pos, n);
		return;
	}
	ck_assert_msg(r == 0, "'%s': got %d", jt_show(c->in, n), r);
	ck_assert_msg(line_len == strlen(c->want) && !memcmp(line, c->want, line_len),
		      "'%s': frame '%s'", jt_show(c->in, n), jt_show(line, line_len));
	ck_assert_uint_eq(cur.pos, n);
	ck_assert_int_eq(NEXT(c->in, n, &cur, 64), WIRE_E_MORE);
}
END_TEST

enum { MAXF = 16 };

START_TEST(test_wire_frame_max_frame)
{
	char buf[64];
	struct wire_cursor cur;
	const char *line;
	size_t line_len;

	/* exactly max_frame bytes, with "\n" and with "\r\n" */
	memset(buf, 'x', MAXF);
	memcpy(buf + MAXF, "\n", 1);
	cur = (struct wire_cursor){ 0 };
	ck_assert_int_eq(NEXT(buf, MAXF + 1, &cur, MAXF), 0);
	ck_assert_uint_eq(line_len, MAXF);
	memcpy(buf + MAXF, "\r\n", 2);
	cur = (struct wire_cursor){ 0 };
	ck_assert_int_eq(NEXT(buf, MAXF + 2, &cur, MAXF), 0);
	ck_assert_uint_eq(line_len, MAXF);
	/* max_frame bytes plus the CR may still be waiting for the LF */
	cur = (struct wire_cursor){ 0 };
	ck_assert_int_eq(NEXT(buf, MAXF + 1, &cur, MAXF), WIRE_E_MORE);

	/* max_frame + 1 bytes, complete */
	memset(buf, 'x', MAXF + 1);
	memcpy(buf + MAXF + 1, "\n", 1);
	cur = (struct wire_cursor){ 0 };
	ck_assert_int_eq(NEXT(buf, MAXF + 2, &cur, MAXF), WIRE_E_TOO_LARGE);
	memcpy(buf + MAXF + 1, "\r\n", 2);
	cur = (struct wire_cursor){ 0 };
	ck_assert_int_eq(NEXT(buf, MAXF + 3, &cur, MAXF), WIRE_E_TOO_LARGE);

	/* partial: more than max_frame + 1 bytes and no '\n' yet */
	memset(buf, 'x', sizeof(buf));
	cur = (struct wire_cursor){ 0 };
	ck_assert_int_eq(NEXT(buf, MAXF + 2, &cur, MAXF), WIRE_E_TOO_LARGE);
	cur = (struct wire_cursor){ 0 };
	ck_assert_int_eq(NEXT(buf, sizeof(buf), &cur, MAXF), WIRE_E_TOO_LARGE);
}
END_TEST

/* The limit applies to the frame at pos, not to what came before it. */
START_TEST(test_wire_frame_max_frame_after_frames)
{
	char buf[64];
	struct wire_cursor cur = { 0 };
	const char *line;
	size_t line_len;

	memcpy(buf, "ok\n", 3);
	memset(buf + 3, 'x', MAXF);
	buf[3 + MAXF] = '\r';
	ck_assert_int_eq(NEXT(buf, 3 + MAXF + 1, &cur, MAXF), 0);
	ck_assert_uint_eq(line_len, 2);
	ck_assert_int_eq(NEXT(buf, 3 + MAXF + 1, &cur, MAXF), WIRE_E_MORE);
	ck_assert_uint_eq(cur.pos, 3);
	buf[3 + MAXF + 1] = '\n';
	ck_assert_int_eq(NEXT(buf, 3 + MAXF + 2, &cur, MAXF), 0);
	ck_assert_ptr_eq(line, buf + 3);
	ck_assert_uint_eq(line_len, MAXF);

	/* a partial oversized frame behind a good one: the good one first */
	memcpy(buf, "ok\n", 3);
	memset(buf + 3, 'y', MAXF + 2);
	cur = (struct wire_cursor){ 0 };
	ck_assert_int_eq(NEXT(buf, 3 + MAXF + 2, &cur, MAXF), 0);
	ck_assert_uint_eq(line_len, 2);
	ck_assert_int_eq(NEXT(buf, 3 + MAXF + 2, &cur, MAXF), WIRE_E_TOO_LARGE);
}
END_TEST

/*
 * The outcome must not depend on how the bytes are split into reads. Feed a
 * stream whole, in two halves and byte by byte, and record the frames up to
 * the first WIRE_E_TOO_LARGE (where the broker closes the connection). That
 * includes a blank line longer than max_frame: skipped or too large, but the
 * same either way.
 */
static void frames_of(const char *stream, size_t n, size_t step, size_t max_frame, char *out,
		      size_t cap)
{
	struct wire_cursor cur = { 0 };
	size_t o = 0;

	out[0] = '\0';
	for (size_t len = step < n ? step : n;; len = len + step < n ? len + step : n) {
		const char *line;
		size_t line_len;
		int r;

		while ((r = NEXT(stream, len, &cur, max_frame)) == 0) {
			ck_assert_uint_lt(o + line_len + 2, cap);
			memcpy(out + o, line, line_len);
			o += line_len;
			out[o++] = '|';
			out[o] = '\0';
		}
		if (r == WIRE_E_TOO_LARGE) {
			ck_assert_uint_lt(o + 10, cap);
			strcpy(out + o, "TOO_LARGE");
			return;
		}
		ck_assert_int_eq(r, WIRE_E_MORE);
		if (len == n)
			return;
	}
}

static const char *const chunk_streams[] = {
	"{\"a\":1}\n{\"b\":2}\r\n\n{}\n",
	"xxxxxxxxxxxxxxxx\r\nyy\n",          /* exactly max_frame (16) with CRLF */
	"ok\nxxxxxxxxxxxxxxxxx\n{}\n",       /* 17 bytes: too large */
	"ok\nxxxxxxxxxxxxxxxxxxxxxxxxx\n",   /* 25 bytes: too large */
	"  \t \r\n\r\n{}\n",                 /* short blank lines */
	"ok\n                         \n{}\n", /* a blank line longer than max_frame */
	"ok\n \t \t \t \t \t \t \t \t \t \t \r\n{}\n",
};

START_TEST(test_wire_frame_chunking_independent)
{
	const char *stream = chunk_streams[_i];
	size_t n = strlen(stream);
	char whole[256], half[256], bytes[256];

	frames_of(stream, n, n, MAXF, whole, sizeof(whole));
	frames_of(stream, n, n / 2, MAXF, half, sizeof(half));
	frames_of(stream, n, 1, MAXF, bytes, sizeof(bytes));
	ck_assert_msg(!strcmp(whole, half) && !strcmp(whole, bytes),
		      "'%s' (max_frame %d): whole: '%s', in halves: '%s', byte by byte: '%s'",
		      jt_show(stream, n), MAXF, whole, half, bytes);
}
END_TEST

/* section: building */

static struct wire_buf gb; /* fixture-owned: freed by teardown even after a failure */

static void buf_setup(void)
{
	wire_buf_init(&gb, 0);
}

static void buf_teardown(void)
{
	wire_buf_free(&gb);
}

/* Start gb over for the next frame, with headroom bytes before it. */
static void gb_reset(size_t headroom)
{
	wire_buf_free(&gb);
	wire_buf_init(&gb, headroom);
}

static struct wire_raw raw(const char *s)
{
	return (struct wire_raw){ s, s ? strlen(s) : 0 };
}

static void assert_built(struct wire_buf *b, size_t headroom, const char *want)
{
	ck_assert(!wire_buf_failed(b));
	ck_assert_msg(b->len == headroom + strlen(want) &&
			      !memcmp(b->p + headroom, want, b->len - headroom),
		      "built '%s'\nwant  '%s'", jt_show(b->p + headroom, b->len - headroom), want);
}

START_TEST(test_wire_build_ok)
{
	static const uint64_t zero = 0, three = 3, max = UINT64_MAX;

	wire_build_ok(&gb, raw(NULL), NULL);
	assert_built(&gb, 0, "{\"op\":\"ok\"}\n");
	gb_reset(0);
	wire_build_ok(&gb, raw("7"), &three);
	assert_built(&gb, 0, "{\"op\":\"ok\",\"id\":7,\"delivered\":3}\n");
	gb_reset(0);
	wire_build_ok(&gb, raw("\"x\""), NULL);
	assert_built(&gb, 0, "{\"op\":\"ok\",\"id\":\"x\"}\n");
	gb_reset(0);
	wire_build_ok(&gb, raw("1.50"), &zero);
	assert_built(&gb, 0, "{\"op\":\"ok\",\"id\":1.50,\"delivered\":0}\n");
	gb_reset(0);
	wire_build_ok(&gb, raw(NULL), &max);
	assert_built(&gb, 0, "{\"op\":\"ok\",\"delivered\":18446744073709551615}\n");
}
END_TEST

START_TEST(test_wire_build_error)
{
	wire_build_error(&gb, raw(NULL), "bad_json", "invalid UTF-8", NULL);
	assert_built(&gb, 0, "{\"op\":\"error\",\"code\":\"bad_json\","
			     "\"message\":\"invalid UTF-8\"}\n");
	gb_reset(0);
	wire_build_error(&gb, raw("1.50"), "unsupported_proto", "proto 2 is not supported",
			 "\"supported\":[1]");
	assert_built(&gb, 0, "{\"op\":\"error\",\"id\":1.50,\"code\":\"unsupported_proto\","
			     "\"message\":\"proto 2 is not supported\",\"supported\":[1]}\n");
	gb_reset(0);
	/* the message is a JSON string: quotes and control characters escaped */
	wire_build_error(&gb, raw("\"q\""), "bad_frame", "field \"x\"\n\\", NULL);
	assert_built(&gb, 0, "{\"op\":\"error\",\"id\":\"q\",\"code\":\"bad_frame\","
			     "\"message\":\"field \\\"x\\\"\\n\\\\\"}\n");
}
END_TEST

START_TEST(test_wire_build_pong)
{
	wire_build_pong(&gb, raw(NULL));
	assert_built(&gb, 0, "{\"op\":\"pong\"}\n");
	gb_reset(0);
	wire_build_pong(&gb, raw("\"a\""));
	assert_built(&gb, 0, "{\"op\":\"pong\",\"id\":\"a\"}\n");
	/* frames append: a second one goes after the first */
	wire_build_pong(&gb, raw("2"));
	assert_built(&gb, 0, "{\"op\":\"pong\",\"id\":\"a\"}\n{\"op\":\"pong\",\"id\":2}\n");
}
END_TEST

START_TEST(test_wire_build_welcome)
{
	wire_build_welcome(&gb, raw(NULL), "anon-1", 6, "jbusd 0.1.0", 1048576, 0);
	assert_built(&gb, 0, "{\"op\":\"welcome\",\"proto\":1,\"name\":\"anon-1\","
			     "\"broker\":\"jbusd 0.1.0\",\"max_frame\":1048576}\n");
	gb_reset(0);
	/* name_len is honoured: only "bob" of "bobby" */
	wire_build_welcome(&gb, raw("\"h\""), "bobby", 3, "jbusd 0.1.0", 64, 0);
	assert_built(&gb, 0, "{\"op\":\"welcome\",\"id\":\"h\",\"proto\":1,\"name\":\"bob\","
			     "\"broker\":\"jbusd 0.1.0\",\"max_frame\":64}\n");
	gb_reset(0);
	/* an idle timeout comes last, for clients to ping before it */
	wire_build_welcome(&gb, raw(NULL), "a", 1, "jbusd 0.1.0", 64, 2500);
	assert_built(&gb, 0, "{\"op\":\"welcome\",\"proto\":1,\"name\":\"a\","
			     "\"broker\":\"jbusd 0.1.0\",\"max_frame\":64,\"idle_timeout_ms\":2500}\n");
}
END_TEST

/* sub and unsub; a sub's on_full is the last member, and left out for the default */
START_TEST(test_wire_build_topic_op)
{
	wire_build_topic_op(&gb, "sub", "a/#", 3, NULL, raw("1"));
	assert_built(&gb, 0, "{\"op\":\"sub\",\"id\":1,\"topic\":\"a/#\"}\n");
	gb_reset(0);
	wire_build_topic_op(&gb, "sub", "s/\"q", 4, "latest", raw(NULL));
	assert_built(&gb, 0, "{\"op\":\"sub\",\"topic\":\"s/\\\"q\",\"on_full\":\"latest\"}\n");
	gb_reset(0);
	wire_build_topic_op(&gb, "unsub", "x", 1, NULL, raw("\"u\""));
	assert_built(&gb, 0, "{\"op\":\"unsub\",\"id\":\"u\",\"topic\":\"x\"}\n");
}
END_TEST

START_TEST(test_wire_build_dropped)
{
	wire_build_dropped(&gb, "sensors/#", 9, 42);
	assert_built(&gb, 0, "{\"op\":\"dropped\",\"topic\":\"sensors/#\",\"count\":42}\n");
	gb_reset(0);
	/* the pattern is re-encoded as a JSON string; len is honoured */
	wire_build_dropped(&gb, "q\"\x01/#x", 5, UINT64_MAX);
	assert_built(&gb, 0, "{\"op\":\"dropped\",\"topic\":\"q\\\"\\u0001/#\","
			     "\"count\":18446744073709551615}\n");
}
END_TEST

START_TEST(test_wire_build_msg)
{
	static const char data[] = "{ \"k\" : [1, 2] }";

	wire_build_msg(&gb, "a/b", 3, "pub1", 4, NULL, 0, raw(data));
	assert_built(&gb, 0, "{\"op\":\"msg\",\"topic\":\"a/b\",\"from\":\"pub1\","
			     "\"data\":{ \"k\" : [1, 2] }}\n");
	gb_reset(0);
	wire_build_msg(&gb, NULL, 0, "a", 1, "b", 1, raw("42"));
	assert_built(&gb, 0, "{\"op\":\"msg\",\"from\":\"a\",\"to\":\"b\",\"data\":42}\n");
	gb_reset(0);
	/* data absent: null */
	wire_build_msg(&gb, "t", 1, "a", 1, NULL, 0, raw(NULL));
	assert_built(&gb, 0, "{\"op\":\"msg\",\"topic\":\"t\",\"from\":\"a\",\"data\":null}\n");
	gb_reset(0);
	/* the topic is re-encoded as a JSON string */
	wire_build_msg(&gb, "q\"\\\x01/\xc3\xa9", 7, "a", 1, NULL, 0, raw("1"));
	assert_built(&gb, 0, "{\"op\":\"msg\",\"topic\":\"q\\\"\\\\\\u0001/\xc3\xa9\","
			     "\"from\":\"a\",\"data\":1}\n");
}
END_TEST

START_TEST(test_wire_build_msg_large)
{
	size_t n = 300000;
	char *data = repeat('7', n);
	size_t want = strlen("{\"op\":\"msg\",\"topic\":\"t\",\"from\":\"a\",\"data\":") + n + 2;

	wire_build_msg(&gb, "t", 1, "a", 1, NULL, 0, (struct wire_raw){ data, n });
	ck_assert(!wire_buf_failed(&gb));
	ck_assert_uint_eq(gb.len, want);
	ck_assert_mem_eq(gb.p + gb.len - 4, "77}\n", 4);
	ck_assert_mem_eq(gb.p + gb.len - n - 2, data, n);
	free(data);
}
END_TEST

/* headroom: b.len starts there and the frame is built after it. */
START_TEST(test_wire_build_headroom)
{
	static const size_t rooms[] = { 0, 1, 8, 200 };
	static const char want[] = "{\"op\":\"msg\",\"topic\":\"t\",\"from\":\"a\",\"data\":[]}\n";

	for (size_t i = 0; i < ARRAY_SIZE(rooms); i++) {
		gb_reset(rooms[i]);
		ck_assert_uint_eq(gb.len, rooms[i]);
		ck_assert(!wire_buf_failed(&gb));
		wire_build_msg(&gb, "t", 1, "a", 1, NULL, 0, raw("[]"));
		assert_built(&gb, rooms[i], want);
		ck_assert_uint_ge(gb.cap, gb.len);
	}
	gb_reset(16);
	wire_build_ok(&gb, raw("1"), NULL);
	assert_built(&gb, 16, "{\"op\":\"ok\",\"id\":1}\n");
}
END_TEST

/* Allocation failure is sticky and nothing more is appended. */
START_TEST(test_wire_build_failed_sticky)
{
	gb_reset(8);
	wire_buf_puts(&gb, "ab");
	ck_assert(!wire_buf_reserve(&gb, SIZE_MAX));
	ck_assert(wire_buf_failed(&gb));
	wire_buf_puts(&gb, "cd");
	wire_build_pong(&gb, raw(NULL));
	ck_assert_uint_eq(gb.len, 10);
	ck_assert(!wire_buf_reserve(&gb, 1));
	ck_assert(wire_buf_failed(&gb));
}
END_TEST

START_TEST(test_wire_buf_put_u64)
{
	static const struct {
		uint64_t v;
		const char *s;
	} rows[] = {
		{ 0, "0" }, { 9, "9" }, { 10, "10" }, { 1048576, "1048576" },
		{ UINT64_MAX, "18446744073709551615" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		gb_reset(0);
		wire_buf_put_u64(&gb, rows[i].v);
		assert_built(&gb, 0, rows[i].s);
	}
}
END_TEST

struct jstr_case {
	const char *in;
	size_t len;
	const char *want;
};

#define JS(in, want) { in, sizeof(in) - 1, want }

static const struct jstr_case jstr_cases[] = {
	JS("", "\"\""),
	JS("abc", "\"abc\""),
	JS("a\"b", "\"a\\\"b\""),
	JS("a\\b", "\"a\\\\b\""),
	JS("a/b", "\"a/b\""),
	JS("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\""),
	JS("\x01", "\"\\u0001\""),
	JS("\x0b", "\"\\u000b\""),
	JS("\x1a", "\"\\u001a\""),
	JS("\x1f", "\"\\u001f\""),
	JS("\0", "\"\\u0000\""),
	JS("a\0b", "\"a\\u0000b\""),
	JS("\x7f", "\"\x7f\""),
	JS(" ~", "\" ~\""),
	JS("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""),
	JS("x\"\\\x1f\xc3\xa9\ty", "\"x\\\"\\\\\\u001f\xc3\xa9\\ty\""),
	JS("\"\"\"", "\"\\\"\\\"\\\"\""),
};

START_TEST(test_wire_build_jstr)
{
	const struct jstr_case *c = &jstr_cases[_i];

	wire_buf_put(&gb, "<", 1);
	wire_buf_put_jstr(&gb, c->in, c->len);
	ck_assert(!wire_buf_failed(&gb));
	ck_assert_msg(gb.len == 1 + strlen(c->want) && !memcmp(gb.p + 1, c->want, gb.len - 1),
		      "'%s' -> '%s'", jt_show(c->in, c->len), jt_show(gb.p + 1, gb.len - 1));
	ck_assert_uint_eq(wire_jstr_len(c->in, c->len), strlen(c->want));
}
END_TEST

/* Every byte value: the length matches, and json-c reads the original back. */
START_TEST(test_wire_build_jstr_all_bytes)
{
	char in[256];
	json_object *o;
	char *s;

	for (int i = 0; i < 256; i++)
		in[i] = (char)i;
	wire_buf_put_jstr(&gb, in, sizeof(in));
	ck_assert(!wire_buf_failed(&gb));
	ck_assert_uint_eq(gb.len, wire_jstr_len(in, sizeof(in)));
	/* json-c: the ASCII half (the bytes >= 0x80 alone are not UTF-8) */
	gb_reset(0);
	wire_buf_put_jstr(&gb, in, 128);
	ck_assert_uint_eq(gb.len, wire_jstr_len(in, 128));
	s = strndup(gb.p, gb.len);
	o = json_tokener_parse(s);
	ck_assert_ptr_nonnull(o);
	ck_assert(json_object_is_type(o, json_type_string));
	ck_assert_int_eq(json_object_get_string_len(o), 128);
	ck_assert_mem_eq(json_object_get_string(o), in, 128);
	json_object_put(o);
	free(s);
}
END_TEST

START_TEST(test_wire_build_msg_parses)
{
	static const char topic[] = "a/\"b\"/\\c\x01/\xc3\xa9";
	json_object *o, *v;
	char *s;

	gb_reset(8);
	wire_build_msg(&gb, topic, sizeof(topic) - 1, "pub-1.x_y", 9, NULL, 0,
		       raw("{\"k\":[1,2,{\"z\":null}],\"s\":\"\\u00e9\"}"));
	ck_assert(!wire_buf_failed(&gb));
	ck_assert_int_eq(gb.p[gb.len - 1], '\n');
	s = strndup(gb.p + 8, gb.len - 8);
	o = json_tokener_parse(s);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(jt_str(o, "op"), "msg");
	ck_assert_str_eq(jt_str(o, "topic"), topic);
	ck_assert_str_eq(jt_str(o, "from"), "pub-1.x_y");
	ck_assert(!jt_has(o, "to"));
	ck_assert(json_object_object_get_ex(o, "data", &v));
	ck_assert(json_object_is_type(v, json_type_object));
	ck_assert(json_object_object_get_ex(v, "s", &v));
	ck_assert_str_eq(json_object_get_string(v), "\xc3\xa9");
	json_object_put(o);
	free(s);

	/* a direct message */
	gb_reset(0);
	wire_build_msg(&gb, NULL, 0, "a", 1, "b", 1, raw(NULL));
	s = strndup(gb.p, gb.len);
	o = json_tokener_parse(s);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(jt_str(o, "to"), "b");
	ck_assert(!jt_has(o, "topic"));
	ck_assert(json_object_object_get_ex(o, "data", &v));
	ck_assert_ptr_null(v);
	json_object_put(o);
	free(s);
}
END_TEST

/* A built frame goes through the framer and scanner of the other side. */
START_TEST(test_wire_build_roundtrip)
{
	struct wire_cursor cur = { 0 };
	struct wire_env env;
	const char *line, *out;
	size_t line_len, len;
	char tmp[64];

	wire_build_msg(&gb, "x/\"y\"", 5, "a", 1, NULL, 0, raw("[1, 2]"));
	ck_assert_int_eq(NEXT(gb.p, gb.len, &cur, 1024), 0);
	ck_assert_uint_eq(line_len, gb.len - 1);
	ck_assert_int_eq(wire_scan(line, line_len, &env, NULL), 0);
	ck_assert(wire_value_is(&env.f[WF_OP], "msg"));
	ck_assert_int_eq(wire_string(&env.f[WF_TOPIC], tmp, sizeof(tmp), &out, &len), 0);
	ck_assert_uint_eq(len, 5);
	ck_assert_mem_eq(out, "x/\"y\"", 5);
	ck_assert_int_eq(env.f[WF_DATA].type, WIRE_T_ARRAY);
	ck_assert_uint_eq(env.f[WF_DATA].len, 6);
	ck_assert_mem_eq(env.f[WF_DATA].p, "[1, 2]", 6);
}
END_TEST

/* wire_msg_parse: the broker's own msg layout, or false for a full scan. */
struct msg_parse_case {
	const char *frame;
	bool ok;
	const char *topic, *from, *data; /* when ok */
};

#define MSG_HEAD "{\"op\":\"msg\",\"topic\":"

static const struct msg_parse_case msg_parse_cases[] = {
	{ MSG_HEAD "\"a/b\",\"from\":\"p-1\",\"data\":{\"k\":[1,2]}}", true, "a/b", "p-1",
	  "{\"k\":[1,2]}" },
	{ MSG_HEAD "\"t\",\"from\":\"a\",\"data\":null}", true, "t", "a", "null" },
	{ MSG_HEAD "\"t\",\"from\":\"a\",\"data\":7}", true, "t", "a", "7" },
	/* data is not looked at: whatever stands before the last '}' */
	{ MSG_HEAD "\"t\",\"from\":\"a\",\"data\":{\"retained\":true}}", true, "t", "a",
	  "{\"retained\":true}" },
	{ MSG_HEAD "\"\",\"from\":\"a\",\"data\":1}", true, "", "a", "1" },
	/* a 40-byte topic: the plain-string test runs over a whole SSE2 step */
	{ MSG_HEAD "\"0123456789/0123456789/0123456789/0123456\",\"from\":\"a\",\"data\":[]}", true,
	  "0123456789/0123456789/0123456789/0123456", "a", "[]" },
	/* scanned whole: retained, direct, escapes, UTF-8, other layouts, cut short */
	{ MSG_HEAD "\"t\",\"from\":\"a\",\"data\":1,\"retained\":true}", false },
	{ "{\"op\":\"msg\",\"from\":\"a\",\"to\":\"b\",\"data\":1}", false },
	{ MSG_HEAD "\"a\\/b\",\"from\":\"a\",\"data\":1}", false },
	{ MSG_HEAD "\"a\\\"b\",\"from\":\"a\",\"data\":1}", false },
	{ MSG_HEAD "\"\xc3\xa9\",\"from\":\"a\",\"data\":1}", false },
	{ MSG_HEAD "\"a\tb\",\"from\":\"a\",\"data\":1}", false },
	{ MSG_HEAD "\"t\",\"data\":1,\"from\":\"a\"}", false },
	{ MSG_HEAD " \"t\",\"from\":\"a\",\"data\":1}", false },
	{ "{\"op\":\"msg\" ,\"topic\":\"t\",\"from\":\"a\",\"data\":1}", false },
	{ "{\"op\":\"ok\",\"topic\":\"t\",\"from\":\"a\",\"data\":1}", false },
	{ MSG_HEAD "\"t\",\"from\":\"a\",\"data\":}", false },
	{ MSG_HEAD "\"t\",\"from\":\"a\",\"data\":1", false },
	{ MSG_HEAD "\"t\",\"from\":\"a\",\"data\"", false },
	{ MSG_HEAD "\"t\",\"from\":\"a", false },
	{ MSG_HEAD "\"t", false },
	{ MSG_HEAD, false },
	{ "{\"op\":\"msg\"", false },
	{ "", false },
};

START_TEST(test_wire_msg_parse)
{
	const struct msg_parse_case *c = &msg_parse_cases[_i];
	size_t n = strlen(c->frame);
	/* an exact copy on the heap: a read past the end is the sanitizer's finding */
	char *f = malloc(n ? n : 1);
	struct wire_msg m;
	bool ok;

	ck_assert_ptr_nonnull(f);
	memcpy(f, c->frame, n);
	ok = wire_msg_parse(f, n, &m);
	ck_assert_msg(ok == c->ok, "%s: want %s", jt_show(c->frame, n), c->ok ? "true" : "false");
	if (ok) {
		ck_assert_uint_eq(m.topic_len, strlen(c->topic));
		ck_assert_mem_eq(m.topic, c->topic, m.topic_len);
		ck_assert_uint_eq(m.from_len, strlen(c->from));
		ck_assert_mem_eq(m.from, c->from, m.from_len);
		ck_assert_uint_eq(m.data_len, strlen(c->data));
		ck_assert_mem_eq(m.data, c->data, m.data_len);
	}
	free(f);
}
END_TEST

/* Every msg frame the broker builds for a pub with a plain topic reads back the same. */
START_TEST(test_wire_msg_parse_built)
{
	struct wire_msg m;

	wire_build_msg(&gb, "x/y", 3, "anon-7", 6, NULL, 0, raw("{\"s\":\"a\\nb\"}"));
	ck_assert(wire_msg_parse(gb.p, gb.len - 1, &m));
	ck_assert_mem_eq(m.topic, "x/y", 3);
	ck_assert_mem_eq(m.from, "anon-7", 6);
	ck_assert_uint_eq(m.data_len, strlen("{\"s\":\"a\\nb\"}"));
	gb_reset(0);
	wire_build_msg_retained(&gb, "x/y", 3, "anon-7", 6, raw("1"));
	ck_assert(!wire_msg_parse(gb.p, gb.len - 1, &m));
	gb_reset(0);
	wire_build_msg(&gb, NULL, 0, "a", 1, "b", 1, raw("1"));
	ck_assert(!wire_msg_parse(gb.p, gb.len - 1, &m));
}
END_TEST

/* section: names */

struct name_case {
	const char *s;
	size_t len; /* 0: strlen */
	bool ok;
};

static const struct name_case name_cases[] = {
	{ "", 0, false },
	{ "a", 0, true },
	{ "Z", 0, true },
	{ "0", 0, true },
	{ ".", 0, true },
	{ "_", 0, true },
	{ "-", 0, true },
	{ "..", 0, true },
	{ "anon-1", 0, true },
	{ "AZaz09._-", 0, true },
	{ "abc", 2, true },
	{ "a b", 0, false },
	{ "a/b", 0, false },
	{ "a+b", 0, false },
	{ "a#b", 0, false },
	{ "$sys", 0, false },
	{ "a@b", 0, false },
	{ "a:b", 0, false },
	{ "a\"b", 0, false },
	{ "a\\b", 0, false },
	{ "a,b", 0, false },
	{ "a*", 0, false },
	{ "a~", 0, false },
	{ "a\tb", 0, false },
	{ "a\n", 0, false },
	{ "\x7f", 0, false },
	{ "\xc3\xa9", 0, false },
	{ "a\0b", 3, false },
};

START_TEST(test_wire_name_valid)
{
	const struct name_case *c = &name_cases[_i];
	size_t n = c->len ? c->len : strlen(c->s);

	ck_assert_msg(wire_name_valid(c->s, n) == c->ok, "'%s' (%zu): want %s", jt_show(c->s, n),
		      n, c->ok ? "valid" : "invalid");
}
END_TEST

START_TEST(test_wire_name_length)
{
	char *s = repeat('a', 65);

	ck_assert(wire_name_valid(s, 1));
	ck_assert(wire_name_valid(s, 63));
	ck_assert(wire_name_valid(s, 64));
	ck_assert(!wire_name_valid(s, 65));
	ck_assert(!wire_name_valid(s, 0));
	free(s);
}
END_TEST

Suite *jt_suite(void)
{
	Suite *s = suite_create("wire");
	const struct jt_case cases[] = {
		{ "frame_single", test_wire_frame_single },
		{ "frame_empty_buffer", test_wire_frame_empty_buffer },
		{ "frame_coalesced", test_wire_frame_coalesced },
		{ "frame_byte_by_byte", test_wire_frame_byte_by_byte },
		{ "frame_resume_scanned", test_wire_frame_resume_scanned },
		{ "frame_crlf_blank", test_wire_frame_crlf_blank, ARRAY_SIZE(crlf_cases) },
		{ "frame_max_frame", test_wire_frame_max_frame },
		{ "frame_max_frame_after_frames", test_wire_frame_max_frame_after_frames },
		{ "frame_chunking_independent", test_wire_frame_chunking_independent,
		  ARRAY_SIZE(chunk_streams) },
		{ "name_valid", test_wire_name_valid, ARRAY_SIZE(name_cases) },
		{ "msg_parse", test_wire_msg_parse, ARRAY_SIZE(msg_parse_cases) },
		{ "name_length", test_wire_name_length },
	};
	/* the builders write into gb, which the fixture frees even after a failure */
	const struct jt_case build_cases[] = {
		{ "build_ok", test_wire_build_ok },
		{ "build_error", test_wire_build_error },
		{ "build_pong", test_wire_build_pong },
		{ "build_welcome", test_wire_build_welcome },
		{ "build_topic_op", test_wire_build_topic_op },
		{ "msg_parse_built", test_wire_msg_parse_built },
		{ "build_dropped", test_wire_build_dropped },
		{ "build_msg", test_wire_build_msg },
		{ "build_msg_large", test_wire_build_msg_large },
		{ "build_headroom", test_wire_build_headroom },
		{ "build_failed_sticky", test_wire_build_failed_sticky },
		{ "buf_put_u64", test_wire_buf_put_u64 },
		{ "build_jstr", test_wire_build_jstr, ARRAY_SIZE(jstr_cases) },
		{ "build_jstr_all_bytes", test_wire_build_jstr_all_bytes },
		{ "build_msg_parses", test_wire_build_msg_parses },
		{ "build_roundtrip", test_wire_build_roundtrip },
	};

	jt_add_cases(s, cases, ARRAY_SIZE(cases), NULL, NULL, 0);
	jt_add_cases(s, build_cases, ARRAY_SIZE(build_cases), buf_setup, buf_teardown, 0);
	return s;
}
