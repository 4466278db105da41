/*
 * Unit tests of topic names and patterns (client-lib/topic.h): which topics
 * a client may publish to, which patterns it may subscribe with, and every
 * wildcard edge of topic_match(). The router's tests check the routing tree
 * against topic_match(), so this table is the reference for both.
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "jt.h"
#include "topic.h"
#include "util.h"

struct check_case {
	const char *s;
	size_t len; /* 0: strlen */
	bool ok;
};

#define VALID(s) { s, 0, true }
#define INVALID(s) { s, 0, false }

static const struct check_case name_cases[] = {
	INVALID(""),
	VALID("a"),
	VALID("a/b/c"),
	VALID("/"),
	VALID("//"),
	VALID("/a"),
	VALID("a/"),
	VALID("a//b"),
	VALID("a b"),
	VALID("\xc3\xa9/\xe2\x82\xac"),
	VALID("a$"),
	VALID("a/$b"),
	VALID("sys$"),
	INVALID("$"),
	INVALID("$sys"),
	INVALID("$sys/x"),
	INVALID("+"),
	INVALID("#"),
	INVALID("a/+"),
	INVALID("a/#"),
	INVALID("a+b"),
	INVALID("a#b"),
	INVALID("a/b#"),
	INVALID("+/a"),
	{ "a\0b", 3, false },
	{ "ab", 1, true },
	{ "a+", 1, true },
};

/* One row through topic_check_name or topic_check_pattern: accepted exactly when ok. */
static void assert_check(const char *(*check)(const char *, size_t), const char *what,
			 const struct check_case *c)
{
	size_t n = c->len ? c->len : strlen(c->s);
	const char *r = check(c->s, n);

	ck_assert_msg((r == NULL) == c->ok, "%s '%.*s' (%zu): %s", what, (int)n, c->s, n,
		      r ? r : "accepted");
}

START_TEST(test_topic_check_name)
{
	assert_check(topic_check_name, "name", &name_cases[_i]);
}
END_TEST

static const struct check_case pattern_cases[] = {
	INVALID(""),
	VALID("a"),
	VALID("a/b/c"),
	VALID("+"),
	VALID("#"),
	VALID("a/+"),
	VALID("+/a"),
	VALID("a/#"),
	VALID("+/+/#"),
	VALID("a/+/b/#"),
	VALID("/"),
	VALID("//"),
	VALID("/a"),
	VALID("a/"),
	VALID("a//b"),
	VALID("/#"),
	VALID("/+/"),
	VALID("+//+"),
	VALID("$"),
	VALID("$sys"),
	VALID("$sys/#"),
	VALID("$sys/+"),
	VALID("+/$x"),
	VALID("a$/b"),
	VALID("\xc3\xa9/+"),
	/* '+' and '#' inside a level */
	INVALID("a+"),
	INVALID("+a"),
	INVALID("a+b"),
	INVALID("a/b+/c"),
	INVALID("++"),
	INVALID("a#"),
	INVALID("#a"),
	INVALID("a/b#"),
	INVALID("##"),
	INVALID("#+"),
	INVALID("+#"),
	INVALID("$sys/a#"),
	/* '#' not last */
	INVALID("#/a"),
	INVALID("a/#/b"),
	INVALID("#/"),
	INVALID("#/#"),
	INVALID("+/#/+"),
	{ "a\0", 2, false },
	{ "a/#/b", 3, true },
	{ "a+", 1, true },
};

START_TEST(test_topic_check_pattern)
{
	assert_check(topic_check_pattern, "pattern", &pattern_cases[_i]);
}
END_TEST

/* 1024 bytes are allowed, 1025 are not, for topics and patterns alike. */
START_TEST(test_topic_check_length)
{
	char *s = malloc(TOPIC_MAX + 2);

	ck_assert_ptr_nonnull(s);
	memset(s, 'a', TOPIC_MAX + 1);
	s[TOPIC_MAX + 1] = '\0';
	ck_assert_ptr_null(topic_check_name(s, TOPIC_MAX));
	ck_assert_ptr_nonnull(topic_check_name(s, TOPIC_MAX + 1));
	ck_assert_ptr_null(topic_check_pattern(s, TOPIC_MAX));
	ck_assert_ptr_nonnull(topic_check_pattern(s, TOPIC_MAX + 1));
	/* levels full of slashes count their bytes the same way */
	memset(s, '/', TOPIC_MAX + 1);
	ck_assert_ptr_null(topic_check_name(s, TOPIC_MAX));
	ck_assert_ptr_nonnull(topic_check_name(s, TOPIC_MAX + 1));
	/* a pattern ending in "/#" at exactly the limit, and one byte over */
	memset(s, 'a', TOPIC_MAX + 1);
	memcpy(s + TOPIC_MAX - 2, "/#", 2);
	ck_assert_ptr_null(topic_check_pattern(s, TOPIC_MAX));
	memcpy(s + TOPIC_MAX - 1, "/#", 2);
	ck_assert_ptr_nonnull(topic_check_pattern(s, TOPIC_MAX + 1));
	/* the reasons are human readable and distinct from "ok" */
	ck_assert_ptr_nonnull(topic_check_name("", 0));
	ck_assert_ptr_nonnull(topic_check_pattern("", 0));
	free(s);
}
END_TEST

/*
 * Topics are checked eight bytes a step: a '+', '#' or NUL is found at
 * every position of topics of every length up to 40, whichever word (or
 * the overlapping last one) holds it, and the bytes one bit away from the
 * wildcards ('\'' 0x27 and '/' 0x2f) are not taken for them.
 */
START_TEST(test_topic_check_name_positions)
{
	static const char bad[] = { '+', '#', '\0' };
	char s[40];

	for (size_t n = 1; n <= sizeof(s); n++) {
		memset(s, 'a', n);
		ck_assert_msg(!topic_check_name(s, n), "length %zu", n);
		for (size_t i = 0; i < n; i++) {
			for (size_t k = 0; k < sizeof(bad); k++) {
				s[i] = bad[k];
				ck_assert_msg(topic_check_name(s, n), "0x%02x at %zu of %zu",
					      (unsigned)bad[k], i, n);
			}
			s[i] = '\'';
			ck_assert_msg(!topic_check_name(s, n), "' at %zu of %zu", i, n);
			s[i] = '/';
			ck_assert_msg(!topic_check_name(s, n), "/ at %zu of %zu", i, n);
			s[i] = 'a';
		}
	}
	/* a wildcard wins over an earlier NUL, as before */
	ck_assert_str_eq(topic_check_name("a\0b/c+defgh", 11),
			 "wildcards '+' and '#' are not allowed in a topic to publish to");
	ck_assert_str_eq(topic_check_name("a\0b/cdefgh", 10), "topic contains a NUL byte");
}
END_TEST

struct match_case {
	const char *pattern;
	const char *topic;
	bool match;
};

static const struct match_case match_cases[] = {
	/* literals */
	{ "a", "a", true },
	{ "a", "b", false },
	{ "a", "ab", false },
	{ "ab", "a", false },
	{ "a/b", "a/b", true },
	{ "a/b", "a/c", false },
	{ "a/b", "b/b", false },
	{ "a/b", "a", false },
	{ "a", "a/b", false },
	{ "a", "a/", false },
	{ "a/b", "a/b/c", false },
	{ "a/b/c", "a/b", false },
	{ "/", "/", true },
	{ "/", "//", false },
	{ "a//b", "a//b", true },
	{ "a//b", "a/b", false },
	{ "a/", "a/", true },
	{ "a/", "a", false },
	/* '+': exactly one level, possibly empty */
	{ "+", "a", true },
	{ "+", "abc", true },
	{ "+", "/", false },
	{ "+", "a/b", false },
	{ "a/+", "a/b", true },
	{ "a/+", "a/", true },
	{ "a/+", "a", false },
	{ "a/+", "a/b/c", false },
	{ "a/+", "b/a", false },
	{ "+/b", "/b", true },
	{ "+/b", "a/b", true },
	{ "+/b", "a/c", false },
	{ "/+", "/", true },
	{ "/+", "/a", true },
	{ "/+", "a/", false },
	{ "+/", "/", true },
	{ "+/", "a/", true },
	{ "+/", "a", false },
	{ "+/+", "/", true },
	{ "+/+", "a/b", true },
	{ "+/+", "a/", true },
	{ "+/+", "a", false },
	{ "+/+", "//", false },
	{ "+/+", "a/b/c", false },
	{ "+/+/+", "//", true },
	{ "a/+/c", "a//c", true },
	{ "a/+/c", "a/b/c", true },
	{ "a/+/c", "a/b/d", false },
	{ "a/+/c", "a/c", false },
	/* '#': zero or more levels */
	{ "#", "a", true },
	{ "#", "/", true },
	{ "#", "//", true },
	{ "#", "a/b/c", true },
	{ "a/#", "a", true },
	{ "a/#", "a/", true },
	{ "a/#", "a/b", true },
	{ "a/#", "a/b/c", true },
	{ "a/#", "a//", true },
	{ "a/#", "b", false },
	{ "a/#", "ab", false },
	{ "a/#", "ab/c", false },
	{ "a/#", "b/a", false },
	{ "a/#", "/a", false },
	{ "a/b/#", "a", false },
	{ "a/b/#", "a/b", true },
	{ "a/b/#", "a/c/b", false },
	{ "/#", "/", true },
	{ "/#", "/a", true },
	{ "/#", "//", true },
	{ "/#", "a", false },
	{ "/#", "a/", false },
	{ "+/#", "a", true },
	{ "+/#", "/", true },
	{ "+/#", "a/b/c", true },
	{ "a/+/#", "a", false },
	{ "a/+/#", "a/", true },
	{ "a/+/#", "a/b/c/d", true },
	{ "+/+/#", "a", false },
	{ "+/+/#", "/", true },
	/* '$' topics: not matched by a pattern whose first level is a wildcard */
	{ "#", "$sys", false },
	{ "#", "$sys/x", false },
	{ "#", "$", false },
	{ "+", "$sys", false },
	{ "+", "$", false },
	{ "+/x", "$sys/x", false },
	{ "+/#", "$sys/x", false },
	{ "+/+", "$sys/x", false },
	{ "$sys/#", "$sys/x", true },
	{ "$sys/#", "$sys", true },
	{ "$sys/#", "$sys/x/y", true },
	{ "$sys/#", "$sysx", false },
	{ "$sys/+", "$sys/x", true },
	{ "$sys/+", "$sys/", true },
	{ "$sys/+", "$sys", false },
	{ "$sys/+", "$sys/x/y", false },
	{ "$sys", "$sys", true },
	{ "$sys", "$sy", false },
	{ "$", "$", true },
	{ "$x/+/#", "$x/a", true },
	/* '$' elsewhere is an ordinary character */
	{ "#", "a/$sys", true },
	{ "a/+", "a/$x", true },
	{ "+", "x$", true },
	{ "+/$x", "a/$x", true },
	{ "#", "/$sys", true },
};

START_TEST(test_topic_match)
{
	const struct match_case *c = &match_cases[_i];
	bool m;

	/* the table only holds valid inputs: check that first */
	ck_assert_msg(!topic_check_pattern(c->pattern, strlen(c->pattern)), "bad row: %s",
		      c->pattern);
	m = topic_match(c->pattern, strlen(c->pattern), c->topic, strlen(c->topic));
	ck_assert_msg(m == c->match, "'%s' vs '%s': got %s", c->pattern, c->topic,
		      m ? "match" : "no match");
}
END_TEST

/* Lengths are honoured: pattern and topic need not be NUL-terminated. */
START_TEST(test_topic_match_lengths)
{
	static const char buf[] = "a/b/c/d";

	ck_assert(topic_match(buf, 1, buf, 1));          /* "a" vs "a" */
	ck_assert(topic_match(buf, 3, buf, 3));          /* "a/b" vs "a/b" */
	ck_assert(!topic_match(buf, 3, buf, 5));         /* "a/b" vs "a/b/c" */
	ck_assert(!topic_match(buf, 5, buf, 3));         /* "a/b/c" vs "a/b" */
	ck_assert(topic_match("a/#x", 3, buf, 7));       /* "a/#" */
	ck_assert(topic_match("+/+zz", 3, buf, 3));      /* "+/+" vs "a/b" */
	ck_assert(topic_match("+/+zz", 3, buf, 2));      /* "+/+" vs "a/" */
	ck_assert(!topic_match("+/+zz", 3, buf, 1));     /* "+/+" vs "a" */
}
END_TEST

/*
 * topic_covers and topic_overlap against their definitions, over every
 * pattern of up to 3 levels from {x, $s, "", +, #} and every topic of up to
 * 4 levels from {x, $s, "", z}: a level value and a depth no pattern has
 * make "there is a topic" answerable within the finite set.
 */
#define NLV 4
static const char *const pat_levels[] = { "x", "$s", "", "+", "#" };
static const char *const top_levels[NLV] = { "x", "$s", "", "z" };

static size_t all_strings(const char *const *lv, size_t nlv, int depth, bool hash_last_only,
			  char (*out)[32], size_t cap)
{
	size_t n = 0;
	size_t idx[8];

	for (int d = 1; d <= depth; d++) {
		size_t total = 1;
		for (int i = 0; i < d; i++)
			total *= nlv;
		for (size_t k = 0; k < total; k++) {
			size_t v = k, len = 0;
			bool ok = true;
			for (int i = 0; i < d; i++) {
				idx[i] = v % nlv;
				v /= nlv;
				if (hash_last_only && !strcmp(lv[idx[i]], "#") && i != d - 1)
					ok = false;
			}
			if (!ok)
				continue;
			ck_assert_uint_lt(n, cap);
			for (int i = 0; i < d; i++)
				len += (size_t)snprintf(out[n] + len, 32 - len, "%s%s", i ? "/" : "",
							lv[idx[i]]);
			if (len) /* a topic or pattern has at least one byte */
				n++;
		}
	}
	return n;
}

START_TEST(test_topic_covers_overlap)
{
	static char pats[512][32], tops[512][32];
	size_t np = all_strings(pat_levels, 5, 3, true, pats, 512);
	size_t nt = all_strings(top_levels, NLV, 4, false, tops, 512);

	for (size_t i = 0; i < np; i++) {
		const char *a = pats[i];
		ck_assert_msg(!topic_check_pattern(a, strlen(a)), "bad pattern %s", a);
		for (size_t j = 0; j < np; j++) {
			const char *b = pats[j];
			bool covers = true, overlap = false;
			for (size_t k = 0; k < nt; k++) {
				const char *t = tops[k];
				bool ma = topic_match(a, strlen(a), t, strlen(t));
				bool mb = topic_match(b, strlen(b), t, strlen(t));
				if (mb && !ma)
					covers = false;
				if (ma && mb)
					overlap = true;
			}
			ck_assert_msg(topic_covers(a, strlen(a), b, strlen(b)) == covers,
				      "covers('%s', '%s') should be %d", a, b, covers);
			ck_assert_msg(topic_overlap(a, strlen(a), b, strlen(b)) == overlap,
				      "overlap('%s', '%s') should be %d", a, b, overlap);
		}
	}
}
END_TEST

Suite *jt_suite(void)
{
	Suite *s = suite_create("topic");
	const struct jt_case cases[] = {
		{ "check_name", test_topic_check_name, ARRAY_SIZE(name_cases) },
		{ "check_pattern", test_topic_check_pattern, ARRAY_SIZE(pattern_cases) },
		{ "check_length", test_topic_check_length },
		{ "check_name_positions", test_topic_check_name_positions },
		{ "match", test_topic_match, ARRAY_SIZE(match_cases) },
		{ "match_lengths", test_topic_match_lengths },
		{ "covers_overlap", test_topic_covers_overlap },
	};

	jt_add_cases(s, cases, ARRAY_SIZE(cases), NULL, NULL, 0);
	return s;
}
