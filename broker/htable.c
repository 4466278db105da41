/*
 * Hash table (see htable.h). FNV-1a: keys are short (topic levels, client
 * names) and come from local clients, so a keyed hash buys little here;
 * chains stay short because the table keeps load <= 1.
 */
#include "htable.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void htable_init(struct htable *t, hkey_fn key)
{
	t->buckets = NULL;
	t->mask = 0;
	t->count = 0;
	t->key = key;
}

void htable_fini(struct htable *t)
{
	free(t->buckets);
	t->buckets = NULL;
	t->mask = 0;
	t->count = 0;
}

uint32_t htable_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

struct hnode *htable_find(const struct htable *t, const char *k, size_t n, uint32_t hash)
{
	if (!t->buckets)
		return NULL;
	for (struct hnode *e = t->buckets[hash & t->mask]; e; e = e->next) {
		const char *ek;
		size_t en;
		if (e->hash != hash)
			continue;
		t->key(e, &ek, &en);
		if (en == n && memcmp(ek, k, n) == 0)
			return e;
	}
	return NULL;
}

static int resize(struct htable *t, uint32_t nbuckets)
{
	struct hnode **b = calloc(nbuckets, sizeof(*b));

	if (!b)
		return -ENOMEM;
	if (t->buckets) {
		for (uint32_t i = 0; i <= t->mask; i++) {
			struct hnode *e = t->buckets[i], *next;
			for (; e; e = next) {
				next = e->next;
				e->next = b[e->hash & (nbuckets - 1)];
				b[e->hash & (nbuckets - 1)] = e;
			}
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->mask = nbuckets - 1;
	return 0;
}

int htable_insert(struct htable *t, struct hnode *n, uint32_t hash)
{
	if (!t->buckets || t->count >= t->mask + 1) {
		int r = resize(t, t->buckets ? (t->mask + 1) * 2 : 4);
		if (r < 0)
			return r;
	}
	n->hash = hash;
	n->next = t->buckets[hash & t->mask];
	t->buckets[hash & t->mask] = n;
	t->count++;
	return 0;
}

void htable_remove(struct htable *t, struct hnode *n)
{
	struct hnode **pp;

	if (!t->buckets)
		return;
	for (pp = &t->buckets[n->hash & t->mask]; *pp; pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			n->next = NULL;
			t->count--;
			break;
		}
	}
	if (t->count == 0) {
		htable_fini(t);
	} else if (t->mask >= 16 && t->count < (t->mask + 1) / 8) {
		/* shrinking is an optimisation: keep the old table if it fails */
		resize(t, (t->mask + 1) / 4);
	}
}

void htable_foreach(const struct htable *t, void (*fn)(struct hnode *n, void *ud), void *ud)
{
	if (!t->buckets)
		return;
	for (uint32_t i = 0; i <= t->mask; i++)
		for (struct hnode *e = t->buckets[i]; e; e = e->next)
			fn(e, ud);
}
