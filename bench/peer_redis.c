/*
 * The redis driver of the benchmarks: hiredis, used as a lean pipelined
 * client over redis' unix socket.
 *
 * Publishing appends PUBLISH commands to hiredis' output buffer
 * (redisAppendCommand) and writes them in batches; redis answers each with
 * an integer (the number of receivers), which must be read or it piles up
 * in both the server's output buffer and our socket. They are read in
 * flush(), and whenever MAX_UNANSWERED are outstanding, down to half of
 * that, so the pipeline stays full and every buffer stays bounded.
 *
 * Receiving: a connection that issued SUBSCRIBE may only (un)subscribe
 * (RESP2), so a bench connection is up to two redis connections, one per
 * role, opened when the role is first needed: the one connect() opens goes
 * to the first role, so a client that only publishes or only subscribes
 * (every workload but the echo of W3) is one redis connection, as it is one
 * connection on the other buses. Pushed messages are read with poll() and
 * redisBufferRead(), and parsed by hiredis' reader (one reply object per
 * message, which is how hiredis clients receive).
 *
 * The sockets stay blocking: reads come after poll() says there is data,
 * and a write that blocks is the backpressure a publisher should feel.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "bench.h"
#include "bench_held.h"
#include "peer_sock.h"
#include "peers.h"

#define MAX_UNANSWERED 4096	     /* PUBLISH replies outstanding before we read them */
#define WRITE_BATCH    (64 * 1024) /* bytes appended before they are written */
#define REPLY_MS       30000	     /* a reply redis owes us must come within this */
#define BUFFERED_ONLY  (-1LL)	     /* next_reply(): do not read */

struct bench_conn {
	char path[108];
	redisContext *spare; /* opened by connect(), not given a role yet */
	redisContext *pub;   /* publishes */
	redisContext *sub;   /* in subscribe mode: only receives */
	size_t unanswered;   /* PUBLISH commands whose reply was not read */
	size_t unwritten;    /* about how many bytes were appended since the last write */
	struct bench_held held;
};

/* hiredis' error as an errno: its I/O errors keep errno, the rest are the protocol's. */
static int ctx_error(const redisContext *ctx)
{
	if (ctx->err == REDIS_ERR_IO)
		return errno ? -errno : -EIO;
	if (ctx->err == REDIS_ERR_EOF)
		return -ECONNRESET;
	return -EPROTO;
}

static redisContext *open_ctx(const char *path, char *err, size_t errlen)
{
	redisContext *ctx = redisConnectUnix(path);

	if (!ctx) {
		snprintf(err, errlen, "redis %s: out of memory", path);
		return NULL;
	}
	/* a write blocked this long (SO_SNDTIMEO) fails rather than hangs; reads follow poll() */
	if (ctx->err ||
	    redisSetTimeout(ctx, (struct timeval){ .tv_sec = REPLY_MS / 1000 }) != REDIS_OK) {
		snprintf(err, errlen, "redis %s: %s", path, ctx->errstr);
		redisFree(ctx);
		return NULL;
	}
	return ctx;
}

/* The connection for a role: the spare one if there is one, else a new one. */
static redisContext *take_ctx(struct bench_conn *c)
{
	redisContext *ctx = c->spare;
	char err[256];

	if (ctx) {
		c->spare = NULL;
		return ctx;
	}
	ctx = open_ctx(c->path, err, sizeof(err));
	if (!ctx)
		fprintf(stderr, "%s\n", err);
	return ctx;
}

static struct bench_conn *rd_connect(const char *target, char *err, size_t errlen)
{
	struct bench_conn *c;

	if (strlen(target) >= sizeof(c->path)) {
		snprintf(err, errlen, "redis: socket path too long: %s", target);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "redis: out of memory");
		return NULL;
	}
	strcpy(c->path, target);
	c->spare = open_ctx(target, err, errlen);
	if (!c->spare) {
		free(c);
		return NULL;
	}
	return c;
}

/* Writes everything appended to ctx, blocking. */
static int write_all(redisContext *ctx)
{
	int done = 0;

	while (!done)
		if (redisBufferWrite(ctx, &done) != REDIS_OK)
			return ctx_error(ctx);
	return 0;
}

/*
 * The next reply of ctx into *reply: one hiredis has already read is
 * returned at once; else, with deadline_ms BUFFERED_ONLY, 0; else it waits
 * until deadline_ms for more bytes. 1, 0 at the deadline, -errno.
 */
static int next_reply(redisContext *ctx, long long deadline_ms, redisReply **reply)
{
	for (;;) {
		void *r = NULL;
		int w;

		if (redisGetReplyFromReader(ctx, &r) != REDIS_OK)
			return ctx_error(ctx);
		if (r) {
			*reply = r;
			return 1;
		}
		if (deadline_ms == BUFFERED_ONLY)
			return 0;
		w = peer_sock_wait(ctx->fd, POLLIN, deadline_ms);
		if (w <= 0)
			return w;
		if (redisBufferRead(ctx) != REDIS_OK)
			return ctx_error(ctx);
	}
}

/* Reads PUBLISH replies until at most keep are outstanding. */
static int read_answers(struct bench_conn *c, size_t keep)
{
	long long deadline = peer_now_ms() + REPLY_MS;

	while (c->unanswered > keep) {
		redisReply *r;
		int n = next_reply(c->pub, deadline, &r);
		bool ok;

		if (n <= 0)
			return n < 0 ? n : -ETIMEDOUT;
		/* an error reply (a server limit, a bad command) is a failed publish */
		ok = r->type == REDIS_REPLY_INTEGER;
		if (!ok)
			fprintf(stderr, "redis: PUBLISH answered %s\n",
				r->type == REDIS_REPLY_ERROR ? r->str : "not an integer");
		freeReplyObject(r);
		if (!ok)
			return -EPROTO;
		c->unanswered--;
	}
	return 0;
}

static int rd_publish(struct bench_conn *c, const char *topic, const char *payload, size_t len)
{
	int r;

	if (!c->pub) {
		c->pub = take_ctx(c);
		if (!c->pub)
			return -ECONNREFUSED;
	}
	if (redisAppendCommand(c->pub, "PUBLISH %s %b", topic, payload, len) != REDIS_OK)
		return ctx_error(c->pub);
	c->unanswered++;
	c->unwritten += len + strlen(topic) + 32;
	if (c->unwritten >= WRITE_BATCH) {
		c->unwritten = 0;
		r = write_all(c->pub);
		if (r < 0)
			return r;
	}
	if (c->unanswered < MAX_UNANSWERED)
		return 0;
	r = write_all(c->pub);
	c->unwritten = 0;
	return r < 0 ? r : read_answers(c, MAX_UNANSWERED / 2);
}

static int rd_flush(struct bench_conn *c)
{
	int r;

	if (!c->pub)
		return 0;
	c->unwritten = 0;
	r = write_all(c->pub);
	return r < 0 ? r : read_answers(c, 0);
}

/* A pushed ["message", channel, payload]: 1 if r is one, and then its parts. */
static bool is_message(const redisReply *r)
{
	return r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
	       r->element[0]->type == REDIS_REPLY_STRING &&
	       strcmp(r->element[0]->str, "message") == 0 &&
	       r->element[1]->type == REDIS_REPLY_STRING &&
	       r->element[2]->type == REDIS_REPLY_STRING;
}

static int rd_subscribe(struct bench_conn *c, const char *topic)
{
	long long deadline = peer_now_ms() + REPLY_MS;
	int r;

	if (!c->sub) {
		c->sub = take_ctx(c);
		if (!c->sub)
			return -ECONNREFUSED;
	}
	if (redisAppendCommand(c->sub, "SUBSCRIBE %s", topic) != REDIS_OK)
		return ctx_error(c->sub);
	r = write_all(c->sub);
	/* ["subscribe", topic, count]; messages of earlier subscriptions may come first */
	while (r == 0) {
		redisReply *rep;
		int n = next_reply(c->sub, deadline, &rep);
		bool done = false;

		if (n <= 0)
			return n < 0 ? n : -ETIMEDOUT;
		if (is_message(rep))
			r = bench_held_push(&c->held, rep->element[1]->str, rep->element[1]->len,
					    rep->element[2]->str, rep->element[2]->len);
		else if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
			 rep->element[0]->type == REDIS_REPLY_STRING &&
			 strcmp(rep->element[0]->str, "subscribe") == 0)
			done = true;
		else
			r = -EPROTO;
		freeReplyObject(rep);
		if (done)
			break;
	}
	return r;
}

static int rd_receive(struct bench_conn *c, int timeout_ms, bench_msg_fn fn, void *ud)
{
	long long deadline = peer_now_ms() + timeout_ms;
	int n = bench_held_deliver(&c->held, fn, ud);

	if (!c->sub)
		return n;
	/*
	 * What hiredis has read, reading (one buffer of up to 16 KiB at a time)
	 * only while nothing was delivered: a caller that also publishes gets
	 * control back after each batch, and no call costs an extra poll().
	 */
	for (;;) {
		redisReply *rep;
		int r = next_reply(c->sub, n > 0 ? BUFFERED_ONLY : deadline, &rep);

		if (r < 0)
			return r;
		if (r == 0)
			return n;
		if (!is_message(rep)) {
			freeReplyObject(rep);
			return -EPROTO;
		}
		fn(ud, rep->element[1]->str, rep->element[1]->len, rep->element[2]->str,
		   rep->element[2]->len);
		freeReplyObject(rep);
		n++;
	}
}

static pid_t rd_server_pid(struct bench_conn *c)
{
	redisContext *ctx = c->spare ? c->spare : c->pub ? c->pub : c->sub;

	return ctx ? peer_sock_pid(ctx->fd) : -1;
}

static void rd_close(struct bench_conn *c)
{
	if (!c)
		return;
	if (c->spare)
		redisFree(c->spare);
	if (c->pub)
		redisFree(c->pub);
	if (c->sub)
		redisFree(c->sub);
	bench_held_clear(&c->held);
	free(c);
}

const struct bench_driver bench_driver_redis = {
	.name = "redis",
	.connect = rd_connect,
	.subscribe = rd_subscribe,
	.publish = rd_publish,
	.flush = rd_flush,
	.receive = rd_receive,
	.server_pid = rd_server_pid,
	.close = rd_close,
};
