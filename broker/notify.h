/*
 * Readiness and state for a service manager, through the sd_notify(3)
 * protocol (without libsystemd): newline-separated KEY=value datagrams sent
 * to $NOTIFY_SOCKET, a path or an abstract name written "@name". READY=1
 * once listening, STATUS= with the client count (at most once a second
 * while it changes), RELOADING=1 and READY=1 around a SIGHUP reload,
 * STOPPING=1 when the shutdown starts. Without $NOTIFY_SOCKET every call
 * is a no-op.
 *
 * Sends never block the loop (a non-blocking socket; a datagram the
 * manager cannot take now is lost, the next one carries the state again)
 * and a failure is logged once, not per datagram.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "loop.h"

#define NOTIFY_STATUS_INTERVAL_MS 1000

struct notify {
	int fd; /* -1: no $NOTIFY_SOCKET */
	struct sockaddr_un addr;
	socklen_t addrlen;
	struct loop *loop;
	struct timer status_timer; /* a changed count waiting for its second to pass */
	char *where;               /* what READY's STATUS named (the listening address) */
	uint32_t clients;          /* the latest count notify_clients() was given */
	uint32_t clients_sent;     /* the count the last STATUS carried */
	uint64_t status_at;        /* loop time of the last STATUS, plus one (0: never) */
	bool stopping;             /* STOPPING=1 sent: no more status */
	bool failed;               /* a send failed and was logged */
};

/*
 * Opens the socket for address (NULL or "": notifications off, n->fd -1).
 * Returns 0, or a negative errno with the reason in err (n is then off
 * too, and safe to use and close).
 */
int notify_open(struct notify *n, struct loop *l, const char *address, char *err, size_t errlen);
/* Closes the socket and cancels the timer. Safe to call twice. */
void notify_close(struct notify *n);

/* READY=1 with MAINPID and STATUS naming where (borrowed; copied) and the client count. */
void notify_ready(struct notify *n, const char *where, uint32_t clients);
/* RELOADING=1 with MONOTONIC_USEC (what Type=notify-reload asks for). */
void notify_reloading(struct notify *n);
/* STOPPING=1; status updates end. */
void notify_stopping(struct notify *n);
/* The client count now: sent as STATUS when it changed, at most once a second. */
void notify_clients(struct notify *n, uint32_t clients);
