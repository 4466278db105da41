/*
 * Introspection ops: stats (the broker's counters) and clients (one entry
 * per client past the handshake). Both answer with a frame of their own op.
 */
#pragma once

#include "wire.h"

struct broker;
struct client;

void introspect_stats(struct client *c, const struct wire_value *id);
void introspect_clients(struct client *c, const struct wire_value *id);

/* The same frames appended to b (the HTTP view uses them as bodies). */
void introspect_build_stats(struct broker *br, struct wire_buf *b, const struct wire_value *id);
void introspect_build_clients(struct broker *br, struct wire_buf *b, const struct wire_value *id);
