/*
 * The datagram door (jbusd --dgram PATH): an AF_UNIX SOCK_DGRAM socket on
 * which each datagram is one pub frame, fire and forget. The sender is
 * stamped from the kernel's credentials as "dgram:<uid>:<pid>". Nobody is
 * answered: a malformed or oversized datagram is counted and logged (at
 * most once a second per sender).
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

struct broker;
struct dgram;

int dgram_open(struct dgram **dp, struct broker *b, const char *path, mode_t mode, char *err,
	       size_t errlen);
/*
 * Closes the socket and removes its file (if still ours); the object stays
 * valid, since an event for it may still be pending in this loop turn.
 * NULL is fine.
 */
void dgram_close(struct dgram *d);
/* Closes (if needed) and frees. NULL is fine. */
struct dgram *dgram_free(struct dgram *d);
