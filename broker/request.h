/*
 * Request/reply bookkeeping. A request is owned by the broker from the req
 * until its reply, its deadline, or either side leaving; it sits in two
 * indexes: the target's (by the id the broker assigned to the target) and
 * the requester's (by the requester's own raw id, to refuse reuse while
 * pending). Both indexes are per client and allocate nothing when empty.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "htable.h"
#include "loop.h"
#include "wire.h"

struct broker;
struct client;

#define REQUEST_ID_MAX 256 /* bytes of a req's id as written (kept while pending) */

/* Per-client state, embedded in struct client. */
struct req_side {
	struct htable owed;  /* requests this client must answer, by tid */
	struct htable asked; /* requests this client is waiting for, by raw id */
	uint64_t next_tid;   /* last id issued to this client as a target */
};

void req_side_init(struct req_side *s);

/* Handles a req frame from c (env validated as an object with a valid id). */
void request_handle_req(struct client *c, const struct wire_env *env);
/* Handles a reply frame from c. */
void request_handle_reply(struct client *c, const struct wire_env *env);
/*
 * c is leaving: requesters waiting for c get no_reply, requests c made are
 * forgotten (a later reply to them is dropped and counted).
 */
void request_client_gone(struct client *c);
/* Requests pending in the whole broker. */
uint64_t request_pending(const struct broker *b);
