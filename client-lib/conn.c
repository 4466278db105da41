/*
 * libjbus connection: socket, handshake, buffered I/O, frame dispatch,
 * local subscription table and reconnect (public API in jbus.h).
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
#define CONN_BACKOFF_MIN_MS 100
#define CONN_BACKOFF_MAX_MS 5000

int64_t conn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

static void set_state(jbus_conn *c, enum jbus_state st)
{
	c->state = st;
	if (c->on_state)
		c->on_state(c, st, c->state_ud);
}

/* Queue hello and every live subscription on a fresh socket. */
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
			wire_build_topic_op(&c->out, "sub", s->pattern, s->len, none);
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
	set_state(c, JBUS_STATE_CONNECTING);
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
	set_state(c, JBUS_STATE_DISCONNECTED);
	return err;
}

static int conn_create(jbus_conn **cp, const char *path, const char *name)
{
	char def[SOCKPATH_MAX + 2];
	jbus_conn *c;

	if (!cp)
		return -EINVAL;
	*cp = NULL;
	if (!path) {
		if (sockpath_default(def, sizeof(def)) < 0)
			return -ENAMETOOLONG;
		path = def;
	}
	if (!*path)
		return -EINVAL;
	if (strlen(path) > SOCKPATH_MAX)
		return -ENAMETOOLONG;
	if (name && !wire_name_valid(name, strlen(name)))
		return JBUS_E_BAD_NAME;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = -1;
	c->state = JBUS_STATE_DISCONNECTED;
	c->backoff_ms = CONN_BACKOFF_MIN_MS;
	list_init(&c->subs);
	wire_buf_init(&c->out, 0);
	c->path = strdup(path);
	c->want_name = name ? strdup(name) : NULL;
	if (!c->path || (name && !c->want_name)) {
		jbus_conn_free(c);
		return -ENOMEM;
	}
	*cp = c;
	return 0;
}

JBUS_EXPORT int jbus_conn_open(jbus_conn **cp, const char *path, const char *name)
{
	jbus_conn *c;
	int r;

	if (!cp)
		return -EINVAL;
	*cp = NULL;
	r = conn_create(&c, path, name);
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
	wire_buf_free(&c->out);
	free(c->in);
	free(c->data_buf);
	free(c->path);
	free(c->want_name);
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

JBUS_EXPORT bool jbus_conn_last_error(const jbus_conn *c, const char **code, const char **message)
{
	if (!c || !c->has_err)
		return false;
	if (code)
		*code = c->err_code;
	if (message)
		*message = c->err_msg;
	return true;
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
	if (out_pending(c) >= CONN_AUTOFLUSH && c->state != JBUS_STATE_DISCONNECTED) {
		int r = conn_write(c);
		if (r < 0)
			return conn_lost(c, r);
	}
	return 0;
}

/* section: input */

static void deliver(jbus_conn *c, struct jbus_msg *m)
{
	bool matched = false;
	unsigned gen = c->gen;
	struct lsub *s;

	if (m->topic) {
		size_t tn = strlen(m->topic);
		list_for_each_entry(s, &c->subs, link) {
			if (s->dead || !topic_match(s->pattern, s->len, m->topic, tn))
				continue;
			matched = true;
			s->fn(c, m, s->ud);
			if (c->free_pending || c->gen != gen)
				break;
		}
	}
	if (!matched && c->on_msg && !c->free_pending && c->gen == gen)
		c->on_msg(c, m, c->msg_ud);
}

static int copy_string(const struct wire_value *v, char *buf, size_t cap, const char **out)
{
	const char *s;
	size_t n;

	if (v->type != WIRE_T_STRING || wire_string(v, buf, cap - 1, &s, &n) != 0)
		return JBUS_E_PROTOCOL;
	if (s != buf)
		memcpy(buf, s, n);
	buf[n] = '\0';
	*out = buf;
	return 0;
}

static int on_msg_frame(jbus_conn *c, const struct wire_env *env, const char *line, size_t n)
{
	struct jbus_msg m = { .c = c, .frame = line, .frame_len = n };
	const struct wire_value *d = &env->f[WF_DATA];

	if (copy_string(&env->f[WF_FROM], c->from_buf, sizeof(c->from_buf), &m.from) < 0)
		return JBUS_E_PROTOCOL;
	if (env->f[WF_TOPIC].type != WIRE_T_ABSENT &&
	    copy_string(&env->f[WF_TOPIC], c->topic_buf, sizeof(c->topic_buf), &m.topic) < 0)
		return JBUS_E_PROTOCOL;
	if (env->f[WF_TO].type != WIRE_T_ABSENT &&
	    copy_string(&env->f[WF_TO], c->to_buf, sizeof(c->to_buf), &m.to) < 0)
		return JBUS_E_PROTOCOL;
	if (d->type == WIRE_T_ABSENT) {
		m.data_raw = "null";
		m.data_len = 4;
	} else {
		m.data_raw = d->p;
		m.data_len = d->len;
	}
	deliver(c, &m);
	if (m.json)
		json_object_put(m.json);
	return 0;
}

/* Does the frame's id answer the pending synchronous call? */
static bool is_sync_reply(const jbus_conn *c, const struct wire_value *id)
{
	size_t n = strlen(c->sync.id);

	return c->sync.active && !c->sync.done && id->type == WIRE_T_NUMBER && id->len == n &&
	       memcmp(id->p, c->sync.id, n) == 0;
}

static void record_error(jbus_conn *c, const struct wire_env *env)
{
	const char *s;

	if (copy_string(&env->f[WF_CODE], c->err_code, sizeof(c->err_code), &s) < 0)
		snprintf(c->err_code, sizeof(c->err_code), "unknown");
	if (copy_string(&env->f[WF_MESSAGE], c->err_msg, sizeof(c->err_msg), &s) < 0)
		c->err_msg[0] = '\0';
	c->has_err = true;
}

static int handshake_result(const char *code)
{
	if (!strcmp(code, "name_taken"))
		return JBUS_E_NAME_TAKEN;
	if (!strcmp(code, "bad_name"))
		return JBUS_E_BAD_NAME;
	if (!strcmp(code, "limit_reached"))
		return JBUS_E_LIMIT;
	return JBUS_E_HANDSHAKE;
}

static int on_error_frame(jbus_conn *c, const struct wire_env *env)
{
	const struct wire_value *id = &env->f[WF_ID];

	if (is_sync_reply(c, id)) {
		record_error(c, env);
		c->sync.done = true;
		c->sync.result = JBUS_E_BROKER;
		return 0;
	}
	if (c->state == JBUS_STATE_CONNECTING) {
		/* the broker closes after this; the EOF reports it */
		record_error(c, env);
		c->hs_result = handshake_result(c->err_code);
		return 0;
	}
	if (c->on_error) {
		char code[64], msg[512], idbuf[128];
		const char *pc, *pm, *pid = NULL;
		if (copy_string(&env->f[WF_CODE], code, sizeof(code), &pc) < 0)
			pc = "unknown";
		if (copy_string(&env->f[WF_MESSAGE], msg, sizeof(msg), &pm) < 0)
			pm = "";
		if (id->type != WIRE_T_ABSENT && id->len < sizeof(idbuf)) {
			memcpy(idbuf, id->p, id->len);
			idbuf[id->len] = '\0';
			pid = idbuf;
		}
		c->on_error(c, pc, pm, pid, c->error_ud);
	}
	return 0;
}

static int on_welcome(jbus_conn *c, const struct wire_env *env)
{
	const struct wire_value *mf = &env->f[WF_MAX_FRAME];
	const char *s;

	if (copy_string(&env->f[WF_NAME], c->name, sizeof(c->name), &s) < 0)
		return JBUS_E_PROTOCOL;
	c->max_frame = mf->type == WIRE_T_NUMBER ? strtoull(mf->p, NULL, 10) : 0;
	c->backoff_ms = CONN_BACKOFF_MIN_MS;
	/* conn_new returns after the welcome: what came with it waits for the
	 * caller's callbacks instead of being dispatched to none */
	if (c->pause_after_welcome) {
		c->pause_after_welcome = false;
		c->backlog = true;
	}
	set_state(c, JBUS_STATE_CONNECTED);
	return 0;
}

static int handle_frame(jbus_conn *c, char *line, size_t n)
{
	struct wire_env env;
	const struct wire_value *op;

	if (wire_scan(line, n, &env, NULL) != 0)
		return JBUS_E_PROTOCOL;
	op = &env.f[WF_OP];
	line[n] = '\0'; /* the '\n' (or '\r') is consumed: frames are handed out as C strings */
	if (wire_value_is(op, "msg"))
		return on_msg_frame(c, &env, line, n);
	if (wire_value_is(op, "ok") || wire_value_is(op, "pong")) {
		if (is_sync_reply(c, &env.f[WF_ID])) {
			const struct wire_value *d = &env.f[WF_DELIVERED];
			c->sync.delivered = d->type == WIRE_T_NUMBER ? strtoull(d->p, NULL, 10) : 0;
			c->sync.done = true;
			c->sync.result = 0;
		}
		return 0;
	}
	if (wire_value_is(op, "error"))
		return on_error_frame(c, &env);
	if (wire_value_is(op, "welcome"))
		return on_welcome(c, &env);
	return 0; /* ops of later protocol revisions: ignored */
}

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
		r = handle_frame(c, c->in + (line - c->in), len);
		if (r < 0)
			return r;
		handled++;
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

JBUS_EXPORT int jbus_conn_get_timeout(const jbus_conn *c)
{
	int64_t left;

	if (c->backlog)
		return 0; /* frames are buffered: dispatch now, the socket will not say so */
	if (c->state != JBUS_STATE_DISCONNECTED || !c->reconnect)
		return -1;
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

/* section: messages */

JBUS_EXPORT const char *jbus_msg_topic(const jbus_msg *m)
{
	return m->topic;
}

JBUS_EXPORT const char *jbus_msg_from(const jbus_msg *m)
{
	return m->from;
}

JBUS_EXPORT const char *jbus_msg_to(const jbus_msg *m)
{
	return m->to;
}

JBUS_EXPORT const char *jbus_msg_data(const jbus_msg *m, size_t *len)
{
	struct jbus_msg *mm = (struct jbus_msg *)m;
	jbus_conn *c = m->c;

	if (!mm->data) {
		/* a copy: the span sits inside the frame, which stays whole for jbus_msg_frame */
		if (c->data_cap < m->data_len + 1) {
			char *p = realloc(c->data_buf, m->data_len + 1);
			if (!p)
				return NULL;
			c->data_buf = p;
			c->data_cap = m->data_len + 1;
		}
		memcpy(c->data_buf, m->data_raw, m->data_len);
		c->data_buf[m->data_len] = '\0';
		mm->data = c->data_buf;
	}
	if (len)
		*len = m->data_len;
	return m->data;
}

JBUS_EXPORT json_object *jbus_msg_json(const jbus_msg *m)
{
	struct jbus_msg *mm = (struct jbus_msg *)m;

	if (!mm->json) {
		size_t n;
		const char *d = jbus_msg_data(m, &n);
		json_tokener *tok = d ? json_tokener_new_ex(WIRE_MAX_DEPTH + 1) : NULL;
		if (!tok)
			return NULL;
		/* the NUL is part of the input: it ends a top-level number */
		mm->json = json_tokener_parse_ex(tok, d, (int)n + 1);
		json_tokener_free(tok);
	}
	return mm->json;
}

JBUS_EXPORT const char *jbus_msg_frame(const jbus_msg *m, size_t *len)
{
	if (len)
		*len = m->frame_len;
	return m->frame;
}
