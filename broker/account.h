/*
 * Per-uid usage: how many connections each uid holds, for
 * --max-clients-per-uid. An entry lives while its uid has a connection.
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "htable.h"

struct account {
	struct hnode hn;
	uid_t uid;
	uint32_t clients;
};

struct accounts {
	struct htable by_uid;
};

void accounts_init(struct accounts *a);
void accounts_fini(struct accounts *a);
/* Connections of uid now. */
uint32_t accounts_clients(const struct accounts *a, uid_t uid);
/* One more connection of uid: its account, or NULL without memory. */
struct account *account_join(struct accounts *a, uid_t uid);
/* One connection of acc fewer (acc may be NULL); frees it with the last one. */
void account_leave(struct accounts *a, struct account *acc);
