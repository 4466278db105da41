/*
 * Access control at the points where clients act (see policy.h for the
 * rules): the check, the forbidden error, the once-per-client-and-rule log
 * line and the counter. Without a policy everything is allowed except
 * monitor, which needs the broker's uid or root.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "policy.h"
#include "wire.h"

struct broker;
struct client;

/*
 * Is c allowed op on s[0..n) (s NULL for monitor and introspect)? If not:
 * sends forbidden (echoing id, which may be NULL) naming "<verb> '<s>'"
 * (e.g. "pub to 'a/b'"; the verb alone without s), logs it once per client
 * and rule, counts it, and returns false.
 */
bool access_client(struct client *c, const struct wire_value *id, enum policy_op op,
		   const char *s, size_t n, const char *verb);
/* The same check without an error frame (HTTP answers on its own). */
bool access_check(struct client *c, enum policy_op op, const char *s, size_t n,
		  const char *verb);
/* For a peer that is no client (a datagram's sender): logs and counts a denial. */
bool access_peer(struct broker *b, uid_t uid, gid_t gid, enum policy_op op, const char *s,
		 size_t n, const char *what);

/* Loads cfg.policy_file at start (-errno, reason in err). */
int access_init(struct broker *b, char *err, size_t errlen);
/*
 * Puts p (owned from now on; NULL: the default policy) in force, taking
 * back from connected clients what it denies.
 */
void access_set_policy(struct broker *b, struct policy *p);
void access_fini(struct broker *b);
/* c leaves: its per-rule log memory goes. */
void access_client_gone(struct client *c);
