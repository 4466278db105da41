/*
 * Subscription routing: a topic tree with one node per pattern level.
 * Owners (clients) are opaque here; each owner embeds a router_owner that
 * lists its subscriptions so it can drop them all at once. Matching visits only the
 * branches a topic can reach (literal child, '+', '#'), never every
 * subscription. Rules in client-lib/topic.h.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "htable.h"
#include "util.h"

struct tnode;

struct sub_lag;

/* What happens to a message of this subscription that does not fit the queue. */
enum sub_on_full {
	SUB_DISCONNECT, /* the client is disconnected as a slow consumer (default) */
	SUB_LATEST,     /* the newest message per topic is kept until it catches up */
	SUB_DROP,       /* the message is discarded and counted */
};

struct sub {
	struct list_head node_link;  /* in tnode->subs */
	struct list_head owner_link; /* in the owner's list, oldest first */
	struct tnode *node;
	void *owner;
	uint64_t serial;             /* creation order, router-wide */
	uint8_t on_full;             /* enum sub_on_full, set by the owner */
	struct sub_lag *lag;         /* owner's state while it is behind, or NULL */
};

/* An owner's subscriptions, oldest first. */
struct router_owner {
	struct list_head subs;
	uint32_t count;
};

struct router {
	struct tnode *root;
	size_t nsubs;
	size_t nnodes;
	uint64_t serial;
};

enum {
	ROUTER_E_EXISTS = 1, /* owner already has this pattern */
};

int router_init(struct router *r);
void router_fini(struct router *r);

static inline void router_owner_init(struct router_owner *o)
{
	list_init(&o->subs);
	o->count = 0;
}

/*
 * Pattern must be valid (topic_check_pattern). Returns 0 (new), ROUTER_E_EXISTS
 * or -ENOMEM; *sp (may be NULL) is the subscription, new or existing.
 * Finding an existing one scans the shorter of the owner's list and the
 * pattern's subscribers.
 */
int router_subscribe(struct router *r, struct router_owner *o, void *owner, const char *pat,
		     size_t n, struct sub **sp);
/* The owner's subscription of pat, or NULL. */
struct sub *router_find(struct router *r, struct router_owner *o, const char *pat, size_t n);
/*
 * Removes s. The owner must have let go of s->lag first. Must not run
 * inside router_match.
 */
void router_remove(struct router *r, struct router_owner *o, struct sub *s);
/* Removes every subscription of o (whose lag the owner freed). */
void router_unsubscribe_all(struct router *r, struct router_owner *o);

/* Writes the pattern of s into buf (at most cap bytes, TOPIC_MAX fits any); returns its length. */
size_t router_sub_pattern(const struct sub *s, char *buf, size_t cap);

/*
 * Calls fn(owner, ud) once per matching subscription of topic t. An owner
 * with several matching patterns is reported once per pattern: the caller
 * deduplicates (the broker with a per-publish sequence number).
 */
typedef void (*router_match_fn)(struct sub *s, void *ud);
void router_match(const struct router *r, const char *t, size_t n, router_match_fn fn, void *ud);
