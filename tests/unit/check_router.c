/*
 * Unit tests of the subscription tree (broker/router.h): set semantics per
 * owner, one callback per matching subscription, pruning back to an empty
 * tree, and a randomized differential test against topic_match(), which is
 * the reference for what a pattern matches.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jt.h"
#include "router.h"
#include "topic.h"

#define NOWN 6
#define ROUTER_E_NOT_FOUND 2 /* unsub_n: the owner has no such pattern */

struct owner {
	int id;
	struct router_owner subs;
};

/* Fixture-owned, so teardown frees the tree even after a failed assertion. */
static struct router R;
static struct owner own[NOWN];

static void setup(void)
{
	ck_assert_int_eq(router_init(&R), 0);
	for (int i = 0; i < NOWN; i++) {
		own[i].id = i;
		router_owner_init(&own[i].subs);
	}
}

static void teardown(void)
{
	router_fini(&R);
}

static int sub(int o, const char *pat)
{
	ck_assert_msg(!topic_check_pattern(pat, strlen(pat)), "test bug: pattern '%s'", pat);
	return router_subscribe(&R, &own[o].subs, &own[o], pat, strlen(pat), NULL);
}

/* Unsubscribe: 0, or ROUTER_E_NOT_FOUND when o has no such subscription. */
static int unsub_n(int o, const char *pat, size_t n)
{
	struct sub *s = router_find(&R, &own[o].subs, pat, n);

	if (!s)
		return ROUTER_E_NOT_FOUND;
	router_remove(&R, &own[o].subs, s);
	return 0;
}

static int unsub(int o, const char *pat)
{
	return unsub_n(o, pat, strlen(pat));
}

struct hits {
	int n[NOWN];
	int total;
};

static void on_match(struct sub *s, void *ud)
{
	void *owner = s->owner;
	struct hits *h = ud;
	struct owner *o = owner;

	/* no ck_assert here: it runs for every match, and each passing assert costs a write */
	if (o < own || o >= own + NOWN)
		ck_abort_msg("router_match reported an unknown owner %p", owner);
	h->n[o->id]++;
	h->total++;
}

static struct hits match(const char *topic)
{
	struct hits h = { { 0 }, 0 };

	router_match(&R, topic, strlen(topic), on_match, &h);
	return h;
}

START_TEST(test_router_set_semantics)
{
	static const char *const wild[] = { "a/+", "a/#", "#", "+" };
	/* unknown to their owner: another's pattern, an inner node, a longer one */
	static const struct {
		int owner;
		const char *pat;
	} unknown[] = {
		{ 0, "a/c" }, { 0, "a" }, { 0, "a/b/c" }, { 0, "b/#" }, { 2, "a/b" }, { 1, "a/+" },
	};

	ck_assert_uint_eq(R.nsubs, 0);
	ck_assert_uint_eq(R.nnodes, 0);

	ck_assert_int_eq(sub(0, "a/b"), 0);
	ck_assert_uint_eq(R.nsubs, 1);
	ck_assert_uint_eq(R.nnodes, 2);
	/* the same pattern again for the same owner */
	ck_assert_int_eq(sub(0, "a/b"), ROUTER_E_EXISTS);
	ck_assert_uint_eq(R.nsubs, 1);
	ck_assert_uint_eq(R.nnodes, 2);
	/* another owner shares the node */
	ck_assert_int_eq(sub(1, "a/b"), 0);
	ck_assert_uint_eq(R.nsubs, 2);
	ck_assert_uint_eq(R.nnodes, 2);
	/* wildcards are patterns of their own, with the same set semantics */
	for (size_t i = 0; i < ARRAY_SIZE(wild); i++)
		ck_assert_msg(sub(0, wild[i]) == 0, "sub '%s'", wild[i]);
	for (size_t i = 0; i < ARRAY_SIZE(wild); i++)
		ck_assert_msg(sub(0, wild[i]) == ROUTER_E_EXISTS, "sub '%s' again", wild[i]);
	ck_assert_uint_eq(R.nsubs, 6);
	ck_assert_uint_eq(R.nnodes, 6);

	for (size_t i = 0; i < ARRAY_SIZE(unknown); i++)
		ck_assert_msg(unsub(unknown[i].owner, unknown[i].pat) == ROUTER_E_NOT_FOUND,
			      "unsub %d '%s'", unknown[i].owner, unknown[i].pat);
	ck_assert_uint_eq(R.nsubs, 6);
	ck_assert_uint_eq(R.nnodes, 6);

	/* removing one owner's pattern keeps the other's */
	ck_assert_int_eq(unsub(0, "a/b"), 0);
	ck_assert_int_eq(unsub(0, "a/b"), ROUTER_E_NOT_FOUND);
	ck_assert_uint_eq(R.nsubs, 5);
	struct hits h = match("a/b");
	ck_assert_int_eq(h.n[1], 1);
	ck_assert_int_eq(h.n[0], 3); /* a/+, a/#, # */
	/* and it can be subscribed again */
	ck_assert_int_eq(sub(0, "a/b"), 0);
	ck_assert_int_eq(match("a/b").n[0], 4);
}
END_TEST

START_TEST(test_router_match_per_sub)
{
	struct hits h;

	ck_assert_int_eq(sub(0, "a/b"), 0);
	ck_assert_int_eq(sub(0, "a/+"), 0);
	ck_assert_int_eq(sub(0, "#"), 0);
	ck_assert_int_eq(sub(0, "a/#"), 0);
	ck_assert_int_eq(sub(0, "+/#"), 0);
	ck_assert_int_eq(sub(1, "+/b"), 0);
	ck_assert_int_eq(sub(2, "x"), 0);
	ck_assert_int_eq(sub(3, "$sys/#"), 0);
	ck_assert_int_eq(sub(4, "$sys/+"), 0);
	ck_assert_int_eq(sub(5, "a/b/#"), 0);

	/* an owner with several matching patterns is reported once per pattern */
	h = match("a/b");
	ck_assert_int_eq(h.n[0], 5);
	ck_assert_int_eq(h.n[1], 1);
	ck_assert_int_eq(h.n[2], 0);
	ck_assert_int_eq(h.n[5], 1); /* '#' matches zero levels */
	ck_assert_int_eq(h.total, 7);

	h = match("a");
	ck_assert_int_eq(h.n[0], 3); /* #, a/#, +/# */
	ck_assert_int_eq(h.total, 3);

	h = match("a/");
	ck_assert_int_eq(h.n[0], 4); /* a/+ (empty level), #, a/#, +/# */
	ck_assert_int_eq(h.total, 4);

	h = match("x");
	ck_assert_int_eq(h.n[0], 2); /* #, +/# */
	ck_assert_int_eq(h.n[2], 1);
	ck_assert_int_eq(h.total, 3);

	/* '$' topics: no wildcard first level, but $sys/# and $sys/+ */
	h = match("$sys/x");
	ck_assert_int_eq(h.n[0], 0);
	ck_assert_int_eq(h.n[1], 0);
	ck_assert_int_eq(h.n[3], 1);
	ck_assert_int_eq(h.n[4], 1);
	ck_assert_int_eq(h.total, 2);
	h = match("$sys");
	ck_assert_int_eq(h.n[3], 1);
	ck_assert_int_eq(h.total, 1);

	h = match("b/c/d");
	ck_assert_int_eq(h.n[0], 2); /* #, +/# */
	ck_assert_int_eq(h.total, 2);

	/* the topic length is honoured */
	h = (struct hits){ { 0 }, 0 };
	router_match(&R, "xyz", 1, on_match, &h);
	ck_assert_int_eq(h.n[2], 1);
}
END_TEST

START_TEST(test_router_unsubscribe_all)
{
	static const char *const pats[] = { "a", "a/+", "#", "$x/#", "a//b", "/" };
	struct hits h;

	for (size_t i = 0; i < ARRAY_SIZE(pats); i++)
		ck_assert_int_eq(sub(0, pats[i]), 0);
	ck_assert_int_eq(sub(1, "a"), 0);
	ck_assert_int_eq(sub(1, "#"), 0);
	ck_assert_uint_eq(R.nsubs, ARRAY_SIZE(pats) + 2);

	router_unsubscribe_all(&R, &own[0].subs);
	ck_assert(list_empty(&own[0].subs.subs));
	ck_assert_uint_eq(R.nsubs, 2);
	ck_assert_uint_eq(R.nnodes, 2);
	h = match("a");
	ck_assert_int_eq(h.n[0], 0);
	ck_assert_int_eq(h.n[1], 2);
	ck_assert_int_eq(match("$x/y").total, 0);
	/* each pattern is gone, so unsubscribing it is NOT_FOUND */
	for (size_t i = 0; i < ARRAY_SIZE(pats); i++)
		ck_assert_int_eq(unsub(0, pats[i]), ROUTER_E_NOT_FOUND);
	/* an owner without subscriptions: nothing happens */
	router_unsubscribe_all(&R, &own[2].subs);
	ck_assert_uint_eq(R.nsubs, 2);

	router_unsubscribe_all(&R, &own[1].subs);
	ck_assert(list_empty(&own[1].subs.subs));
	ck_assert_uint_eq(R.nsubs, 0);
	ck_assert_uint_eq(R.nnodes, 0);
	ck_assert_int_eq(match("a").total, 0);
}
END_TEST

/* Nodes without subscriptions or children are freed, up to the root. */
START_TEST(test_router_prune)
{
	char deep[1024];
	size_t n = 0;

	ck_assert_int_eq(sub(0, "a/b/c/d"), 0);
	ck_assert_uint_eq(R.nnodes, 4);
	ck_assert_int_eq(unsub(0, "a/b/c/d"), 0);
	ck_assert_uint_eq(R.nnodes, 0);

	/* an inner node with a subscription of its own */
	ck_assert_int_eq(sub(0, "a/b/c"), 0);
	ck_assert_int_eq(sub(0, "a"), 0);
	ck_assert_uint_eq(R.nnodes, 3);
	ck_assert_int_eq(unsub(0, "a"), 0);
	ck_assert_uint_eq(R.nnodes, 3);
	ck_assert_int_eq(match("a/b/c").total, 1);
	ck_assert_int_eq(unsub(0, "a/b/c"), 0);
	ck_assert_uint_eq(R.nnodes, 0);

	/* '+' and '#' children */
	ck_assert_int_eq(sub(0, "a/+/#"), 0);
	ck_assert_int_eq(sub(1, "a/+"), 0);
	ck_assert_int_eq(sub(2, "+/#"), 0);
	ck_assert_uint_eq(R.nnodes, 5);
	ck_assert_int_eq(unsub(0, "a/+/#"), 0);
	ck_assert_uint_eq(R.nnodes, 4);
	ck_assert_int_eq(unsub(1, "a/+"), 0);
	ck_assert_uint_eq(R.nnodes, 2);
	ck_assert_int_eq(unsub(2, "+/#"), 0);
	ck_assert_uint_eq(R.nnodes, 0);

	/* failed calls leave nothing behind */
	ck_assert_int_eq(unsub(0, "q/r/s"), ROUTER_E_NOT_FOUND);
	ck_assert_uint_eq(R.nnodes, 0);
	ck_assert_int_eq(sub(0, "x/y"), 0);
	ck_assert_int_eq(sub(0, "x/y"), ROUTER_E_EXISTS);
	ck_assert_uint_eq(R.nnodes, 2);
	ck_assert_int_eq(unsub(0, "x/y"), 0);
	ck_assert_uint_eq(R.nnodes, 0);

	/* a deep pattern: 300 levels, some empty */
	for (int i = 0; i < 300; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "%s%s", i ? "/" : "",
				      i % 3 ? "x" : "");
	ck_assert_int_eq(sub(3, deep), 0);
	ck_assert_uint_eq(R.nnodes, 300);
	ck_assert_int_eq(match(deep).n[3], 1);
	ck_assert_int_eq(unsub(3, deep), 0);
	ck_assert_uint_eq(R.nsubs, 0);
	ck_assert_uint_eq(R.nnodes, 0);
}
END_TEST

/* Many literal children under one node: the node's table grows and shrinks. */
START_TEST(test_router_many_literals)
{
	char p[32];

	for (int i = 0; i < 3000; i++) {
		snprintf(p, sizeof(p), "k%d", i);
		ck_assert_int_eq(sub(0, p), 0);
		snprintf(p, sizeof(p), "k%d/x", i);
		ck_assert_int_eq(sub(1, p), 0);
	}
	ck_assert_uint_eq(R.nnodes, 6000);
	for (int i = 0; i < 3000; i += 7) {
		struct hits h;
		snprintf(p, sizeof(p), "k%d", i);
		h = match(p);
		ck_assert_int_eq(h.n[0], 1);
		ck_assert_int_eq(h.total, 1);
		snprintf(p, sizeof(p), "k%d/x", i);
		h = match(p);
		ck_assert_int_eq(h.n[1], 1);
		ck_assert_int_eq(h.total, 1);
	}
	ck_assert_int_eq(match("k3000").total, 0);
	for (int i = 2999; i >= 0; i--) {
		snprintf(p, sizeof(p), "k%d", i);
		ck_assert_int_eq(unsub(0, p), 0);
		if (i % 2) {
			snprintf(p, sizeof(p), "k%d/x", i);
			ck_assert_int_eq(unsub(1, p), 0);
		}
	}
	ck_assert_uint_eq(R.nnodes, 1500 * 2);
	ck_assert_int_eq(match("k2/x").n[1], 1);
	ck_assert_int_eq(match("k3/x").total, 0);
	router_unsubscribe_all(&R, &own[1].subs);
	ck_assert_uint_eq(R.nsubs, 0);
	ck_assert_uint_eq(R.nnodes, 0);
}
END_TEST

/* router_fini with live subscriptions frees everything and empties owner lists. */
START_TEST(test_router_fini_live)
{
	ck_assert_int_eq(sub(0, "a/b"), 0);
	ck_assert_int_eq(sub(0, "a/#"), 0);
	ck_assert_int_eq(sub(1, "a/b"), 0);
	ck_assert_int_eq(sub(1, "+"), 0);
	router_fini(&R);
	ck_assert(list_empty(&own[0].subs.subs));
	ck_assert(list_empty(&own[1].subs.subs));
	ck_assert_uint_eq(R.nsubs, 0);
	ck_assert_uint_eq(R.nnodes, 0);
	/* the router can be set up again (teardown finalises it once more) */
	ck_assert_int_eq(router_init(&R), 0);
	ck_assert_int_eq(sub(0, "a/b"), 0);
}
END_TEST

/* section: differential test against topic_match() */

#define MAX_MODEL 1024

struct msub {
	int owner;
	char pat[64];
	size_t len;
	bool live;
};

static struct msub model[MAX_MODEL];
static size_t nmodel;
/* how much matching the random data exercised, so it cannot silently go trivial */
static long hits_total, hits_dollar, topics_nomatch;
static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	/* xorshift64*: fixed seed, so a failure reproduces */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ull) >> 32) % n;
}

static size_t gen(char *out, size_t cap, const char *const *alpha, uint32_t nalpha,
		  uint32_t maxlev)
{
	uint32_t nlev = 1 + rnd(maxlev);
	size_t n = 0;

	for (uint32_t i = 0; i < nlev; i++)
		n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "/" : "", alpha[rnd(nalpha)]);
	return n;
}

static const char *const pat_alpha[] = { "a", "b", "", "+", "#", "$x" };
static const char *const topic_alpha[] = { "a", "b", "", "$x", "c" };

static size_t gen_pattern(char *out, size_t cap)
{
	for (;;) {
		size_t n = gen(out, cap, pat_alpha, ARRAY_SIZE(pat_alpha), 4);
		if (!topic_check_pattern(out, n))
			return n;
	}
}

static size_t gen_topic(char *out, size_t cap)
{
	for (;;) {
		size_t n = gen(out, cap, topic_alpha, ARRAY_SIZE(topic_alpha), 5);
		if (n) /* a single empty level is not a topic */
			return n;
	}
}

static struct msub *model_find(int owner, const char *p, size_t n)
{
	for (size_t i = 0; i < nmodel; i++)
		if (model[i].live && model[i].owner == owner && model[i].len == n &&
		    !memcmp(model[i].pat, p, n))
			return &model[i];
	return NULL;
}

static void model_sub(void)
{
	char p[64];
	size_t n = gen_pattern(p, sizeof(p));
	int o = (int)rnd(NOWN);
	bool exists = model_find(o, p, n) != NULL;
	int r = router_subscribe(&R, &own[o].subs, &own[o], p, n, NULL);

	ck_assert_msg(r == (exists ? ROUTER_E_EXISTS : 0), "sub %d '%s': %d", o, p, r);
	if (exists)
		return;
	ck_assert_uint_lt(nmodel, MAX_MODEL);
	model[nmodel].owner = o;
	memcpy(model[nmodel].pat, p, n);
	model[nmodel].len = n;
	model[nmodel].live = true;
	nmodel++;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Nodes the tree should hold: the distinct level prefixes of live patterns. */
static size_t model_nodes(void)
{
	static char pre[MAX_MODEL * 8][64];
	size_t n = 0, distinct = 0;

	for (size_t i = 0; i < nmodel; i++) {
		if (!model[i].live)
			continue;
		for (size_t j = 0; j <= model[i].len; j++) {
			if (j < model[i].len && model[i].pat[j] != '/')
				continue;
			if (n >= ARRAY_SIZE(pre))
				ck_abort_msg("test bug: too many prefixes");
			memcpy(pre[n], model[i].pat, j);
			pre[n][j] = '\0';
			n++;
		}
	}
	qsort(pre, n, sizeof(pre[0]), cmp_str);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || strcmp(pre[i], pre[i - 1]))
			distinct++;
	return distinct;
}

static size_t model_live(void)
{
	size_t live = 0;

	for (size_t i = 0; i < nmodel; i++)
		live += model[i].live;
	return live;
}

static void check_against_model(int ntopics)
{
	ck_assert_uint_eq(R.nsubs, model_live());
	ck_assert_uint_eq(R.nnodes, model_nodes());
	for (int k = 0; k < ntopics; k++) {
		char t[64];
		size_t n = gen_topic(t, sizeof(t));
		struct hits want = { { 0 }, 0 }, got = { { 0 }, 0 };

		for (size_t i = 0; i < nmodel; i++) {
			if (model[i].live && topic_match(model[i].pat, model[i].len, t, n)) {
				want.n[model[i].owner]++;
				want.total++;
			}
		}
		router_match(&R, t, n, on_match, &got);
		hits_total += want.total;
		if (t[0] == '$')
			hits_dollar += want.total;
		topics_nomatch += !want.total;
		for (int o = 0; o < NOWN; o++) {
			if (got.n[o] == want.n[o])
				continue;
			/* name the patterns of this owner to make the failure readable */
			char msg[2048];
			size_t m = 0;
			for (size_t i = 0; i < nmodel && m < sizeof(msg) - 80; i++)
				if (model[i].live && model[i].owner == o)
					m += (size_t)snprintf(msg + m, sizeof(msg) - m, " '%s'%s",
							      model[i].pat,
							      topic_match(model[i].pat,
									  model[i].len, t, n)
								      ? "*"
								      : "");
			ck_abort_msg("topic '%s', owner %d: router %d, topic_match %d;"
				     " patterns (* = matches):%s",
				     t, o, got.n[o], want.n[o], msg);
		}
	}
}

START_TEST(test_router_differential)
{
	rng_state = 0x9e3779b97f4a7c15ull;
	nmodel = 0;
	hits_total = hits_dollar = topics_nomatch = 0;

	for (int i = 0; i < 300; i++)
		model_sub();
	check_against_model(2000);

	/* remove about half, one by one; unknown ones are NOT_FOUND */
	for (size_t i = 0; i < nmodel; i++) {
		if (!model[i].live || rnd(2))
			continue;
		ck_assert_int_eq(unsub_n(model[i].owner, model[i].pat, model[i].len),
				 0);
		model[i].live = false;
	}
	for (int i = 0; i < 200; i++) {
		char p[64];
		size_t n = gen_pattern(p, sizeof(p));
		int o = (int)rnd(NOWN);
		int want = model_find(o, p, n) ? 0 : ROUTER_E_NOT_FOUND;

		if (want)
			ck_assert_int_eq(unsub_n(o, p, n), want);
	}
	check_against_model(1000);

	/* more subscriptions into the thinned tree */
	for (int i = 0; i < 200; i++)
		model_sub();
	check_against_model(1000);

	/* half the owners go away at once */
	for (int o = 0; o < NOWN / 2; o++) {
		router_unsubscribe_all(&R, &own[o].subs);
		ck_assert(list_empty(&own[o].subs.subs));
		for (size_t i = 0; i < nmodel; i++)
			if (model[i].owner == o)
				model[i].live = false;
	}
	check_against_model(1000);

	/* and the rest one pattern at a time: the tree ends empty */
	for (size_t i = nmodel; i-- > 0;) {
		if (!model[i].live)
			continue;
		ck_assert_int_eq(unsub_n(model[i].owner, model[i].pat, model[i].len),
				 0);
		model[i].live = false;
	}
	ck_assert_uint_eq(R.nsubs, 0);
	ck_assert_uint_eq(R.nnodes, 0);
	check_against_model(100);
	/* the data was not trivial: many matches, '$' topics among them */
	ck_assert_int_gt(hits_total, 10000);
	ck_assert_int_gt(hits_dollar, 1000);
	ck_assert_int_ge(topics_nomatch, 100);
}
END_TEST

Suite *jt_suite(void)
{
	Suite *s = suite_create("router");
	const struct jt_case cases[] = {
		{ "set_semantics", test_router_set_semantics },
		{ "match_per_sub", test_router_match_per_sub },
		{ "unsubscribe_all", test_router_unsubscribe_all },
		{ "prune", test_router_prune },
		{ "many_literals", test_router_many_literals },
		{ "fini_live", test_router_fini_live },
		{ "differential", test_router_differential },
	};

	/* generous for SANITIZE=1; plain runs take well under a second */
	jt_add_cases(s, cases, ARRAY_SIZE(cases), setup, teardown, 60);
	return s;
}
