/*
 * The buses of make bench-peers as child processes: jbusd, redis-server and
 * mosquitto, each started on a unix socket in a fresh temporary directory
 * with the configuration docs/performance.md ("Peers") describes, and
 * stopped with SIGTERM.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

enum peer_kind {
	PEER_JBUS,
	PEER_REDIS,
	PEER_MOSQUITTO,
	PEER_KINDS,
};

struct peer_server {
	enum peer_kind kind;
	pid_t pid;	    /* 0 while not running */
	int pidfd;	    /* -1 while not running */
	char dir[80];	    /* the mkdtemp directory: socket, config, log */
	char sock[108];	    /* the socket path clients connect to (sun_path's size) */
	char log[128];	    /* where the server logs */
	char version[64];   /* "7.0.15", as the server reports it */
};

/* "jbus", "redis", "mosquitto" */
const char *peer_kind_name(enum peer_kind kind);

/*
 * Starts the server of kind in a new directory under $TMPDIR (else /tmp) and
 * returns once it accepts connections on s->sock; jbusd is the broker binary
 * for PEER_JBUS. 0, or -errno with the reason printed on stderr (and the
 * server's log, if it wrote one); nothing is left running or on disk then.
 */
int peer_server_start(struct peer_server *s, enum peer_kind kind, const char *jbusd);

/*
 * SIGTERM, then waits for the exit (SIGKILL past a deadline) and removes the
 * directory. 0 if it exited with status 0; -ECHILD otherwise (said on stderr).
 * Does nothing for a server that is not running.
 */
int peer_server_stop(struct peer_server *s);
