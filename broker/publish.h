/*
 * Routing one published message: build the msg frame once, hand it to
 * every active subscriber whose patterns match (once per client), count
 * it, and copy it to monitors. Used for client pubs, wills and the
 * broker's own $SYS events.
 */
#pragma once

#include <stdint.h>

#include "wire.h"

struct broker;
struct client;

/* Who a routed message is from, as "from" shows it: a client's name,
 * "$SYS", or "dgram:<uid>:<pid>". */
struct origin {
	const char *name;
	size_t len;
};

#define ORIGIN_SYS ((struct origin){ "$SYS", 4 })
struct origin origin_of(const struct client *c);

/*
 * kind is the monitor kind ("pub", "will", "sys"). Returns the number of
 * clients the message was queued to, or -ENOMEM.
 */
int64_t publish_route(struct broker *b, struct origin from, const char *topic, size_t topic_len,
		      struct wire_raw data, const char *kind);
