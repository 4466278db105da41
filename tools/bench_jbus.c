/*
 * The jbus driver of jbus bench: one libjbus connection per bench_conn.
 *
 * Receiving is the library's raw path: the subscription callback hands on
 * the topic and the data's text as the frame carried them
 * (jbus_msg_topic, jbus_msg_data), and no json-c object is ever built, so
 * that a subscriber costs what the library costs and no more. Waiting is
 * poll() on jbus_conn_get_fd() for jbus_conn_get_events(), then one
 * jbus_conn_dispatch(), which reads what the socket holds (64 KiB at a
 * time) and runs the callbacks for every complete frame.
 *
 * The library's blocking flush dispatches what arrives while it waits
 * (an echo in W3 may come back before the flush returns): such messages
 * are held (bench_held.h) for the next receive(), so none is lost to the
 * benchmark.
 */
#include "bench.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bench_held.h"
#include "cli.h"

/* Deadline of a subscribe, a flush and the bye: a broker that stalls that long has failed. */
#define BENCH_JBUS_TIMEOUT_MS 30000

struct bench_conn {
	jbus_conn *c;
	/* the receive() in progress: where its messages go */
	bench_msg_fn fn;
	void *ud;
	int got;
	struct bench_held held; /* messages dispatched outside receive() */
	int held_err;           /* holding one failed (-ENOMEM): receive() reports it */
	bool slow;              /* the broker said slow_consumer before it closed */
};

/*
 * A library error as the -errno the driver interface speaks. A connection
 * the broker dropped because this client fell too far behind is -ENOBUFS,
 * so that the benchmark's report says why rather than "broken pipe".
 */
static int errno_of(const struct bench_conn *b, int r)
{
	if (b->slow && (r == JBUS_E_CLOSED || r == -EPIPE || r == -ECONNRESET))
		return -ENOBUFS;
	switch (r) {
	case JBUS_E_CLOSED:
		return -EPIPE;
	case JBUS_E_BAD_TOPIC:
	case JBUS_E_BAD_JSON:
	case JBUS_E_BAD_NAME:
		return -EINVAL;
	case JBUS_E_LIMIT:
		return -ENOSPC;
	default:
		return r > JBUS_E_BROKER ? r : -EPROTO; /* other JBUS_E_*: the broker said no */
	}
}

static void on_error(jbus_conn *c, const char *code, const char *message, const char *id,
		     void *ud)
{
	struct bench_conn *b = ud;

	if (!strcmp(code, "slow_consumer"))
		b->slow = true;
}

static struct bench_conn *jb_connect(const char *target, char *err, size_t errlen)
{
	struct bench_conn *b = calloc(1, sizeof(*b));
	int r;

	if (!b) {
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		return NULL;
	}
	r = jbus_conn_new(&b->c, target, NULL);
	if (r < 0) {
		snprintf(err, errlen, "cannot connect to %s: %s", target, jbus_strerror(r));
		free(b);
		return NULL;
	}
	jbus_conn_on_error(b->c, on_error, b);
	return b;
}

static void on_msg(jbus_conn *c, const jbus_msg *m, void *ud)
{
	struct bench_conn *b = ud;
	const char *topic = jbus_msg_topic(m), *data;
	size_t len, tlen = topic ? strlen(topic) : 0;

	data = jbus_msg_data(m, &len);
	if (!b->fn) {
		int r = bench_held_push(&b->held, topic, tlen, data, len);

		if (r < 0 && !b->held_err)
			b->held_err = r;
		return;
	}
	b->got++;
	b->fn(b->ud, topic, tlen, data, len);
}

static int jb_subscribe(struct bench_conn *b, const char *topic)
{
	int r = jbus_subscribe_sync(b->c, topic, on_msg, b, BENCH_JBUS_TIMEOUT_MS);

	return r < 0 ? errno_of(b, r) : 0;
}

static int jb_publish(struct bench_conn *b, const char *topic, const char *payload, size_t len)
{
	int r = jbus_publish_text(b->c, topic, payload, (ssize_t)len);

	return r < 0 ? errno_of(b, r) : 0;
}

static int jb_flush(struct bench_conn *b)
{
	int r = jbus_conn_flush(b->c, BENCH_JBUS_TIMEOUT_MS);

	return r < 0 ? errno_of(b, r) : 0;
}

static int jb_receive(struct bench_conn *b, int timeout_ms, bench_msg_fn fn, void *ud)
{
	long long deadline = cli_now_ms() + timeout_ms;
	int n;

	if (b->held_err)
		return b->held_err;
	n = bench_held_deliver(&b->held, fn, ud);
	if (n)
		return n;
	/*
	 * A read may end inside a frame, and the library's timer (a keepalive
	 * ping) may wake us: either way no message yet, so wait on to the deadline.
	 */
	for (;;) {
		struct pollfd p = { .fd = jbus_conn_get_fd(b->c),
				    .events = jbus_conn_get_events(b->c) };
		long long left = deadline - cli_now_ms();
		int t = jbus_conn_get_timeout(b->c), r;

		/* the broker closed the connection (a slow consumer, shutting down): no fd now */
		if (jbus_conn_state(b->c) == JBUS_STATE_DISCONNECTED)
			return errno_of(b, -ECONNRESET);
		if (left < 0)
			left = 0;
		if (t < 0 || t > left)
			t = (int)left;
		if (poll(&p, 1, t) < 0 && errno != EINTR)
			return -errno;
		b->fn = fn;
		b->ud = ud;
		b->got = 0;
		r = jbus_conn_dispatch(b->c);
		b->fn = NULL;
		if (r < 0)
			return errno_of(b, r);
		if (b->got)
			return b->got;
		if (cli_now_ms() >= deadline)
			return jbus_conn_state(b->c) == JBUS_STATE_DISCONNECTED
				       ? errno_of(b, -ECONNRESET)
				       : 0;
	}
}

static pid_t jb_server_pid(struct bench_conn *b)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(jbus_conn_get_fd(b->c), SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -1;
	return cred.pid;
}

static void jb_close(struct bench_conn *b)
{
	if (!b)
		return;
	jbus_conn_close(b->c, BENCH_JBUS_TIMEOUT_MS);
	bench_held_clear(&b->held);
	free(b);
}

const struct bench_driver bench_driver_jbus = {
	.name = "jbus",
	.connect = jb_connect,
	.subscribe = jb_subscribe,
	.publish = jb_publish,
	.flush = jb_flush,
	.receive = jb_receive,
	.server_pid = jb_server_pid,
	.close = jb_close,
};
