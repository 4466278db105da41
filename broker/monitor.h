/*
 * Monitors: connections that asked for a copy of everything routed
 * ({"op":"mon",...}). Only the broker's uid or root may monitor.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "publish.h"
#include "wire.h"

struct broker;
struct client;

/* Turns c into a monitor, or answers forbidden. */
void monitor_handle(struct client *c, const struct wire_value *id);
/* c is leaving: stop copying to it. */
void monitor_client_gone(struct client *c);

/*
 * Copies one routed message to every monitor. topic NULL for send, req and
 * reply; error (len != 0) replaces data for an error reply.
 */
void monitor_routed(struct broker *b, const char *kind, struct origin from,
		    struct client *const *to, size_t nto, const char *topic, size_t topic_len,
		    struct wire_raw data, struct wire_raw error);

/* Recipients of the publish being routed, collected only while monitors exist. */
void monitor_note_recipient(struct broker *b, struct client *c);
void monitor_reset_recipients(struct broker *b);
