/*
 * Topic and pattern validation and matching; the rules are in topic.h.
 * The broker routes with a tree (broker/router.c) that must agree with
 * topic_match(); the router's tests check it against this function.
 */
#include "topic.h"

#include <string.h>

static const char *check_length(size_t n)
{
	if (n == 0)
		return "topic is empty";
	if (n > TOPIC_MAX)
		return "topic is longer than 1024 bytes";
	return NULL;
}

const char *topic_check_name(const char *t, size_t n)
{
	const char *r = check_length(n);

	if (r)
		return r;
	if (t[0] == '$')
		return "topics starting with '$' are reserved for the broker";
	for (size_t i = 0; i < n; i++)
		if (t[i] == '+' || t[i] == '#')
			return "wildcards '+' and '#' are not allowed in a topic to publish to";
	if (memchr(t, '\0', n))
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
