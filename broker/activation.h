/*
 * Socket activation: the sockets a service manager (systemd, or anything
 * speaking its LISTEN_FDS protocol) passed to jbusd, and the file
 * descriptors jbusd inherited without being meant to.
 *
 * Protocol: when $LISTEN_PID is our pid and $LISTEN_FDS is n >= 1, fds 3 to
 * 3 + n - 1 are ours. They are matched by type, not by $LISTEN_FDNAMES: one
 * listening AF_UNIX stream socket (required) and at most one AF_UNIX
 * datagram socket; anything else refuses the start. The three variables are
 * unset once read, as sd_listen_fds(3) does, so nothing jbusd might start
 * later takes the sockets for its own.
 */
#pragma once

#include <stddef.h>

#define ACTIVATION_FD_START 3 /* SD_LISTEN_FDS_START */

struct activation {
	int nfds;      /* fds passed (0: not activated) */
	int stream_fd; /* the listening stream socket, or -1 */
	int dgram_fd;  /* the datagram socket, or -1 */
};

/*
 * Reads and unsets the environment, checks every passed fd and makes it
 * close-on-exec and non-blocking. Returns 0 (a->nfds 0 when jbusd was not
 * activated), or a negative errno with the reason in err: a passed fd that
 * is not an AF_UNIX socket, a stream socket that is not listening, two of a
 * kind, no stream socket, or a malformed $LISTEN_FDS.
 */
int activation_take(struct activation *a, char *err, size_t errlen);

/*
 * Closes every fd above stderr except the passed ones and keep_fd (-1:
 * none): a parent's leftovers would only count against RLIMIT_NOFILE and
 * keep files open. Returns 0 or a negative errno.
 */
int activation_close_inherited(const struct activation *a, int keep_fd);
