/*
 * Client names: unique, [A-Za-z0-9._-]{1,64}. Entries are embedded in their
 * owner (the client); the registry only indexes them.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "htable.h"
#include "util.h"
#include "wire.h"

struct name_entry {
	struct hnode hn;
	bool registered;
	uint8_t len;
	char name[WIRE_NAME_MAX + 1];
};

struct registry {
	struct htable names;
	uint64_t anon_seq;
};

enum {
	REGISTRY_E_TAKEN = 1,
};

void registry_init(struct registry *reg);
void registry_fini(struct registry *reg);

/* Registers e under name[0..len) (valid name). Returns 0, REGISTRY_E_TAKEN or -ENOMEM. */
int registry_add(struct registry *reg, struct name_entry *e, const char *name, size_t len);
/* Registers e under a fresh generated name ("anon-<n>"). Returns 0 or -ENOMEM. */
int registry_add_anon(struct registry *reg, struct name_entry *e);
void registry_remove(struct registry *reg, struct name_entry *e);
struct name_entry *registry_find(const struct registry *reg, const char *name, size_t len);
static inline uint32_t registry_count(const struct registry *reg)
{
	return reg->names.count;
}
