/*
 * Access policy (docs/security.md "Policy file"): who may publish to and
 * subscribe to which topics, take, send to and call which names, monitor
 * and introspect.
 *
 * A policy is a list of rules, each for a subject ("*", "uid:N",
 * "user:NAME", "gid:N", "group:NAME") with an "allow" and a "deny" set.
 * An operation is allowed when a rule for the client allows it and no rule
 * for the client denies it (deny wins, rule order does not matter). Name
 * prefixes may be reserved for one subject. User and group names are
 * resolved when the policy is loaded. Without a policy the broker allows
 * everything except monitor (broker.c).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum policy_op {
	POLICY_PUBLISH,   /* a topic name */
	POLICY_SUBSCRIBE, /* a pattern: an allow pattern must cover it, no deny pattern may overlap it */
	POLICY_OWN,       /* a client name to take */
	POLICY_SEND,      /* a target name of send */
	POLICY_CALL,      /* a target name of req */
	POLICY_MONITOR,
	POLICY_INTROSPECT, /* stats, clients, HTTP /stats and /clients */
	POLICY__OPS,
};

/* Who asks: groups are fetched by the caller only when policy_needs_groups(). */
struct policy_subject {
	uid_t uid;
	gid_t gid;
	const gid_t *groups; /* supplementary groups, may be NULL */
	int ngroups;
};

/* Why an operation was denied: the deny rule, no allow rule, or a reservation. */
struct policy_verdict {
	bool allowed;
	int rule;      /* index of the deny rule or reservation, -1 when no rule allows */
	bool reserved; /* rule is an index into the reservations */
};

struct policy;

/*
 * Parses a policy from text[0..len) (JSON). Returns 0, or -EINVAL with the
 * exact place and reason in err ("rules[2].allow.publish[0]: ..."), or -ENOMEM.
 */
int policy_parse(const char *text, size_t len, struct policy **out, char *err, size_t errlen);
/* Reads and parses path; errors as policy_parse, plus the read error. */
int policy_load(const char *path, struct policy **out, char *err, size_t errlen);
void policy_free(struct policy *p);

bool policy_needs_groups(const struct policy *p);
/* Rules plus reservations: the number of distinct verdict keys is this plus one. */
size_t policy_size(const struct policy *p);
/* A verdict as a small index (0..policy_size()) for logging once per client and rule. */
size_t policy_verdict_key(const struct policy *p, const struct policy_verdict *v);
/* "denied by rules[2] (for group:audio)", "no rule of the policy allows it", "name prefix 'net.' is reserved for user:root". */
void policy_verdict_text(const struct policy *p, const struct policy_verdict *v, char *buf,
			 size_t cap);

/* s[0..n) is the topic, pattern or name; ignored for monitor and introspect. */
struct policy_verdict policy_check(const struct policy *p, const struct policy_subject *who,
				   enum policy_op op, const char *s, size_t n);
