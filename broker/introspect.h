/*
 * Introspection ops: stats (the broker's counters) and clients (one entry
 * per client past the handshake). Both answer with a frame of their own op.
 */
#pragma once

#include "wire.h"

struct client;

void introspect_stats(struct client *c, const struct wire_value *id);
void introspect_clients(struct client *c, const struct wire_value *id);
