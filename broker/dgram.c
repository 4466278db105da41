/*
 * Datagram publishing (see dgram.h). One recvmsg() per datagram, up to a
 * bounded number per loop turn so a flood cannot starve stream clients;
 * the kernel queues the rest. MSG_TRUNC tells the real size of a datagram
 * larger than max_frame, which is dropped and counted.
 */
#include "dgram.h"

#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "access.h"
#include "broker.h"
#include "listener.h"
#include "log.h"
#include "publish.h"
#include "ratelim.h"
#include "retain.h"
#include "topic.h"

#define DGRAM_PER_TURN 256
#define DGRAM_LOG_SLOTS 64
/* warning lines a second about datagrams, all senders together */
#define DGRAM_LOG_LINES 10

struct dgram {
	struct listener ls;
	struct broker *b;
	char *buf; /* max_frame + 2: room to see that a datagram is too large */
	size_t cap;
	/* warnings per sender, for rate limiting (a small direct-mapped cache) */
	struct sender_log {
		pid_t pid;
		uid_t uid;
		struct ratelim dropped;      /* "dgram dropped" */
		struct ratelim not_retained; /* "dgram pub not retained" */
	} logged[DGRAM_LOG_SLOTS];
	/* both kinds from all senders: a sender is often one process per datagram */
	struct ratelim_window window;
};

static void on_readable(struct watch *w, uint32_t events);

int dgram_open(struct dgram **dp, struct broker *b, const char *path, int fd, mode_t mode,
	       char *err, size_t errlen)
{
	struct dgram *d = calloc(1, sizeof(*d));
	int one = 1, r;

	if (!d) {
		safe_close(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	d->b = b;
	d->cap = b->cfg.max_frame + 2;
	d->buf = malloc(d->cap);
	if (!d->buf) {
		free(d);
		safe_close(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (fd >= 0)
		r = listener_adopt(&d->ls, fd, err, errlen);
	else
		r = listener_open(&d->ls, path, mode, SOCK_DGRAM, err, errlen);
	if (r < 0) {
		safe_close(fd);
		free(d->buf);
		free(d);
		return r;
	}
	/* the sender's uid and pid come with each datagram (a passed socket too:
	 * PassCredentials= in the unit is not needed) */
	if (setsockopt(d->ls.w.fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
		r = -errno;
		snprintf(err, errlen, "SO_PASSCRED on %s: %s", d->ls.path, strerror(errno));
		dgram_free(d);
		return r;
	}
	d->ls.w.fn = on_readable;
	r = loop_add(b->loop, &d->ls.w, EPOLLIN);
	if (r < 0) {
		snprintf(err, errlen, "epoll: %s", strerror(-r));
		dgram_free(d);
		return r;
	}
	*dp = d;
	return 0;
}

const char *dgram_address(const struct dgram *d)
{
	return d->ls.path;
}

void dgram_close(struct dgram *d)
{
	if (!d)
		return;
	if (d->ls.w.fd >= 0)
		loop_del(d->b->loop, &d->ls.w);
	listener_close(&d->ls);
}

struct dgram *dgram_free(struct dgram *d)
{
	if (!d)
		return NULL;
	dgram_close(d);
	free(d->buf);
	free(d);
	return NULL;
}

/* The sender's warnings so far; a sender new to its slot takes it over with none. */
static struct sender_log *sender_log(struct dgram *d, const struct ucred *cr)
{
	struct sender_log *sl =
		&d->logged[((unsigned)cr->pid * 31u + (unsigned)cr->uid) % DGRAM_LOG_SLOTS];

	if (sl->pid != cr->pid || sl->uid != cr->uid)
		*sl = (struct sender_log){ .pid = cr->pid, .uid = cr->uid };
	return sl;
}

/*
 * A warning about a datagram: at most once a second per sender and kind
 * (rl), and DGRAM_LOG_LINES a second from all senders together; *unlogged
 * gets what the second bound held back since the last line.
 */
static bool may_log(struct dgram *d, struct ratelim *rl, uint32_t *unlogged)
{
	uint64_t now = loop_now(d->b->loop);

	return ratelim_pass(rl, now, NULL) &&
	       ratelim_window_pass(&d->window, DGRAM_LOG_LINES, now, unlogged);
}

static void complain(struct dgram *d, const struct ucred *cr, const char *what)
{
	uint32_t unlogged;
	char more[32];

	if (may_log(d, &sender_log(d, cr)->dropped, &unlogged))
		log_warn("dgram dropped: %s from=dgram:%u:%d%s", what, (unsigned)cr->uid,
			 (int)cr->pid, ratelim_unlogged_text(more, sizeof(more), unlogged));
}

/* Returns NULL when published, else why the datagram was refused. */
static const char *publish_dgram(struct dgram *d, const struct ucred *cr, const char *p, size_t n)
{
	struct broker *b = d->b;
	struct wire_env env;
	char tbuf[TOPIC_MAX], from[48];
	const char *t;
	size_t tn;
	struct wire_raw data;
	const struct wire_value *retain;
	int fn, r;

	if (wire_scan(p, n, &env, NULL) != 0)
		return "not a JSON object";
	if (!wire_value_is(&env.f[WF_OP], "pub"))
		return "op is not \"pub\"";
	if (env.f[WF_TOPIC].type != WIRE_T_STRING ||
	    wire_string(&env.f[WF_TOPIC], tbuf, sizeof(tbuf), &t, &tn) != 0 ||
	    topic_check_name(t, tn))
		return "missing or invalid topic";
	retain = &env.f[WF_RETAIN];
	if (retain->type != WIRE_T_ABSENT && retain->type != WIRE_T_TRUE &&
	    retain->type != WIRE_T_FALSE)
		return "retain is not a boolean";
	if (!access_peer(b, cr->uid, cr->gid, POLICY_PUBLISH, t, tn, "dgram pub"))
		return "forbidden by the policy";
	fn = snprintf(from, sizeof(from), "dgram:%u:%d", (unsigned)cr->uid, (int)cr->pid);
	data = wire_raw_of(&env.f[WF_DATA]);
	if (retain->type == WIRE_T_TRUE &&
	    (r = retain_set(&b->retained, t, tn, from, (size_t)fn, cr->uid, data)) != 0) {
		if (r < 0)
			return "out of memory";
		uint32_t unlogged;
		char more[32];

		b->stats.limit_reached++;
		if (may_log(d, &sender_log(d, cr)->not_retained, &unlogged))
			log_warn("dgram pub not retained: %s reached from=%s topic=%.*s%s",
				 retain_limit_name(r), from, (int)tn, t,
				 ratelim_unlogged_text(more, sizeof(more), unlogged));
	}
	if (publish_route(b, (struct origin){ from, (size_t)fn }, t, tn, data, "pub") < 0)
		return "out of memory";
	b->stats.msgs_routed++;
	return NULL;
}

static void on_readable(struct watch *w, uint32_t events)
{
	struct dgram *d = container_of(w, struct dgram, ls.w);
	struct broker *b = d->b;

	for (int i = 0; i < DGRAM_PER_TURN; i++) {
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(struct ucred))];
		} ctl;
		struct iovec iov = { d->buf, d->cap };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl,
				     .msg_controllen = sizeof(ctl) };
		struct ucred cr = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
		struct cmsghdr *cm;
		const char *why;
		ssize_t n = recvmsg(w->fd, &mh, MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("dgram recvmsg: %s", strerror(errno));
			return;
		}
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS)
				memcpy(&cr, CMSG_DATA(cm), sizeof(cr));
		b->stats.dgram_in++;
		b->stats.bytes_in += (size_t)n;
		size_t len = (size_t)n;
		/* a line ending does not count against max_frame, as on the stream */
		if (len <= d->cap && len && d->buf[len - 1] == '\n')
			len--;
		if (len <= d->cap && len && d->buf[len - 1] == '\r')
			len--;
		if (len > b->cfg.max_frame) {
			b->stats.dgram_too_large++;
			complain(d, &cr, "larger than max_frame");
			continue;
		}
		why = publish_dgram(d, &cr, d->buf, len);
		if (why) {
			b->stats.dgram_bad++;
			complain(d, &cr, why);
		}
	}
}
