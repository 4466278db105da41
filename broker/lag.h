/*
 * Subscriptions that lose messages instead of disconnecting (on_full
 * "drop" and "latest", docs/protocol.md "Slow consumers").
 *
 * A client falls behind when a message of a drop/latest subscription does
 * not fit its queue. From then on, until its queue has drained to half the
 * limit, messages of those subscriptions are not queued: "drop" counts
 * them, "latest" keeps the newest per topic (counting the ones it
 * replaces). On catching up, each such subscription gets
 * {"op":"dropped","topic":<pattern>,"count":N} (when N > 0) followed by
 * the messages it kept, before anything newer. Messages of "disconnect"
 * subscriptions and every other frame keep today's rule: queued if they
 * fit, else the client is disconnected as a slow consumer.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct client;
struct frame;
struct sub;

/*
 * A message for client c did not fit (or c is behind) and the strictest of
 * its matching subscriptions, gov, is drop or latest: count or keep it.
 * Never disconnects; returns true if the message was kept for later.
 */
bool lag_overflow(struct client *c, struct sub *gov, const char *topic, size_t topic_len,
		  struct frame *f);
/* c is behind and its queue has drained enough: queue the notices and kept messages. */
void lag_catch_up(struct client *c);
/*
 * s (of c) changes its on_full: queue its notice and kept messages now, so
 * that nothing it delivers under the new rule overtakes them.
 */
void lag_sub_settle(struct client *c, struct sub *s);
/* s (of c) goes away: forget what it lost and kept. */
void lag_sub_gone(struct client *c, struct sub *s);
/* c's session ends: log an open episode and those not logged yet, free every lag. */
void lag_client_gone(struct client *c);
