/*
 * Topic tree (see router.h and client-lib/topic.h for the rules).
 *
 * Each node is one pattern level. Literal children are hashed by level text;
 * the '+' and '#' children have their own pointers, so matching a topic of
 * L levels visits at most the literal, '+' and '#' branch at each level.
 * '#' is always a leaf. A '$' topic skips the root's '+' and '#' children.
 * Nodes without subscriptions or children are pruned on unsubscribe, so the
 * tree's size follows the live subscriptions.
 */
#include "router.h"

#include <string.h>

struct tnode {
	struct hnode hn; /* in parent->children (literal levels only) */
	struct tnode *parent;
	struct htable children;
	struct tnode *plus, *hash;
	struct list_head subs;
	uint32_t nsubs;
	size_t len;
	char level[];
};

static void tnode_key(const struct hnode *n, const char **k, size_t *len)
{
	const struct tnode *t = container_of(n, struct tnode, hn);
	*k = t->level;
	*len = t->len;
}

static struct tnode *tnode_new(struct tnode *parent, const char *level, size_t len)
{
	struct tnode *t = malloc(sizeof(*t) + len + 1);

	if (!t)
		return NULL;
	memset(t, 0, sizeof(*t));
	t->parent = parent;
	htable_init(&t->children, tnode_key);
	list_init(&t->subs);
	t->len = len;
	memcpy(t->level, level, len);
	t->level[len] = '\0';
	return t;
}

int router_init(struct router *r)
{
	r->root = tnode_new(NULL, "", 0);
	r->nsubs = 0;
	r->nnodes = 0;
	return r->root ? 0 : -ENOMEM;
}

static bool is_plus(const struct tnode *parent, const struct tnode *t)
{
	return parent->plus == t;
}

/* Frees t if it is unused, then its parent, and so on up to the root. */
static void prune(struct router *r, struct tnode *t)
{
	while (t->parent && list_empty(&t->subs) && !t->children.count && !t->plus && !t->hash) {
		struct tnode *p = t->parent;
		if (p->hash == t)
			p->hash = NULL;
		else if (is_plus(p, t))
			p->plus = NULL;
		else
			htable_remove(&p->children, &t->hn);
		htable_fini(&t->children);
		free(t);
		r->nnodes--;
		t = p;
	}
}

/* Child of t for one pattern level, created when create is set. */
static struct tnode *child(struct router *r, struct tnode *t, const char *lv, size_t len,
			   bool create)
{
	struct tnode **slot = NULL, *c;
	uint32_t h = 0;

	if (len == 1 && lv[0] == '+')
		slot = &t->plus;
	else if (len == 1 && lv[0] == '#')
		slot = &t->hash;
	if (slot) {
		if (!*slot && create) {
			*slot = tnode_new(t, lv, len);
			if (*slot)
				r->nnodes++;
		}
		return *slot;
	}
	h = htable_hash(lv, len);
	struct hnode *hn = htable_find(&t->children, lv, len, h);
	if (hn || !create)
		return hn ? container_of(hn, struct tnode, hn) : NULL;
	c = tnode_new(t, lv, len);
	if (!c)
		return NULL;
	if (htable_insert(&t->children, &c->hn, h) < 0) {
		free(c);
		return NULL;
	}
	r->nnodes++;
	return c;
}

/* Node of pattern p (created along the way if create), NULL if absent / no memory. */
static struct tnode *walk(struct router *r, const char *p, size_t n, bool create)
{
	struct tnode *t = r->root;
	size_t start = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && p[i] != '/')
			continue;
		struct tnode *c = child(r, t, p + start, i - start, create);
		if (!c) {
			if (create)
				prune(r, t);
			return NULL;
		}
		t = c;
		start = i + 1;
	}
	return t;
}

/* The owner's subscription at node t: scans the shorter of the two lists. */
static struct sub *find_sub(struct router_owner *o, void *owner, const struct tnode *t)
{
	struct sub *s;

	if (o->count <= t->nsubs) {
		list_for_each_entry(s, &o->subs, owner_link)
			if (s->node == t)
				return s;
	} else {
		list_for_each_entry(s, &t->subs, node_link)
			if (s->owner == owner)
				return s;
	}
	return NULL;
}

int router_subscribe(struct router *r, struct router_owner *o, void *owner, const char *pat,
		     size_t n, struct sub **sp)
{
	struct tnode *t = walk(r, pat, n, true);
	struct sub *s;

	if (!t)
		return -ENOMEM;
	s = find_sub(o, owner, t);
	if (s) {
		if (sp)
			*sp = s;
		return ROUTER_E_EXISTS;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		prune(r, t);
		return -ENOMEM;
	}
	s->node = t;
	s->owner = owner;
	s->serial = ++r->serial;
	list_add_tail(&s->node_link, &t->subs);
	list_add_tail(&s->owner_link, &o->subs);
	t->nsubs++;
	o->count++;
	r->nsubs++;
	if (sp)
		*sp = s;
	return 0;
}

struct sub *router_find(struct router *r, struct router_owner *o, const char *pat, size_t n)
{
	struct tnode *t = walk(r, pat, n, false);

	/* the owner pointer is only compared: any owner of o's subs will do */
	if (!t || !o->count)
		return NULL;
	return find_sub(o, list_first_entry(&o->subs, struct sub, owner_link)->owner, t);
}

void router_remove(struct router *r, struct router_owner *o, struct sub *s)
{
	struct tnode *t = s->node;

	list_del(&s->node_link);
	list_del(&s->owner_link);
	free(s);
	t->nsubs--;
	o->count--;
	r->nsubs--;
	prune(r, t);
}

void router_unsubscribe_all(struct router *r, struct router_owner *o)
{
	while (!list_empty(&o->subs))
		router_remove(r, o, list_first_entry(&o->subs, struct sub, owner_link));
}

size_t router_sub_pattern(const struct sub *s, char *buf, size_t cap)
{
	const struct tnode *t;
	size_t len = 0, pos;

	/* levels are known from leaf to root: measure, then fill from the end */
	for (t = s->node; t->parent; t = t->parent)
		len += t->len + (t->parent->parent ? 1 : 0);
	if (len > cap)
		return 0;
	pos = len;
	for (t = s->node; t->parent; t = t->parent) {
		pos -= t->len;
		memcpy(buf + pos, t->level, t->len);
		if (t->parent->parent)
			buf[--pos] = '/';
	}
	return len;
}

static void emit(const struct tnode *t, router_match_fn fn, void *ud)
{
	struct sub *s;

	list_for_each_entry(s, &t->subs, node_link)
		fn(s, ud);
}

/* pos: start of the current level in t; pos > n once all levels are used. */
static void match(const struct tnode *node, const char *t, size_t n, size_t pos, bool wild_ok,
		  router_match_fn fn, void *ud)
{
	size_t e;

	if (node->hash && wild_ok)
		emit(node->hash, fn, ud); /* '#' also matches zero remaining levels */
	if (pos > n) {
		emit(node, fn, ud);
		return;
	}
	for (e = pos; e < n && t[e] != '/'; e++)
		;
	if (node->children.count) {
		struct hnode *hn = htable_find(&node->children, t + pos, e - pos,
					       htable_hash(t + pos, e - pos));
		if (hn)
			match(container_of(hn, struct tnode, hn), t, n, e + 1, true, fn, ud);
	}
	if (node->plus && wild_ok)
		match(node->plus, t, n, e + 1, true, fn, ud);
}

void router_match(const struct router *r, const char *t, size_t n, router_match_fn fn, void *ud)
{
	match(r->root, t, n, 0, !(n && t[0] == '$'), fn, ud);
}

static void free_tree(struct tnode *t)
{
	struct sub *s, *tmp;

	if (!t)
		return;
	list_for_each_entry_safe(s, tmp, &t->subs, node_link) {
		list_del(&s->owner_link);
		free(s);
	}
	/* children: collect through the hash buckets */
	if (t->children.buckets) {
		for (uint32_t i = 0; i <= t->children.mask; i++) {
			struct hnode *e = t->children.buckets[i], *next;
			for (; e; e = next) {
				next = e->next;
				free_tree(container_of(e, struct tnode, hn));
			}
		}
	}
	free_tree(t->plus);
	free_tree(t->hash);
	htable_fini(&t->children);
	free(t);
}

void router_fini(struct router *r)
{
	free_tree(r->root);
	r->root = NULL;
	r->nsubs = r->nnodes = 0;
}
