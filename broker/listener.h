/*
 * The listening AF_UNIX stream socket: safe takeover of the path (never a
 * live broker's, stale sockets removed, anything else refused), the file
 * mode set through the umask so it is never more open than asked, and
 * removal on exit only if the file is still ours. "<path>.lock", held with
 * flock() for the broker's life, keeps two brokers starting at once from
 * both taking a stale path over (the file stays; the lock goes with the
 * process).
 *
 * A socket passed by a service manager (socket activation) is adopted
 * instead: its file, mode, group and lock are the manager's, so none of the
 * rules above apply and the file is never removed.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "loop.h"

struct listener {
	struct watch w;
	char *path;
	dev_t dev;
	ino_t ino;
	int lock_fd;
	bool adopted; /* passed by a service manager: the file is not ours */
};

/*
 * Binds path with the given mode, as a SOCK_STREAM (then listening) or
 * SOCK_DGRAM socket. Returns 0, or a negative errno with a human reason in
 * err.
 */
int listener_open(struct listener *ls, const char *path, mode_t mode, int type, char *err,
		  size_t errlen);
/*
 * Takes fd, a bound socket a service manager passed, as the listener: no
 * bind, no lock, and listener_close() leaves the file. ls->path becomes the
 * address it is bound to ("@name" for the abstract namespace). The caller
 * has checked its type. Returns 0, or a negative errno with the reason in
 * err (fd is left to the caller then).
 */
int listener_adopt(struct listener *ls, int fd, char *err, size_t errlen);
/* Closes the socket and removes the file if it is still the one we bound. */
void listener_close(struct listener *ls);
