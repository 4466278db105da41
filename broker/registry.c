/*
 * Name registry (see registry.h). Generated names come from a counter and
 * skip any that a client already took explicitly, so they never collide.
 */
#include "registry.h"

#include <stdio.h>
#include <string.h>

static void entry_key(const struct hnode *n, const char **k, size_t *len)
{
	const struct name_entry *e = container_of(n, struct name_entry, hn);
	*k = e->name;
	*len = e->len;
}

void registry_init(struct registry *reg)
{
	htable_init(&reg->names, entry_key);
	reg->anon_seq = 0;
}

void registry_fini(struct registry *reg)
{
	htable_fini(&reg->names);
}

struct name_entry *registry_find(const struct registry *reg, const char *name, size_t len)
{
	struct hnode *n = htable_find(&reg->names, name, len, htable_hash(name, len));
	return n ? container_of(n, struct name_entry, hn) : NULL;
}

int registry_add(struct registry *reg, struct name_entry *e, const char *name, size_t len)
{
	uint32_t h = htable_hash(name, len);
	int r;

	if (htable_find(&reg->names, name, len, h))
		return REGISTRY_E_TAKEN;
	memcpy(e->name, name, len);
	e->name[len] = '\0';
	e->len = (uint8_t)len;
	r = htable_insert(&reg->names, &e->hn, h);
	if (r < 0)
		return r;
	e->registered = true;
	e->anon = false;
	return 0;
}

int registry_add_anon(struct registry *reg, struct name_entry *e)
{
	for (;;) {
		char name[32];
		int n = snprintf(name, sizeof(name), "anon-%llu",
				 (unsigned long long)++reg->anon_seq);
		int r = registry_add(reg, e, name, (size_t)n);
		if (r == 0)
			e->anon = true;
		if (r != REGISTRY_E_TAKEN)
			return r;
	}
}

void registry_remove(struct registry *reg, struct name_entry *e)
{
	if (!e->registered)
		return;
	htable_remove(&reg->names, &e->hn);
	e->registered = false;
}
