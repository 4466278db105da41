/*
 * sd_notify for a service manager (see notify.h).
 *
 * The STATUS rate limit: a count that changes is sent at once if the last
 * STATUS is a second old, else the timer sends whatever the count is when
 * the second is over. So a burst of connections costs one datagram, and
 * the last count always gets out.
 */
#include "notify.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

static void on_status_timer(struct timer *t);

int notify_open(struct notify *n, struct loop *l, const char *address, char *err, size_t errlen)
{
	size_t len;
	int r;

	memset(n, 0, sizeof(*n));
	n->fd = -1;
	n->loop = l;
	timer_init(&n->status_timer, on_status_timer);
	if (!address || !*address)
		return 0;
	len = strlen(address);
	if ((address[0] != '/' && address[0] != '@') || len < 2 ||
	    len >= sizeof(n->addr.sun_path)) {
		snprintf(err, errlen,
			 "NOTIFY_SOCKET='%s' is not an absolute path or an @abstract name of at "
			 "most %zu bytes",
			 address, sizeof(n->addr.sun_path) - 1);
		return -EINVAL;
	}
	n->addr.sun_family = AF_UNIX;
	memcpy(n->addr.sun_path, address, len);
	/* abstract: a leading NUL, and the length says where the name ends */
	if (address[0] == '@')
		n->addr.sun_path[0] = '\0';
	n->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
				 (address[0] == '/' ? 1 : 0));
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (n->fd < 0) {
		r = -errno;
		snprintf(err, errlen, "NOTIFY_SOCKET: socket: %s", strerror(errno));
		return r;
	}
	return 0;
}

void notify_close(struct notify *n)
{
	loop_timer_cancel(&n->status_timer);
	n->fd = safe_close(n->fd);
	free(n->where);
	n->where = NULL;
}

static void send_msg(struct notify *n, const char *msg, int len)
{
	if (len < 0 || (size_t)len >= 512)
		return;
	if (sendto(n->fd, msg, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT,
		   (const struct sockaddr *)&n->addr, n->addrlen) == len || n->failed)
		return;
	/* the manager went away or its queue is full: the service still serves */
	n->failed = true;
	log_warn("notify: cannot send to NOTIFY_SOCKET: %s; further failures are not logged",
		 strerror(errno));
}

static void send_status(struct notify *n, const char *prefix)
{
	char msg[512];
	int len;

	len = snprintf(msg, sizeof(msg), "%sSTATUS=listening on %s, clients=%u", prefix,
		       n->where ? n->where : "?", n->clients);
	send_msg(n, msg, len);
	n->clients_sent = n->clients;
	n->status_at = loop_now(n->loop) + 1;
	loop_timer_cancel(&n->status_timer);
}

void notify_ready(struct notify *n, const char *where, uint32_t clients)
{
	char prefix[64];

	if (n->fd < 0)
		return;
	if (where && (!n->where || strcmp(n->where, where))) {
		free(n->where);
		n->where = strdup(where);
	}
	n->clients = clients;
	snprintf(prefix, sizeof(prefix), "READY=1\nMAINPID=%ld\n", (long)getpid());
	send_status(n, prefix);
}

void notify_reloading(struct notify *n)
{
	unsigned long long usec;
	struct timespec ts;
	char msg[128];
	int len;

	if (n->fd < 0)
		return;
	/* systemd >= 253 (Type=notify-reload) wants the time the reload began */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	usec = (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
	len = snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading", usec);
	send_msg(n, msg, len);
}

void notify_stopping(struct notify *n)
{
	static const char msg[] = "STOPPING=1\nSTATUS=shutting down";

	if (n->fd < 0 || n->stopping)
		return;
	n->stopping = true;
	loop_timer_cancel(&n->status_timer);
	send_msg(n, msg, (int)sizeof(msg) - 1);
}

void notify_clients(struct notify *n, uint32_t clients)
{
	uint64_t now, next;

	if (n->fd < 0 || n->stopping)
		return;
	n->clients = clients;
	if (clients == n->clients_sent || timer_armed(&n->status_timer))
		return;
	now = loop_now(n->loop);
	next = n->status_at ? n->status_at - 1 + NOTIFY_STATUS_INTERVAL_MS : 0;
	if (now >= next)
		send_status(n, "");
	else
		loop_timer_arm(n->loop, &n->status_timer, next - now);
}

static void on_status_timer(struct timer *t)
{
	struct notify *n = container_of(t, struct notify, status_timer);

	/* back where it was a second ago: nothing to tell */
	if (n->clients != n->clients_sent && !n->stopping)
		send_status(n, "");
}
