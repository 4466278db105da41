/*
 * The mosquitto driver of the benchmarks: libmosquitto, MQTT 3.1.1, QoS 0,
 * over mosquitto's unix socket listener (libmosquitto connects to a unix
 * socket when given the path as host and port 0).
 *
 * The library is driven from our own calls, with no thread of its own:
 * mosquitto_threaded_set() makes mosquitto_publish() only queue the packet
 * (unthreaded, it would also try to write it at once), flush() runs
 * mosquitto_loop_write() until nothing is left, and receive() polls the
 * socket and runs mosquitto_loop_read(), which reads one packet per call and
 * hands each PUBLISH to the message callback. libmosquitto reads without a
 * buffer of its own (header byte, length, then the rest), so once the
 * socket has no data nothing is waiting in the library either, and poll()
 * on the socket is the whole truth; the price is about three read() calls
 * per message received and one write() per message sent, which is what an
 * application using libmosquitto pays too.
 *
 * A long keepalive stands in for mosquitto_loop_misc(): no run lasts long
 * enough for the broker to expect a PINGREQ.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>

#include "bench.h"
#include "bench_held.h"
#include "peer_sock.h"
#include "peers.h"

#define KEEPALIVE_S  3600
#define MAX_QUEUED   1024  /* publishes queued in the library before they are written */
#define MAX_PER_CALL 4096  /* messages one receive() hands out, so a caller gets control back */
#define REPLY_MS     30000 /* CONNACK, SUBACK, room to write must come within this */

struct bench_conn {
	struct mosquitto *m;
	int connack;	     /* -1 until CONNACK, then its return code */
	int suback_mid;	     /* mid of the last SUBACK, 0 before any */
	bool lost;	     /* the broker closed the connection */
	size_t queued;	     /* publishes not written yet */
	bench_msg_fn fn;     /* receive()'s callback while it runs, else messages are held */
	void *ud;
	int got;	     /* messages handed to fn in this receive() */
	int err;	     /* the first error of a callback (-ENOMEM holding a message) */
	struct bench_held held;
};

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
	struct bench_conn *c = obj;

	c->connack = rc;
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc)
{
	struct bench_conn *c = obj;

	c->lost = true;
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int qos_count,
			 const int *granted_qos)
{
	struct bench_conn *c = obj;

	c->suback_mid = mid;
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
	struct bench_conn *c = obj;
	size_t topic_len = strlen(msg->topic);
	int r;

	if (c->fn) {
		c->fn(c->ud, msg->topic, topic_len, msg->payload, (size_t)msg->payloadlen);
		c->got++;
		return;
	}
	r = bench_held_push(&c->held, msg->topic, topic_len, msg->payload, (size_t)msg->payloadlen);
	if (r < 0 && !c->err)
		c->err = r;
}

/* A libmosquitto error as an errno. */
static int mosq_error(struct bench_conn *c, int rc)
{
	if (rc == MOSQ_ERR_ERRNO)
		return errno ? -errno : -EIO;
	if (rc == MOSQ_ERR_NOMEM)
		return -ENOMEM;
	if (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST)
		return -ECONNRESET;
	return -EPROTO;
}

/* Writes everything queued, waiting for room on the socket (-ETIMEDOUT if none comes). */
static int mq_flush(struct bench_conn *c)
{
	c->queued = 0;
	while (mosquitto_want_write(c->m)) {
		int rc = mosquitto_loop_write(c->m, 1);
		int w;

		if (rc != MOSQ_ERR_SUCCESS)
			return mosq_error(c, rc);
		if (!mosquitto_want_write(c->m))
			break;
		w = peer_sock_wait(mosquitto_socket(c->m), POLLOUT, peer_now_ms() + REPLY_MS);
		if (w <= 0)
			return w < 0 ? w : -ETIMEDOUT;
	}
	return 0;
}

/*
 * Reads what the socket has, packet by packet, waiting until deadline_ms
 * for the first bytes (a past deadline: not at all). libmosquitto leaves
 * errno at EAGAIN when the socket ran dry, which is how the loop knows to
 * stop without another poll(); a callback that leaves errno at EAGAIN only
 * ends the batch early. 0 or -errno.
 */
static int read_some(struct bench_conn *c, long long deadline_ms)
{
	int fd = mosquitto_socket(c->m);
	int w = peer_sock_wait(fd, POLLIN, deadline_ms);

	if (w <= 0)
		return w;
	while (c->got < MAX_PER_CALL && !c->err) {
		int rc;

		errno = 0;
		rc = mosquitto_loop_read(c->m, 1);
		if (rc != MOSQ_ERR_SUCCESS)
			return mosq_error(c, rc);
		if (c->lost)
			return -ECONNRESET;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
	}
	return c->err;
}

/* Writes what is queued, then reads until done(c) or the deadline (-ETIMEDOUT). */
static int exchange(struct bench_conn *c, bool (*done)(const struct bench_conn *c))
{
	long long deadline = peer_now_ms() + REPLY_MS;
	int r = mq_flush(c);

	while (r == 0 && !done(c)) {
		if (peer_now_ms() >= deadline)
			return -ETIMEDOUT;
		r = read_some(c, deadline);
	}
	return r;
}

static bool connack_came(const struct bench_conn *c)
{
	return c->connack >= 0;
}

static struct bench_conn *mq_connect(const char *target, char *err, size_t errlen)
{
	/* mosquitto_lib_init() is not reference counted in every 2.0 release: once per process */
	static bool lib_ready;
	struct bench_conn *c;
	int rc;

	if (!lib_ready) {
		mosquitto_lib_init();
		lib_ready = true;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "mosquitto: out of memory");
		return NULL;
	}
	c->connack = -1;
	c->m = mosquitto_new(NULL, true, c);
	if (!c->m) {
		snprintf(err, errlen, "mosquitto_new: %s", strerror(errno));
		free(c);
		return NULL;
	}
	mosquitto_int_option(c->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	mosquitto_threaded_set(c->m, true);
	mosquitto_connect_callback_set(c->m, on_connect);
	mosquitto_disconnect_callback_set(c->m, on_disconnect);
	mosquitto_subscribe_callback_set(c->m, on_subscribe);
	mosquitto_message_callback_set(c->m, on_message);
	rc = mosquitto_connect(c->m, target, 0, KEEPALIVE_S);
	if (rc != MOSQ_ERR_SUCCESS) {
		snprintf(err, errlen, "mosquitto %s: %s", target,
			 rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		goto fail;
	}
	rc = exchange(c, connack_came);
	if (rc < 0 || c->connack != 0) {
		snprintf(err, errlen, "mosquitto %s: %s", target,
			 rc < 0 ? strerror(-rc) : mosquitto_connack_string(c->connack));
		goto fail;
	}
	return c;
fail:
	mosquitto_destroy(c->m);
	bench_held_clear(&c->held);
	free(c);
	return NULL;
}

static int mq_publish(struct bench_conn *c, const char *topic, const char *payload, size_t len)
{
	int rc = mosquitto_publish(c->m, NULL, topic, (int)len, payload, 0, false);

	if (rc != MOSQ_ERR_SUCCESS)
		return mosq_error(c, rc);
	return ++c->queued < MAX_QUEUED ? 0 : mq_flush(c);
}

static bool suback_came(const struct bench_conn *c)
{
	return c->suback_mid != 0;
}

static int mq_subscribe(struct bench_conn *c, const char *topic)
{
	int mid, rc;

	c->suback_mid = 0;
	rc = mosquitto_subscribe(c->m, &mid, topic, 0);
	if (rc != MOSQ_ERR_SUCCESS)
		return mosq_error(c, rc);
	/* one subscribe at a time: the SUBACK that comes is the one for mid */
	return exchange(c, suback_came);
}

static int mq_receive(struct bench_conn *c, int timeout_ms, bench_msg_fn fn, void *ud)
{
	int n = bench_held_deliver(&c->held, fn, ud);
	int r;

	c->fn = fn;
	c->ud = ud;
	c->got = 0;
	r = read_some(c, n > 0 ? 0 : peer_now_ms() + timeout_ms);
	c->fn = NULL;
	return r < 0 ? r : n + c->got;
}

static pid_t mq_server_pid(struct bench_conn *c)
{
	return peer_sock_pid(mosquitto_socket(c->m));
}

static void mq_close(struct bench_conn *c)
{
	if (!c)
		return;
	/* a clean DISCONNECT, so the broker does not log the client as lost */
	if (!c->lost && mosquitto_disconnect(c->m) == MOSQ_ERR_SUCCESS)
		mq_flush(c);
	mosquitto_destroy(c->m);
	bench_held_clear(&c->held);
	free(c);
}

const struct bench_driver bench_driver_mosquitto = {
	.name = "mosquitto",
	.connect = mq_connect,
	.subscribe = mq_subscribe,
	.publish = mq_publish,
	.flush = mq_flush,
	.receive = mq_receive,
	.server_pid = mq_server_pid,
	.close = mq_close,
};
