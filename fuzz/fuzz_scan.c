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
 *    library read).
 * Topic validation and matching, checked here before, have their own
 * target: fuzz_topic.
 *
 * Differential, counted but not fatal (a later issue runs the campaign):
 * for inputs without NUL, json-c's tokener (JSON_TOKENER_STRICT plus
 * JSON_TOKENER_VALIDATE_UTF8, depth 64) and wire_scan should agree on
 * "valid JSON". Disagreements are grouped by direction and reason; the
 * first example of each group is printed when found, and the counts at exit.
 */
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"
#include "fuzz_check.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* section: differential bookkeeping */

#define MAX_GROUPS 64

static struct group {
	bool wire_accepts;  /* direction: wire_scan accepts, json-c rejects (or the reverse) */
	const char *reason; /* wire_scan's reason, or json-c's error text (both static) */
	unsigned long count;
} groups[MAX_GROUPS];
static unsigned long ngroups, ncompared;

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

static void disagree(bool wire_accepts, const char *reason, const uint8_t *p, size_t n)
{
	for (unsigned long i = 0; i < ngroups; i++) {
		if (groups[i].wire_accepts == wire_accepts && groups[i].reason == reason) {
			groups[i].count++;
			return;
		}
	}
	if (ngroups == MAX_GROUPS)
		return;
	groups[ngroups++] = (struct group){ wire_accepts, reason, 1 };
	fprintf(stderr, "fuzz_scan: DISAGREE %s (%s): ",
		wire_accepts ? "wire accepts, json-c rejects" : "json-c accepts, wire rejects",
		reason);
	show(stderr, p, n);
	fputc('\n', stderr);
}

static void report(void)
{
	unsigned long total = 0;

	for (unsigned long i = 0; i < ngroups; i++)
		total += groups[i].count;
	fprintf(stderr, "fuzz_scan: %lu inputs compared with json-c, %lu disagreements\n",
		ncompared, total);
	for (unsigned long i = 0; i < ngroups; i++)
		fprintf(stderr, "fuzz_scan:   %8lu  %s: %s\n", groups[i].count,
			groups[i].wire_accepts ? "wire accepts, json-c rejects"
					       : "json-c accepts, wire rejects",
			groups[i].reason);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	atexit(report);
	return 0;
}

/* json-c's verdict on p[0..n) (no NUL inside): valid JSON of any type, with *why on failure. */
static bool jsonc_accepts(const char *p, size_t n, const char **why)
{
	struct json_tokener *tok = json_tokener_new_ex(WIRE_MAX_DEPTH);
	char *buf = malloc(n + 1);
	enum json_tokener_error e;
	json_object *o;
	bool ok;

	CHECK(tok && buf);
	memcpy(buf, p, n);
	buf[n] = '\0';
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	/* the NUL ends the input, so a number at the very end is complete */
	o = json_tokener_parse_ex(tok, buf, (int)n + 1);
	e = json_tokener_get_error(tok);
	ok = e == json_tokener_success && json_tokener_get_parse_end(tok) == n;
	*why = e == json_tokener_success ? "trailing bytes" : json_tokener_error_desc(e);
	json_object_put(o);
	json_tokener_free(tok);
	free(buf);
	return ok;
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

static void check_scan(const char *p, size_t n, const uint8_t *data)
{
	struct wire_env env;
	struct wire_err err = { 0, NULL };
	int r = wire_scan(p, n, &env, &err), rv;
	bool wire_ok;

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
	wire_ok = r != WIRE_E_JSON;
	{
		const char *why;
		bool jc_ok = jsonc_accepts(p, n, &why);
		struct wire_err e2 = { 0, NULL };

		ncompared++;
		if (wire_ok && !jc_ok)
			disagree(true, why, data, n);
		if (!wire_ok && jc_ok) {
			wire_scan(p, n, &env, &e2);
			disagree(false, e2.reason, data, n);
		}
	}
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
	check_scan(p, size, data);
	check_framing(p, size, data);
	free(p);
	return 0;
}
