/*
 * Subscribers that would rather lose messages than their connection: on_full "drop" and
 * "latest" (docs/protocol.md, "sub, unsub" and "Slow consumers"), against the real broker
 * with a 4 KiB queue limit.
 *
 * A subscriber falls behind by not reading while a publisher publishes one message at a
 * time and reads each ok. The ok's "delivered" tells whether the message was queued to the
 * subscriber, so every test knows exactly which messages the subscriber must receive, which
 * it must be told it lost, and which "latest" must have kept; the subscriber's lines are then
 * compared byte for byte. The broker writes each message as it comes until the socket
 * takes no more, and only then does its queue fill: a few hundred small messages first.
 * (On AF_UNIX what bounds the bytes in flight is the sender's, the broker's, SO_SNDBUF; the
 * subscriber's SO_RCVBUF does not, so the tests do not set it.) A subscriber that reads
 * again drains everything at once: the broker is woken only once most of the socket is
 * free, so a catch-up is one event. Where a test needs the room left in the queue, it asks
 * the "clients" op for queued_bytes.
 *
 * No test sleeps: the "clients" op shows "behind" and "frames_in", and a ping orders a
 * client's frames.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jt.h"
#include "util.h"

#define LIMIT 4096      /* --queue-limit 4K */
#define MAXP 4096       /* messages one test may publish */
#define MAX_FLOOD 3000  /* messages that must make a subscriber fall behind */
#define PAD_MAX 2000
#define SMALL 100       /* padding of small messages: hundreds fit the socket */
#define BIG 2000        /* of big ones: the queue holds about one, and as much room is left */
#define EPISODES 20     /* episodes of the test of the log's rate limit */

/* What the test published, in order: message i has id i and data {"n":i,"pad":"x..."}. */
struct pub {
	const char *topic; /* a string literal of the test */
	int pad;
	int64_t delivered; /* from its ok */
};

/* Fixture-owned: reset by setup, so CK_FORK=no runs start afresh. */
static struct pub pubs[MAXP];
static int npubs;
static char xs[PAD_MAX + 1];

static void setup(void)
{
	npubs = 0;
	memset(xs, 'x', PAD_MAX);
	jt_broker_start_args(&jt_b, JT_ARGV("--queue-limit", "4K"));
}

/* section: publishing */

/* Publish message npubs on topic as p and read its ok; returns its "delivered". */
static int64_t pub(struct jt_conn *p, const char *topic, int pad)
{
	ck_assert_int_lt(npubs, MAXP);
	pubs[npubs] = (struct pub){ topic, pad, jt_pub_n(p, topic, npubs, pad) };
	return pubs[npubs++].delivered;
}

/* The line of message i, as every subscriber receives it (buf of cap bytes). */
static const char *msg_line(int i, char *buf, size_t cap)
{
	jt_fmt(buf, cap,
	       "{\"op\":\"msg\",\"topic\":\"%s\",\"from\":\"p\","
	       "\"data\":{\"n\":%d,\"pad\":\"%.*s\"}}",
	       pubs[i].topic, i, pubs[i].pad, xs);
	return buf;
}

static void expect_pub(struct jt_conn *c, int i)
{
	char want[PAD_MAX + 256];

	jt_expect_line(c, msg_line(i, want, sizeof(want)));
}

/* line is exactly the dropped frame of pattern with count. */
static void expect_dropped_line(const char *line, const char *pattern, int64_t count)
{
	char want[256];

	jt_fmt(want, sizeof(want), "{\"op\":\"dropped\",\"topic\":\"%s\",\"count\":%lld}", pattern,
	       (long long)count);
	ck_assert_str_eq(line, want);
}

static void expect_dropped(struct jt_conn *c, const char *pattern, int64_t count)
{
	char *line = jt_next_line(c);

	expect_dropped_line(line, pattern, count);
	free(line);
}

/*
 * Publish on topics[0], topics[1], ... in turn until a message is not queued to all of
 * the want subscribers: the one that does not read fell behind (or was disconnected).
 * f (NULL: none) is a subscriber that reads each message as it comes, so it keeps up.
 * Returns the index of that first message.
 */
static int flood(struct jt_conn *p, struct jt_conn *f, const char *const *topics, int ntopics,
		 int pad, int want)
{
	for (int k = 0;; k++) {
		int i = npubs;
		int64_t d;

		ck_assert_msg(k < MAX_FLOOD, "no subscriber fell behind after %d messages", k);
		d = pub(p, topics[k % ntopics], pad);
		if (f)
			expect_pub(f, i);
		if (d < want)
			return i;
	}
}

/* n more messages on topics in turn, each queued to exactly delivered clients. */
static void publish_more(struct jt_conn *p, struct jt_conn *f, const char *const *topics,
			 int ntopics, int pad, int n, int delivered)
{
	for (int k = 0; k < n; k++) {
		int i = npubs;

		ck_assert_int_eq(pub(p, topics[k % ntopics], pad), delivered);
		if (f)
			expect_pub(f, i);
	}
}

/* Messages [from, to) that did not reach the subscriber (delivered below want). */
static int64_t lost(int from, int to, int want)
{
	int64_t n = 0;

	for (int i = from; i < to; i++)
		n += pubs[i].delivered < want;
	return n;
}

/* section: what the broker says about a client */

/* The entry of client name in the answer to a clients op sent on c (caller puts). */
static json_object *client_entry(struct jt_conn *c, const char *name)
{
	json_object *o, *list, *found = NULL;

	jt_send(c, "{\"op\":\"clients\",\"id\":\"cl\"}");
	o = jt_expect(c, "clients");
	ck_assert(json_object_object_get_ex(o, "clients", &list));
	for (size_t i = 0; i < json_object_array_length(list) && !found; i++) {
		json_object *e = json_object_array_get_idx(list, i);
		const char *n = jt_str(e, "name");

		if (n && !strcmp(n, name))
			found = json_object_get(e);
	}
	json_object_put(o);
	ck_assert_msg(found != NULL, "no client '%s' in the clients answer", name);
	return found;
}

static bool entry_bool(json_object *e, const char *key)
{
	json_object *v;

	ck_assert_msg(json_object_object_get_ex(e, key, &v) &&
			      json_object_is_type(v, json_type_boolean),
		      "no boolean '%s' in %s", key, json_object_to_json_string(e));
	return json_object_get_boolean(v);
}

/* Ask on c until client name's "behind" is want; returns its entry (caller puts). */
static json_object *wait_behind(struct jt_conn *c, const char *name, bool want)
{
	int64_t deadline = jt_now_ms() + JT_TIMEOUT_MS;

	for (;;) {
		json_object *e = client_entry(c, name);

		if (entry_bool(e, "behind") == want)
			return e;
		json_object_put(e);
		ck_assert_msg(jt_now_ms() < deadline, "'%s' not behind=%d within %d ms", name, want,
			      JT_TIMEOUT_MS);
	}
}

/* Ask on c until the broker has read n frames from client name. */
static void wait_frames_in(struct jt_conn *c, const char *name, int64_t n)
{
	int64_t deadline = jt_now_ms() + JT_TIMEOUT_MS;

	for (;;) {
		json_object *e = client_entry(c, name);
		int64_t got = jt_int(e, "frames_in");

		json_object_put(e);
		if (got == n)
			return;
		ck_assert_msg(got < n && jt_now_ms() < deadline, "'%s': %lld frames in, want %lld",
			      name, (long long)got, (long long)n);
	}
}

/* The client lost dropped messages (clients op), so did all (stats); it is not behind, and
 * nobody was disconnected as a slow consumer. */
static void expect_counted(struct jt_conn *c, const char *name, int64_t dropped)
{
	json_object *e = client_entry(c, name);

	ck_assert_int_eq(jt_int(e, "dropped"), dropped);
	ck_assert(!entry_bool(e, "behind"));
	json_object_put(e);
	ck_assert_int_eq(jt_stat(c, "dropped"), dropped);
	ck_assert_int_eq(jt_stat(c, "slow_consumer_disconnects"), 0);
}

/*
 * The broker logs each episode once when it ends (at most one a second per client), with
 * the client's name, pid, uid and count, then end (e.g. " end=caught_up"). The log is in a
 * file only without JT_VERBOSE; the line is written before the dropped frame is queued, so
 * once that frame was read the line is there.
 */
static void expect_episode_logged(const char *name, int64_t dropped, const char *end)
{
	char who[128], count[64];

	jt_fmt(who, sizeof(who), "behind client=%s pid=%d uid=%u ", name, (int)getpid(),
	       (unsigned)getuid());
	jt_fmt(count, sizeof(count), " dropped=%lld ", (long long)dropped);
	ck_assert_msg(jt_log_has(JT_ARGV(who, count, end)),
		      "no log line '%s...%s...%s' in %s/jbusd.log", who, count, end, jt_b.dir);
}

/*
 * s was disconnected as a slow consumer: it reads messages from, from + 1, ... (a prefix
 * of [from, end), all of which were queued to it), maybe the slow_consumer error (best
 * effort), then EOF; never a dropped frame.
 */
static void expect_slow_end(struct jt_conn *s, int from, int end)
{
	char want[PAD_MAX + 256], *line;
	bool error = false;
	int next = from;

	while ((line = jt_line(s, JT_TIMEOUT_MS)) != NULL) {
		ck_assert_msg(!error, "frame after the slow_consumer error: %s", line);
		if (!strncmp(line, "{\"op\":\"error\"", 13)) {
			ck_assert_msg(strstr(line, "\"code\":\"slow_consumer\""), "%s", line);
			error = true;
		} else {
			ck_assert_msg(next < end, "more messages than were queued: %s", line);
			ck_assert_str_eq(line, msg_line(next, want, sizeof(want)));
			next++;
		}
		free(line);
	}
	jt_expect_eof_next(s);
}

/* A subscriber named name on pattern with on_full (NULL: the member left out). */
static struct jt_conn *subscriber(const char *name, const char *pattern, const char *on_full)
{
	struct jt_conn *s = jt_client(name);

	if (on_full)
		jt_send(s, "{\"op\":\"sub\",\"topic\":\"%s\",\"on_full\":\"%s\",\"id\":\"s\"}",
			pattern, on_full);
	else
		jt_send(s, "{\"op\":\"sub\",\"topic\":\"%s\",\"id\":\"s\"}", pattern);
	jt_expect_ok(s, "\"s\"", -1);
	return s;
}

/* section: drop */

/*
 * drop: the subscriber receives what was queued, in order, then one dropped frame with
 * the exact count, then the messages published after it caught up; it stays connected.
 * A normal subscriber of the same topic that reads gets every message meanwhile.
 */
START_TEST(test_lag_drop)
{
	static const char *const t[] = { "sensors/a" };
	struct jt_conn *s = subscriber("s", "sensors/#", "drop");
	struct jt_conn *f = jt_sub(jt_client("f"), "sensors/a");
	struct jt_conn *p = jt_client("p");
	int first, end;
	int64_t count;

	first = flood(p, f, t, 1, SMALL, 2);
	ck_assert_int_eq(pubs[first].delivered, 1);
	json_object_put(wait_behind(p, "s", true));
	/* behind: nothing more is queued for it until it catches up */
	publish_more(p, f, t, 1, SMALL, 50, 1);
	end = npubs;
	count = lost(0, end, 2);
	ck_assert_int_eq(count, end - first);

	for (int i = 0; i < first; i++)
		expect_pub(s, i);
	expect_dropped(s, "sensors/#", count);
	jt_sync(s);
	expect_episode_logged("s", count, " end=caught_up");
	/* caught up: queued again, and nothing else was owed */
	publish_more(p, f, t, 1, SMALL, 3, 2);
	for (int i = end; i < npubs; i++)
		expect_pub(s, i);
	jt_sync(s);
	expect_counted(p, "s", count);
	jt_sync(f);
}
END_TEST

/*
 * The dropped frame comes before the next message of its subscription, whenever that was
 * published: the publisher goes on publishing while the subscriber catches up, one message
 * per line read, so messages are published before, during and after each catch-up (and
 * the subscriber, reading what it has buffered, may fall behind again). Every message
 * lost before one that arrives was told first, and the counts add up to the losses.
 */
START_TEST(test_lag_drop_notice_first)
{
	static const char *const t[] = { "o" };
	char want[PAD_MAX + 256];
	struct jt_conn *s = subscriber("s", "o", "drop");
	struct jt_conn *p = jt_client("p");
	int next = 0, received = 0, after = 0;
	int64_t told = 0;

	flood(p, NULL, t, 1, SMALL, 1);
	/* until 20 messages came after a notice; then the rest, until each is accounted for */
	while (told + received < npubs) {
		char *line = jt_next_line(s);

		if (!strncmp(line, "{\"op\":\"dropped\",", 16)) {
			const char *n = strstr(line, "\"count\":");
			int64_t count = n ? strtoll(n + 8, NULL, 10) : -1;

			expect_dropped_line(line, "o", count);
			told += count;
			ck_assert_int_le(told, lost(0, npubs, 1));
		} else {
			while (next < npubs && !pubs[next].delivered)
				next++;
			ck_assert_msg(next < npubs, "a message nobody published: %s", line);
			ck_assert_str_eq(line, msg_line(next, want, sizeof(want)));
			ck_assert_msg(told == lost(0, next, 1),
				      "message %d: %lld of %lld losses told", next,
				      (long long)told, (long long)lost(0, next, 1));
			after += told > 0;
			received++;
			next++;
		}
		free(line);
		if (after < 20)
			pub(p, "o", SMALL);
	}
	ck_assert_int_eq(told, lost(0, npubs, 1));
	jt_sync(s);
	expect_counted(p, "s", told);
}
END_TEST

/* section: latest */

/*
 * latest with three state topics published in turn: after catching up, the dropped frame
 * counts the superseded messages, then comes the newest message of each topic, each
 * once, in the order the topics were first kept.
 */
START_TEST(test_lag_latest)
{
	static const char *const t[] = { "st/a", "st/b", "st/c" };
	struct jt_conn *s = subscriber("s", "st/#", "latest");
	struct jt_conn *p = jt_client("p");
	int first, end, last[3] = { -1, -1, -1 };
	int64_t count;

	first = flood(p, NULL, t, 3, SMALL, 1);
	json_object_put(wait_behind(p, "s", true));
	for (int k = 0; k < 10; k++)
		pub(p, t[(first + 1 + k) % 3], SMALL);
	end = npubs;
	for (int i = first; i < end; i++) {
		ck_assert_int_eq(pubs[i].delivered, 0);
		last[(i - first) % 3] = i; /* the topics were first kept in this order */
	}
	count = (end - first) - 3;

	for (int i = 0; i < first; i++)
		expect_pub(s, i);
	expect_dropped(s, "st/#", count);
	for (int k = 0; k < 3; k++)
		expect_pub(s, last[k]);
	jt_sync(s);
	/* caught up: each new value arrives as it is published */
	for (int k = 0; k < 3; k++) {
		ck_assert_int_eq(pub(p, t[k], SMALL), 1);
		expect_pub(s, npubs - 1);
	}
	jt_sync(s);
	expect_counted(p, "s", count);
	expect_episode_logged("s", count, " end=caught_up");
}
END_TEST

/* latest that only kept messages (one per topic, none replaced): no dropped frame. */
START_TEST(test_lag_latest_no_loss)
{
	static const char *const t[] = { "q/0", "q/1", "q/2", "q/3", "q/4", "q/5", "q/6", "q/7" };
	struct jt_conn *s = subscriber("s", "q/+", "latest");
	struct jt_conn *p = jt_client("p");
	int first = flood(p, NULL, t, ARRAY_SIZE(t), SMALL, 1);

	/* the other seven topics, each new to the episode: all kept (8 x 160 bytes < 2 KiB) */
	for (int k = 1; k < (int)ARRAY_SIZE(t); k++)
		ck_assert_int_eq(pub(p, t[(first + k) % ARRAY_SIZE(t)], SMALL), 0);
	/* what was queued, then what was kept, in the order it was kept */
	for (int i = 0; i < npubs; i++)
		expect_pub(s, i);
	jt_sync(s);
	expect_counted(p, "s", 0);
}
END_TEST

/*
 * Kept messages count against half the queue limit per client: a message of a new topic
 * that would go over it is lost instead, while a kept one may still be replaced. The test
 * keeps its own account of the bytes, from the exact lines.
 */
START_TEST(test_lag_latest_bound)
{
	static const char *const t[] = { "b/0", "b/1", "b/2", "b/3", "b/4", "b/5" };
	char line[PAD_MAX + 256];
	struct jt_conn *s = subscriber("s", "b/#", "latest");
	struct jt_conn *p = jt_client("p");
	int first, kept[ARRAY_SIZE(t)], order[ARRAY_SIZE(t)], nkept = 0;
	size_t held = 0;
	int64_t count = 0;

	first = flood(p, NULL, t, 1, 600, 1);
	/* round after round over six topics of ~650-byte frames: three fit in 2 KiB */
	for (int k = 0; k < 3 * (int)ARRAY_SIZE(t); k++)
		ck_assert_int_eq(pub(p, t[k % ARRAY_SIZE(t)], 600), 0);
	for (size_t k = 0; k < ARRAY_SIZE(t); k++)
		kept[k] = -1;
	for (int i = first; i < npubs; i++) {
		size_t k = (size_t)(pubs[i].topic[2] - '0');
		size_t len = strlen(msg_line(i, line, sizeof(line))) + 1;

		if (kept[k] >= 0) {
			held = held - (strlen(msg_line(kept[k], line, sizeof(line))) + 1) + len;
			kept[k] = i;
			count++;
		} else if (held + len > LIMIT / 2) {
			count++;
		} else {
			held += len;
			kept[k] = i;
			order[nkept++] = (int)k;
		}
	}
	ck_assert_int_eq(nkept, 3);

	for (int i = 0; i < first; i++)
		expect_pub(s, i);
	expect_dropped(s, "b/#", count);
	for (int k = 0; k < nkept; k++)
		expect_pub(s, kept[order[k]]);
	jt_sync(s);
	expect_counted(p, "s", count);
}
END_TEST

/* section: disconnect */

/* Without on_full, and with "disconnect", a full queue still means slow_consumer. */
START_TEST(test_lag_disconnect)
{
	static const char *const t[] = { "d" };
	struct jt_conn *s = subscriber("s", "d", _i ? "disconnect" : NULL);
	struct jt_conn *p = jt_client("p");
	int first = flood(p, NULL, t, 1, SMALL, 1);

	expect_slow_end(s, 0, first);
	ck_assert_int_eq(jt_stat(p, "slow_consumer_disconnects"), 1);
	ck_assert_int_eq(jt_stat(p, "dropped"), 0);
	/* gone: the next message reaches nobody */
	ck_assert_int_eq(pub(p, "d", SMALL), 0);
}
END_TEST

/* section: several matching subscriptions */

/*
 * A message matching a drop and a disconnect subscription of one client follows the
 * disconnect rule, even while the client is behind: it is queued if it fits, else the
 * client is a slow consumer, and what its drop subscription lost is never told.
 */
START_TEST(test_lag_mixed_disconnect)
{
	static const char *const y[] = { "m/y" };
	struct jt_conn *s = subscriber("s", "m/#", "drop");
	struct jt_conn *p = jt_client("p");
	int first;
	int64_t count;

	jt_sub(s, "m/x");
	first = flood(p, NULL, y, 1, SMALL, 1);
	json_object_put(wait_behind(p, "s", true));
	publish_more(p, NULL, y, 1, SMALL, 5, 0);
	count = lost(0, npubs, 1);
	/* m/x matches both: the big message does not fit, and disconnect rules */
	ck_assert_int_eq(pub(p, "m/x", BIG), 0);
	expect_slow_end(s, 0, first);
	ck_assert_int_eq(jt_stat(p, "slow_consumer_disconnects"), 1);
	ck_assert_int_eq(jt_stat(p, "dropped"), count);
}
END_TEST

/*
 * A message matching latest and drop subscriptions follows latest, booked on the oldest
 * matching latest subscription; one matching only the drop subscription is dropped.
 * Each subscription gets its own dropped frame followed by what it kept; the younger
 * latest subscription gets nothing. The order is that of the subscriptions' first
 * overflow: k/+ kept a message before k/# lost one, so k/+ comes first, though k/#
 * lost a message before k/+ did.
 */
START_TEST(test_lag_mixed_latest)
{
	static const char *const a[] = { "k/a" }, *const t[] = { "k/b/c", "k/a" };
	struct jt_conn *s = subscriber("s", "k/#", "drop");
	struct jt_conn *p = jt_client("p");
	int first;

	jt_send(s, "{\"op\":\"sub\",\"topic\":\"k/+\",\"on_full\":\"latest\",\"id\":1}");
	jt_expect_ok(s, "1", -1);
	jt_send(s, "{\"op\":\"sub\",\"topic\":\"k/a\",\"on_full\":\"latest\",\"id\":2}");
	jt_expect_ok(s, "2", -1);
	first = flood(p, NULL, a, 1, SMALL, 1);
	/* k/b/c, k/a, ...: five lost to k/#, four k/a replacing the one k/+ keeps */
	publish_more(p, NULL, t, 2, SMALL, 9, 0);

	for (int i = 0; i < first; i++)
		expect_pub(s, i);
	expect_dropped(s, "k/+", 4);
	expect_pub(s, npubs - 2);
	expect_dropped(s, "k/#", 5);
	jt_sync(s);
	expect_counted(p, "s", 9);
}
END_TEST

/* section: other frames while behind */

/*
 * A direct message to a client that is behind is queued if it fits (exactly up to the
 * limit), before the dropped frame; one that does not fit makes it a slow consumer, as
 * any frame would. The second case in a second episode, after the first caught up.
 */
START_TEST(test_lag_direct_while_behind)
{
	static const char *const t[] = { "big" };
	static const char base[] = "{\"op\":\"msg\",\"from\":\"p\",\"to\":\"s\",\"data\":\"\"}\n";
	struct jt_conn *s = subscriber("s", "big", "drop");
	struct jt_conn *p = jt_client("p");
	char want[LIMIT + 64];
	json_object *e;
	int first, start2, first2;
	int64_t queued, gap, count;

	first = flood(p, NULL, t, 1, BIG, 1);
	e = wait_behind(p, "s", true);
	queued = jt_int(e, "queued_bytes");
	json_object_put(e);
	gap = LIMIT - queued;
	ck_assert_msg(gap >= 256, "test bug: %lld bytes queued", (long long)queued);
	/* behind: a small message of its drop subscription is not queued, though it fits */
	ck_assert_int_eq(pub(p, "big", SMALL), 0);
	/* a frame of exactly the room left fits */
	jt_send(p, "{\"op\":\"send\",\"to\":\"s\",\"data\":\"%.*s\",\"id\":\"d\"}",
		(int)(gap - (int64_t)strlen(base)), xs);
	jt_expect_ok(p, "\"d\"", -1);
	e = client_entry(p, "s");
	ck_assert_int_eq(jt_int(e, "queued_bytes"), LIMIT);
	ck_assert(entry_bool(e, "behind"));
	json_object_put(e);
	count = lost(0, npubs, 1);

	for (int i = 0; i < first; i++)
		expect_pub(s, i);
	jt_fmt(want, sizeof(want), "{\"op\":\"msg\",\"from\":\"p\",\"to\":\"s\",\"data\":\"%.*s\"}",
	       (int)(gap - (int64_t)strlen(base)), xs);
	jt_expect_line(s, want);
	expect_dropped(s, "big", count);
	jt_sync(s);
	json_object_put(wait_behind(p, "s", false));

	/* a second episode; now one byte more than the room left */
	start2 = npubs;
	first2 = flood(p, NULL, t, 1, BIG, 1);
	e = wait_behind(p, "s", true);
	gap = LIMIT - jt_int(e, "queued_bytes");
	json_object_put(e);
	jt_send(p, "{\"op\":\"send\",\"to\":\"s\",\"data\":\"%.*s\",\"id\":\"d\"}",
		(int)(gap + 1 - (int64_t)strlen(base)), xs);
	jt_expect_ok(p, "\"d\"", -1);
	/* what the first episode owed was read; the second ends with the connection, and so
	 * does its log line, which is never held back */
	ck_assert_int_eq(jt_stat(p, "slow_consumer_disconnects"), 1);
	ck_assert_int_eq(jt_stat(p, "dropped"), count + 1);
	jt_fmt(want, sizeof(want), " end=disconnected dropped_total=%lld", (long long)count + 1);
	expect_episode_logged("s", 1, want);
	/* the start of the second flood, maybe the error, then EOF */
	expect_slow_end(s, start2, first2);
}
END_TEST

/* section: unsub and repeated sub */

/*
 * unsub while behind: what that subscription lost is forgotten (no dropped frame), while
 * the client's and the broker's counters keep it; the other subscription is told.
 */
START_TEST(test_lag_unsub_while_behind)
{
	static const char *const t[] = { "u/x", "v/x" };
	struct jt_conn *s = subscriber("s", "u/#", "drop");
	struct jt_conn *p = jt_client("p");
	json_object *e, *subs;
	int first;
	int64_t count_v = 0;

	jt_send(s, "{\"op\":\"sub\",\"topic\":\"v/#\",\"on_full\":\"drop\",\"id\":1}");
	jt_expect_ok(s, "1", -1);
	first = flood(p, NULL, t, 2, SMALL, 1);
	for (int k = 0; k < 7; k++)
		ck_assert_int_eq(pub(p, t[(first + 1 + k) % 2], SMALL), 0);
	for (int i = first; i < npubs; i++)
		count_v += pubs[i].topic == t[1];
	/* no id: an ok might not fit the full queue */
	jt_send(s, "{\"op\":\"unsub\",\"topic\":\"u/#\"}");
	wait_frames_in(p, "s", 4);
	e = client_entry(p, "s");
	ck_assert(json_object_object_get_ex(e, "subs", &subs));
	ck_assert_str_eq(json_object_to_json_string_ext(subs, JSON_C_TO_STRING_NOSLASHESCAPE),
			 "[\"v/#\"]");
	json_object_put(e);

	for (int i = 0; i < first; i++)
		expect_pub(s, i);
	expect_dropped(s, "v/#", count_v);
	jt_sync(s);
	expect_counted(p, "s", lost(0, npubs, 1));
}
END_TEST

/*
 * A repeated sub sets on_full anew: drop, then the same pattern without on_full, is the
 * disconnect rule again; the reverse makes a default subscription lossy. A sub refused
 * for its on_full changes nothing.
 */
START_TEST(test_lag_resub)
{
	static const char *const r[] = { "r" }, *const r2[] = { "r2" };
	struct jt_conn *s = subscriber("s", "r", "drop");
	struct jt_conn *s2 = subscriber("s2", "r2", NULL);
	struct jt_conn *p = jt_client("p");
	int first, start;

	jt_send(s, "{\"op\":\"sub\",\"topic\":\"r\",\"id\":1}");
	jt_expect_ok(s, "1", -1);
	jt_send(s, "{\"op\":\"sub\",\"topic\":\"r\",\"on_full\":\"latest!\",\"id\":2}");
	jt_expect_error_id(s, "bad_frame", "2", "on_full");
	first = flood(p, NULL, r, 1, SMALL, 1);
	expect_slow_end(s, 0, first);

	start = npubs;
	jt_send(s2, "{\"op\":\"sub\",\"topic\":\"r2\",\"on_full\":\"drop\",\"id\":1}");
	jt_expect_ok(s2, "1", -1);
	jt_send(s2, "{\"op\":\"sub\",\"topic\":\"r2\",\"on_full\":7,\"id\":2}");
	jt_expect_error_id(s2, "bad_frame", "2", "on_full");
	first = flood(p, NULL, r2, 1, SMALL, 1);
	publish_more(p, NULL, r2, 1, SMALL, 4, 0);
	for (int i = start; i < first; i++)
		expect_pub(s2, i);
	expect_dropped(s2, "r2", lost(start, npubs, 1));
	jt_sync(s2);
	ck_assert_int_eq(jt_stat(p, "slow_consumer_disconnects"), 1);
	ck_assert_int_eq(jt_stat(p, "dropped"), lost(start, npubs, 1));
}
END_TEST

/*
 * A latest subscription made a disconnect one (a repeated sub without on_full) while it
 * holds a kept message and a loss: its next message must still come after its dropped
 * frame and the kept (older) value, or the subscriber ends with a stale value and sees a
 * message of the subscription before learning what it missed.
 *
 * The repeated sub queues the subscription's notice and kept message at once (regardless of
 * the limit), so the message after it, queued under the disconnect rule, comes last.
 */
START_TEST(test_lag_resub_while_behind)
{
	static const char *const t[] = { "w" };
	struct jt_conn *s = subscriber("s", "w", "latest");
	struct jt_conn *p = jt_client("p");
	int first = flood(p, NULL, t, 1, BIG, 1), newer;

	/* first is lost (too big to keep: over half the limit); the next is kept, and replaced
	 * by the one after it, a second loss */
	ck_assert_int_eq(pub(p, "w", SMALL), 0);
	ck_assert_int_eq(pub(p, "w", SMALL), 0);
	jt_send(s, "{\"op\":\"sub\",\"topic\":\"w\"}");
	wait_frames_in(p, "s", 3);
	/* disconnect rule now: a small message fits the room left and is queued */
	ck_assert_int_eq(pub(p, "w", SMALL), 1);
	newer = npubs - 1;

	for (int i = 0; i < first; i++)
		expect_pub(s, i);
	expect_dropped(s, "w", 2);
	expect_pub(s, first + 2);
	expect_pub(s, newer);
	jt_sync(s);
}
END_TEST

/* section: the log */

/*
 * What the "behind" lines of one client say (a jt_log_lines callback, which must not fail
 * the test: the file is open).
 */
struct behind_log {
	int lines;        /* all of them */
	int episodes;     /* those of an episode (with dropped=) */
	int last;         /* those of the end of the session (end=disconnected) */
	int wrong;        /* lines after the last one, or with unlogged=0 */
	int64_t dropped;  /* dropped= of the episodes logged, summed */
	int64_t unlogged; /* unlogged=, summed */
	int64_t total;    /* dropped_total= of the last line; -1: none */
};

/* The number after key in line, or -1 without key. */
static int64_t log_field(const char *line, const char *key)
{
	const char *p = strstr(line, key);

	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

static void count_behind(const char *line, void *userdata)
{
	struct behind_log *bl = userdata;
	int64_t v;

	bl->wrong += bl->last > 0;
	bl->lines++;
	if ((v = log_field(line, " dropped=")) >= 0) {
		bl->episodes++;
		bl->dropped += v;
	}
	if ((v = log_field(line, " unlogged=")) >= 0) {
		bl->wrong += v == 0;
		bl->unlogged += v;
	}
	if (strstr(line, " end=disconnected")) {
		bl->last++;
		bl->total = log_field(line, " dropped_total=");
	}
}

/*
 * A subscriber that falls behind and catches up EPISODES times in quick succession: at
 * most one "behind" line a second while it does (however slow the machine, as measured
 * here), the later ones saying how many episodes were not logged. When its session ends, by
 * bye (_i = 0) or with the broker stopping (_i = 1), a last line reports the rest and the
 * client's losses in all, so the log accounts for every episode and every lost message.
 */
START_TEST(test_lag_log_rate)
{
	static const char *const t[] = { "e" };
	struct jt_conn *s = subscriber("s", "e", "drop");
	struct jt_conn *p = jt_client("p");
	struct behind_log bl = { .total = -1 };
	int64_t start, elapsed;
	char who[128];

	start = jt_now_ms();
	for (int k = 0; k < EPISODES; k++) {
		int from = npubs, first = flood(p, NULL, t, 1, BIG, 1);

		/* not delivered: behind, with that one message lost; reading catches it up */
		for (int i = from; i < first; i++)
			expect_pub(s, i);
		expect_dropped(s, "e", 1);
	}
	elapsed = jt_now_ms() - start;
	ck_assert_int_eq(lost(0, npubs, 1), EPISODES);
	if (_i == 0) {
		/* the last line is written before the connection is closed */
		jt_send(s, "{\"op\":\"bye\"}");
		jt_expect_eof_next(s);
	}
	/* once the broker has exited, its log is complete */
	ck_assert_int_eq(kill(jt_b.pid, SIGTERM), 0);
	jt_broker_expect_exit(&jt_b);

	jt_fmt(who, sizeof(who), "behind client=s pid=%d uid=%u ", (int)getpid(),
	       (unsigned)getuid());
	if (jt_log_lines(JT_ARGV(who), count_behind, &bl) < 0)
		return; /* JT_VERBOSE: the log went to the terminal */
	/* the broker's loop time is the same monotonic clock, and each line's falls inside
	 * [start, start + elapsed]: the first follows a message published after start */
	ck_assert_msg(bl.lines - bl.last <= 1 + elapsed / 1000,
		      "%d lines for %d episodes in %lld ms", bl.lines - bl.last, EPISODES,
		      (long long)elapsed);
	ck_assert_int_le(bl.last, 1);
	ck_assert_msg(!bl.wrong, "a line after the last, or with unlogged=0");
	/* the first episode is always logged, and each of the others is told somewhere */
	ck_assert_int_ge(bl.episodes, 1);
	ck_assert_int_eq(bl.episodes + bl.unlogged, EPISODES);
	ck_assert_int_eq(bl.dropped, bl.episodes);
	ck_assert_int_eq(bl.last ? bl.total : bl.dropped, EPISODES);
}
END_TEST

/* section: bad on_full */

/* on_full values the broker refuses (raw JSON). */
static const char *const bad_on_full[] = {
	"\"DROP\"", "\"\"", "\"drop \"", "\"latest\\u0000\"", "1",
	"null",     "true", "[\"drop\"]", "{}",
};

/*
 * A bad on_full: bad_frame with the exact message, the id echoed, no subscription made;
 * the connection stays. Escapes in a good value are fine, and unsub ignores on_full.
 */
START_TEST(test_lag_bad_on_full)
{
	struct jt_conn *s = jt_client("s");
	struct jt_conn *p = jt_client("p");

	jt_send(s, "{\"op\":\"sub\",\"topic\":\"a\",\"on_full\":%s,\"id\":7}", bad_on_full[_i]);
	jt_expect_line(s, "{\"op\":\"error\",\"id\":7,\"code\":\"bad_frame\",\"message\":"
			  "\"field 'on_full' must be \\\"disconnect\\\", \\\"drop\\\" or "
			  "\\\"latest\\\"\"}");
	jt_send(p, "{\"op\":\"pub\",\"topic\":\"a\",\"id\":1}");
	jt_expect_ok(p, "1", 0);
	/* the topic is checked first, and a good value may be spelled with escapes */
	jt_send(s, "{\"op\":\"sub\",\"topic\":\"a+\",\"on_full\":%s,\"id\":8}", bad_on_full[_i]);
	jt_expect_error_id(s, "bad_topic", "8", NULL);
	jt_send(s, "{\"op\":\"sub\",\"topic\":\"a\",\"on_full\":\"dr\\u006fp\",\"id\":9}");
	jt_expect_ok(s, "9", -1);
	jt_send(s, "{\"op\":\"unsub\",\"topic\":\"a\",\"on_full\":%s,\"id\":10}", bad_on_full[_i]);
	jt_expect_ok(s, "10", -1);
	jt_send(p, "{\"op\":\"pub\",\"topic\":\"a\",\"id\":2}");
	jt_expect_ok(p, "2", 0);
	jt_sync(s);
}
END_TEST

Suite *jt_suite(void)
{
	const struct jt_case cases[] = {
		{ "lag_drop", test_lag_drop },
		{ "lag_drop_notice_first", test_lag_drop_notice_first },
		{ "lag_latest", test_lag_latest },
		{ "lag_latest_no_loss", test_lag_latest_no_loss },
		{ "lag_latest_bound", test_lag_latest_bound },
		{ "lag_disconnect", test_lag_disconnect, 2 },
		{ "lag_mixed_disconnect", test_lag_mixed_disconnect },
		{ "lag_mixed_latest", test_lag_mixed_latest },
		{ "lag_direct_while_behind", test_lag_direct_while_behind },
		{ "lag_unsub_while_behind", test_lag_unsub_while_behind },
		{ "lag_resub", test_lag_resub },
		{ "lag_resub_while_behind", test_lag_resub_while_behind },
		{ "lag_log_rate", test_lag_log_rate, 2 },
		{ "lag_bad_on_full", test_lag_bad_on_full, ARRAY_SIZE(bad_on_full) },
	};
	Suite *s = suite_create("lag");

	jt_add_cases(s, cases, ARRAY_SIZE(cases), setup, jt_teardown, 60);
	return s;
}
