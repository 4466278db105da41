/*
 * Messages a peer driver received while it waited for something else (the
 * confirmation of a subscription), kept in arrival order for the next
 * receive(). Each is a copy: the client library's buffers are gone by then.
 */
#pragma once

#include <stddef.h>

#include "bench.h"

struct peer_held_msg;

struct peer_held {
	struct peer_held_msg *head;
	struct peer_held_msg **tail; /* NULL while empty */
};

/* Copies the message to the end (0 or -ENOMEM). */
int peer_held_push(struct peer_held *h, const char *topic, size_t topic_len, const char *payload,
		   size_t len);

/* Hands every held message to fn, oldest first, and frees them; returns how many. */
int peer_held_deliver(struct peer_held *h, bench_msg_fn fn, void *ud);

/* Frees what is held without delivering it. */
void peer_held_clear(struct peer_held *h);
