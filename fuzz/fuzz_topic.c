/*
 * libFuzzer target for topic names and patterns: validation and matching
 * (client-lib/topic.c) and the broker's routing tree (broker/router.c),
 * differential against a reference written here from the rules in
 * client-lib/topic.h, level by level and as plainly as possible.
 *
 * Input: fields separated by NUL bytes; the last field is a topic, the
 * others (at most 16) are patterns. Without a NUL, the first half is one
 * pattern and the second half the topic. The whole input, NULs included,
 * is validated too.
 *
 * Checked on every input (a violation aborts: a finding):
 *  - topic_check_name and topic_check_pattern accept exactly what the
 *    reference accepts (and give a reason otherwise); a valid name is a
 *    valid pattern;
 *  - topic_match agrees with the reference matcher on every valid pattern
 *    and routable topic (a name, or a broker '$' topic), and a routable
 *    topic matches itself as a pattern;
 *  - the router, with each valid pattern subscribed by its own owner and
 *    all of them by one more owner: router_match reports each owner once
 *    per matching pattern, exactly the patterns the reference matches; a
 *    repeated pattern is ROUTER_E_EXISTS for the same owner and gives back
 *    the same subscription, which router_find finds too;
 *    router_sub_pattern gives the pattern back; after removing every
 *    other owner's subscription the rest still match as before, and
 *    router_find no longer finds a removed one; and with everything
 *    unsubscribed the tree is pruned back to its root (no subscriptions,
 *    no nodes).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"
#include "topic.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PATTERNS 16

/* section: the reference */

/* A string split on '/': its levels (a topic has at most TOPIC_MAX + 1). */
struct levels {
	size_t n;
	const char *l[TOPIC_MAX + 2];
	size_t len[TOPIC_MAX + 2];
};

static void split(const char *s, size_t n, struct levels *lv)
{
	size_t start = 0;

	lv->n = 0;
	for (size_t i = 0; i <= n && lv->n < TOPIC_MAX + 2; i++) {
		if (i < n && s[i] != '/')
			continue;
		lv->l[lv->n] = s + start;
		lv->len[lv->n++] = i - start;
		start = i + 1;
	}
}

static bool is_level(const struct levels *lv, size_t i, char c)
{
	return lv->len[i] == 1 && lv->l[i][0] == c;
}

/* The documented rules, level by level (topic.h). */
static bool ref_match(const char *p, size_t pn, const char *t, size_t tn)
{
	static struct levels pl, tl;

	/* a pattern starting with a wildcard does not see the broker's '$' topics */
	if (tn && t[0] == '$' && pn && (p[0] == '+' || p[0] == '#'))
		return false;
	split(p, pn, &pl);
	split(t, tn, &tl);
	for (size_t i = 0; i < pl.n; i++) {
		/* '#' (always last) matches what is left, even nothing */
		if (is_level(&pl, i, '#'))
			return true;
		if (i == tl.n)
			return false;
		if (!is_level(&pl, i, '+') &&
		    (pl.len[i] != tl.len[i] || memcmp(pl.l[i], tl.l[i], pl.len[i]) != 0))
			return false;
	}
	return pl.n == tl.n;
}

static bool ref_length_ok(const char *s, size_t n)
{
	return n >= 1 && n <= TOPIC_MAX && !memchr(s, '\0', n);
}

/* A valid pattern: '+' and '#' only as whole levels, '#' only last. */
static bool ref_pattern_ok(const char *p, size_t n)
{
	static struct levels lv;

	if (!ref_length_ok(p, n))
		return false;
	split(p, n, &lv);
	for (size_t i = 0; i < lv.n; i++) {
		if (!memchr(lv.l[i], '+', lv.len[i]) && !memchr(lv.l[i], '#', lv.len[i]))
			continue;
		if (lv.len[i] != 1)
			return false;
		if (lv.l[i][0] == '#' && i != lv.n - 1)
			return false;
	}
	return true;
}

/* A topic the broker may route to: a name, or one of its own '$' topics. */
static bool ref_routable(const char *t, size_t n)
{
	return ref_length_ok(t, n) && !memchr(t, '+', n) && !memchr(t, '#', n);
}

/* A topic a client may publish to. */
static bool ref_name_ok(const char *t, size_t n)
{
	return ref_routable(t, n) && t[0] != '$';
}

/* section: validation and topic_match */

static void check_valid(const char *s, size_t n)
{
	const char *name_why = topic_check_name(s, n), *pat_why = topic_check_pattern(s, n);

	CHECK((name_why == NULL) == ref_name_ok(s, n));
	CHECK((pat_why == NULL) == ref_pattern_ok(s, n));
	CHECK(!name_why || *name_why);
	CHECK(!pat_why || *pat_why);
	if (!name_why)
		CHECK(!pat_why);
	if (ref_routable(s, n)) {
		CHECK(!pat_why);
		CHECK(topic_match(s, n, s, n));
	}
}

/* section: the router */

struct field {
	const char *p;
	size_t n;
};

struct owner {
	struct router_owner subs;
	unsigned hits;
};

static void on_match(struct sub *s, void *ud)
{
	(void)ud;
	((struct owner *)s->owner)->hits++;
}

/* Match t; every owner i < n (its pattern pats[i]) is reported iff live and matching. */
static void check_route(const struct router *r, struct owner *own, const struct field *pats,
			const bool *live, size_t n, struct owner *all, const struct field *t)
{
	unsigned want_all = 0;

	for (size_t i = 0; i < n; i++)
		own[i].hits = 0;
	all->hits = 0;
	router_match(r, t->p, t->n, on_match, NULL);
	for (size_t i = 0; i < n; i++) {
		bool m = live[i] && ref_match(pats[i].p, pats[i].n, t->p, t->n);

		CHECK(own[i].hits == (m ? 1u : 0u));
	}
	/* the shared owner holds each distinct pattern once */
	for (size_t i = 0; i < n; i++) {
		bool dup = false;

		for (size_t j = 0; j < i && !dup; j++)
			dup = pats[j].n == pats[i].n &&
			      memcmp(pats[j].p, pats[i].p, pats[i].n) == 0;
		if (!dup && ref_match(pats[i].p, pats[i].n, t->p, t->n))
			want_all++;
	}
	CHECK(all->hits == want_all);
}

static void check_router(const struct field *pats, size_t n, const struct field *t)
{
	struct router r;
	struct owner own[MAX_PATTERNS], all;
	bool live[MAX_PATTERNS];
	char buf[TOPIC_MAX];
	struct sub *s, *again;

	CHECK(router_init(&r) == 0);
	router_owner_init(&all.subs);
	for (size_t i = 0; i < n; i++) {
		bool dup = false;

		router_owner_init(&own[i].subs);
		live[i] = true;
		CHECK(router_subscribe(&r, &own[i].subs, &own[i], pats[i].p, pats[i].n, &s) == 0);
		CHECK(router_subscribe(&r, &own[i].subs, &own[i], pats[i].p, pats[i].n, &again) ==
		      ROUTER_E_EXISTS);
		CHECK(again == s && s->owner == &own[i] && own[i].subs.count == 1);
		CHECK(router_find(&r, &own[i].subs, pats[i].p, pats[i].n) == s);
		for (size_t j = 0; j < i && !dup; j++)
			dup = pats[j].n == pats[i].n &&
			      memcmp(pats[j].p, pats[i].p, pats[i].n) == 0;
		CHECK(router_subscribe(&r, &all.subs, &all, pats[i].p, pats[i].n, NULL) ==
		      (dup ? ROUTER_E_EXISTS : 0));
		CHECK(router_sub_pattern(s, buf, sizeof(buf)) == pats[i].n &&
		      memcmp(buf, pats[i].p, pats[i].n) == 0);
	}
	if (t)
		check_route(&r, own, pats, live, n, &all, t);
	for (size_t i = 0; i < n; i += 2) {
		s = router_find(&r, &own[i].subs, pats[i].p, pats[i].n);
		CHECK(s != NULL);
		router_remove(&r, &own[i].subs, s);
		CHECK(router_find(&r, &own[i].subs, pats[i].p, pats[i].n) == NULL);
		CHECK(list_empty(&own[i].subs.subs) && own[i].subs.count == 0);
		live[i] = false;
	}
	if (t)
		check_route(&r, own, pats, live, n, &all, t);
	for (size_t i = 0; i < n; i++)
		router_unsubscribe_all(&r, &own[i].subs);
	router_unsubscribe_all(&r, &all.subs);
	CHECK(r.nsubs == 0 && r.nnodes == 0);
	router_fini(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy: ASan reports any read past the end */
	char *in = malloc(size ? size : 1);
	struct field f[MAX_PATTERNS + 1], pats[MAX_PATTERNS];
	size_t nf = 0, np = 0;
	const struct field *t;

	CHECK(in);
	memcpy(in, data, size);
	check_valid(in, size);
	if (!memchr(in, '\0', size)) {
		f[0] = (struct field){ in, size / 2 };
		f[1] = (struct field){ in + size / 2, size - size / 2 };
		nf = 2;
	} else {
		const char *p = in, *end = in + size;

		while (nf < MAX_PATTERNS + 1) {
			const char *nul = memchr(p, '\0', (size_t)(end - p));
			const char *fe = nul ? nul : end;

			f[nf++] = (struct field){ p, (size_t)(fe - p) };
			if (!nul)
				break;
			p = nul + 1;
		}
	}
	t = &f[nf - 1];
	for (size_t i = 0; i < nf; i++) {
		check_valid(f[i].p, f[i].n);
		if (i < nf - 1 && ref_pattern_ok(f[i].p, f[i].n))
			pats[np++] = f[i];
	}
	if (ref_routable(t->p, t->n)) {
		for (size_t i = 0; i < np; i++)
			CHECK(topic_match(pats[i].p, pats[i].n, t->p, t->n) ==
			      ref_match(pats[i].p, pats[i].n, t->p, t->n));
	}
	check_router(pats, np, ref_routable(t->p, t->n) ? t : NULL);
	free(in);
	return 0;
}
