/*
 * Blocking helpers of libjbus, written only in terms of the event-loop API
 * (get_fd, get_events, get_timeout, dispatch) plus poll(), each with a
 * deadline. At most one synchronous call is in flight per handle, since
 * they block; its id is a number the library picks.
 */
#include "conn.h"

#include <poll.h>
#include <stdio.h>

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
 * The one blocking loop: dispatch, ask until() whether to stop (it sees
 * dispatch's result and sets the return value), else sleep in poll() until
 * I/O, a library timer or the deadline.
 */
typedef bool (*until_fn)(jbus_conn *c, int dispatched, int *result);

static int run_until(jbus_conn *c, int timeout_ms, until_fn until, int on_timeout)
{
	int64_t deadline = deadline_of(timeout_ms);
	int result;

	if (!c)
		return -EINVAL;
	if (c->depth)
		return -EBUSY;
	/* a callback may close the handle: it stays allocated until release() */
	c->hold++;
	for (;;) {
		int r = jbus_conn_dispatch(c);
		if (c->free_pending) {
			result = JBUS_E_CLOSED;
			break;
		}
		if (until(c, r, &result))
			break;
		if (expired(deadline)) {
			result = on_timeout;
			break;
		}
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
static int release(jbus_conn *c, int r)
{
	if (c && !c->hold && !c->depth && c->free_pending) {
		conn_write_final(c);
		jbus_conn_free(c);
		return JBUS_E_CLOSED;
	}
	return r;
}

static bool until_frames(jbus_conn *c, int r, int *result)
{
	*result = r;
	return r != 0;
}

JBUS_EXPORT int jbus_conn_wait(jbus_conn *c, int timeout_ms)
{
	return release(c, run_until(c, timeout_ms, until_frames, 0));
}

static bool until_flushed(jbus_conn *c, int r, int *result)
{
	*result = r < 0 ? r : 0;
	return r < 0 || c->out.len == c->out_off;
}

JBUS_EXPORT int jbus_conn_flush(jbus_conn *c, int timeout_ms)
{
	return release(c, run_until(c, timeout_ms, until_flushed, -ETIMEDOUT));
}

static struct wire_raw sync_begin(jbus_conn *c)
{
	struct wire_raw id;
	int n = snprintf(c->sync.id, sizeof(c->sync.id), "%llu",
			 (unsigned long long)++c->sync.seq);

	c->sync.active = true;
	c->sync.done = false;
	c->sync.result = 0;
	c->sync.delivered = 0;
	c->has_err = false;
	id.p = c->sync.id;
	id.len = (size_t)n;
	return id;
}

static bool until_answered(jbus_conn *c, int r, int *result)
{
	*result = c->sync.done ? c->sync.result : r;
	return c->sync.done || r < 0;
}

/* Run the loop until the pending call is answered, fails or times out. */
static int sync_finish(jbus_conn *c, int queued, int timeout_ms, unsigned long long *delivered)
{
	int r = queued < 0 ? queued : run_until(c, timeout_ms, until_answered, -ETIMEDOUT);

	/* a late answer to this id is ignored from now on */
	c->sync.active = false;
	if (r == 0 && delivered)
		*delivered = c->sync.delivered;
	return release(c, r);
}

JBUS_EXPORT int jbus_publish_sync(jbus_conn *c, const char *topic, json_object *data,
				  int timeout_ms, unsigned long long *delivered)
{
	if (!c)
		return -EINVAL;
	if (c->depth)
		return -EBUSY;
	return sync_finish(c, ops_publish(c, topic, data, NULL, 0, sync_begin(c)), timeout_ms,
			   delivered);
}

JBUS_EXPORT int jbus_publish_text_sync(jbus_conn *c, const char *topic, const char *json,
				       ssize_t len, int timeout_ms,
				       unsigned long long *delivered)
{
	if (!c)
		return -EINVAL;
	if (c->depth)
		return -EBUSY;
	return sync_finish(c, ops_publish(c, topic, NULL, json, len, sync_begin(c)), timeout_ms,
			   delivered);
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
	if (!c)
		return -EINVAL;
	if (c->depth)
		return -EBUSY;
	if (c->state == JBUS_STATE_DISCONNECTED)
		return -ENOTCONN;
	return sync_finish(c, ops_subscribe(c, pattern, fn, userdata, sync_begin(c)), timeout_ms,
			   NULL);
}

JBUS_EXPORT int jbus_ping(jbus_conn *c, int timeout_ms)
{
	if (!c)
		return -EINVAL;
	if (c->depth)
		return -EBUSY;
	return sync_finish(c, ops_simple(c, "ping", sync_begin(c)), timeout_ms, NULL);
}

static bool until_welcomed(jbus_conn *c, int r, int *result)
{
	*result = r < 0 ? r : 0;
	return r < 0 || c->state != JBUS_STATE_CONNECTING;
}

JBUS_EXPORT int jbus_conn_new(jbus_conn **cp, const char *path, const char *name)
{
	jbus_conn *c;
	int r;

	if (!cp)
		return -EINVAL;
	*cp = NULL;
	r = jbus_conn_open(&c, path, name);
	if (r < 0)
		return r;
	c->pause_after_welcome = true;
	r = run_until(c, CONN_CONNECT_TIMEOUT_MS, until_welcomed, -ETIMEDOUT);
	if (c->state != JBUS_STATE_CONNECTED) {
		if (r >= 0)
			r = JBUS_E_CLOSED;
		jbus_conn_free(c);
		return r;
	}
	*cp = c;
	return 0;
}

JBUS_EXPORT int jbus_conn_close(jbus_conn *c, int timeout_ms)
{
	struct wire_raw none = { 0 };
	int r = 0;

	if (!c)
		return 0;
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
