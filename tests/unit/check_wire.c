/*
 * Unit tests of the wire codec (client-lib/wire.h): framing, the strict JSON
 * scanner and its field spans, string decoding, the frame builders and name
 * validation. Tables hold the inputs; loop tests report each row on its own,
 * so one wrong row does not hide the others.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jt.h"
#include "util.h"
#include "wire.h"

/* Printable rendering of arbitrary bytes for failure messages. */
static const char *show(const char *s, size_t n)
{
	static char out[512];
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (o + 8 >= sizeof(out)) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02x", c);
	}
	out[o] = '\0';
	return out;
}

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
		ck_assert_msg(r == WIRE_E_MORE, "'%s': got %d", show(c->in, n), r);
		/* every blank line was consumed */
		ck_assert_uint_eq(cur.pos, n);
		return;
	}
	ck_assert_msg(r == 0, "'%s': got %d", show(c->in, n), r);
	ck_assert_msg(line_len == strlen(c->want) && !memcmp(line, c->want, line_len),
		      "'%s': frame '%s'", show(c->in, n), show(line, line_len));
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
		      show(stream, n), MAXF, whole, half, bytes);
}
END_TEST

/* section: scanning */

struct scan_case {
	const char *in;
	size_t len;
	int want;
};

#define OK(s) { s, sizeof(s) - 1, 0 }
#define BAD(s) { s, sizeof(s) - 1, WIRE_E_JSON }
#define NOBJ(s) { s, sizeof(s) - 1, WIRE_E_NOT_OBJECT }

static const struct scan_case scan_cases[] = {
	/* objects and whitespace around them */
	OK("{}"),
	OK(" {} "),
	OK("\t{\r\n}\n\t "),
	OK("{ \"a\" : 1 , \"b\" : [ ] }"),
	OK("{\"\":1}"),
	OK("{\"a\":1,\"a\":2}"),
	/* numbers */
	OK("{\"a\":0}"),
	OK("{\"a\":-0}"),
	OK("{\"a\":-1}"),
	OK("{\"a\":10}"),
	OK("{\"a\":1.5}"),
	OK("{\"a\":-0.0}"),
	OK("{\"a\":0.5e10}"),
	OK("{\"a\":1e5}"),
	OK("{\"a\":1E5}"),
	OK("{\"a\":1e+5}"),
	OK("{\"a\":1e-5}"),
	OK("{\"a\":1E-05}"),
	OK("{\"a\":-1.25e-3}"),
	OK("{\"a\":1e400}"),
	OK("{\"a\":123456789012345678901234567890}"),
	OK("{\"a\":[0,-0,0.0,0e0]}"),
	/* literals */
	OK("{\"a\":true,\"b\":false,\"c\":null}"),
	OK("{\"a\":[true,false,null]}"),
	/* strings and escapes (\u0000 and lone surrogates are valid JSON) */
	OK("{\"a\":\"\"}"),
	OK("{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}"),
	OK("{\"a\":\"\\u0041\\uffFF\\uABCD\"}"),
	OK("{\"a\":\"\\u0000\"}"),
	OK("{\"a\":\"\\ud800\"}"),
	OK("{\"a\":\"\\udc00\\ud800\"}"),
	OK("{\"a\":\"\x7f\"}"),
	OK("{\"a\":\"'single'\"}"),
	OK("{\"a\\nb\":1}"),
	/* containers */
	OK("{\"a\":[]}"),
	OK("{\"a\":{}}"),
	OK("{\"a\":[1,[2,[3]],{\"b\":{}}]}"),
	OK("{\"a\":[ 1 , 2 ]}"),
	/* UTF-8: 2, 3 and 4 byte sequences at the edges of their ranges */
	OK("{\"a\":\"\xc2\x80\"}"),
	OK("{\"a\":\"\xdf\xbf\"}"),
	OK("{\"a\":\"\xc3\xa9\"}"),
	OK("{\"a\":\"\xe0\xa0\x80\"}"),
	OK("{\"a\":\"\xe2\x82\xac\"}"),
	OK("{\"a\":\"\xed\x9f\xbf\"}"),
	OK("{\"a\":\"\xee\x80\x80\"}"),
	OK("{\"a\":\"\xef\xbf\xbf\"}"),
	OK("{\"a\":\"\xf0\x90\x80\x80\"}"),
	OK("{\"a\":\"\xf0\x9f\x98\x80\"}"),
	OK("{\"a\":\"\xf4\x8f\xbf\xbf\"}"),
	OK("{\"\xc3\xa9\xe2\x82\xac\":\"x\xf0\x9f\x98\x80y\"}"),

	/* not a complete object */
	BAD(""),
	BAD("   "),
	BAD("{"),
	BAD("}"),
	BAD("{\"a\"}"),
	BAD("{\"a\":}"),
	BAD("{\"a\" 1}"),
	BAD("{\"a\":1"),
	BAD("{\"a\":[1}"),
	BAD("{\"a\":{]}"),
	BAD("{a:1}"),
	BAD("{1:1}"),
	BAD("{null:1}"),
	/* commas */
	BAD("{\"a\":1,}"),
	BAD("{\"a\":[1,]}"),
	BAD("{,\"a\":1}"),
	BAD("{\"a\":[,1]}"),
	BAD("{\"a\":[1,,2]}"),
	BAD("{\"a\":1 \"b\":2}"),
	BAD("{\"a\":[1 2]}"),
	BAD("{\"a\":1;\"b\":2}"),
	/* single quotes */
	BAD("{'a':1}"),
	BAD("{\"a\":'x'}"),
	/* numbers */
	BAD("{\"a\":01}"),
	BAD("{\"a\":00}"),
	BAD("{\"a\":-01}"),
	BAD("{\"a\":-}"),
	BAD("{\"a\":-a}"),
	BAD("{\"a\":1.}"),
	BAD("{\"a\":1.e5}"),
	BAD("{\"a\":.5}"),
	BAD("{\"a\":-.5}"),
	BAD("{\"a\":+1}"),
	BAD("{\"a\":1e}"),
	BAD("{\"a\":1e+}"),
	BAD("{\"a\":1E-}"),
	BAD("{\"a\":1e5.5}"),
	BAD("{\"a\":1.5.2}"),
	BAD("{\"a\":--1}"),
	BAD("{\"a\":0x10}"),
	BAD("{\"a\":NaN}"),
	BAD("{\"a\":Infinity}"),
	BAD("{\"a\":-Infinity}"),
	BAD("{\"a\":1 000}"),
	/* literals */
	BAD("{\"a\":tru}"),
	BAD("{\"a\":True}"),
	BAD("{\"a\":TRUE}"),
	BAD("{\"a\":nul}"),
	BAD("{\"a\":nulll}"),
	BAD("{\"a\":falsey}"),
	BAD("{\"a\":fals}"),
	BAD("{\"a\":undefined}"),
	BAD("{\"a\":t}"),
	/* strings */
	BAD("{\"a\":\"abc}"),
	BAD("{\"a\":\"abc"),
	BAD("{\"a\":\"abc\\"),
	BAD("{\"a\":\"\\x41\"}"),
	BAD("{\"a\":\"\\U0041\"}"),
	BAD("{\"a\":\"\\'\"}"),
	BAD("{\"a\":\"\\ \"}"),
	BAD("{\"a\":\"\\0\"}"),
	BAD("{\"a\":\"\\u\"}"),
	BAD("{\"a\":\"\\u12\"}"),
	BAD("{\"a\":\"\\u123\"}"),
	BAD("{\"a\":\"\\u12G4\"}"),
	BAD("{\"a\":\"\\u-123\"}"),
	BAD("{\"a\":\"\\u 123\"}"),
	BAD("{\"a\":\"\\u12"),
	/* control characters inside strings, keys included */
	BAD("{\"a\":\"\x01\"}"),
	BAD("{\"a\":\"\t\"}"),
	BAD("{\"a\":\"\n\"}"),
	BAD("{\"a\":\"\r\"}"),
	BAD("{\"a\":\"\x1f\"}"),
	BAD("{\"a\":\"x\0y\"}"),
	BAD("{\"a\x01\":1}"),
	/* comments */
	BAD("{\"a\":1/*c*/}"),
	BAD("{/*c*/}"),
	BAD("{\"a\":1}//c"),
	BAD("//c\n{}"),
	BAD("{\"a\":1 # c\n}"),
	/* trailing bytes after the object */
	BAD("{}x"),
	BAD("{}{}"),
	BAD("{} {}"),
	BAD("{}]"),
	BAD("{}}"),
	BAD("{} 1"),
	BAD("{}\0"),
	BAD("{} \"x\""),
	/* not JSON whitespace */
	BAD("{\f}"),
	BAD("{\v}"),
	BAD("{\0}"),
	BAD("\xc2\xa0{}"),
	BAD("{}\xc2\xa0"),
	/* UTF-8: overlong forms */
	BAD("{\"a\":\"\xc0\x80\"}"),
	BAD("{\"a\":\"\xc1\xbf\"}"),
	BAD("{\"a\":\"\xe0\x80\x80\"}"),
	BAD("{\"a\":\"\xe0\x9f\xbf\"}"),
	BAD("{\"a\":\"\xf0\x80\x80\x80\"}"),
	BAD("{\"a\":\"\xf0\x8f\xbf\xbf\"}"),
	/* UTF-8: encoded surrogates, above U+10FFFF, bytes never used */
	BAD("{\"a\":\"\xed\xa0\x80\"}"),
	BAD("{\"a\":\"\xed\xbf\xbf\"}"),
	BAD("{\"a\":\"\xed\xa0\xbd\xed\xb8\x80\"}"),
	BAD("{\"a\":\"\xf4\x90\x80\x80\"}"),
	BAD("{\"a\":\"\xf5\x80\x80\x80\"}"),
	BAD("{\"a\":\"\xf7\xbf\xbf\xbf\"}"),
	BAD("{\"a\":\"\xf8\x88\x80\x80\x80\"}"),
	BAD("{\"a\":\"\xfe\"}"),
	BAD("{\"a\":\"\xff\"}"),
	/* UTF-8: lone continuation bytes */
	BAD("{\"a\":\"\x80\"}"),
	BAD("{\"a\":\"\xbf\"}"),
	BAD("{\"a\":\"x\x80y\"}"),
	BAD("{\"a\":\"\xc3\xa9\xa9\"}"),
	/* UTF-8: truncated sequences (cut by the quote, by ASCII, by the end) */
	BAD("{\"a\":\"\xc3\"}"),
	BAD("{\"a\":\"\xe2\x82\"}"),
	BAD("{\"a\":\"\xe2\"}"),
	BAD("{\"a\":\"\xf0\x9f\x98\"}"),
	BAD("{\"a\":\"\xf0\x9f\"}"),
	BAD("{\"a\":\"\xe2" "a\"}"),
	BAD("{\"a\":\"\xc3\xc3\xa9\"}"),
	BAD("{\"a\":\"\xf0\x9f\x98"),
	BAD("{\"a\":\"\xc3"),
	/* UTF-8 in a key, and outside strings */
	BAD("{\"\xc0\xaf\":1}"),
	BAD("{\"a\":\xc3\xa9}"),
	BAD("{\"a\":1}\xc3\xa9"),
	/* invalid values that are not objects are still bad JSON */
	BAD("["),
	BAD("[1,]"),
	BAD("01"),
	BAD("-"),
	BAD("\"abc"),
	BAD("\"\x01\""),
	BAD("tru"),
	BAD("[] x"),
	BAD("1 2"),
	BAD("\"\xc0\x80\""),

	/* valid JSON, not an object */
	NOBJ("[]"),
	NOBJ("[1,{}]"),
	NOBJ("[{\"op\":\"ping\"}]"),
	NOBJ("1"),
	NOBJ(" 0 "),
	NOBJ("-1.5e3"),
	NOBJ("\"str\""),
	NOBJ("\"\""),
	NOBJ("true"),
	NOBJ("false"),
	NOBJ("null"),
	NOBJ("\t\"{}\"\r"),
};

START_TEST(test_wire_scan_table)
{
	const struct scan_case *c = &scan_cases[_i];
	struct wire_env env;
	struct wire_err err = { 0 };
	int r = wire_scan(c->in, c->len, &env, &err);

	ck_assert_msg(r == c->want, "row %d '%s': got %d, want %d (%s at %zu)", _i,
		      show(c->in, c->len), r, c->want, err.reason ? err.reason : "-",
		      err.offset);
	if (r == WIRE_E_JSON) {
		ck_assert_msg(err.reason != NULL, "row %d: no reason", _i);
		ck_assert_uint_le(err.offset, c->len);
	}
	/* the error pointer is optional */
	ck_assert_int_eq(wire_scan(c->in, c->len, &env, NULL), c->want);
}
END_TEST

START_TEST(test_wire_scan_error_offset)
{
	struct wire_env env;
	struct wire_err err = { 0 };

	ck_assert_int_eq(wire_scan("{} x", 4, &env, &err), WIRE_E_JSON);
	ck_assert_uint_eq(err.offset, 3);
	ck_assert_ptr_nonnull(err.reason);
	ck_assert_int_eq(wire_scan("{\"a\":tru}", 9, &env, &err), WIRE_E_JSON);
	ck_assert_uint_eq(err.offset, 5);
	ck_assert_int_eq(wire_scan("[1]", 3, &env, &err), WIRE_E_NOT_OBJECT);
	ck_assert_ptr_nonnull(err.reason);
}
END_TEST

/* Depth: the frame's object is level 1; arrays count as well. */
enum nest_mode { NEST_ARRAYS, NEST_OBJECTS, NEST_MIXED, NEST_TOP_ARRAY };

struct depth_case {
	enum nest_mode mode;
	int levels; /* level of the deepest container */
	int want;
};

static const struct depth_case depth_cases[] = {
	{ NEST_ARRAYS, 2, 0 },
	{ NEST_ARRAYS, 63, 0 },
	{ NEST_ARRAYS, 64, 0 },
	{ NEST_ARRAYS, 65, WIRE_E_JSON },
	{ NEST_OBJECTS, 64, 0 },
	{ NEST_OBJECTS, 65, WIRE_E_JSON },
	{ NEST_MIXED, 64, 0 },
	{ NEST_MIXED, 65, WIRE_E_JSON },
	{ NEST_ARRAYS, 1000, WIRE_E_JSON },
	{ NEST_TOP_ARRAY, 64, WIRE_E_NOT_OBJECT },
	{ NEST_TOP_ARRAY, 65, WIRE_E_JSON },
};

/* A frame whose deepest container is at the given level, holding a 0. */
static char *nest(enum nest_mode mode, int levels)
{
	char *s = malloc((size_t)levels * 8 + 16), *o = s;
	bool obj[1100];

	ck_assert_ptr_nonnull(s);
	ck_assert_int_lt(levels, (int)ARRAY_SIZE(obj));
	for (int l = 1; l <= levels; l++) {
		if (l == 1)
			obj[l] = mode != NEST_TOP_ARRAY;
		else
			obj[l] = mode == NEST_OBJECTS || (mode == NEST_MIXED && l % 2);
		o = stpcpy(o, obj[l] ? "{\"k\":" : "[");
	}
	*o++ = '0';
	for (int l = levels; l >= 1; l--)
		*o++ = obj[l] ? '}' : ']';
	*o = '\0';
	return s;
}

START_TEST(test_wire_scan_depth)
{
	const struct depth_case *c = &depth_cases[_i];
	char *s = nest(c->mode, c->levels);
	struct wire_env env;
	struct wire_err err = { 0 };
	int r = wire_scan(s, strlen(s), &env, &err);

	ck_assert_msg(r == c->want, "mode %d, %d levels: got %d, want %d", c->mode, c->levels,
		      r, c->want);
	if (r == WIRE_E_JSON)
		ck_assert_ptr_nonnull(err.reason);
	free(s);
}
END_TEST

/* Depth is nesting, not the number of containers. */
START_TEST(test_wire_scan_depth_siblings)
{
	struct wire_env env;
	size_t n = 0;
	char *s = malloc(16 + 3 * 5000);

	ck_assert_ptr_nonnull(s);
	n += (size_t)sprintf(s, "{\"a\":[");
	for (int i = 0; i < 5000; i++)
		n += (size_t)sprintf(s + n, "%s[]", i ? "," : "");
	n += (size_t)sprintf(s + n, "]}");
	ck_assert_int_eq(wire_scan(s, n, &env, NULL), 0);
	free(s);
}
END_TEST

static void assert_span(const struct wire_value *v, enum wire_type type, const char *raw)
{
	ck_assert_int_eq(v->type, type);
	if (!raw) {
		ck_assert_ptr_null(v->p);
		ck_assert_uint_eq(v->len, 0);
		return;
	}
	ck_assert_msg(v->len == strlen(raw) && !memcmp(v->p, raw, v->len),
		      "span '%s', want '%s'", show(v->p, v->len), raw);
}

START_TEST(test_wire_scan_span_data)
{
	static const char f[] = "{\"op\":\"pub\",\"data\": [1, 2 ,{\"a\":1e400}] }";
	struct wire_env env;

	ck_assert_int_eq(wire_scan(f, sizeof(f) - 1, &env, NULL), 0);
	assert_span(&env.f[WF_DATA], WIRE_T_ARRAY, "[1, 2 ,{\"a\":1e400}]");
	/* borrowed: the span points into the frame */
	ck_assert_ptr_eq(env.f[WF_DATA].p, strchr(f, '['));
	assert_span(&env.f[WF_OP], WIRE_T_STRING, "\"pub\"");
	ck_assert(!env.f[WF_OP].escaped);
	assert_span(&env.f[WF_TOPIC], WIRE_T_ABSENT, NULL);
	assert_span(&env.f[WF_ID], WIRE_T_ABSENT, NULL);
}
END_TEST

START_TEST(test_wire_scan_span_types)
{
	static const char f[] = "{ \"id\" : 1.50 ,\"topic\":\"a\\/b\",\"to\":null,\"from\":true,"
				"\"data\":false,\"name\":{ \"x\" : [ ] },\"proto\":-1e0,"
				"\"code\":\"c\",\"message\":[],\"delivered\":0,\"broker\":\"\","
				"\"max_frame\":{},\"supported\":[1]}";
	struct wire_env env;

	ck_assert_int_eq(wire_scan(f, sizeof(f) - 1, &env, NULL), 0);
	assert_span(&env.f[WF_ID], WIRE_T_NUMBER, "1.50");
	assert_span(&env.f[WF_TOPIC], WIRE_T_STRING, "\"a\\/b\"");
	ck_assert(env.f[WF_TOPIC].escaped);
	assert_span(&env.f[WF_TO], WIRE_T_NULL, "null");
	assert_span(&env.f[WF_FROM], WIRE_T_TRUE, "true");
	assert_span(&env.f[WF_DATA], WIRE_T_FALSE, "false");
	assert_span(&env.f[WF_NAME], WIRE_T_OBJECT, "{ \"x\" : [ ] }");
	assert_span(&env.f[WF_PROTO], WIRE_T_NUMBER, "-1e0");
	assert_span(&env.f[WF_CODE], WIRE_T_STRING, "\"c\"");
	ck_assert(!env.f[WF_CODE].escaped);
	assert_span(&env.f[WF_MESSAGE], WIRE_T_ARRAY, "[]");
	assert_span(&env.f[WF_DELIVERED], WIRE_T_NUMBER, "0");
	assert_span(&env.f[WF_BROKER], WIRE_T_STRING, "\"\"");
	assert_span(&env.f[WF_MAX_FRAME], WIRE_T_OBJECT, "{}");
	assert_span(&env.f[WF_SUPPORTED], WIRE_T_ARRAY, "[1]");
	assert_span(&env.f[WF_OP], WIRE_T_ABSENT, NULL);
}
END_TEST

/* Every known member is recognised under its wire name, and only that one. */
START_TEST(test_wire_scan_field_names)
{
	for (int f = 0; f < WF__COUNT; f++) {
		char frame[64];
		struct wire_env env;
		int n = snprintf(frame, sizeof(frame), "{\"%s\":7}", wire_field_name(f));

		ck_assert_int_eq(wire_scan(frame, (size_t)n, &env, NULL), 0);
		for (int g = 0; g < WF__COUNT; g++)
			ck_assert_int_eq(env.f[g].type, g == f ? WIRE_T_NUMBER : WIRE_T_ABSENT);
	}
	ck_assert_str_eq(wire_field_name(WF_OP), "op");
	ck_assert_str_eq(wire_field_name(WF_MAX_FRAME), "max_frame");
	ck_assert_str_eq(wire_field_name(WF_SUPPORTED), "supported");
}
END_TEST

START_TEST(test_wire_scan_repeated_last_wins)
{
	static const char f1[] = "{\"op\":\"a\",\"data\":1,\"op\":\"b\"}";
	static const char f2[] = "{\"id\":1,\"id\":\"x\",\"data\":[1],\"data\":{\"k\":2}}";
	static const char f3[] = "{\"op\":\"a\",\"\\u006fp\":\"c\"}";
	struct wire_env env;

	ck_assert_int_eq(wire_scan(f1, sizeof(f1) - 1, &env, NULL), 0);
	assert_span(&env.f[WF_OP], WIRE_T_STRING, "\"b\"");
	ck_assert_int_eq(wire_scan(f2, sizeof(f2) - 1, &env, NULL), 0);
	assert_span(&env.f[WF_ID], WIRE_T_STRING, "\"x\"");
	assert_span(&env.f[WF_DATA], WIRE_T_OBJECT, "{\"k\":2}");
	ck_assert_int_eq(wire_scan(f3, sizeof(f3) - 1, &env, NULL), 0);
	assert_span(&env.f[WF_OP], WIRE_T_STRING, "\"c\"");
}
END_TEST

struct key_case {
	const char *frame;
	bool is_op;
};

static const struct key_case key_cases[] = {
	{ "{\"\\u006fp\":\"ping\"}", true },
	{ "{\"o\\u0070\":\"ping\"}", true },
	{ "{\"\\u006F\\u0070\":\"ping\"}", true },
	{ "{\"op\":\"ping\"}", true },
	{ "{\"Op\":\"ping\"}", false },
	{ "{\"OP\":\"ping\"}", false },
	{ "{\"op \":\"ping\"}", false },
	{ "{\" op\":\"ping\"}", false },
	{ "{\"opp\":\"ping\"}", false },
	{ "{\"o\":\"ping\"}", false },
	{ "{\"\":\"ping\"}", false },
	{ "{\"op\\u0000\":\"ping\"}", false },
	{ "{\"\\u0000op\":\"ping\"}", false },
	{ "{\"o\\np\":\"ping\"}", false },
	{ "{\"\\u006fp\\u006fp\\u006fp\\u006fp\\u006fp\":\"ping\"}", false },
};

START_TEST(test_wire_scan_escaped_key)
{
	const struct key_case *c = &key_cases[_i];
	struct wire_env env;

	ck_assert_int_eq(wire_scan(c->frame, strlen(c->frame), &env, NULL), 0);
	ck_assert_msg((env.f[WF_OP].type == WIRE_T_STRING) == c->is_op, "'%s': op %s",
		      c->frame, c->is_op ? "not recognised" : "recognised");
	if (c->is_op)
		assert_span(&env.f[WF_OP], WIRE_T_STRING, "\"ping\"");
}
END_TEST

START_TEST(test_wire_scan_unknown_ignored)
{
	static const char f[] = "{\"foo\":1,\"op\":\"x\",\"bar\":[1,{\"op\":2}],\"baz\":{}}";
	struct wire_env env;

	ck_assert_int_eq(wire_scan(f, sizeof(f) - 1, &env, NULL), 0);
	assert_span(&env.f[WF_OP], WIRE_T_STRING, "\"x\"");
	for (int g = 0; g < WF__COUNT; g++)
		if (g != WF_OP)
			ck_assert_int_eq(env.f[g].type, WIRE_T_ABSENT);
}
END_TEST

START_TEST(test_wire_scan_nested_not_top_level)
{
	static const char f1[] = "{\"data\":{\"op\":\"x\",\"id\":5,\"topic\":\"t\"}}";
	static const char f2[] = "{\"x\":[{\"op\":\"pub\"}],\"data\":[{\"id\":1}]}";
	struct wire_env env;

	ck_assert_int_eq(wire_scan(f1, sizeof(f1) - 1, &env, NULL), 0);
	assert_span(&env.f[WF_OP], WIRE_T_ABSENT, NULL);
	assert_span(&env.f[WF_ID], WIRE_T_ABSENT, NULL);
	assert_span(&env.f[WF_TOPIC], WIRE_T_ABSENT, NULL);
	assert_span(&env.f[WF_DATA], WIRE_T_OBJECT, "{\"op\":\"x\",\"id\":5,\"topic\":\"t\"}");
	ck_assert_int_eq(wire_scan(f2, sizeof(f2) - 1, &env, NULL), 0);
	assert_span(&env.f[WF_OP], WIRE_T_ABSENT, NULL);
	assert_span(&env.f[WF_ID], WIRE_T_ABSENT, NULL);
}
END_TEST

/* A failed scan leaves no half-filled envelope; each scan starts afresh. */
START_TEST(test_wire_scan_env_reset)
{
	static const char good[] = "{\"op\":\"pub\",\"id\":1}";
	static const char bad[] = "{\"op\":\"pub\",\"data\":[}";
	struct wire_env env;

	ck_assert_int_eq(wire_scan(good, sizeof(good) - 1, &env, NULL), 0);
	ck_assert_int_eq(wire_scan(bad, sizeof(bad) - 1, &env, NULL), WIRE_E_JSON);
	for (int g = 0; g < WF__COUNT; g++)
		ck_assert_int_eq(env.f[g].type, WIRE_T_ABSENT);
	ck_assert_int_eq(wire_scan(good, sizeof(good) - 1, &env, NULL), 0);
	ck_assert_int_eq(wire_scan("{}", 2, &env, NULL), 0);
	for (int g = 0; g < WF__COUNT; g++)
		ck_assert_int_eq(env.f[g].type, WIRE_T_ABSENT);
}
END_TEST

/* The scanner reads only p[0..n): a prefix of a longer buffer is judged alone. */
START_TEST(test_wire_scan_length_bound)
{
	static const char f[] = "{\"op\":\"a\"}{\"op\":\"b\"}";
	struct wire_env env;

	ck_assert_int_eq(wire_scan(f, 10, &env, NULL), 0);
	assert_span(&env.f[WF_OP], WIRE_T_STRING, "\"a\"");
	ck_assert_int_eq(wire_scan(f, 9, &env, NULL), WIRE_E_JSON);
	ck_assert_int_eq(wire_scan(f, sizeof(f) - 1, &env, NULL), WIRE_E_JSON);
}
END_TEST

/* section: strings */

/* Scans {"topic":<lit>} and returns the topic's value. */
static struct wire_value topic_value(const char *lit, struct wire_env *env, char *frame,
				     size_t cap)
{
	int n = snprintf(frame, cap, "{\"topic\":%s}", lit);

	ck_assert_int_lt(n, (int)cap);
	ck_assert_msg(wire_scan(frame, (size_t)n, env, NULL) == 0, "scan of %s", lit);
	ck_assert_int_eq(env->f[WF_TOPIC].type, WIRE_T_STRING);
	return env->f[WF_TOPIC];
}

START_TEST(test_wire_string_zero_copy)
{
	char frame[64], buf[8];
	struct wire_env env;
	struct wire_value v = topic_value("\"a/b\xc3\xa9\"", &env, frame, sizeof(frame));
	const char *out = NULL;
	size_t len = 0;

	memset(buf, 'Z', sizeof(buf));
	ck_assert(!v.escaped);
	ck_assert_int_eq(wire_string(&v, buf, sizeof(buf), &out, &len), 0);
	ck_assert_ptr_eq(out, v.p + 1);
	ck_assert_uint_eq(len, 5);
	ck_assert_mem_eq(out, "a/b\xc3\xa9", 5);
	for (size_t i = 0; i < sizeof(buf); i++)
		ck_assert_int_eq(buf[i], 'Z');
	/* no buffer needed at all */
	ck_assert_int_eq(wire_string(&v, NULL, 0, &out, &len), 0);
	ck_assert_uint_eq(len, 5);
	/* the empty string */
	v = topic_value("\"\"", &env, frame, sizeof(frame));
	ck_assert_int_eq(wire_string(&v, NULL, 0, &out, &len), 0);
	ck_assert_uint_eq(len, 0);
}
END_TEST

struct str_case {
	const char *lit; /* JSON string literal as in the frame */
	const char *want;
	size_t want_len;
	int r;
};

#define SD(lit, want) { lit, want, sizeof(want) - 1, 0 }
#define SE(lit, r) { lit, NULL, 0, r }

static const struct str_case str_cases[] = {
	SD("\"a\\nb\"", "a\nb"),
	SD("\"a\\/b\"", "a/b"),
	SD("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t"),
	SD("\"\\u0041\"", "A"),
	SD("\"\\u007f\"", "\x7f"),
	SD("\"\\u0080\"", "\xc2\x80"),
	SD("\"\\u00e9\"", "\xc3\xa9"),
	SD("\"\\u00E9\"", "\xc3\xa9"),
	SD("\"\\u07ff\"", "\xdf\xbf"),
	SD("\"\\u0800\"", "\xe0\xa0\x80"),
	SD("\"\\u20ac\"", "\xe2\x82\xac"),
	SD("\"\\ud7ff\"", "\xed\x9f\xbf"),
	SD("\"\\ue000\"", "\xee\x80\x80"),
	SD("\"\\uffff\"", "\xef\xbf\xbf"),
	SD("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80"),
	SD("\"\\uD83D\\uDE00\"", "\xf0\x9f\x98\x80"),
	SD("\"\\ud800\\udc00\"", "\xf0\x90\x80\x80"),
	SD("\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf"),
	SD("\"x\\ud83d\\ude00y\"", "x\xf0\x9f\x98\x80y"),
	SD("\"\xc3\xa9\\t\xe2\x82\xac\"", "\xc3\xa9\t\xe2\x82\xac"),
	SD("\"\\u0001\"", "\x01"),
	SE("\"\\u0000\"", WIRE_E_STRING),
	SE("\"a\\u0000b\"", WIRE_E_STRING),
	SE("\"\\ud800\"", WIRE_E_STRING),
	SE("\"\\udbff\"", WIRE_E_STRING),
	SE("\"\\udc00\"", WIRE_E_STRING),
	SE("\"\\udfff\"", WIRE_E_STRING),
	SE("\"\\ud800x\"", WIRE_E_STRING),
	SE("\"\\ud800xxxxxx\"", WIRE_E_STRING),
	SE("\"\\ud800\\u0041\"", WIRE_E_STRING),
	SE("\"\\ud800\\ud800\"", WIRE_E_STRING),
	SE("\"\\ude00\\ud83d\"", WIRE_E_STRING),
	SE("\"\\ud800\\\\udc00\"", WIRE_E_STRING),
	SE("\"\\ud800\\n\"", WIRE_E_STRING),
};

START_TEST(test_wire_string_decode)
{
	const struct str_case *c = &str_cases[_i];
	char frame[128], buf[64];
	struct wire_env env;
	struct wire_value v = topic_value(c->lit, &env, frame, sizeof(frame));
	const char *out = NULL;
	size_t len = 0;
	int r;

	ck_assert(v.escaped || !strchr(c->lit, '\\'));
	r = wire_string(&v, buf, sizeof(buf), &out, &len);
	ck_assert_msg(r == c->r, "%s: got %d, want %d", c->lit, r, c->r);
	if (r)
		return;
	ck_assert_ptr_eq(out, buf);
	ck_assert_msg(len == c->want_len && !memcmp(out, c->want, len), "%s decoded to '%s'",
		      c->lit, show(out, len));
}
END_TEST

struct cap_case {
	const char *lit;
	size_t need; /* decoded length: cap need fits, need - 1 does not */
};

static const struct cap_case cap_cases[] = {
	{ "\"a\\nb\"", 3 },
	{ "\"\\/\"", 1 },
	{ "\"\\u00e9\"", 2 },
	{ "\"\\u20ac\"", 3 },
	{ "\"\\ud83d\\ude00\"", 4 },
	{ "\"abc\\n\"", 4 },
	{ "\"\\nabc\"", 4 },
	{ "\"ab\\u20ac\"", 5 },
};

START_TEST(test_wire_string_too_small)
{
	const struct cap_case *c = &cap_cases[_i];
	char frame[64], buf[16];
	struct wire_env env;
	struct wire_value v = topic_value(c->lit, &env, frame, sizeof(frame));
	const char *out;
	size_t len;

	for (size_t cap = 0; cap < c->need; cap++)
		ck_assert_msg(wire_string(&v, buf, cap, &out, &len) == WIRE_E_LENGTH,
			      "%s: cap %zu accepted", c->lit, cap);
	ck_assert_int_eq(wire_string(&v, buf, c->need, &out, &len), 0);
	ck_assert_uint_eq(len, c->need);
	ck_assert_int_eq(wire_string(&v, buf, sizeof(buf), &out, &len), 0);
	ck_assert_uint_eq(len, c->need);
}
END_TEST

START_TEST(test_wire_value_is)
{
	char frame[128];
	struct wire_env env;
	struct wire_value v;
	static const char f[] = "{\"id\":1,\"data\":null,\"name\":\"ping\"}";

	v = topic_value("\"ping\"", &env, frame, sizeof(frame));
	ck_assert(wire_value_is(&v, "ping"));
	ck_assert(!wire_value_is(&v, "pin"));
	ck_assert(!wire_value_is(&v, "pingx"));
	ck_assert(!wire_value_is(&v, "PING"));
	ck_assert(!wire_value_is(&v, ""));
	v = topic_value("\"\"", &env, frame, sizeof(frame));
	ck_assert(wire_value_is(&v, ""));
	ck_assert(!wire_value_is(&v, "a"));
	/* escapes are decoded before comparing */
	v = topic_value("\"p\\u0069ng\"", &env, frame, sizeof(frame));
	ck_assert(wire_value_is(&v, "ping"));
	ck_assert(!wire_value_is(&v, "p\\u0069ng"));
	v = topic_value("\"a\\/b\"", &env, frame, sizeof(frame));
	ck_assert(wire_value_is(&v, "a/b"));
	/* a string that cannot be decoded equals nothing */
	v = topic_value("\"\\u0000\"", &env, frame, sizeof(frame));
	ck_assert(!wire_value_is(&v, ""));
	/* only strings compare equal */
	ck_assert_int_eq(wire_scan(f, sizeof(f) - 1, &env, NULL), 0);
	ck_assert(!wire_value_is(&env.f[WF_ID], "1"));
	ck_assert(!wire_value_is(&env.f[WF_DATA], "null"));
	ck_assert(!wire_value_is(&env.f[WF_OP], ""));
	ck_assert(wire_value_is(&env.f[WF_NAME], "ping"));
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

static struct wire_raw raw(const char *s)
{
	return (struct wire_raw){ s, s ? strlen(s) : 0 };
}

static void assert_built(struct wire_buf *b, size_t headroom, const char *want)
{
	ck_assert(!wire_buf_failed(b));
	ck_assert_msg(b->len == headroom + strlen(want) &&
			      !memcmp(b->p + headroom, want, b->len - headroom),
		      "built '%s'\nwant  '%s'", show(b->p + headroom, b->len - headroom), want);
}

START_TEST(test_wire_build_ok)
{
	static const uint64_t zero = 0, three = 3, max = UINT64_MAX;

	wire_build_ok(&gb, raw(NULL), NULL);
	assert_built(&gb, 0, "{\"op\":\"ok\"}\n");
	wire_buf_free(&gb);
	wire_buf_init(&gb, 0);
	wire_build_ok(&gb, raw("7"), &three);
	assert_built(&gb, 0, "{\"op\":\"ok\",\"id\":7,\"delivered\":3}\n");
	wire_buf_free(&gb);
	wire_buf_init(&gb, 0);
	wire_build_ok(&gb, raw("\"x\""), NULL);
	assert_built(&gb, 0, "{\"op\":\"ok\",\"id\":\"x\"}\n");
	wire_buf_free(&gb);
	wire_buf_init(&gb, 0);
	wire_build_ok(&gb, raw("1.50"), &zero);
	assert_built(&gb, 0, "{\"op\":\"ok\",\"id\":1.50,\"delivered\":0}\n");
	wire_buf_free(&gb);
	wire_buf_init(&gb, 0);
	wire_build_ok(&gb, raw(NULL), &max);
	assert_built(&gb, 0, "{\"op\":\"ok\",\"delivered\":18446744073709551615}\n");
}
END_TEST

START_TEST(test_wire_build_error)
{
	wire_build_error(&gb, raw(NULL), "bad_json", "invalid UTF-8", NULL);
	assert_built(&gb, 0, "{\"op\":\"error\",\"code\":\"bad_json\","
			     "\"message\":\"invalid UTF-8\"}\n");
	wire_buf_free(&gb);
	wire_buf_init(&gb, 0);
	wire_build_error(&gb, raw("1.50"), "unsupported_proto", "proto 2 is not supported",
			 "\"supported\":[1]");
	assert_built(&gb, 0, "{\"op\":\"error\",\"id\":1.50,\"code\":\"unsupported_proto\","
			     "\"message\":\"proto 2 is not supported\",\"supported\":[1]}\n");
	wire_buf_free(&gb);
	wire_buf_init(&gb, 0);
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
	wire_buf_free(&gb);
	wire_buf_init(&gb, 0);
	wire_build_pong(&gb, raw("\"a\""));
	assert_built(&gb, 0, "{\"op\":\"pong\",\"id\":\"a\"}\n");
	/* frames append: a second one goes after the first */
	wire_build_pong(&gb, raw("2"));
	assert_built(&gb, 0, "{\"op\":\"pong\",\"id\":\"a\"}\n{\"op\":\"pong\",\"id\":2}\n");
}
END_TEST

START_TEST(test_wire_build_welcome)
{
	wire_build_welcome(&gb, raw(NULL), "anon-1", 6, "jbusd 0.1.0", 1048576);
	assert_built(&gb, 0, "{\"op\":\"welcome\",\"proto\":1,\"name\":\"anon-1\","
			     "\"broker\":\"jbusd 0.1.0\",\"max_frame\":1048576}\n");
	wire_buf_free(&gb);
	wire_buf_init(&gb, 0);
	/* name_len is honoured: only "bob" of "bobby" */
	wire_build_welcome(&gb, raw("\"h\""), "bobby", 3, "jbusd 0.1.0", 64);
	assert_built(&gb, 0, "{\"op\":\"welcome\",\"id\":\"h\",\"proto\":1,\"name\":\"bob\","
			     "\"broker\":\"jbusd 0.1.0\",\"max_frame\":64}\n");
}
END_TEST

START_TEST(test_wire_build_msg)
{
	static const char data[] = "{ \"k\" : [1, 2] }";

	wire_build_msg(&gb, "a/b", 3, "pub1", 4, NULL, 0, raw(data));
	assert_built(&gb, 0, "{\"op\":\"msg\",\"topic\":\"a/b\",\"from\":\"pub1\","
			     "\"data\":{ \"k\" : [1, 2] }}\n");
	wire_buf_free(&gb);
	wire_buf_init(&gb, 0);
	wire_build_msg(&gb, NULL, 0, "a", 1, "b", 1, raw("42"));
	assert_built(&gb, 0, "{\"op\":\"msg\",\"from\":\"a\",\"to\":\"b\",\"data\":42}\n");
	wire_buf_free(&gb);
	wire_buf_init(&gb, 0);
	/* data absent: null */
	wire_build_msg(&gb, "t", 1, "a", 1, NULL, 0, raw(NULL));
	assert_built(&gb, 0, "{\"op\":\"msg\",\"topic\":\"t\",\"from\":\"a\",\"data\":null}\n");
	wire_buf_free(&gb);
	wire_buf_init(&gb, 0);
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
		wire_buf_free(&gb);
		wire_buf_init(&gb, rooms[i]);
		ck_assert_uint_eq(gb.len, rooms[i]);
		ck_assert(!wire_buf_failed(&gb));
		wire_build_msg(&gb, "t", 1, "a", 1, NULL, 0, raw("[]"));
		assert_built(&gb, rooms[i], want);
		ck_assert_uint_ge(gb.cap, gb.len);
	}
	wire_buf_free(&gb);
	wire_buf_init(&gb, 16);
	wire_build_ok(&gb, raw("1"), NULL);
	assert_built(&gb, 16, "{\"op\":\"ok\",\"id\":1}\n");
}
END_TEST

/* Allocation failure is sticky and nothing more is appended. */
START_TEST(test_wire_build_failed_sticky)
{
	wire_buf_free(&gb);
	wire_buf_init(&gb, 8);
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
		wire_buf_free(&gb);
		wire_buf_init(&gb, 0);
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
		      "'%s' -> '%s'", show(c->in, c->len), show(gb.p + 1, gb.len - 1));
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
	wire_buf_free(&gb);
	wire_buf_init(&gb, 0);
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

	wire_buf_free(&gb);
	wire_buf_init(&gb, 8);
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
	wire_buf_free(&gb);
	wire_buf_init(&gb, 0);
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
	assert_span(&env.f[WF_DATA], WIRE_T_ARRAY, "[1, 2]");
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

	ck_assert_msg(wire_name_valid(c->s, n) == c->ok, "'%s' (%zu): want %s", show(c->s, n),
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

static void add(Suite *s, const char *name, const TTest *t)
{
	TCase *tc = tcase_create(name);

	tcase_add_test(tc, t);
	suite_add_tcase(s, tc);
}

static void add_loop(Suite *s, const char *name, const TTest *t, int n)
{
	TCase *tc = tcase_create(name);

	tcase_add_loop_test(tc, t, 0, n);
	suite_add_tcase(s, tc);
}

static void add_buf(Suite *s, const char *name, const TTest *t, int n)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, buf_setup, buf_teardown);
	tcase_add_loop_test(tc, t, 0, n);
	suite_add_tcase(s, tc);
}

Suite *jt_suite(void)
{
	Suite *s = suite_create("wire");

	add(s, "frame_single", test_wire_frame_single);
	add(s, "frame_empty_buffer", test_wire_frame_empty_buffer);
	add(s, "frame_coalesced", test_wire_frame_coalesced);
	add(s, "frame_byte_by_byte", test_wire_frame_byte_by_byte);
	add(s, "frame_resume_scanned", test_wire_frame_resume_scanned);
	add_loop(s, "frame_crlf_blank", test_wire_frame_crlf_blank, ARRAY_SIZE(crlf_cases));
	add(s, "frame_max_frame", test_wire_frame_max_frame);
	add(s, "frame_max_frame_after_frames", test_wire_frame_max_frame_after_frames);
	add_loop(s, "frame_chunking_independent", test_wire_frame_chunking_independent,
		 ARRAY_SIZE(chunk_streams));

	add_loop(s, "scan_table", test_wire_scan_table, ARRAY_SIZE(scan_cases));
	add(s, "scan_error_offset", test_wire_scan_error_offset);
	add_loop(s, "scan_depth", test_wire_scan_depth, ARRAY_SIZE(depth_cases));
	add(s, "scan_depth_siblings", test_wire_scan_depth_siblings);
	add(s, "scan_span_data", test_wire_scan_span_data);
	add(s, "scan_span_types", test_wire_scan_span_types);
	add(s, "scan_field_names", test_wire_scan_field_names);
	add(s, "scan_repeated_last_wins", test_wire_scan_repeated_last_wins);
	add_loop(s, "scan_escaped_key", test_wire_scan_escaped_key, ARRAY_SIZE(key_cases));
	add(s, "scan_unknown_ignored", test_wire_scan_unknown_ignored);
	add(s, "scan_nested_not_top_level", test_wire_scan_nested_not_top_level);
	add(s, "scan_env_reset", test_wire_scan_env_reset);
	add(s, "scan_length_bound", test_wire_scan_length_bound);

	add(s, "string_zero_copy", test_wire_string_zero_copy);
	add_loop(s, "string_decode", test_wire_string_decode, ARRAY_SIZE(str_cases));
	add_loop(s, "string_too_small", test_wire_string_too_small, ARRAY_SIZE(cap_cases));
	add(s, "value_is", test_wire_value_is);

	add_buf(s, "build_ok", test_wire_build_ok, 1);
	add_buf(s, "build_error", test_wire_build_error, 1);
	add_buf(s, "build_pong", test_wire_build_pong, 1);
	add_buf(s, "build_welcome", test_wire_build_welcome, 1);
	add_buf(s, "build_msg", test_wire_build_msg, 1);
	add_buf(s, "build_msg_large", test_wire_build_msg_large, 1);
	add_buf(s, "build_headroom", test_wire_build_headroom, 1);
	add_buf(s, "build_failed_sticky", test_wire_build_failed_sticky, 1);
	add_buf(s, "buf_put_u64", test_wire_buf_put_u64, 1);
	add_buf(s, "build_jstr", test_wire_build_jstr, ARRAY_SIZE(jstr_cases));
	add_buf(s, "build_jstr_all_bytes", test_wire_build_jstr_all_bytes, 1);
	add_buf(s, "build_msg_parses", test_wire_build_msg_parses, 1);
	add_buf(s, "build_roundtrip", test_wire_build_roundtrip, 1);

	add_loop(s, "name_valid", test_wire_name_valid, ARRAY_SIZE(name_cases));
	add(s, "name_length", test_wire_name_length);
	return s;
}
