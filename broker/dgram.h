/*
 * The datagram door (jbusd --dgram PATH): an AF_UNIX SOCK_DGRAM socket on
 * which each datagram is one pub frame, fire and forget. The sender is
 * stamped from the kernel's credentials as "dgram:<uid>:<pid>". Nobody is
 * answered: a malformed or oversized datagram is counted and logged, and so
 * is a retained one past the retained bounds (each kind at most once a
 * second per sender).
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

struct broker;
struct dgram;

/*
 * Binds path with mode, or, with fd >= 0, adopts that datagram socket a
 * service manager passed (taken: closed on failure too; path is then
 * unused). Returns 0, or a negative errno with the reason in err.
 */
int dgram_open(struct dgram **dp, struct broker *b, const char *path, int fd, mode_t mode,
	       char *err, size_t errlen);
/* The address it receives on (borrowed, valid until dgram_close). */
const char *dgram_address(const struct dgram *d);
/*
 * Closes the socket and removes its file (if still ours); the object stays
 * valid, since an event for it may still be pending in this loop turn.
 * NULL is fine.
 */
void dgram_close(struct dgram *d);
/* Closes (if needed) and frees. NULL is fine. */
struct dgram *dgram_free(struct dgram *d);
