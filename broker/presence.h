/*
 * Session events: the last will of a client whose session ends without
 * bye, and the $SYS/client/connected and $SYS/client/disconnected events
 * ({"name","pid","uid","gid"[,"reason"]}, from "$SYS"). Nothing is
 * published while the broker shuts down.
 */
#pragma once

struct broker;
struct client;

/* c completed its handshake (its welcome is queued). */
void presence_connected(struct client *c);
/* Publishes wills and disconnected events of the clients that ended this turn. */
void presence_flush(struct broker *b);
