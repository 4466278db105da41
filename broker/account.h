/*
 * Per-uid usage: how many connections each uid holds (for
 * --max-clients-per-uid) and how many bytes of retained values it set
 * (--max-retained-bytes-per-uid). An entry lives while its uid has a
 * connection or a retained value.
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "htable.h"

struct account {
	struct hnode hn;
	uid_t uid;
	uint32_t clients;
	size_t retained; /* topic plus data bytes of the retained values it set */
};

struct accounts {
	struct htable by_uid;
};

void accounts_init(struct accounts *a);
void accounts_fini(struct accounts *a);
/* Connections of uid now. */
uint32_t accounts_clients(const struct accounts *a, uid_t uid);
/* uid's account, made if it has none (NULL without memory); account_put when done. */
struct account *account_get(struct accounts *a, uid_t uid);
/* Lets go of acc (may be NULL): freed once it holds no connection and no retained byte. */
void account_put(struct accounts *a, struct account *acc);
/* One more connection of uid: its account, or NULL without memory. */
struct account *account_join(struct accounts *a, uid_t uid);
/* One connection of acc fewer (acc may be NULL); frees it with the last one. */
void account_leave(struct accounts *a, struct account *acc);
