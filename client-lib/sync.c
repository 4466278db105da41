/*
 * Blocking helpers of libjbus, written only in terms of the event-loop API
 * (get_fd, get_events, get_timeout, dispatch) plus poll(), each with a
 * deadline. At most one synchronous call is in flight per handle, since
 * they block; its id is a number the library picks.
 */
#include "conn.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "topic.h"

static int64_t deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : conn_now_ms() + timeout_ms;
}

static bool expired(int64_t deadline)
{
	return deadline >= 0 && conn_now_ms() >= deadline;
}

/* Sleep until the socket is ready, a library timer is due, or the deadline. */
static int wait_io(jbus_conn *c, int64_t deadline)
{
	struct pollfd p = { .fd = jbus_conn_get_fd(c), .events = jbus_conn_get_events(c) };
	int t = -1, lib = jbus_conn_get_timeout(c);

	if (deadline >= 0) {
		int64_t left = deadline - conn_now_ms();
		t = left < 0 ? 0 : (left > INT32_MAX ? INT32_MAX : (int)left);
	}
	if (lib >= 0 && (t < 0 || lib < t))
		t = lib;
	if (p.fd < 0 && t < 0)
		return -ENOTCONN; /* nothing could ever wake us */
	if (poll(&p, p.fd >= 0 ? 1 : 0, t) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

/*
 * What a blocking call just queued (a request, a hello) goes out before any
 * read: the answer cannot be there yet, and poll() tells when something is,
 * so a read now would only find nothing. True if it was all written that way;
 * false leaves everything (backlog, keepalive, a failed write and what the
 * broker said before closing) to the full dispatch.
 */
static bool write_first(jbus_conn *c)
{
	if (c->backlog || c->fd < 0 || conn_keepalive_due(c) ||
	    (c->state != JBUS_STATE_CONNECTED && c->state != JBUS_STATE_CONNECTING))
		return false;
	return conn_write(c) == 0;
}

/* The one blocking loop (see conn.h); the handle stays allocated until sync_release(). */
int sync_run(jbus_conn *c, int timeout_ms, until_fn until, void *ud, int on_timeout)
{
	int64_t deadline = deadline_of(timeout_ms);
	bool wrote;
	int result;

	if (!c)
		return -EINVAL;
	if (c->depth)
		return -EBUSY;
	/* a callback may close the handle: it stays allocated until sync_release() */
	c->hold++;
	wrote = write_first(c);
	for (;;) {
		int r = 0;

		if (!wrote) {
			r = jbus_conn_dispatch(c);
			if (c->free_pending) {
				result = JBUS_E_CLOSED;
				break;
			}
		}
		if (until(c, r, &result, ud))
			break;
		/* even with no time left, what is readable gets one dispatch */
		if (!wrote && expired(deadline)) {
			result = on_timeout;
			break;
		}
		wrote = false;
		r = wait_io(c, deadline);
		if (r < 0) {
			result = r;
			break;
		}
	}
	c->hold--;
	return result;
}

/* The end of a blocking call: a jbus_conn_close() from one of its callbacks takes effect. */
int sync_release(jbus_conn *c, int r)
{
	if (c && !c->hold && !c->depth && c->free_pending) {
		conn_write_final(c);
		jbus_conn_free(c);
		return JBUS_E_CLOSED;
	}
	return r;
}

static int run_release(jbus_conn *c, int timeout_ms, until_fn until, int on_timeout)
{
	return sync_release(c, sync_run(c, timeout_ms, until, NULL, on_timeout));
}

static bool until_frames(jbus_conn *c, int r, int *result, void *ud)
{
	*result = r;
	return r != 0;
}

JBUS_EXPORT int jbus_conn_wait(jbus_conn *c, int timeout_ms)
{
	return run_release(c, timeout_ms, until_frames, 0);
}

static bool until_flushed(jbus_conn *c, int r, int *result, void *ud)
{
	*result = r < 0 ? r : 0;
	return r < 0 || c->out.len == c->out_off;
}

JBUS_EXPORT int jbus_conn_flush(jbus_conn *c, int timeout_ms)
{
	return run_release(c, timeout_ms, until_flushed, -ETIMEDOUT);
}

struct wire_raw sync_begin(jbus_conn *c)
{
	c->sync.active = true;
	c->sync.done = false;
	c->sync.result = 0;
	c->sync.delivered = 0;
	free(c->sync.answer);
	c->sync.answer = NULL;
	c->has_err = false;
	return conn_next_id(c, c->sync.id);
}

static bool until_answered(jbus_conn *c, int r, int *result, void *ud)
{
	*result = c->sync.done ? c->sync.result : r;
	return c->sync.done || r < 0;
}

/* Run the loop until the pending call is answered, fails or times out. */
int sync_finish(jbus_conn *c, int queued, int timeout_ms, unsigned long long *delivered)
{
	int r = queued < 0 ? queued : sync_run(c, timeout_ms, until_answered, NULL, -ETIMEDOUT);

	/* a late answer to this id is ignored from now on */
	c->sync.active = false;
	if (r == 0 && delivered)
		*delivered = c->sync.delivered;
	return sync_release(c, r);
}

JBUS_EXPORT int jbus_publish_sync(jbus_conn *c, const char *topic, json_object *data,
				  int timeout_ms, unsigned long long *delivered)
{
	if (!c)
		return -EINVAL;
	if (c->depth)
		return -EBUSY;
	return sync_finish(c, ops_publish(c, topic, data, NULL, 0, false, sync_begin(c)),
			   timeout_ms, delivered);
}

JBUS_EXPORT int jbus_publish_text_sync(jbus_conn *c, const char *topic, const char *json,
				       ssize_t len, int timeout_ms,
				       unsigned long long *delivered)
{
	return jbus_publish_text_ex_sync(c, topic, json, len, 0, timeout_ms, delivered);
}

JBUS_EXPORT int jbus_publish_text_ex_sync(jbus_conn *c, const char *topic, const char *json,
					  ssize_t len, unsigned flags, int timeout_ms,
					  unsigned long long *delivered)
{
	if (!c || (flags & ~JBUS_PUB_RETAIN))
		return -EINVAL;
	if (c->depth)
		return -EBUSY;
	return sync_finish(c,
			   ops_publish(c, topic, NULL, json, len, flags & JBUS_PUB_RETAIN,
				       sync_begin(c)),
			   timeout_ms, delivered);
}

JBUS_EXPORT int jbus_send_sync(jbus_conn *c, const char *to, json_object *data, int timeout_ms)
{
	if (!c)
		return -EINVAL;
	if (c->depth)
		return -EBUSY;
	return sync_finish(c, ops_send(c, to, data, NULL, 0, sync_begin(c)), timeout_ms, NULL);
}

JBUS_EXPORT int jbus_send_text_sync(jbus_conn *c, const char *to, const char *json, ssize_t len,
				    int timeout_ms)
{
	if (!c)
		return -EINVAL;
	if (c->depth)
		return -EBUSY;
	return sync_finish(c, ops_send(c, to, NULL, json, len, sync_begin(c)), timeout_ms, NULL);
}

JBUS_EXPORT int jbus_subscribe_sync(jbus_conn *c, const char *pattern, jbus_msg_fn fn,
				    void *userdata, int timeout_ms)
{
	return jbus_subscribe_full_sync(c, pattern, JBUS_ON_FULL_DISCONNECT, fn, userdata,
					timeout_ms);
}

JBUS_EXPORT int jbus_subscribe_full_sync(jbus_conn *c, const char *pattern,
					 enum jbus_on_full on_full, jbus_msg_fn fn, void *userdata,
					 int timeout_ms)
{
	if (!c)
		return -EINVAL;
	if (c->depth)
		return -EBUSY;
	if (c->state == JBUS_STATE_DISCONNECTED)
		return -ENOTCONN;
	return sync_finish(c, ops_subscribe(c, pattern, on_full, fn, userdata, sync_begin(c)),
			   timeout_ms, NULL);
}

JBUS_EXPORT int jbus_ping(jbus_conn *c, int timeout_ms)
{
	if (!c)
		return -EINVAL;
	if (c->depth)
		return -EBUSY;
	return sync_finish(c, ops_simple(c, "ping", sync_begin(c)), timeout_ms, NULL);
}

static bool until_welcomed(jbus_conn *c, int r, int *result, void *ud)
{
	*result = r < 0 ? r : 0;
	return r < 0 || c->state != JBUS_STATE_CONNECTING;
}

int sync_conn_new(jbus_conn **cp, const char *path, const char *name, struct wire_raw will)
{
	jbus_conn *c;
	int r;

	if (!cp)
		return -EINVAL;
	*cp = NULL;
	r = conn_open(&c, path, name, will);
	if (r < 0)
		return r;
	c->pause_after_welcome = true;
	r = sync_run(c, CONN_CONNECT_TIMEOUT_MS, until_welcomed, NULL, -ETIMEDOUT);
	if (c->state != JBUS_STATE_CONNECTED) {
		if (r >= 0)
			r = JBUS_E_CLOSED;
		jbus_conn_free(c);
		return r;
	}
	*cp = c;
	return 0;
}

JBUS_EXPORT int jbus_conn_new(jbus_conn **cp, const char *path, const char *name)
{
	struct wire_raw none = { 0 };

	return sync_conn_new(cp, path, name, none);
}

JBUS_EXPORT int jbus_conn_new_will(jbus_conn **cp, const char *path, const char *name,
				   const char *topic, const char *json, ssize_t len,
				   unsigned flags)
{
	struct wire_buf b;
	struct wire_raw data, will;
	char *copy;
	int r;

	if (cp)
		*cp = NULL;
	if (!topic || (flags & ~JBUS_PUB_RETAIN))
		return -EINVAL;
	if (topic_check_name(topic, strlen(topic)))
		return JBUS_E_BAD_TOPIC;
	r = ops_data_raw(NULL, json, len, &data, &copy);
	if (r < 0)
		return r;
	wire_buf_init(&b, 0);
	wire_build_will(&b, topic, strlen(topic), data, flags & JBUS_PUB_RETAIN);
	will.p = b.p;
	will.len = b.len;
	r = wire_buf_failed(&b) ? -ENOMEM : sync_conn_new(cp, path, name, will);
	wire_buf_free(&b);
	free(copy);
	return r;
}

JBUS_EXPORT int jbus_conn_close(jbus_conn *c, int timeout_ms)
{
	struct wire_raw none = { 0 };
	int r = 0;

	if (!c)
		return 0;
	/* no request callback runs from here on: the documented end of pending requests */
	req_free_all(c);
	if (c->state != JBUS_STATE_DISCONNECTED)
		ops_simple(c, "bye", none);
	if (c->depth) {
		/* inside a callback: dispatch frees the handle when it returns */
		c->free_pending = true;
		return 0;
	}
	if (c->state != JBUS_STATE_DISCONNECTED) {
		c->reconnect = false;
		c->hold++; /* a callback run by the flush may close too: we free it once */
		r = jbus_conn_flush(c, timeout_ms);
		c->hold--;
		if (r == JBUS_E_CLOSED)
			r = 0; /* the broker closing after our bye is the expected end */
	}
	jbus_conn_free(c);
	return r;
}
