/*
 * libjbus connection: socket, handshake, buffered I/O, frame dispatch,
 * local subscription table and reconnect (public API in jbus.h). Frames of
 * requests, replies and monitors go on to request.c.
 *
 * Everything here is non-blocking; the blocking helpers in sync.c are a
 * poll() loop around jbus_conn_dispatch(). Output is appended to one buffer
 * and written when dispatch or flush runs, or as soon as 64 KiB wait, so a
 * burst of publishes costs few system calls. Callbacks run from dispatch
 * with c->depth raised: a callback that unsubscribes only marks the entry,
 * and one that closes the handle only marks it; both are finished when the
 * outermost dispatch returns.
 */
#include "conn.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "sockpath.h"
#include "topic.h"

#define CONN_AUTOFLUSH (64 * 1024)
#define CONN_READ_CHUNK (64 * 1024)
#define CONN_READS_PER_DISPATCH 4
#define CONN_BACKOFF_MAX_MS 5000

int64_t conn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct wire_raw conn_next_id(jbus_conn *c, char *buf)
{
	struct wire_raw id = { buf, 0 };

	id.len = (size_t)snprintf(buf, 24, "%llu", (unsigned long long)++c->last_id);
	return id;
}

/* section: sockets and lifecycle */

static int sock_connect(const char *path, int *fdp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		safe_close(fd);
		return r;
	}
	*fdp = fd;
	return 0;
}

void conn_set_state(jbus_conn *c, enum jbus_state st)
{
	c->state = st;
	if (c->on_state)
		c->on_state(c, st, c->state_ud);
}

/*
 * Queue hello, every live subscription (each with an id: the retained
 * messages after its ok are its own; and with its on_full) and the monitor
 * on a fresh socket.
 */
static int start_session(jbus_conn *c)
{
	struct wire_raw none = { 0 };
	struct lsub *s;

	c->out.len = 0;
	c->out_off = 0;
	c->out.failed = false;
	wire_build_hello(&c->out, c->want_name, c->want_name ? strlen(c->want_name) : 0, c->will);
	list_for_each_entry(s, &c->subs, link)
		if (!s->dead)
			wire_build_topic_op(&c->out, "sub", s->pattern, s->len,
					    ops_on_full_name(s->on_full),
					    conn_next_id(c, s->ok_id));
	if (c->monitor)
		wire_build_simple(&c->out, "monitor", none);
	return wire_buf_failed(&c->out) ? -ENOMEM : 0;
}

static int try_connect(jbus_conn *c)
{
	int r = sock_connect(c->path, &c->fd);

	if (r == 0)
		r = start_session(c);
	if (r < 0) {
		c->fd = safe_close(c->fd);
		return r;
	}
	c->name[0] = '\0';
	c->has_err = false;
	c->hs_result = 0;
	conn_set_state(c, JBUS_STATE_CONNECTING);
	return 0;
}

static unsigned long long count_frames(const char *p, size_t n)
{
	unsigned long long k = 0;

	if (!n)
		return 0;
	for (const char *e = p + n; (p = memchr(p, '\n', (size_t)(e - p))); p++)
		k++;
	return k;
}

/*
 * The connection is gone: discard what cannot be sent any more (counted),
 * fail a pending synchronous call, tell the application and schedule a
 * retry if reconnect is on. Returns err for the caller to pass on.
 */
int conn_lost(jbus_conn *c, int err)
{
	if (c->state == JBUS_STATE_DISCONNECTED)
		return err;
	c->fd = safe_close(c->fd);
	c->dropped += count_frames(c->out.p + c->out_off, c->out.len - c->out_off);
	c->out.len = 0;
	c->out_off = 0;
	c->in_len = 0;
	c->cur.pos = c->cur.scanned = 0;
	c->backlog = false;
	c->replay_to = NULL;
	if (c->sync.active && !c->sync.done) {
		c->sync.done = true;
		c->sync.result = err;
	}
	c->gen++;
	if (c->reconnect) {
		c->retry_at = conn_now_ms() + c->backoff_ms;
		c->backoff_ms = c->backoff_ms * 2 > CONN_BACKOFF_MAX_MS ? CONN_BACKOFF_MAX_MS
									: c->backoff_ms * 2;
	}
	conn_set_state(c, JBUS_STATE_DISCONNECTED);
	req_lost(c);
	return err;
}

int conn_path(const char *path, int (*dflt)(char *, size_t), char *buf, const char **out)
{
	if (!path) {
		if (dflt(buf, SOCKPATH_MAX + 2) < 0)
			return -ENAMETOOLONG;
		path = buf;
	}
	if (!*path)
		return -EINVAL;
	if (strlen(path) > SOCKPATH_MAX)
		return -ENAMETOOLONG;
	*out = path;
	return 0;
}

static int conn_create(jbus_conn **cp, const char *path, const char *name, struct wire_raw will)
{
	char def[SOCKPATH_MAX + 2];
	jbus_conn *c;
	int r;

	if (!cp)
		return -EINVAL;
	*cp = NULL;
	r = conn_path(path, sockpath_default, def, &path);
	if (r < 0)
		return r;
	if (name && !wire_name_valid(name, strlen(name)))
		return JBUS_E_BAD_NAME;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = -1;
	c->state = JBUS_STATE_DISCONNECTED;
	c->backoff_ms = CONN_BACKOFF_MIN_MS;
	list_init(&c->subs);
	list_init(&c->reqs);
	wire_buf_init(&c->out, 0);
	c->path = strdup(path);
	c->want_name = name ? strdup(name) : NULL;
	c->will.len = will.len;
	c->will.p = will.len ? strndup(will.p, will.len) : NULL;
	if (!c->path || (name && !c->want_name) || (will.len && !c->will.p)) {
		jbus_conn_free(c);
		return -ENOMEM;
	}
	*cp = c;
	return 0;
}

int conn_open(jbus_conn **cp, const char *path, const char *name, struct wire_raw will)
{
	jbus_conn *c;
	int r;

	if (!cp)
		return -EINVAL;
	*cp = NULL;
	r = conn_create(&c, path, name, will);
	if (r < 0)
		return r;
	r = try_connect(c);
	if (r < 0) {
		jbus_conn_free(c);
		return r;
	}
	*cp = c;
	return 0;
}

JBUS_EXPORT int jbus_conn_open(jbus_conn **cp, const char *path, const char *name)
{
	struct wire_raw none = { 0 };

	return conn_open(cp, path, name, none);
}

static void lsub_free_all(jbus_conn *c)
{
	struct lsub *s, *tmp;

	list_for_each_entry_safe(s, tmp, &c->subs, link) {
		list_del(&s->link);
		free(s);
	}
}

JBUS_EXPORT jbus_conn *jbus_conn_free(jbus_conn *c)
{
	if (!c)
		return NULL;
	safe_close(c->fd);
	lsub_free_all(c);
	req_free_all(c);
	wire_buf_free(&c->out);
	free(c->in);
	free(c->data_buf);
	free(c->path);
	free(c->want_name);
	free((char *)c->will.p);
	free(c->sync.answer);
	free(c);
	return NULL;
}

JBUS_EXPORT int jbus_default_socket_path(char *buf, size_t size)
{
	if (!buf)
		return -EINVAL;
	return sockpath_default(buf, size);
}

JBUS_EXPORT const char *jbus_conn_name(const jbus_conn *c)
{
	return c && c->state == JBUS_STATE_CONNECTED ? c->name : NULL;
}

JBUS_EXPORT size_t jbus_conn_max_frame(const jbus_conn *c)
{
	return c ? c->max_frame : 0;
}

JBUS_EXPORT const char *jbus_conn_path(const jbus_conn *c)
{
	return c ? c->path : NULL;
}

JBUS_EXPORT enum jbus_state jbus_conn_state(const jbus_conn *c)
{
	return c ? c->state : JBUS_STATE_DISCONNECTED;
}

JBUS_EXPORT void jbus_conn_set_reconnect(jbus_conn *c, bool on)
{
	c->reconnect = on;
	if (on && c->state == JBUS_STATE_DISCONNECTED && !c->retry_at)
		c->retry_at = conn_now_ms();
}

JBUS_EXPORT unsigned long long jbus_conn_dropped(const jbus_conn *c)
{
	return c->dropped;
}

JBUS_EXPORT void jbus_conn_on_message(jbus_conn *c, jbus_msg_fn fn, void *userdata)
{
	c->on_msg = fn;
	c->msg_ud = userdata;
}

JBUS_EXPORT void jbus_conn_on_error(jbus_conn *c, jbus_error_fn fn, void *userdata)
{
	c->on_error = fn;
	c->error_ud = userdata;
}

JBUS_EXPORT void jbus_conn_on_state(jbus_conn *c, jbus_state_fn fn, void *userdata)
{
	c->on_state = fn;
	c->state_ud = userdata;
}

JBUS_EXPORT void jbus_conn_on_dropped(jbus_conn *c, jbus_dropped_fn fn, void *userdata)
{
	c->on_dropped = fn;
	c->dropped_ud = userdata;
}

JBUS_EXPORT bool jbus_conn_last_error(const jbus_conn *c, const char **code, const char **message)
{
	return c && c->has_err && conn_error_out(c->err_code, c->err_msg, code, message);
}

/* section: output */

static size_t out_pending(const jbus_conn *c)
{
	return c->out.len - c->out_off;
}

/* Write what the socket takes. Returns 0 or a negative errno (connection gone). */
int conn_write(jbus_conn *c)
{
	while (out_pending(c)) {
		ssize_t w = send(c->fd, c->out.p + c->out_off, out_pending(c),
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		c->out_off += (size_t)w;
	}
	if (!out_pending(c)) {
		c->out.len = c->out_off = 0;
		if (c->out.cap > 1024 * 1024) /* a burst is over: give the memory back */
			wire_buf_free(&c->out);
	} else if (c->out_off > c->out.len / 2) {
		memmove(c->out.p, c->out.p + c->out_off, out_pending(c));
		c->out.len -= c->out_off;
		c->out_off = 0;
	}
	return 0;
}

int conn_queue_begin(jbus_conn *c, size_t *mark)
{
	if (c->state == JBUS_STATE_DISCONNECTED)
		return -ENOTCONN;
	if (out_pending(c) > CONN_OUT_MAX)
		return -ENOBUFS;
	*mark = c->out.len;
	return 0;
}

int conn_queue_end(jbus_conn *c, size_t mark)
{
	size_t len;

	if (wire_buf_failed(&c->out)) {
		c->out.failed = false;
		c->out.len = mark;
		return -ENOMEM;
	}
	len = c->out.len - mark - 1; /* without '\n' */
	if (c->max_frame && len > c->max_frame) {
		c->out.len = mark;
		return -EMSGSIZE;
	}
	if (c->idle_ms)
		c->last_out_ms = conn_now_ms();
	if (out_pending(c) >= CONN_AUTOFLUSH && c->state != JBUS_STATE_DISCONNECTED) {
		int r = conn_write(c);
		if (r < 0)
			return conn_lost(c, r);
	}
	return 0;
}

/* section: input */

/* Largest line accepted from the broker: a msg carries a client's whole
 * frame plus its envelope, so allow twice max_frame and some. */
static size_t recv_limit(const jbus_conn *c)
{
	size_t mf = c->max_frame > WIRE_DEFAULT_MAX_FRAME ? c->max_frame : WIRE_DEFAULT_MAX_FRAME;

	return 2 * mf + 65536;
}

static int grow_in(jbus_conn *c)
{
	size_t cap;
	char *p;

	if (c->in_cap - c->in_len >= CONN_READ_CHUNK / 2)
		return 0;
	cap = c->in_cap ? c->in_cap * 2 : CONN_READ_CHUNK;
	if (cap > recv_limit(c) + 2)
		cap = recv_limit(c) + 2;
	if (cap <= c->in_cap)
		return c->in_len < c->in_cap ? 0 : JBUS_E_PROTOCOL;
	p = realloc(c->in, cap);
	if (!p)
		return -ENOMEM;
	c->in = p;
	c->in_cap = cap;
	return 0;
}

/*
 * Handle the complete frames in the input buffer. Returns the number
 * handled or a negative error; *stop is set when dispatch must return now
 * (the handle is closing, the connection was lost, or a pause was asked
 * for), leaving the rest buffered.
 */
static int drain(jbus_conn *c, unsigned gen, bool *stop)
{
	int handled = 0;

	for (;;) {
		const char *line;
		size_t len;
		int r = wire_next_frame(c->in, c->in_len, &c->cur, recv_limit(c), &line, &len);

		if (r == WIRE_E_MORE)
			break;
		if (r != 0)
			return JBUS_E_PROTOCOL;
		r = frame_handle(c, c->in + (line - c->in), len);
		if (r < 0)
			return r;
		handled++;
		/* a pause with nothing behind the welcome leaves nothing to wait for */
		if (c->backlog && c->cur.pos == c->in_len)
			c->backlog = false;
		if (c->free_pending || c->gen != gen || c->backlog) {
			*stop = true;
			return handled;
		}
	}
	/* keep the partial frame at the front */
	memmove(c->in, c->in + c->cur.pos, c->in_len - c->cur.pos);
	c->in_len -= c->cur.pos;
	c->cur.scanned -= c->cur.pos;
	c->cur.pos = 0;
	return handled;
}

/* Read and handle frames. Returns frames handled, or a negative error. */
static int conn_read(jbus_conn *c)
{
	unsigned gen = c->gen;
	bool stop = false;
	int handled = 0, r;

	if (c->backlog) {
		/* frames that arrived with the welcome, kept for after conn_new returned */
		c->backlog = false;
		r = drain(c, gen, &stop);
		if (r < 0 || stop)
			return r;
		handled = r;
	}
	for (int i = 0; i < CONN_READS_PER_DISPATCH; i++) {
		size_t room;
		ssize_t n;

		r = grow_in(c);
		if (r < 0)
			return r;
		room = c->in_cap - c->in_len;
		n = recv(c->fd, c->in + c->in_len, room, MSG_DONTWAIT);
		/* a reset is a close with our last bytes unread: a refusal read before it counts */
		if (n < 0 && errno == ECONNRESET)
			return c->hs_result ? c->hs_result : -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		if (n == 0)
			return c->hs_result ? c->hs_result : JBUS_E_CLOSED;
		c->in_len += (size_t)n;
		r = drain(c, gen, &stop);
		if (r < 0)
			return r;
		handled += r;
		if (stop)
			return handled;
		if ((size_t)n < room)
			break; /* the socket had no more */
	}
	if (!c->in_len && c->in_cap > 4 * CONN_READ_CHUNK) {
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
	return handled;
}

/* section: dispatch */

static void sweep_subs(jbus_conn *c)
{
	struct lsub *s, *tmp;

	list_for_each_entry_safe(s, tmp, &c->subs, link) {
		if (s->dead) {
			if (c->replay_to == s)
				c->replay_to = NULL;
			list_del(&s->link);
			free(s);
		}
	}
}

JBUS_EXPORT int jbus_conn_get_fd(const jbus_conn *c)
{
	return c->fd;
}

JBUS_EXPORT short jbus_conn_get_events(const jbus_conn *c)
{
	if (c->fd < 0)
		return 0;
	return (short)(POLLIN | (out_pending(c) ? POLLOUT : 0));
}

/* Under a broker idle timeout, a ping goes out after a third of it without a frame. */
static int64_t keepalive_at(const jbus_conn *c)
{
	return c->last_out_ms + (int64_t)(c->idle_ms / 3);
}

bool conn_keepalive_due(const jbus_conn *c)
{
	return c->state == JBUS_STATE_CONNECTED && c->idle_ms && conn_now_ms() >= keepalive_at(c);
}

JBUS_EXPORT int jbus_conn_get_timeout(const jbus_conn *c)
{
	int64_t left;

	if (c->backlog)
		return 0; /* frames are buffered: dispatch now, the socket will not say so */
	if (c->state == JBUS_STATE_CONNECTED && c->idle_ms)
		left = keepalive_at(c) - conn_now_ms();
	else if (c->state != JBUS_STATE_DISCONNECTED || !c->reconnect)
		return -1;
	else
		left = c->retry_at - conn_now_ms();
	if (left <= 0)
		return 0;
	return left > INT32_MAX ? INT32_MAX : (int)left;
}

/*
 * Writing failed because the broker closed. What it sent before closing (a
 * refused hello, shutting_down, slow_consumer) is still readable and says
 * why better than EPIPE does: handle it, and report a refusal as such.
 */
static int write_failed(jbus_conn *c, int err)
{
	int r;

	if (err != -EPIPE && err != -ECONNRESET)
		return err;
	r = conn_read(c);
	if (c->hs_result)
		return c->hs_result;
	return r < 0 ? r : err;
}

static int dispatch_connected(jbus_conn *c)
{
	int r, handled;

	if (conn_keepalive_due(c)) {
		r = ops_simple(c, "ping", (struct wire_raw){ 0 });
		if (r < 0)
			return r;
	}
	r = conn_write(c);
	if (r < 0)
		return conn_lost(c, write_failed(c, r));
	handled = conn_read(c);
	if (handled < 0)
		return conn_lost(c, handled);
	if (c->state == JBUS_STATE_DISCONNECTED || c->fd < 0)
		return handled;
	/* answers queued by callbacks go out in the same call */
	r = conn_write(c);
	if (r < 0)
		return conn_lost(c, r);
	return handled;
}

JBUS_EXPORT int jbus_conn_dispatch(jbus_conn *c)
{
	int r;

	if (!c)
		return -EINVAL;
	if (c->depth)
		return -EBUSY; /* from a callback: the frame being handled is still in use */
	c->depth++;
	if (c->state == JBUS_STATE_DISCONNECTED) {
		r = c->reconnect ? 0 : -ENOTCONN;
		if (c->reconnect && conn_now_ms() >= c->retry_at && try_connect(c) < 0)
			conn_lost_retry(c);
	} else {
		r = dispatch_connected(c);
		if (r < 0 && c->reconnect)
			r = 0;
	}
	if (--c->depth == 0) {
		sweep_subs(c);
		if (c->free_pending && !c->hold) {
			conn_write_final(c);
			jbus_conn_free(c);
		}
	}
	return r;
}

/* A reconnect attempt failed before any state change: back off further. */
void conn_lost_retry(jbus_conn *c)
{
	c->retry_at = conn_now_ms() + c->backoff_ms;
	c->backoff_ms = c->backoff_ms * 2 > CONN_BACKOFF_MAX_MS ? CONN_BACKOFF_MAX_MS
								: c->backoff_ms * 2;
}

/* Last chance for a bye queued from a callback: one non-blocking write. */
void conn_write_final(jbus_conn *c)
{
	if (c->fd >= 0)
		conn_write(c);
}
