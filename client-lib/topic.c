/*
 * Topic and pattern validation and matching; the rules are in topic.h.
 * The broker routes with a tree (broker/router.c) that must agree with
 * topic_match(); the router's tests check it against this function.
 */
#include "topic.h"

#include <stdint.h>
#include <string.h>

static const char *check_length(size_t n)
{
	if (n == 0)
		return "topic is empty";
	if (n > TOPIC_MAX)
		return "topic is longer than 1024 bytes";
	return NULL;
}

/* A zero byte anywhere in v? (exact, whatever the byte order) */
static bool word_has_zero(uint64_t v)
{
	return ((v - 0x0101010101010101ull) & ~v & 0x8080808080808080ull) != 0;
}

enum { FOUND_WILDCARD = 1, FOUND_NUL = 2 };

/* '#' (0x23) and '+' (0x2b) differ in one bit only: with it cleared, one byte to look for. */
static unsigned forbidden_in_word(uint64_t v)
{
	const uint64_t bit = 0x0808080808080808ull, hash = 0x2323232323232323ull;

	return (word_has_zero((v & ~bit) ^ hash) ? FOUND_WILDCARD : 0) |
	       (word_has_zero(v) ? FOUND_NUL : 0);
}

/*
 * Which of '+', '#' and NUL t[0..n) holds (FOUND_*). Every published topic
 * is checked, by the library and again by the broker: eight bytes a step,
 * the last step overlapping the one before.
 */
static unsigned forbidden_bytes(const char *t, size_t n)
{
	unsigned found = 0;

	if (n < 8) {
		uint64_t v = 0x4141414141414141ull; /* padded with 'A', none of the three */

		memcpy(&v, t, n);
		return forbidden_in_word(v);
	}
	for (size_t i = 0;; i += 8) {
		uint64_t v;

		if (i > n - 8)
			i = n - 8;
		memcpy(&v, t + i, sizeof(v));
		found |= forbidden_in_word(v);
		if (i == n - 8)
			return found;
	}
}

const char *topic_check_name(const char *t, size_t n)
{
	const char *r = check_length(n);
	unsigned found;

	if (r)
		return r;
	if (t[0] == '$')
		return "topics starting with '$' are reserved for the broker";
	found = forbidden_bytes(t, n);
	if (found & FOUND_WILDCARD)
		return "wildcards '+' and '#' are not allowed in a topic to publish to";
	if (found & FOUND_NUL)
		return "topic contains a NUL byte";
	return NULL;
}

const char *topic_check_pattern(const char *p, size_t n)
{
	const char *r = check_length(n);
	size_t start = 0;

	if (r)
		return r;
	if (memchr(p, '\0', n))
		return "pattern contains a NUL byte";
	for (size_t i = 0; i <= n; i++) {
		if (i < n && p[i] != '/')
			continue;
		/* level p[start..i) */
		size_t len = i - start;
		for (size_t j = start; j < i; j++) {
			if (p[j] != '+' && p[j] != '#')
				continue;
			if (len != 1)
				return "'+' and '#' must each occupy a whole level";
			if (p[j] == '#' && i != n)
				return "'#' is only allowed as the last level";
		}
		start = i + 1;
	}
	return NULL;
}

bool topic_match(const char *p, size_t plen, const char *t, size_t tlen)
{
	size_t pi = 0, ti = 0;

	if (tlen && t[0] == '$' && plen && (p[0] == '+' || p[0] == '#'))
		return false;
	for (;;) {
		/* both positioned at the start of a level */
		size_t pe = pi, te = ti;
		while (pe < plen && p[pe] != '/')
			pe++;
		if (pe - pi == 1 && p[pi] == '#')
			return true;
		if (ti > tlen)
			return false; /* topic has no more levels */
		while (te < tlen && t[te] != '/')
			te++;
		if (!(pe - pi == 1 && p[pi] == '+') &&
		    (pe - pi != te - ti || memcmp(p + pi, t + ti, pe - pi) != 0))
			return false;
		/* the level matched: both end, or both go on */
		if (pe >= plen && te >= tlen)
			return true;
		if (pe >= plen)
			return false;
		pi = pe + 1;
		ti = te + 1;
		if (te >= tlen) {
			/* topic ended; only a final "#" can still match */
			return plen - pi == 1 && p[pi] == '#';
		}
	}
}

/* One level of a pattern: [s, s + n); kind '#', '+' or 'l' (literal), 0 past the end. */
struct level {
	const char *s;
	size_t n;
	char kind;
};

/* Level at *pos of p[0..len) into lv; *pos moves past it (len + 1 at the end). */
static void next_level(const char *p, size_t len, size_t *pos, struct level *lv)
{
	size_t e = *pos;

	if (*pos > len) {
		lv->kind = 0;
		return;
	}
	while (e < len && p[e] != '/')
		e++;
	lv->s = p + *pos;
	lv->n = e - *pos;
	lv->kind = lv->n == 1 && (lv->s[0] == '#' || lv->s[0] == '+') ? lv->s[0] : 'l';
	*pos = e + 1;
}

/* The first level of a pattern names only '$' topics. */
static bool dollar_level(const struct level *lv)
{
	return lv->kind == 'l' && lv->n && lv->s[0] == '$';
}

/*
 * "/#" would also match the empty topic ("#" matching no level after an
 * empty one), which is no topic: as a set of topics it is "/+/#".
 */
static void no_empty_topic(const char **p, size_t *len)
{
	if (*len == 2 && (*p)[0] == '/' && (*p)[1] == '#') {
		*p = "/+/#";
		*len = 4;
	}
}

bool topic_covers(const char *a, size_t alen, const char *p, size_t plen)
{
	size_t ai = 0, pi = 0;

	no_empty_topic(&a, &alen);
	no_empty_topic(&p, &plen);

	for (bool first = true;; first = false) {
		struct level la, lp;
		next_level(a, alen, &ai, &la);
		next_level(p, plen, &pi, &lp);
		/* a wildcard first level of a never covers '$' topics */
		if (first && la.kind != 'l' && dollar_level(&lp))
			return false;
		if (la.kind == '#')
			return true;
		if (!la.kind || !lp.kind)
			return !la.kind && !lp.kind;
		/* p goes on to any depth here; so can a only with "#", or with "+/#"
		 * on the first level, where "#" cannot match zero levels */
		if (lp.kind == '#')
			return first && la.kind == '+' && alen - ai == 1 && a[ai] == '#';
		if (la.kind == '+')
			continue;
		if (lp.kind != 'l' || la.n != lp.n || memcmp(la.s, lp.s, la.n) != 0)
			return false;
	}
}

bool topic_overlap(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t ai = 0, bi = 0;

	no_empty_topic(&a, &alen);
	no_empty_topic(&b, &blen);

	for (bool first = true;; first = false) {
		struct level la, lb;
		next_level(a, alen, &ai, &la);
		next_level(b, blen, &bi, &lb);
		/* a topic both match: a '$' one only if neither starts with a wildcard */
		if (first && ((la.kind != 'l' && dollar_level(&lb)) ||
			      (lb.kind != 'l' && dollar_level(&la))))
			return false;
		if (la.kind == '#' || lb.kind == '#')
			return true;
		if (!la.kind || !lb.kind)
			return !la.kind && !lb.kind;
		if (la.kind == '+' || lb.kind == '+')
			continue;
		if (la.n != lb.n || memcmp(la.s, lb.s, la.n) != 0)
			return false;
	}
}
