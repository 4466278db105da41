/*
 * Intrusive chained hash table keyed by byte strings. Entries embed a
 * struct hnode and keep their own key; the table stores only the hash and
 * asks the caller's key function for comparison. It grows by doubling and
 * shrinks back when mostly empty, so a table that held many entries once
 * does not keep its memory. An empty table allocates nothing.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hnode {
	struct hnode *next;
	uint32_t hash;
};

/* Returns the key of the entry holding n. */
typedef void (*hkey_fn)(const struct hnode *n, const char **key, size_t *len);

struct htable {
	struct hnode **buckets;
	uint32_t mask; /* buckets - 1, 0 when none */
	uint32_t count;
	hkey_fn key;
};

void htable_init(struct htable *t, hkey_fn key);
void htable_fini(struct htable *t); /* frees the buckets, not the entries */
uint32_t htable_hash(const char *s, size_t n);
struct hnode *htable_find(const struct htable *t, const char *k, size_t n, uint32_t hash);
/* Caller guarantees the key is not present yet. Returns 0 or -ENOMEM. */
int htable_insert(struct htable *t, struct hnode *n, uint32_t hash);
void htable_remove(struct htable *t, struct hnode *n);

/* Calls fn for every entry; fn may not change the table. */
void htable_foreach(const struct htable *t, void (*fn)(struct hnode *n, void *ud), void *ud);
