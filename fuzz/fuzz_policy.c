/*
 * libFuzzer target for the access policy parser and its verdicts
 * (broker/policy.c).
 *
 * Input: the policy text up to the first NUL byte, then NUL-separated
 * queries (at most 16): topics, patterns or names asked about.
 *
 * Checked on every input (a violation aborts: a finding):
 *  - policy_parse returns 0, -EINVAL with a reason in err, or -ENOMEM;
 *    it parses the same text the same way twice;
 *  - with a policy, for three subjects (root; uid 1000 with supplementary
 *    groups; nobody) and every op and query: a verdict is either allowed
 *    with no rule or denied with a rule index inside the policy (a
 *    reservation only for own), its key is below policy_size() + 1, its
 *    text is non-empty; monitor and introspect do not depend on the query;
 *  - subscribe is monotone: a pattern covered by an allowed pattern is
 *    allowed too (an allow that covers the wider one covers it, and a deny
 *    that overlaps it overlaps the wider one).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "topic.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_QUERIES 16

struct field {
	const char *p;
	size_t n;
};

static const gid_t groups_1000[] = { 27, 100, 1000 };
static const struct policy_subject subjects[] = {
	{ 0, 0, NULL, 0 },
	{ 1000, 1000, groups_1000, 3 },
	{ 65534, 65534, NULL, 0 },
};
#define NSUBJECTS (sizeof(subjects) / sizeof(subjects[0]))

static void check_verdict(const struct policy *p, enum policy_op op, struct policy_verdict v)
{
	char text[256];

	if (v.allowed) {
		CHECK(v.rule == -1 && !v.reserved);
	} else {
		CHECK(v.rule >= -1 && (size_t)(v.rule + 1) <= policy_size(p));
		CHECK(!v.reserved || (op == POLICY_OWN && v.rule >= 0));
	}
	CHECK(policy_verdict_key(p, &v) <= policy_size(p));
	text[0] = '\0';
	policy_verdict_text(p, &v, text, sizeof(text));
	CHECK(!v.allowed ? text[0] != '\0' && memchr(text, '\0', sizeof(text)) : 1);
}

static bool same_verdict(struct policy_verdict a, struct policy_verdict b)
{
	return a.allowed == b.allowed && a.rule == b.rule && a.reserved == b.reserved;
}

static void check_queries(const struct policy *p, const struct policy *again,
			  const struct field *q, size_t nq)
{
	for (size_t k = 0; k < NSUBJECTS; k++) {
		const struct policy_subject *who = &subjects[k];
		struct policy_verdict base[2];

		base[0] = policy_check(p, who, POLICY_MONITOR, "", 0);
		base[1] = policy_check(p, who, POLICY_INTROSPECT, "", 0);
		check_verdict(p, POLICY_MONITOR, base[0]);
		check_verdict(p, POLICY_INTROSPECT, base[1]);
		for (size_t i = 0; i < nq; i++) {
			for (int op = 0; op < POLICY__OPS; op++) {
				struct policy_verdict v = policy_check(p, who, op, q[i].p, q[i].n);

				check_verdict(p, op, v);
				CHECK(same_verdict(v, policy_check(again, who, op, q[i].p, q[i].n)));
				if (op == POLICY_MONITOR || op == POLICY_INTROSPECT)
					CHECK(same_verdict(v, base[op == POLICY_INTROSPECT]));
			}
		}
		/* subscribe: allowed for a pattern, allowed for whatever it covers */
		for (size_t i = 0; i < nq; i++) {
			if (topic_check_pattern(q[i].p, q[i].n) ||
			    !policy_check(p, who, POLICY_SUBSCRIBE, q[i].p, q[i].n).allowed)
				continue;
			for (size_t j = 0; j < nq; j++)
				if (!topic_check_pattern(q[j].p, q[j].n) &&
				    topic_covers(q[i].p, q[i].n, q[j].p, q[j].n))
					CHECK(policy_check(p, who, POLICY_SUBSCRIBE, q[j].p, q[j].n)
						      .allowed);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy: ASan reports any read past the end */
	char *in = malloc(size ? size : 1);
	const char *end, *nul;
	struct policy *p = NULL, *again = NULL;
	struct field q[MAX_QUERIES];
	size_t nq = 0, tlen;
	char err[400], err2[400];
	int r, r2;

	if (!in)
		abort();
	memcpy(in, data, size);
	end = in + size;
	nul = memchr(in, '\0', size);
	tlen = nul ? (size_t)(nul - in) : size;
	for (const char *s = nul ? nul + 1 : end; s < end && nq < MAX_QUERIES;) {
		const char *e = memchr(s, '\0', (size_t)(end - s));

		if (!e)
			e = end;
		q[nq++] = (struct field){ s, (size_t)(e - s) };
		s = e + 1;
	}

	err[0] = err2[0] = '\0';
	r = policy_parse(in, tlen, &p, err, sizeof(err));
	r2 = policy_parse(in, tlen, &again, err2, sizeof(err2));
	CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	CHECK(r == r2 || r == -ENOMEM || r2 == -ENOMEM);
	if (r == -EINVAL) {
		CHECK(p == NULL && err[0] != '\0' && memchr(err, '\0', sizeof(err)));
		CHECK(r2 != -EINVAL || strcmp(err, err2) == 0);
	}
	if (r == 0 && r2 == 0) {
		CHECK(p != NULL && again != NULL);
		CHECK(policy_size(p) == policy_size(again));
		CHECK(policy_needs_groups(p) == policy_needs_groups(again));
		check_queries(p, again, q, nq);
	}
	policy_free(p);
	policy_free(again);
	free(in);
	return 0;
}
