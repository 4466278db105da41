/* Per-uid usage (see account.h). */
#include "account.h"

#include <stdlib.h>

#include "util.h"

static void uid_key(const struct hnode *n, const char **k, size_t *len)
{
	const struct account *a = container_of(n, struct account, hn);
	*k = (const char *)&a->uid;
	*len = sizeof(a->uid);
}

void accounts_init(struct accounts *a)
{
	htable_init(&a->by_uid, uid_key);
}

/* Every connection and retained value has let go by now, so every account is gone. */
void accounts_fini(struct accounts *a)
{
	htable_fini(&a->by_uid);
}

static struct account *find(const struct accounts *a, uid_t uid, uint32_t *hash)
{
	struct hnode *n;

	*hash = htable_hash((const char *)&uid, sizeof(uid));
	n = htable_find(&a->by_uid, (const char *)&uid, sizeof(uid), *hash);
	return n ? container_of(n, struct account, hn) : NULL;
}

uint32_t accounts_clients(const struct accounts *a, uid_t uid)
{
	uint32_t h;
	struct account *acc = find(a, uid, &h);

	return acc ? acc->clients : 0;
}

struct account *account_get(struct accounts *a, uid_t uid)
{
	uint32_t h;
	struct account *acc = find(a, uid, &h);

	if (acc)
		return acc;
	acc = calloc(1, sizeof(*acc));
	if (!acc)
		return NULL;
	acc->uid = uid;
	if (htable_insert(&a->by_uid, &acc->hn, h) < 0) {
		free(acc);
		return NULL;
	}
	return acc;
}

void account_put(struct accounts *a, struct account *acc)
{
	if (!acc || acc->clients || acc->retained)
		return;
	htable_remove(&a->by_uid, &acc->hn);
	free(acc);
}

struct account *account_join(struct accounts *a, uid_t uid)
{
	struct account *acc = account_get(a, uid);

	if (acc)
		acc->clients++;
	return acc;
}

void account_leave(struct accounts *a, struct account *acc)
{
	if (!acc)
		return;
	acc->clients--;
	account_put(a, acc);
}
