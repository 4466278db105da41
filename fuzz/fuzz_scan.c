/*
 * libFuzzer target for the wire codec's parsers (client-lib/scan.c and
 * wire.c) on arbitrary bytes.
 *
 * Checked on every input (a violation aborts: a finding):
 *  - wire_scan: the result is 0, WIRE_E_JSON (with an offset inside the
 *    input and a reason) or WIRE_E_NOT_OBJECT; every recorded member lies
 *    inside the input, starts and ends as its type says, is itself a valid
 *    value for wire_scan_value, and a string member decodes (wire_string),
 *    re-encodes (wire_buf_put_jstr) and scans back to the same bytes;
 *  - wire_scan_value accepts only what wire_scan accepts, and rejects
 *    what wire_scan accepts only for nesting (it counts from level 2);
 *  - wire_next_frame finds the same frames (and the same too-large
 *    outcome) whether the input arrives whole or in two pieces (fuzz_frames
 *    goes further: any number of pieces, read the way the broker and the
 *    library read);
 *  - differential: for inputs without NUL, json-c's tokener (strict, UTF-8
 *    validation, depth 64: as strict as it goes) and wire_scan agree on
 *    "valid JSON", and on "an object" when both accept. Where they do not,
 *    the difference must be one of json-c's known deviations from RFC 8259
 *    and RFC 3629 (the table below): each names the construct at fault,
 *    which is replaced by a valid one before comparing again, so a known
 *    deviation never hides an unknown one in the same input.
 * Topic validation and matching, checked here before, have their own
 * target: fuzz_topic.
 *
 * FUZZ_SCAN_COUNT=1 in the environment makes an unexplained disagreement
 * counted instead of fatal: grouped by direction and reason, the first
 * input of each group printed when found and the shortest at exit. That is
 * for a campaign that looks for all of them at once.
 */
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "wire.h"
#include "fuzz_check.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* section: json-c */

struct jc_verdict {
	bool ok;         /* one valid JSON value and nothing after it */
	bool object;     /* ok, and that value is an object */
	const char *why; /* json-c's error text, or "trailing bytes" (static) */
};

/* json-c's verdict on p[0..n) (no NUL inside), nesting limited to max_depth. */
static struct jc_verdict jsonc_verdict(const char *p, size_t n, int max_depth)
{
	struct json_tokener *tok = json_tokener_new_ex(max_depth);
	char *buf = malloc(n + 1);
	struct jc_verdict v;
	enum json_tokener_error e;
	json_object *o;

	CHECK(tok && buf);
	memcpy(buf, p, n);
	buf[n] = '\0';
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	/* the NUL ends the input, so a number at the very end is complete */
	o = json_tokener_parse_ex(tok, buf, (int)n + 1);
	e = json_tokener_get_error(tok);
	v.ok = e == json_tokener_success && json_tokener_get_parse_end(tok) == n;
	v.object = v.ok && json_object_is_type(o, json_type_object);
	v.why = e == json_tokener_success ? "trailing bytes" : json_tokener_error_desc(e);
	json_object_put(o);
	json_tokener_free(tok);
	free(buf);
	return v;
}

/* section: known json-c deviations */

/*
 * What a deviation's function returns: it does not apply; it applied and
 * rewrote the input without the construct at fault (compare again: there
 * may be more); or it explains the rest.
 */
enum { DEV_NO, DEV_REPAIRED, DEV_EXPLAINED };

/* Replace b[from..to) of b[0..*n) with the text with, no longer than it. */
static void replace(char *b, size_t *n, size_t from, size_t to, const char *with)
{
	size_t w = strlen(with);

	CHECK(from <= to && to <= *n && w <= to - from);
	memcpy(b + from, with, w);
	memmove(b + from + w, b + to, *n - to);
	*n -= to - from - w;
}

static bool digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Whether s[0..n) is a number: RFC 8259 section 6 when rfc, else json-c's
 * form, which also takes leading zeros and a point without digits on one
 * side of it (but some digit before the exponent).
 */
static bool number_form(const char *s, size_t n, bool rfc)
{
	size_t i = 0, d, int_digits, frac_digits = 0;

	if (i < n && s[i] == '-')
		i++;
	for (d = i; i < n && digit(s[i]); i++)
		;
	int_digits = i - d;
	if (rfc && (int_digits == 0 || (int_digits > 1 && s[d] == '0')))
		return false;
	if (i < n && s[i] == '.') {
		for (d = ++i; i < n && digit(s[i]); i++)
			;
		frac_digits = i - d;
		if (rfc && frac_digits == 0)
			return false;
	}
	if (int_digits + frac_digits == 0)
		return false;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		if (++i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		for (d = i; i < n && digit(s[i]); i++)
			;
		if (i == d)
			return false;
	}
	return i == n;
}

static bool number_char(char c)
{
	return digit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/*
 * Raw control characters in strings (RFC 8259 section 7: escape them).
 * Those later in the same string go too, a round each would be slow.
 */
static int dev_control(char *b, size_t *n, const struct wire_err *err)
{
	if (strcmp(err->reason, "control character in string") != 0 || err->offset >= *n ||
	    (unsigned char)b[err->offset] >= 0x20)
		return DEV_NO;
	for (size_t i = err->offset; i < *n && b[i] != '"'; i += b[i] == '\\' ? 2 : 1)
		if ((unsigned char)b[i] < 0x20)
			b[i] = ' ';
	return DEV_REPAIRED;
}

/*
 * Numbers with leading zeros or a point without digits after it (or before
 * it, after a minus): 00, -01, 1., 1.e5, -.5 (RFC 8259 section 6). wire_scan
 * stops inside the number or right after its valid beginning.
 */
static int dev_number(char *b, size_t *n, const struct wire_err *err)
{
	/* where wire_scan stops on a number: never inside a string */
	static const char *const after[] = { "invalid number", "expected ',' or ']'",
					     "expected ',' or '}'",
					     "unexpected bytes after the JSON value" };
	size_t s = err->offset, e, i;

	for (i = 0; i < ARRAY_SIZE(after) && strcmp(err->reason, after[i]); i++)
		;
	if (i == ARRAY_SIZE(after))
		return DEV_NO;
	while (s > 0 && number_char(b[s - 1]))
		s--;
	if (s == err->offset || !(b[s] == '-' || digit(b[s])))
		return DEV_NO;
	for (e = s; e < *n && number_char(b[e]); e++)
		;
	if (!number_form(b + s, e - s, false) || number_form(b + s, e - s, true))
		return DEV_NO;
	replace(b, n, s, e, "0");
	return DEV_REPAIRED;
}

/* NaN, Infinity and -Infinity (no such numbers in RFC 8259 section 6). */
static int dev_nonfinite(char *b, size_t *n, const struct wire_err *err)
{
	static const char *const words[] = { "NaN", "Infinity" };
	size_t o = err->offset, s = o > 0 && b[o - 1] == '-' ? o - 1 : o;

	if (strcmp(err->reason, s < o ? "invalid number" : "expected a value") != 0)
		return DEV_NO;
	for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
		size_t w = strlen(words[i]);

		if (*n - o >= w && memcmp(b + o, words[i], w) == 0) {
			replace(b, n, s, o + w, "0");
			return DEV_REPAIRED;
		}
	}
	return DEV_NO;
}

/*
 * The length of the sequence at q[0..avail), q[0] >= 0x80, by its bits
 * alone (0: malformed), and whether it is valid UTF-8 too: not overlong,
 * not a surrogate, not above U+10FFFF.
 */
static size_t utf8_shape(const unsigned char *q, size_t avail, bool *valid)
{
	static const uint32_t least[4] = { 0, 0x80, 0x800, 0x10000 };
	size_t need;
	uint32_t cp;

	if (q[0] >= 0xc0 && q[0] <= 0xdf)
		need = 1;
	else if (q[0] >= 0xe0 && q[0] <= 0xef)
		need = 2;
	else if (q[0] >= 0xf0 && q[0] <= 0xf7)
		need = 3;
	else
		return 0;
	if (avail <= need)
		return 0;
	cp = q[0] & (0x3fu >> need);
	for (size_t i = 1; i <= need; i++) {
		if ((q[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (q[i] & 0x3fu);
	}
	*valid = cp >= least[need] && (cp < 0xd800 || cp > 0xdfff) && cp <= 0x10ffff;
	return need + 1;
}

/*
 * UTF-8 that is well formed bit by bit but not valid (RFC 3629 section 3):
 * overlong forms, encoded surrogates, code points above U+10FFFF. Those
 * later in the same string go too.
 */
static int dev_utf8(char *b, size_t *n, const struct wire_err *err)
{
	const unsigned char *q = (const unsigned char *)b;
	size_t i = err->offset, len;
	bool valid = true;

	if (strcmp(err->reason, "invalid UTF-8") != 0 || i >= *n ||
	    !utf8_shape(q + i, *n - i, &valid) || valid)
		return DEV_NO;
	for (; i < *n && b[i] != '"'; i += len) {
		if (b[i] == '\\') {
			len = 2;
		} else if (q[i] < 0x80) {
			len = 1;
		} else {
			len = utf8_shape(q + i, *n - i, &valid);
			if (!len)
				break; /* json-c refuses that: left as it is */
			if (!valid)
				memset(b + i, 'x', len);
		}
	}
	return DEV_REPAIRED;
}

/* Member names in single quotes, even in strict mode. */
static int dev_quote(char *b, size_t *n, const struct wire_err *err)
{
	size_t i = err->offset;

	if (strcmp(err->reason, "expected a member name") != 0 || i >= *n || b[i] != '\'')
		return DEV_NO;
	/* json-c reads it as a string ended by ' instead of ", escapes as usual */
	for (i++; i < *n && b[i] != '\''; i++)
		if (b[i] == '\\')
			i++;
	if (i >= *n)
		return DEV_NO;
	replace(b, n, err->offset, i + 1, "\"\"");
	return DEV_REPAIRED;
}

/* Deepest nesting of containers in b[0..n), counted apart from wire_scan. */
static int nesting(const char *b, size_t n)
{
	int level = 0, deepest = 0;
	bool str = false;

	for (size_t i = 0; i < n; i++) {
		if (str) {
			if (b[i] == '\\')
				i++;
			else if (b[i] == '"')
				str = false;
		} else if (b[i] == '"') {
			str = true;
		} else if (b[i] == '[' || b[i] == '{') {
			if (++level > deepest)
				deepest = level;
		} else if (b[i] == ']' || b[i] == '}') {
			level--;
		}
	}
	return deepest;
}

/*
 * json-c's depth counts values, not containers: at depth 64 it refuses a
 * member inside the 64th nested container, while the protocol allows 64
 * levels of containers. Given one level more it must accept the input.
 */
static int dev_depth(char *b, size_t *n, const struct jc_verdict *jc)
{
	if (strcmp(jc->why, json_tokener_error_desc(json_tokener_error_depth)) != 0 ||
	    nesting(b, *n) != WIRE_MAX_DEPTH || !jsonc_verdict(b, *n, WIRE_MAX_DEPTH + 1).ok)
		return DEV_NO;
	return DEV_EXPLAINED;
}

/* 64 arrays around a 0: the depth deviation's example, filled in at start. */
static char deep_example[2 * WIRE_MAX_DEPTH + 1];

/*
 * The known deviations, each with the shortest input that shows it (the
 * list in docs/testing.md has the same). Each is json-c's, wire_scan
 * following the RFCs and the protocol's depth rule.
 */
static struct deviation {
	const char *what;
	const char *example;
	size_t example_len;
	/* json-c accepts and wire_scan rejects: the construct at err->offset */
	int (*json_c_accepts)(char *b, size_t *n, const struct wire_err *err);
	/* wire_scan accepts and json-c rejects */
	int (*wire_accepts)(char *b, size_t *n, const struct jc_verdict *jc);
	unsigned long count;
} deviations[] = {
#define EX(s) s, sizeof(s) - 1
	{ "control character in a string", EX("\"\x01\""), dev_control, NULL, 0 },
	{ "leading zero, or a point without digits", EX("00"), dev_number, NULL, 0 },
	{ "NaN or Infinity", EX("NaN"), dev_nonfinite, NULL, 0 },
	{ "overlong, surrogate or above U+10FFFF in UTF-8", EX("\"\xc0\x80\""), dev_utf8, NULL, 0 },
	{ "member name in single quotes", EX("{'':0}"), dev_quote, NULL, 0 },
	{ "member of the 64th nested container", deep_example, sizeof(deep_example), NULL,
	  dev_depth, 0 },
#undef EX
};

#define NDEVIATIONS ARRAY_SIZE(deviations)

/* section: unexplained disagreements */

#define MAX_GROUPS 64

static struct group {
	bool wire_accepts;  /* direction: wire_scan accepts, json-c rejects (or the reverse) */
	const char *reason; /* wire_scan's reason, or json-c's error text (both static) */
	unsigned long count;
	uint8_t *ex; /* the shortest example so far */
	size_t exlen;
} groups[MAX_GROUPS];
static unsigned long ngroups, ncompared, nexplained;
static bool count_only;

static void show(FILE *f, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n && i < 120; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			fputc(p[i], f);
		else
			fprintf(f, "\\x%02x", p[i]);
	}
	if (n > 120)
		fprintf(f, "... (%zu bytes)", n);
}

static const char *direction(bool wire_accepts)
{
	return wire_accepts ? "wire accepts, json-c rejects" : "json-c accepts, wire rejects";
}

/* A disagreement no known deviation explains, on p (the input, maybe rewritten). */
static void unexplained(bool wire_accepts, const char *reason, const char *p, size_t n)
{
	struct group *g = NULL;

	for (unsigned long i = 0; i < ngroups && !g; i++)
		if (groups[i].wire_accepts == wire_accepts && groups[i].reason == reason)
			g = &groups[i];
	if (!g || !count_only) { /* the first of each group when counting */
		fprintf(stderr, "fuzz_scan: DISAGREE %s (%s): ", direction(wire_accepts), reason);
		show(stderr, (const uint8_t *)p, n);
		fputc('\n', stderr);
	}
	if (!count_only)
		abort();
	if (!g && ngroups == MAX_GROUPS)
		return;
	if (!g) {
		g = &groups[ngroups++];
		*g = (struct group){ wire_accepts, reason, 0, NULL, SIZE_MAX };
	}
	g->count++;
	if (n < g->exlen) {
		free(g->ex);
		g->ex = malloc(n ? n : 1);
		CHECK(g->ex);
		memcpy(g->ex, p, n);
		g->exlen = n;
	}
}

static void report(void)
{
	unsigned long total = 0;

	for (unsigned long i = 0; i < ngroups; i++)
		total += groups[i].count;
	fprintf(stderr,
		"fuzz_scan: %lu inputs compared with json-c, %lu known deviations, "
		"%lu unexplained\n",
		ncompared, nexplained, total);
	for (size_t i = 0; i < NDEVIATIONS; i++)
		fprintf(stderr, "fuzz_scan:   %8lu  known: %s\n", deviations[i].count,
			deviations[i].what);
	for (unsigned long i = 0; i < ngroups; i++) {
		fprintf(stderr, "fuzz_scan:   %8lu  %s: %s, shortest: ", groups[i].count,
			direction(groups[i].wire_accepts), groups[i].reason);
		show(stderr, groups[i].ex, groups[i].exlen);
		fputc('\n', stderr);
		free(groups[i].ex);
	}
}

/* section: the differential */

/*
 * Compare wire_scan and json-c on p[0..n) (no NUL inside). Returns the
 * deviation that explained the first disagreement, or NULL when they
 * agreed; an unexplained one aborts (or is counted).
 */
static struct deviation *differential(const char *p, size_t n)
{
	struct deviation *first = NULL;
	char *b = malloc(n ? n : 1);
	size_t len = n;

	CHECK(b);
	memcpy(b, p, n);
	for (size_t round = 0;; round++) {
		struct wire_env env;
		struct wire_err err = { 0, NULL };
		int r = wire_scan(b, len, &env, &err), how = DEV_NO;
		bool wire_ok = r != WIRE_E_JSON;
		struct jc_verdict jc = jsonc_verdict(b, len, WIRE_MAX_DEPTH);
		struct deviation *d = NULL;

		if (wire_ok == jc.ok) {
			/* the frame rule: an object at top level, on both sides */
			CHECK(!wire_ok || (r == 0) == jc.object);
			break;
		}
		/* each repair takes away a construct and adds none */
		CHECK(round <= n);
		for (size_t i = 0; i < NDEVIATIONS && how == DEV_NO; i++) {
			d = &deviations[i];
			if (wire_ok && d->wire_accepts)
				how = d->wire_accepts(b, &len, &jc);
			else if (!wire_ok && d->json_c_accepts)
				how = d->json_c_accepts(b, &len, &err);
		}
		if (how == DEV_NO) {
			unexplained(wire_ok, wire_ok ? jc.why : err.reason, b, len);
			break;
		}
		d->count++;
		if (!first)
			first = d;
		if (how == DEV_EXPLAINED)
			break;
	}
	free(b);
	return first;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	memset(deep_example, '[', WIRE_MAX_DEPTH);
	deep_example[WIRE_MAX_DEPTH] = '0';
	memset(deep_example + WIRE_MAX_DEPTH + 1, ']', WIRE_MAX_DEPTH);
	count_only = getenv("FUZZ_SCAN_COUNT") != NULL;
	atexit(report);
	/*
	 * Each example shows its deviation: wire_scan rules on it as the RFCs
	 * say, and a json-c that no longer deviates is worth a line (the list
	 * in docs/testing.md then says more than json-c does).
	 */
	for (size_t i = 0; i < NDEVIATIONS; i++) {
		struct deviation *d = &deviations[i];
		struct wire_env env;
		int r = wire_scan(d->example, d->example_len, &env, NULL);

		CHECK((r != WIRE_E_JSON) == (d->wire_accepts != NULL));
		if (differential(d->example, d->example_len) != d)
			fprintf(stderr, "fuzz_scan: json-c no longer deviates: %s\n", d->what);
	}
	for (size_t i = 0; i < NDEVIATIONS; i++)
		deviations[i].count = 0;
	return 0;
}

/* section: scanning */

static void check_member(const char *start, const char *end, const struct wire_value *v)
{
	const char *p = v->p;
	char buf[256], first;
	const char *out;
	size_t olen;
	int r;

	CHECK(p >= start && v->len > 0 && p + v->len <= end);
	first = p[0];
	switch (v->type) {
	case WIRE_T_NULL:
		CHECK(v->len == 4 && memcmp(p, "null", 4) == 0);
		return;
	case WIRE_T_TRUE:
		CHECK(v->len == 4 && memcmp(p, "true", 4) == 0);
		return;
	case WIRE_T_FALSE:
		CHECK(v->len == 5 && memcmp(p, "false", 5) == 0);
		return;
	case WIRE_T_NUMBER:
		CHECK(first == '-' || (first >= '0' && first <= '9'));
		break;
	case WIRE_T_ARRAY:
		CHECK(first == '[' && p[v->len - 1] == ']');
		break;
	case WIRE_T_OBJECT:
		CHECK(first == '{' && p[v->len - 1] == '}');
		break;
	case WIRE_T_STRING:
		CHECK(first == '"' && v->len >= 2 && p[v->len - 1] == '"');
		CHECK(v->escaped == (memchr(p, '\\', v->len) != NULL));
		break;
	default:
		CHECK(!"unknown type");
	}
	/* a member's span is a value in its own right, one level down */
	CHECK(wire_scan_value(p, v->len, NULL) == 0);
	if (v->type != WIRE_T_STRING)
		return;
	r = wire_string(v, buf, sizeof(buf), &out, &olen);
	CHECK(r == 0 || r == WIRE_E_LENGTH || r == WIRE_E_STRING);
	if (r != 0)
		return;
	if (v->escaped)
		CHECK(olen <= sizeof(buf));
	else
		CHECK(out == p + 1 && olen == v->len - 2u);
	CHECK(memchr(out, '\0', olen) == NULL);
	/* decoded text re-encodes to a string that scans and decodes back to it */
	{
		struct wire_buf wb;
		struct wire_value again = { 0 };
		char *buf2 = malloc(olen + 1);
		const char *out2;
		size_t olen2;

		wire_buf_init(&wb, 0);
		wire_buf_put_jstr(&wb, out, olen);
		CHECK(!wire_buf_failed(&wb));
		CHECK(wb.len == wire_jstr_len(out, olen));
		CHECK(wire_scan_value(wb.p, wb.len, NULL) == 0);
		again.p = wb.p;
		again.len = (uint32_t)wb.len;
		again.type = WIRE_T_STRING;
		again.escaped = memchr(wb.p, '\\', wb.len) != NULL;
		CHECK(buf2 && wire_string(&again, buf2, olen + 1, &out2, &olen2) == 0);
		CHECK(olen2 == olen && memcmp(out2, out, olen) == 0);
		wire_buf_free(&wb);
		free(buf2);
	}
}

static void check_scan(const char *p, size_t n)
{
	struct wire_env env;
	struct wire_err err = { 0, NULL };
	int r = wire_scan(p, n, &env, &err), rv;

	CHECK(r == 0 || r == WIRE_E_JSON || r == WIRE_E_NOT_OBJECT);
	if (r == WIRE_E_JSON)
		CHECK(err.reason && err.offset <= n);
	if (r == 0) {
		for (int f = 0; f < WF__COUNT; f++)
			if (env.f[f].type != WIRE_T_ABSENT)
				check_member(p, p + n, &env.f[f]);
		(void)wire_value_is(&env.f[WF_OP], "pub");
	}
	err.reason = NULL;
	rv = wire_scan_value(p, n, &err);
	CHECK(rv == 0 || rv == WIRE_E_JSON);
	if (rv == 0)
		CHECK(r != WIRE_E_JSON);
	else if (r != WIRE_E_JSON)
		CHECK(err.reason && strstr(err.reason, "nesting"));

	if (memchr(p, '\0', n))
		return;
	ncompared++;
	if (differential(p, n))
		nexplained++;
}

/* section: framing */

#define MAX_FRAMES 512

struct frames {
	size_t n;
	size_t off[MAX_FRAMES], len[MAX_FRAMES];
	bool too_large; /* the frame after the last one was too large */
};

/* Frames of buf[0..len), fed as a cut-byte prefix and then the rest. */
static void frames_of(const char *buf, size_t len, size_t cut, size_t max_frame, struct frames *out)
{
	struct wire_cursor cur = { 0, 0 };
	const char *line;
	size_t line_len;
	size_t have = cut;

	memset(out, 0, sizeof(*out));
	for (;;) {
		int r = wire_next_frame(buf, have, &cur, max_frame, &line, &line_len);

		if (r == 0) {
			CHECK(line >= buf && line + line_len <= buf + have);
			CHECK(line_len <= max_frame && line_len > 0 && line[0] != '\n');
			if (out->n == MAX_FRAMES)
				return;
			out->off[out->n] = (size_t)(line - buf);
			out->len[out->n++] = line_len;
			continue;
		}
		CHECK(r == WIRE_E_MORE || r == WIRE_E_TOO_LARGE);
		if (r == WIRE_E_TOO_LARGE) {
			out->too_large = true;
			return;
		}
		CHECK(cur.pos <= have && cur.scanned <= have);
		if (have == len)
			return;
		have = len;
	}
}

static void check_framing(const char *p, size_t n, const uint8_t *data)
{
	struct frames *whole = malloc(sizeof(*whole)), *split = malloc(sizeof(*split));
	size_t max_frame = n ? 1 + data[0] % 64 : 16;
	size_t cut = n ? (data[n - 1] * 131u) % (n + 1) : 0;

	CHECK(whole && split);
	frames_of(p, n, n, max_frame, whole);
	frames_of(p, n, cut, max_frame, split);
	CHECK(whole->n == split->n && whole->too_large == split->too_large);
	CHECK(memcmp(whole->off, split->off, whole->n * sizeof(size_t)) == 0);
	CHECK(memcmp(whole->len, split->len, whole->n * sizeof(size_t)) == 0);
	free(whole);
	free(split);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy: ASan reports any read past the end */
	char *p = malloc(size ? size : 1);

	CHECK(p);
	memcpy(p, data, size);
	check_scan(p, size);
	check_framing(p, size, data);
	free(p);
	return 0;
}
