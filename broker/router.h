/*
 * Subscription routing: a topic tree with one node per pattern level.
 * Owners (clients) are opaque here; each owner keeps the list of its
 * subscriptions so it can drop them all at once. Matching visits only the
 * branches a topic can reach (literal child, '+', '#'), never every
 * subscription. Rules in client-lib/topic.h.
 */
#pragma once

#include <stddef.h>

#include "htable.h"
#include "util.h"

struct tnode;

struct sub {
	struct list_head node_link;  /* in tnode->subs */
	struct list_head owner_link; /* in the owner's list */
	struct tnode *node;
	void *owner;
};

struct router {
	struct tnode *root;
	size_t nsubs;
	size_t nnodes;
};

enum {
	ROUTER_E_EXISTS = 1, /* owner already has this pattern */
	ROUTER_E_NOT_FOUND,  /* owner does not have this pattern */
};

int router_init(struct router *r);
void router_fini(struct router *r);

/* Pattern must be valid (topic_check_pattern). Returns 0, ROUTER_E_EXISTS or -ENOMEM. */
int router_subscribe(struct router *r, struct list_head *owner_subs, void *owner, const char *pat,
		     size_t n);
/* Returns 0 or ROUTER_E_NOT_FOUND. */
int router_unsubscribe(struct router *r, struct list_head *owner_subs, const char *pat, size_t n);
void router_unsubscribe_all(struct router *r, struct list_head *owner_subs);

/* Writes the pattern of s into buf (at most cap bytes, TOPIC_MAX fits any); returns its length. */
size_t router_sub_pattern(const struct sub *s, char *buf, size_t cap);

/*
 * Calls fn(owner, ud) once per matching subscription of topic t. An owner
 * with several matching patterns is reported once per pattern: the caller
 * deduplicates (the broker with a per-publish sequence number).
 */
typedef void (*router_match_fn)(void *owner, void *ud);
void router_match(const struct router *r, const char *t, size_t n, router_match_fn fn, void *ud);
