/*
 * libFuzzer target for the broker's frame and op handling, in process: the
 * real broker (every module of build/libjbusd.a) with clients on
 * socketpairs, driven turn by turn with loop_run_once().
 *
 * One broker is built in LLVMFuzzerInitialize (broker_new on a socket in a
 * mkdtemp directory, small limits so that short inputs reach them:
 * max_frame 2 KiB, queue_limit 1 KiB, 16 retained values of 4 KiB in all,
 * 4 pending requests per client; the broker's end of each socketpair has a
 * 4 KiB send buffer, so a client that stops reading soon fills it). Per
 * input:
 *  - byte 0: the number of clients, 1 + byte % 3; if bit 0x40 is set (a
 *    letter), the harness sends each client a hello naming it c0, c1, c2
 *    first, so the input can go straight to pub, sub, send, req...
 *  - then segments, each one selector byte and what follows, for client
 *    selector % n: below 0x40 (the digits among them) the bytes up to and
 *    including the next '\n' (or to the end) are sent; from 0x40 to 0x7f a
 *    length byte L follows and the next L + 1 bytes are sent (a partial
 *    frame, or several); from 0x80 on the segment is the selector alone:
 *    with bit 0x40 it closes the client's socket, with bit 0x20 (and not
 *    0x40) the harness stops reading what the broker sends the client, or
 *    starts again (a slow consumer), with neither it shuts down the
 *    client's writing side (the broker reads EOF, and still owes it what it
 *    queued).
 *    In a seed written by hand, "C0{...}\n1{...}\n" is two clients
 *    ('C' = 67: 2 clients, hellos sent), '0' and '1' picking the client.
 *  - after each segment the loop runs until nothing moves (no bytes read or
 *    written, no frame handled, no client gone), and everything the broker
 *    sent is read;
 *  - at the end, if requests are pending, the loop waits up to 2 ms for
 *    their deadlines (a "timeout_ms":1 expires); paused clients read again
 *    what they are owed; then every socket is closed and the loop runs
 *    until the broker has freed every client.
 *
 * Checked (a violation aborts: a finding): every line the broker sends to
 * a client (one that did not start with an HTTP request) is a JSON object
 * (json-c, strict, UTF-8 validated) with a string "op"; the loop settles
 * (no endless activity); once all sockets are closed the broker frees every
 * client and is back to its idle state: no client, name, subscription,
 * topic-tree node, pending request or monitor left. Retained values are
 * cleared after each input so the broker's state does not grow across
 * inputs; everything else is released by the closes themselves, so
 * libFuzzer's leak detection sees any memory the broker keeps by mistake.
 *
 * FUZZ_BROKER_LOG=1 in the environment turns the broker's debug log on
 * and shows every line it sends ("c<i> <- line", stderr), for replaying
 * one input.
 */
#include <json-c/json.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker.h"
#include "client.h"
#include "log.h"
#include "retain.h"
#include "fuzz_check.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_CLIENTS 3
/* turns of the loop one segment may take before it counts as never settling */
#define MAX_TURNS 10000

static struct broker *b;
static char dir[64], sock_path[96];
static bool show; /* FUZZ_BROKER_LOG */

/* section: the broker */

static void cleanup(void)
{
	b = broker_free(b);
	unlink(sock_path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct broker_config cfg = BROKER_CONFIG_DEFAULT;
	char err[256];
	sigset_t mask;

	show = getenv("FUZZ_BROKER_LOG") != NULL;
	log_max_level = show ? LOG_LVL_DEBUG : LOG_LVL_ERROR;
	snprintf(dir, sizeof(dir), "/tmp/fuzz_broker-XXXXXX");
	CHECK(mkdtemp(dir));
	snprintf(sock_path, sizeof(sock_path), "%s/jbus.sock", dir);
	cfg.socket_path = sock_path;
	cfg.max_frame = 2048;
	cfg.queue_limit = 1024;
	cfg.max_retained = 16;
	cfg.max_retained_bytes = 4096;
	cfg.max_pending = 4;
	if (broker_new(&b, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz_broker: broker_new: %s\n", err);
		abort();
	}
	/* broker_new blocks them for its signalfd: give them back to libFuzzer */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_UNBLOCK, &mask, NULL);
	atexit(cleanup);
	return 0;
}

/* section: the clients' side */

struct peer {
	int fd;       /* our end, -1 once closed */
	bool http;    /* the broker answered with HTTP: not JSON lines */
	bool started; /* the first output bytes were looked at */
	bool paused;  /* not reading: the broker's output piles up */
	char *out;    /* output not yet split into lines */
	size_t len, cap;
};

static struct peer peers[MAX_CLIENTS];
static size_t npeers;
static struct json_tokener *tok;

static void check_line(const struct peer *p, const char *line, size_t n)
{
	json_object *o, *op;

	if (show)
		fprintf(stderr, "c%zu <- %.*s\n", (size_t)(p - peers), (int)n, line);

	if (!tok) {
		/* deeper than any frame the broker accepts (WIRE_MAX_DEPTH) plus its envelope */
		tok = json_tokener_new_ex(2 * WIRE_MAX_DEPTH);
		CHECK(tok);
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	}
	json_tokener_reset(tok);
	o = json_tokener_parse_ex(tok, line, (int)n);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != n) {
		fprintf(stderr, "fuzz_broker: not JSON (%s): %.*s\n",
			json_tokener_error_desc(json_tokener_get_error(tok)), (int)n, line);
		CHECK(!"every line the broker sends is JSON");
	}
	CHECK(json_object_is_type(o, json_type_object));
	CHECK(json_object_object_get_ex(o, "op", &op) && json_object_is_type(op, json_type_string));
	json_object_put(o);
}

/* Read what the broker sent to p and check its complete lines; returns bytes read. */
static size_t peer_read(struct peer *p)
{
	size_t total = 0, start = 0;

	if (p->fd < 0 || p->paused)
		return 0;
	for (;;) {
		ssize_t n;

		if (p->cap - p->len < 4096) {
			p->cap = p->cap ? p->cap * 2 : 16384;
			p->out = realloc(p->out, p->cap);
			CHECK(p->out);
		}
		n = recv(p->fd, p->out + p->len, p->cap - p->len, MSG_DONTWAIT);
		if (n <= 0)
			break;
		p->len += (size_t)n;
		total += (size_t)n;
	}
	if (!p->started && p->len >= 5) {
		p->started = true;
		p->http = memcmp(p->out, "HTTP/", 5) == 0;
	}
	if (p->http || !p->started) {
		if (p->http)
			p->len = 0;
		return total;
	}
	for (;;) {
		char *nl = memchr(p->out + start, '\n', p->len - start);

		if (!nl)
			break;
		check_line(p, p->out + start, (size_t)(nl - (p->out + start)));
		start = (size_t)(nl - p->out) + 1;
	}
	memmove(p->out, p->out + start, p->len - start);
	p->len -= start;
	return total;
}

static void peer_close(struct peer *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

/* Everything that changes while the broker works, summed. */
static uint64_t activity(void)
{
	return b->stats.bytes_in + b->stats.bytes_out + b->stats.frames_in + b->nclients +
	       b->stats.errors + b->stats.deliveries;
}

/* Run the loop until a turn changes nothing, reading the clients' output after each. */
static void settle(void)
{
	uint64_t before;
	size_t got;
	int turns = 0;

	do {
		before = activity();
		CHECK(loop_run_once(b->loop, 0) == 0);
		got = 0;
		for (size_t i = 0; i < npeers; i++)
			got += peer_read(&peers[i]);
		CHECK(++turns < MAX_TURNS);
	} while (got || activity() != before);
}

/* Send bytes to client i as far as its socket takes them (the broker reads in between). */
static void peer_send(struct peer *p, const uint8_t *s, size_t n)
{
	int stuck = 0;

	while (n && p->fd >= 0) {
		ssize_t w = send(p->fd, s, n, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w > 0) {
			s += w;
			n -= (size_t)w;
			stuck = 0;
			continue;
		}
		/* full (the broker stopped reading this client) or gone: the rest is lost */
		if (w == 0 || ++stuck > 2)
			return;
		settle();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t pos = 1;
	bool hello;

	if (size < 1)
		return 0;
	npeers = 1u + data[0] % MAX_CLIENTS;
	hello = data[0] & 0x40;
	for (size_t i = 0; i < npeers; i++) {
		int sv[2];

		CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
		CHECK(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &(int){ 4096 }, sizeof(int)) == 0);
		/* takes sv[0] */
		CHECK(client_new(b, sv[0]) == 0);
		peers[i] = (struct peer){ .fd = sv[1] };
		if (hello) {
			char h[64];
			int n = snprintf(h, sizeof(h),
					 "{\"op\":\"hello\",\"proto\":1,\"name\":\"c%zu\"}\n", i);
			peer_send(&peers[i], (const uint8_t *)h, (size_t)n);
		}
	}
	settle();

	while (pos < size) {
		uint8_t sel = data[pos++];
		struct peer *p = &peers[sel % npeers];

		if (sel >= 0x80) {
			if (sel & 0x40)
				peer_close(p);
			else if (sel & 0x20)
				p->paused = !p->paused;
			else if (p->fd >= 0)
				shutdown(p->fd, SHUT_WR);
		} else if (sel >= 0x40) {
			size_t n = pos < size ? 1u + data[pos++] : 0;

			if (n > size - pos)
				n = size - pos;
			peer_send(p, data + pos, n);
			pos += n;
		} else {
			const uint8_t *nl = memchr(data + pos, '\n', size - pos);
			size_t n = nl ? (size_t)(nl - (data + pos)) + 1 : size - pos;

			peer_send(p, data + pos, n);
			pos += n;
		}
		settle();
	}

	if (b->requests_pending) {
		/* bounded by the next timer: a short deadline expires now */
		CHECK(loop_run_once(b->loop, 2) == 0);
		settle();
	}
	/* what paused clients are owed flows now, then every socket closes */
	for (size_t i = 0; i < npeers; i++)
		peers[i].paused = false;
	settle();
	for (size_t i = 0; i < npeers; i++)
		peer_close(&peers[i]);
	settle();
	/* back to idle: the closes released everything */
	CHECK(b->nclients == 0);
	CHECK(list_empty(&b->clients) && list_empty(&b->dead) && list_empty(&b->dirty) &&
	      list_empty(&b->ending));
	CHECK(registry_count(&b->registry) == 0);
	CHECK(b->router.nsubs == 0 && b->router.nnodes == 0);
	CHECK(b->requests_pending == 0 && b->nmonitors == 0 && list_empty(&b->monitors));
	for (size_t i = 0; i < npeers; i++) {
		free(peers[i].out);
		peers[i] = (struct peer){ .fd = -1 };
	}
	/* retained values outlive their publishers: drop them, keep the bounds */
	retain_fini(&b->retained);
	retain_init(&b->retained, b->loop, b->cfg.max_retained, b->cfg.max_retained_bytes,
		    b->cfg.max_retained_bytes_per_uid, &b->accounts, NULL);
	/* no connection and no retained value: no account */
	CHECK(b->accounts.by_uid.count == 0);
	return 0;
}
