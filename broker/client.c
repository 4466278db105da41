/*
 * Connections (see client.h): reading and splitting frames, queueing and
 * writing output, slow-consumer handling, and the close path.
 *
 * Reads go into the broker's shared scratch buffer; complete frames are
 * handled in place and only a trailing partial frame is copied into the
 * client's own buffer, which is freed again once it empties. An idle client
 * therefore holds no buffers at all.
 */
#include "client.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "access.h"
#include "broker.h"
#include "dispatch.h"
#include "http.h"
#include "lag.h"
#include "log.h"
#include "monitor.h"
#include "router.h"

static void client_on_event(struct watch *w, uint32_t events);
static void client_on_timer(struct timer *t);

static const char *client_label(const struct client *c)
{
	return c->name.registered || c->name.len ? c->name.name : "-";
}

int client_new(struct broker *b, int fd)
{
	struct client *c = calloc(1, sizeof(*c));
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int r;

	if (!c) {
		safe_close(fd);
		return -ENOMEM;
	}
	c->b = b;
	c->w.fd = fd;
	c->w.fn = client_on_event;
	list_init(&c->dirty_link);
	router_owner_init(&c->subs);
	list_init(&c->lagging);
	list_init(&c->mon_link);
	list_init(&c->end_link);
	req_side_init(&c->req);
	c->since_ms = broker_wall_ms();
	outq_init(&c->out);
	timer_init(&c->timer, client_on_timer);
	c->serial = ++b->conn_seq;
	c->pid = -1;
	c->uid = (uid_t)-1;
	c->gid = (gid_t)-1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		c->pid = cred.pid;
		c->uid = cred.uid;
		c->gid = cred.gid;
	}
	c->acct = account_join(&b->accounts, c->uid);
	r = c->acct ? loop_add(b->loop, &c->w, EPOLLIN) : -ENOMEM;
	if (r < 0) {
		account_leave(&b->accounts, c->acct);
		safe_close(fd);
		free(c);
		return r;
	}
	list_add_tail(&c->link, &b->clients);
	b->nclients++;
	loop_timer_arm(b->loop, &c->timer, b->cfg.handshake_timeout_ms);
	log_debug("connect conn=%llu pid=%d uid=%u gid=%u", (unsigned long long)c->serial,
		  (int)c->pid, (unsigned)c->uid, (unsigned)c->gid);
	return 0;
}

void client_free(struct client *c)
{
	if (!c)
		return;
	lag_client_gone(c);
	access_client_gone(c);
	account_leave(&c->b->accounts, c->acct);
	router_unsubscribe_all(&c->b->router, &c->subs);
	outq_clear(&c->out);
	htable_fini(&c->req.owed);
	htable_fini(&c->req.asked);
	free(c->will.topic);
	free(c->will.data);
	free(c->in);
	free(c);
}

/* Mark c for this turn's flush. */
static void mark_dirty(struct client *c)
{
	if (!list_linked(&c->dirty_link))
		list_add_tail(&c->dirty_link, &c->b->dirty);
}

static void slow_consumer(struct client *c)
{
	struct broker *b = c->b;

	b->stats.slow_consumers++;
	log_warn("slow_consumer client=%s pid=%d uid=%u queued=%zu limit=%zu", client_label(c),
		 (int)c->pid, (unsigned)c->uid, c->out.bytes, b->cfg.queue_limit);
	outq_drop_backlog(&c->out);
	/* closing first: the error must not count against the limit again.
	 * Fixed bound: a client that stopped reading gets no extension. */
	client_linger(c, false, END_SLOW);
	client_error(c, NULL, "slow_consumer",
		     "more than %zu bytes queued for this client; disconnecting",
		     b->cfg.queue_limit);
}

bool client_queue(struct client *c, struct frame *f)
{
	if (c->state == CLIENT_DEAD)
		return false;
	/* A single frame into an empty queue always fits, so a small limit
	 * never makes delivery impossible. Closing clients only get what they
	 * are owed plus their final error, so they are not limited. */
	if (c->state != CLIENT_CLOSING && !client_fits(c, f->len, c->b->cfg.queue_limit)) {
		slow_consumer(c);
		return false;
	}
	if (outq_push(&c->out, f) < 0) {
		client_close(c, "out of memory", END_ERROR);
		return false;
	}
	c->frames_out++;
	mark_dirty(c);
	return true;
}

bool client_queue_owed(struct client *c, struct frame *f)
{
	if (!f || c->state == CLIENT_DEAD || outq_push(&c->out, f) < 0) {
		if (f)
			frame_unref(f);
		client_close(c, "out of memory", END_ERROR);
		return false;
	}
	frame_unref(f);
	c->frames_out++;
	mark_dirty(c);
	return true;
}

bool client_queue_buf(struct client *c, struct wire_buf *b)
{
	struct frame *f = frame_from_buf(b);
	bool queued;

	if (!f) {
		client_close(c, "out of memory", END_ERROR);
		return false;
	}
	queued = client_queue(c, f);
	frame_unref(f);
	return queued;
}

static void verror(struct client *c, const struct wire_value *id, const char *code,
		   const char *extra, const char *fmt, va_list ap)
{
	struct wire_raw rid = { 0 };
	struct wire_buf b;
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (id && id->type != WIRE_T_ABSENT) {
		rid.p = id->p;
		rid.len = id->len;
	}
	c->b->stats.errors++;
	wire_buf_init(&b, FRAME_HEADROOM);
	wire_build_error(&b, rid, code, msg, extra);
	client_queue_buf(c, &b);
}

void client_error(struct client *c, const struct wire_value *id, const char *code,
		  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(c, id, code, NULL, fmt, ap);
	va_end(ap);
}

void client_error_extra(struct client *c, const struct wire_value *id, const char *code,
			const char *extra, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(c, id, code, extra, fmt, ap);
	va_end(ap);
}

/*
 * The name is released at once, so a restarted client can take it again;
 * pending requests are settled and monitoring stops. Subscriptions stay in
 * the tree until client_free() at the end of the turn: this may run from
 * inside router_match() (a slow consumer found during a publish), which
 * must not see the tree change under it; deliver skips clients that are
 * not active. For the same reason the will and the disconnected event are
 * only queued here (b->ending) and published at the end of the turn.
 */
static void release(struct client *c, enum client_end why)
{
	struct broker *b = c->b;

	/* Once only: settling requests below sends frames, which can make this
	 * very client a slow consumer and come back here. */
	if (c->released)
		return;
	c->released = true;
	if (c->state == CLIENT_ACTIVE) {
		c->end = (uint8_t)(b->stopping ? END_SHUTDOWN : why);
		if (c->end != END_SHUTDOWN)
			list_add_tail(&c->end_link, &b->ending);
	}
	registry_remove(&b->registry, &c->name);
	lag_client_gone(c);
	request_client_gone(c);
	monitor_client_gone(c);
}

const char *client_end_name(enum client_end e)
{
	static const char *const names[] = {
		[END_NONE] = "closed", [END_BYE] = "bye", [END_CLOSED] = "closed",
		[END_ERROR] = "error", [END_SLOW] = "slow_consumer", [END_SHUTDOWN] = "shutdown",
		[END_TIMEOUT] = "timeout",
	};
	return e < ARRAY_SIZE(names) ? names[e] : "closed";
}

void client_close(struct client *c, const char *log_why, enum client_end why)
{
	struct broker *b = c->b;

	if (c->state == CLIENT_DEAD)
		return;
	log_debug("disconnect conn=%llu client=%s pid=%d reason=%s",
		  (unsigned long long)c->serial, client_label(c), (int)c->pid, log_why);
	release(c, why); /* a no-op when lingering already released it */
	loop_timer_cancel(&c->timer);
	loop_forget(b->loop, &c->w); /* the accepted fd is ours alone */
	c->w.fd = safe_close(c->w.fd);
	c->state = CLIENT_DEAD;
	list_del(&c->dirty_link);
	list_del(&c->link);
	list_add_tail(&c->link, &b->dead);
	b->nclients--;
}

void client_linger(struct client *c, bool restart_on_progress, enum client_end why)
{
	struct broker *b = c->b;

	if (c->state == CLIENT_DEAD)
		return;
	if (c->state != CLIENT_CLOSING) {
		release(c, why);
		c->state = CLIENT_CLOSING;
		c->linger_progress = restart_on_progress;
		/* c->in stays: the frame being handled may point into it; client_read
		 * drops it once handling stops */
		loop_timer_arm(b->loop, &c->timer, BROKER_LINGER_MS);
	}
	/* the flush closes it once the queue is empty */
	mark_dirty(c);
}

static void client_on_timer(struct timer *t)
{
	struct client *c = container_of(t, struct client, timer);

	if (c->state == CLIENT_HANDSHAKE && c->http) {
		http_timeout(c);
	} else if (c->state == CLIENT_HANDSHAKE) {
		c->b->stats.handshake_fail++;
		client_error(c, NULL, "timeout", "no hello within %u ms of connecting",
			     c->b->cfg.handshake_timeout_ms);
		client_linger(c, false, END_ERROR);
	} else if (c->state == CLIENT_CLOSING) {
		client_close(c, "linger timeout", END_CLOSED);
	} else if (c->state == CLIENT_ACTIVE) {
		client_idle_check(c);
	}
}

static void client_read(struct client *c);

void client_idle_check(struct client *c)
{
	struct broker *b = c->b;
	uint64_t idle = loop_now(b->loop) - c->last_frame_ms;

	if (!c->idle_ms)
		return;
	if (idle < c->idle_ms) {
		/* a frame came since the timer was armed: wait for the rest only */
		loop_timer_arm(b->loop, &c->timer, c->idle_ms - idle);
		return;
	}
	b->stats.idle_timeouts++;
	log_debug("idle timeout conn=%llu client=%s pid=%d", (unsigned long long)c->serial,
		  client_label(c), (int)c->pid);
	client_error(c, NULL, "timeout", "no frame for %u ms (idle_timeout); closing", c->idle_ms);
	client_linger(c, false, END_TIMEOUT);
}

/*
 * The peer can no longer read, but what it wrote before it closed still
 * counts (a script that sends hello, pub, bye and exits at once): handle
 * the frames left in the socket, bounded, before the connection goes.
 * Their answers have nowhere to go and are dropped with the queue.
 */
static void drain_departed(struct client *c)
{
	for (int i = 0; i < 64 && (c->state == CLIENT_HANDSHAKE || c->state == CLIENT_ACTIVE);
	     i++) {
		uint32_t before = c->in_len;
		uint64_t frames = c->frames_in, bytes = c->b->stats.bytes_in;
		client_read(c);
		if (c->b->stats.bytes_in == bytes && c->frames_in == frames && c->in_len == before)
			break; /* nothing more to read */
	}
	outq_clear(&c->out);
}

void client_flush(struct client *c)
{
	struct broker *b = c->b;
	size_t written = 0;
	int r;

	if (c->state == CLIENT_DEAD)
		return;
	r = outq_write(&c->out, c->w.fd, BROKER_WRITE_CHUNK, &written);
	b->stats.bytes_out += written;
	if (r >= 0 && c->behind && c->state == CLIENT_ACTIVE &&
	    c->out.bytes <= b->cfg.queue_limit / 2) {
		size_t more = 0;
		lag_catch_up(c);
		if (c->state == CLIENT_DEAD)
			return;
		r = outq_write(&c->out, c->w.fd, BROKER_WRITE_CHUNK, &more);
		b->stats.bytes_out += more;
		written += more;
	}
	if (r < 0) {
		drain_departed(c);
		client_close(c, "write error", END_CLOSED);
		return;
	}
	if (c->state == CLIENT_CLOSING) {
		if (r == 0) {
			client_close(c, "closed", END_CLOSED);
			return;
		}
		if (written && c->linger_progress)
			loop_timer_arm(b->loop, &c->timer, BROKER_LINGER_MS);
		loop_mod(b->loop, &c->w, EPOLLOUT);
		return;
	}
	/* EPOLLOUT only while output remains: never wake up for nothing */
	loop_mod(b->loop, &c->w, r == OUTQ_E_AGAIN ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

/* Frames in buf[cur->pos..len); returns false once the client stops reading. */
static bool handle_frames(struct client *c, const char *buf, size_t len, struct wire_cursor *cur)
{
	struct broker *b = c->b;

	for (;;) {
		const char *line;
		size_t n;
		int r = wire_next_frame(buf, len, cur, b->cfg.max_frame, &line, &n);

		if (r == WIRE_E_MORE)
			return true;
		if (r == WIRE_E_TOO_LARGE) {
			b->stats.too_large++;
			client_error(c, NULL, "frame_too_large",
				     "frame exceeds max_frame of %zu bytes; closing",
				     b->cfg.max_frame);
			client_linger(c, true, END_ERROR);
			return false;
		}
		b->stats.frames_in++;
		c->frames_in++;
		c->last_frame_ms = loop_now(b->loop);
		dispatch_frame(c, line, n);
		if (c->state != CLIENT_HANDSHAKE && c->state != CLIENT_ACTIVE)
			return false;
	}
}

/* Keeps buf[pos..len) (a partial frame) in the client's own buffer. */
/* Most input a client may have pending: a frame and its CRLF, or an HTTP request. */
static size_t input_limit(const struct client *c)
{
	size_t limit = c->b->cfg.max_frame + 2;

	return c->http && limit < HTTP_MAX_REQUEST ? HTTP_MAX_REQUEST : limit;
}

static int keep_partial(struct client *c, const char *buf, size_t len, struct wire_cursor *cur)
{
	size_t left = len - cur->pos;

	if (buf == c->in) {
		if (left && cur->pos)
			memmove(c->in, c->in + cur->pos, left);
	} else if (left) {
		size_t cap = left * 2 < 4096 ? 4096 : left * 2;
		char *p;
		if (cap > input_limit(c))
			cap = input_limit(c);
		p = malloc(cap);
		if (!p)
			return -ENOMEM;
		memcpy(p, buf + cur->pos, left);
		c->in = p;
		c->in_cap = (uint32_t)cap;
	}
	c->in_len = (uint32_t)left;
	c->cur.scanned = cur->scanned - cur->pos;
	c->cur.pos = 0;
	if (!left) {
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
	return 0;
}

/* Room to read into the client's own buffer, grown up to input_limit(). */
static int grow_input(struct client *c)
{
	size_t limit = input_limit(c), cap;
	char *p;

	if (c->in_cap - c->in_len >= 4096 || c->in_cap >= limit)
		return 0;
	cap = (size_t)c->in_cap * 2;
	if (cap < (size_t)c->in_len + BROKER_READ_CHUNK)
		cap = (size_t)c->in_len + BROKER_READ_CHUNK;
	if (cap > limit)
		cap = limit;
	p = realloc(c->in, cap);
	if (!p)
		return -ENOMEM;
	c->in = p;
	c->in_cap = (uint32_t)cap;
	return 0;
}

static void client_read(struct client *c)
{
	struct broker *b = c->b;
	struct wire_cursor cur = { 0, 0 };
	char *buf;
	size_t len = 0, room;
	ssize_t n;

	if (c->in_len) {
		if (grow_input(c) < 0) {
			client_close(c, "out of memory", END_ERROR);
			return;
		}
		buf = c->in;
		len = c->in_len;
		cur = c->cur;
		room = c->in_cap - len;
		if (room > BROKER_READ_CHUNK)
			room = BROKER_READ_CHUNK;
	} else {
		buf = b->scratch;
		room = BROKER_READ_CHUNK;
	}
	n = read(c->w.fd, buf + len, room);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		client_close(c, "read error", END_CLOSED);
		return;
	}
	if (n == 0) {
		/* the peer may still read (half-close, e.g. a script piping
		 * into socat): flush what it is owed before closing */
		if (c->state == CLIENT_HANDSHAKE)
			b->stats.handshake_fail++;
		client_linger(c, true, END_CLOSED);
		return;
	}
	b->stats.bytes_in += (size_t)n;
	len += (size_t)n;
	/* the very first bytes may be an HTTP request instead of a hello */
	if (c->state == CLIENT_HANDSHAKE && (c->http || (c->frames_in == 0 && cur.pos == 0))) {
		int h = c->http ? HTTP_YES : http_detect(buf, len);
		if (h == HTTP_YES && http_feed(c, buf, len) == 0)
			return;
		if (h != HTTP_NO) {
			/* keep every byte: the request is judged whole */
			cur.pos = cur.scanned = 0;
			if (keep_partial(c, buf, len, &cur) < 0)
				client_close(c, "out of memory", END_ERROR);
			return;
		}
	}
	if (!handle_frames(c, buf, len, &cur)) {
		/* it stopped reading: no frame of it is in use any more */
		free(c->in);
		c->in = NULL;
		c->in_len = c->in_cap = 0;
		return;
	}
	if (keep_partial(c, buf, len, &cur) < 0)
		client_close(c, "out of memory", END_ERROR);
}

static void client_on_event(struct watch *w, uint32_t events)
{
	struct client *c = container_of(w, struct client, w);

	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		if (c->state == CLIENT_HANDSHAKE || c->state == CLIENT_ACTIVE)
			client_read(c);
		else if (events & (EPOLLHUP | EPOLLERR))
			client_close(c, "hangup", END_CLOSED);
	}
	if ((events & EPOLLOUT) && c->state != CLIENT_DEAD)
		mark_dirty(c);
}
