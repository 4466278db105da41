/*
 * Frame handling: the handshake and every op of protocol v1. Takes one
 * frame's bytes (borrowed for the call), turns them into an envelope with
 * wire_scan() and acts on it through the router, registry and client
 * queues. This is the only place that knows the ops.
 */
#pragma once

#include <stddef.h>

struct client;

void dispatch_frame(struct client *c, const char *p, size_t n);
