/*
 * Load: 5,000 concurrent clients
 * ($JT_LOAD_CLIENTS to change it), each subscribed, and a few publishers;
 * every message is accounted for, by each subscriber and by the broker's
 * counters.
 *
 * The subscribers are plain non-blocking sockets read through one epoll
 * set, not jt_conns (whose buffers are sized for big frames); the test
 * process raises its own RLIMIT_NOFILE, which the broker inherits.
 * JT_LOAD_VERBOSE=1 prints how long the phases took.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "jt.h"
#include "util.h"

#define NPUB 4        /* publishers */
#define NMSG 100      /* messages per publisher */
#define NTOPIC 8      /* load/0 .. load/7 */
#define ALL_EVERY 50  /* every 50th subscriber also holds load/# */
#define CHUNK 10      /* pubs a publisher sends in one write */
#define DEADLINE_MS 90000

enum sub_state { S_WELCOME, S_OKS, S_MSGS, S_DONE };

/* One subscriber. */
struct sub {
	int fd;
	int topic;      /* it holds load/<topic> */
	bool all;       /* and load/# as well */
	enum sub_state state;
	int oks;        /* sub answers still to come */
	int want, got;  /* messages it must receive, and did */
	int next[NPUB]; /* the k it must receive next from each publisher; NMSG: none left */
	size_t plen;
	char part[192]; /* a line not complete yet */
};

/* The test's state, fixture-owned so that teardown closes the sockets after a failure too. */
static struct load {
	struct sub *subs;
	int n;
	int ep;
	int ready, complete, done; /* subscribers past their oks, with every message, ponged */
	struct jt_conn *pub[NPUB];
	char *scratch;
} L = { .ep = -1 };

static void teardown(void)
{
	for (int i = 0; i < L.n; i++)
		if (L.subs[i].fd >= 0)
			close(L.subs[i].fd);
	free(L.subs);
	free(L.scratch);
	if (L.ep >= 0)
		close(L.ep);
	L = (struct load){ .ep = -1 };
	jt_teardown();
}

static int nclients(void)
{
	const char *e = getenv("JT_LOAD_CLIENTS");
	char *end;
	long n;

	if (!e || !*e)
		return 5000;
	n = strtol(e, &end, 10);
	ck_assert_msg(!*end && n >= 1 && n <= 100000, "JT_LOAD_CLIENTS=%s", e);
	return (int)n;
}

/* The topic of publisher p's message k: each publisher goes round all topics. */
static int topic_of(int p, int k)
{
	return (k + p) % NTOPIC;
}

/* Whether s must receive publisher p's message k. */
static bool wants(const struct sub *s, int p, int k)
{
	return s->all || topic_of(p, k) == s->topic;
}

/* The first k >= from that s wants from p, or NMSG. */
static int next_wanted(const struct sub *s, int p, int from)
{
	while (from < NMSG && !wants(s, p, from))
		from++;
	return from;
}

static void handle_msg(struct sub *s, int i, const char *line)
{
	int t, p, q, k, end = -1;
	char want[160];

	/* the exact frame, rebuilt from its numbers: no other bytes may differ (jt_require, not
	 * ck_assert: this runs for every delivery) */
	jt_require(sscanf(line,
			     "{\"op\":\"msg\",\"topic\":\"load/%d\",\"from\":\"pub%d\",\"data\":{\"p\":"
			     "%d,\"k\":%d}}%n",
			     &t, &p, &q, &k, &end) == 4 &&
			      end > 0 && p >= 0 && p < NPUB && k >= 0 && k < NMSG,
		      "c%d: unexpected frame %s", i, line);
	snprintf(want, sizeof(want),
		 "{\"op\":\"msg\",\"topic\":\"load/%d\",\"from\":\"pub%d\",\"data\":{\"p\":%d,\"k\":%d}}",
		 topic_of(p, k), p, p, k);
	jt_require(strcmp(line, want) == 0, "c%d: got %s, sent %s", i, line, want);
	/* in order, none missing, none twice, none it did not subscribe to */
	jt_require(k == s->next[p], "c%d (load/%d%s): from pub%d got k=%d, expected k=%d", i,
		      s->topic, s->all ? " and load/#" : "", p, k, s->next[p]);
	s->next[p] = next_wanted(s, p, k + 1);
	if (++s->got == s->want)
		L.complete++;
}

static void handle_line(struct sub *s, int i, const char *line)
{
	char want[96];

	switch (s->state) {
	case S_WELCOME:
		snprintf(want, sizeof(want), "\"name\":\"c%d\"", i);
		jt_require(strncmp(line, "{\"op\":\"welcome\"", 15) == 0 && strstr(line, want),
			      "c%d: expected its welcome, got %s", i, line);
		s->state = S_OKS;
		break;
	case S_OKS:
		snprintf(want, sizeof(want), "{\"op\":\"ok\",\"id\":%d}", s->all && s->oks == 1 ? 2 : 1);
		jt_require(strcmp(line, want) == 0, "c%d: expected %s, got %s", i, want, line);
		if (--s->oks == 0) {
			s->state = S_MSGS;
			L.ready++;
		}
		break;
	case S_MSGS:
		if (strcmp(line, "{\"op\":\"pong\",\"id\":\"end\"}") == 0) {
			jt_require(s->got == s->want, "c%d: pong after %d of %d messages", i,
				      s->got, s->want);
			s->state = S_DONE;
			L.done++;
			break;
		}
		handle_msg(s, i, line);
		break;
	case S_DONE:
		ck_abort_msg("c%d: %s after its pong", i, line);
	}
}

/* Read what subscriber i has (epoll said it would not block) and handle each whole line. */
static void sub_read(int i)
{
	struct sub *s = &L.subs[i];
	char *buf = L.scratch, *p, *nl;
	ssize_t n;
	size_t len;

	memcpy(buf, s->part, s->plen);
	n = read(s->fd, buf + s->plen, 65536);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	jt_require(n > 0, "c%d: the broker closed it (%s)", i, n < 0 ? strerror(errno) : "EOF");
	len = s->plen + (size_t)n;
	for (p = buf; (nl = memchr(p, '\n', len - (size_t)(p - buf))) != NULL; p = nl + 1) {
		*nl = '\0';
		handle_line(s, i, p);
	}
	s->plen = len - (size_t)(p - buf);
	jt_require(s->plen < sizeof(s->part), "c%d: a line of %zu bytes", i, s->plen);
	memcpy(s->part, p, s->plen);
}

/* Handle the subscribers' input until *counter reaches L.n (timeout 0: only what is there). */
static void pump(const int *counter, int timeout_ms, const char *what)
{
	int64_t deadline = jt_now_ms() + DEADLINE_MS;
	struct epoll_event ev[512];

	do {
		int64_t left = deadline - jt_now_ms();
		int n;

		jt_require(left > 0, "%s: %d of %d after %d s (ready %d, complete %d, done %d)",
			      what, *counter, L.n, DEADLINE_MS / 1000, L.ready, L.complete, L.done);
		n = epoll_wait(L.ep, ev, (int)ARRAY_SIZE(ev),
			       timeout_ms == 0 ? 0 : (int)(left < 1000 ? left : 1000));
		jt_require(n >= 0 || errno == EINTR, "epoll_wait: %s", strerror(errno));
		for (int j = 0; j < n; j++)
			sub_read((int)ev[j].data.u32);
		if (timeout_ms == 0 && n < (int)ARRAY_SIZE(ev))
			return;
	} while (*counter < L.n);
}

/* Connect subscriber i, send its hello and subscriptions, and add it to the epoll set. */
static void sub_start(int i)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sub *s = &L.subs[i];
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
	char hello[256];
	int len;

	s->topic = i % NTOPIC;
	s->all = i % ALL_EVERY == ALL_EVERY - 1;
	s->oks = s->all ? 2 : 1;
	for (int p = 0; p < NPUB; p++) {
		s->next[p] = next_wanted(s, p, 0);
		for (int k = 0; k < NMSG; k++)
			s->want += wants(s, p, k);
	}
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	jt_require(s->fd >= 0, "socket %d: %s", i, strerror(errno));
	/* jt_require and snprintf, no ck_assert: once per client adds up too */
	memcpy(sa.sun_path, jt_b.path, strlen(jt_b.path) + 1);
	/* blocking: a full backlog waits for the broker to accept */
	jt_require(connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect %d: %s", i,
		   strerror(errno));
	len = snprintf(hello, sizeof(hello),
		       "{\"op\":\"hello\",\"proto\":1,\"name\":\"c%d\"}\n"
		       "{\"op\":\"sub\",\"topic\":\"load/%d\",\"id\":1}\n%s",
		       i, s->topic, s->all ? "{\"op\":\"sub\",\"topic\":\"load/#\",\"id\":2}\n" : "");
	jt_require(send(s->fd, hello, (size_t)len, MSG_NOSIGNAL) == len, "send %d: %s", i,
		   strerror(errno));
	jt_require(fcntl(s->fd, F_SETFL, O_NONBLOCK) == 0, "fcntl: %s", strerror(errno));
	jt_require(epoll_ctl(L.ep, EPOLL_CTL_ADD, s->fd, &ev) == 0, "epoll_ctl: %s",
		   strerror(errno));
}

/* Publisher p sends its messages k0 .. k0+CHUNK-1 in one write. */
static void pub_chunk(int p, int k0)
{
	char buf[CHUNK * 128];
	size_t len = 0;

	for (int k = k0; k < k0 + CHUNK && k < NMSG; k++)
		len += (size_t)jt_fmt(buf + len, sizeof(buf) - len,
				      "{\"op\":\"pub\",\"topic\":\"load/%d\",\"data\":{\"p\":%d,"
				      "\"k\":%d},\"id\":%d}\n",
				      topic_of(p, k), p, k, k);
	jt_send_raw(L.pub[p], buf, len);
}

/*
 * N subscribers, each on one of 8 topics, every 50th also on load/# (its own topic matches
 * twice, it must still get each message once). 4 publishers send 100 messages each, round all
 * topics, interleaved in chunks while the subscribers are read. Every subscriber gets exactly
 * its messages, in each publisher's order, and nothing else before the pong of a final ping;
 * every pub's delivered is the number of its topic's subscribers; stats agree: msgs_routed,
 * deliveries, clients, subscriptions, no slow consumer.
 */
START_TEST(test_load_pubsub)
{
	int64_t t0 = jt_now_ms(), t1, t2, per_topic[NTOPIC] = { 0 }, deliveries = 0, nall = 0;
	static const char ping[] = "{\"op\":\"ping\",\"id\":\"end\"}\n";
	char name[16], want[96];
	json_object *o;

	L.n = nclients();
	/* its sockets, the publishers', stdio and Check's: the broker inherits the limit */
	jt_nofile_at_least((rlim_t)L.n + 256);
	jt_fmt(name, sizeof(name), "%d", L.n + 64);
	jt_broker_start_args(&jt_b, JT_ARGV("--max-clients", name));
	L.subs = calloc((size_t)L.n, sizeof(*L.subs));
	L.scratch = malloc(65536 + sizeof(L.subs[0].part));
	ck_assert_ptr_nonnull(L.subs);
	ck_assert_ptr_nonnull(L.scratch);
	for (int i = 0; i < L.n; i++)
		L.subs[i].fd = -1;
	L.ep = epoll_create1(EPOLL_CLOEXEC);
	ck_assert_int_ge(L.ep, 0);

	/* the socket path is copied without a check per client */
	ck_assert_uint_lt(strlen(jt_b.path), sizeof(((struct sockaddr_un *)0)->sun_path));
	/* all connected and subscribed; answers read as they come */
	for (int i = 0; i < L.n; i++) {
		sub_start(i);
		if (i % 256 == 255)
			pump(&L.ready, 0, "subscribed");
	}
	pump(&L.ready, -1, "subscribed");
	for (int i = 0; i < L.n; i++) {
		deliveries += L.subs[i].want;
		nall += L.subs[i].all;
		for (int t = 0; t < NTOPIC; t++)
			per_topic[t] += L.subs[i].all || L.subs[i].topic == t;
	}
	t1 = jt_now_ms();

	for (int p = 0; p < NPUB; p++) {
		jt_fmt(name, sizeof(name), "pub%d", p);
		L.pub[p] = jt_client(name);
	}
	for (int k0 = 0; k0 < NMSG; k0 += CHUNK) {
		for (int p = 0; p < NPUB; p++)
			pub_chunk(p, k0);
		pump(&L.complete, 0, "delivered");
	}
	pump(&L.complete, -1, "delivered");
	/* nothing more is on its way to anyone: the pong comes next */
	for (int i = 0; i < L.n; i++)
		jt_require(send(L.subs[i].fd, ping, sizeof(ping) - 1, MSG_NOSIGNAL) ==
				   (ssize_t)(sizeof(ping) - 1),
			   "ping c%d: %s", i, strerror(errno));
	pump(&L.done, -1, "ponged");
	t2 = jt_now_ms();

	for (int p = 0; p < NPUB; p++) {
		for (int k = 0; k < NMSG; k++) {
			jt_fmt(want, sizeof(want), "{\"op\":\"ok\",\"id\":%d,\"delivered\":%lld}", k,
			       (long long)per_topic[topic_of(p, k)]);
			jt_expect_line(L.pub[p], want);
		}
	}
	jt_send(L.pub[0], "{\"op\":\"stats\",\"id\":1}");
	o = jt_expect(L.pub[0], "stats");
	ck_assert_int_eq(jt_int(o, "msgs_routed"), NPUB * NMSG);
	ck_assert_int_eq(jt_int(o, "deliveries"), deliveries);
	ck_assert_int_eq(jt_int(o, "clients"), L.n + NPUB);
	ck_assert_int_eq(jt_int(o, "subscriptions"), L.n + nall);
	ck_assert_int_eq(jt_int(o, "connections"), L.n + NPUB);
	ck_assert_int_eq(jt_int(o, "slow_consumer_disconnects"), 0);
	ck_assert_int_eq(jt_int(o, "errors_sent"), 0);
	ck_assert_int_eq(jt_int(o, "connections_refused"), 0);
	json_object_put(o);
	if (getenv("JT_LOAD_VERBOSE"))
		fprintf(stderr,
			"load: %d clients subscribed in %lld ms; %d messages, %lld deliveries "
			"in %lld ms\n",
			L.n, (long long)(t1 - t0), NPUB * NMSG, (long long)deliveries,
			(long long)(t2 - t1));
	/* every client still connected: the shutdown tells them all, then exit 0 */
	jt_broker_stop(&jt_b);
}
END_TEST

Suite *jt_suite(void)
{
	Suite *s = suite_create("load");

	/* starts its own broker, after raising the fd limit; generous for the sanitizer */
	tcase_add_test(jt_tcase(s, "pubsub", NULL, teardown, 180), test_load_pubsub);
	return s;
}
