/*
 * poll_subscriber: libjbus embedded in the program's own poll() loop,
 * next to stdin.
 *
 *   poll_subscriber [-s SOCKET] [-n NAME] [-t TOPIC] [-c COUNT] [-r] PATTERN...
 *
 * Prints every message matching one of the patterns as one line,
 * "TOPIC FROM DATA" ("-" as the topic of a direct message), and publishes
 * each line typed on stdin to TOPIC (default "chat"): the line as is when
 * it is JSON, else as a JSON string. Exits at the end of stdin, or after
 * COUNT messages were received. -r turns on automatic reconnect.
 *
 * Nothing here blocks except poll() itself: the connection is opened
 * with jbus_conn_open() (the handshake completes inside dispatch), and
 * each turn asks the library which fd, which events and which timeout it
 * needs, then lets jbus_conn_dispatch() read, run callbacks and write.
 */
#include <jbus.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct app {
	jbus_conn *c;
	long want; /* exit after this many messages; 0: never */
	long got;
	const char *topic;
	char line[65536];
	size_t len;
};

static int usage(void)
{
	fprintf(stderr, "usage: poll_subscriber [-s SOCKET] [-n NAME] [-t TOPIC] [-c COUNT] [-r] "
			"PATTERN...\n");
	return 2;
}

/* Subscriptions and direct messages both land here; userdata is our app. */
static void on_message(jbus_conn *c, const jbus_msg *m, void *userdata)
{
	struct app *a = userdata;
	const char *topic = jbus_msg_topic(m);

	/* jbus_msg_data() is the data exactly as the publisher sent it */
	printf("%s %s %s\n", topic ? topic : "-", jbus_msg_from(m), jbus_msg_data(m, NULL));
	fflush(stdout); /* one line at a time, also into a pipe */
	a->got++;
}

static void on_error(jbus_conn *c, const char *code, const char *message, const char *id,
		     void *userdata)
{
	fprintf(stderr, "poll_subscriber: broker error %s: %s\n", code, message);
}

static void on_state(jbus_conn *c, enum jbus_state state, void *userdata)
{
	if (state == JBUS_STATE_CONNECTED)
		fprintf(stderr, "poll_subscriber: connected as %s\n", jbus_conn_name(c));
	else if (state == JBUS_STATE_DISCONNECTED)
		fprintf(stderr, "poll_subscriber: disconnected\n");
}

/* Publish one line of stdin: JSON as is, anything else as a JSON string. */
static int publish_line(struct app *a, const char *s, size_t n)
{
	json_object *str;
	int r;

	if (n == 0)
		return 0;
	if (jbus_json_check(s, (ssize_t)n, NULL, NULL) == 0)
		return jbus_publish_text(a->c, a->topic, s, (ssize_t)n);
	str = json_object_new_string_len(s, (int)n);
	if (!str)
		return -ENOMEM;
	r = jbus_publish(a->c, a->topic, str);
	json_object_put(str);
	return r;
}

/* Read what stdin has (poll said it would not block). Returns 1 at EOF. */
static int read_stdin(struct app *a)
{
	ssize_t n = read(STDIN_FILENO, a->line + a->len, sizeof(a->line) - a->len);
	char *nl;
	int r;

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	if (n == 0) {
		r = publish_line(a, a->line, a->len); /* a last line without '\n' */
		a->len = 0;
		return r < 0 ? r : 1;
	}
	a->len += (size_t)n;
	while ((nl = memchr(a->line, '\n', a->len))) {
		size_t k = (size_t)(nl - a->line);
		r = publish_line(a, a->line, k);
		if (r < 0)
			return r;
		memmove(a->line, nl + 1, a->len - k - 1);
		a->len -= k + 1;
	}
	if (a->len == sizeof(a->line))
		return -EMSGSIZE; /* a line longer than our buffer */
	return 0;
}

int main(int argc, char **argv)
{
	struct app a = { .topic = "chat" };
	const char *sock = NULL, *name = NULL;
	bool reconnect = false;
	char *end;
	int opt, r = 0;

	while ((opt = getopt(argc, argv, "s:n:t:c:r")) != -1) {
		switch (opt) {
		case 's':
			sock = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 't':
			a.topic = optarg;
			break;
		case 'c':
			a.want = strtol(optarg, &end, 10);
			if (*end || a.want < 1)
				return usage();
			break;
		case 'r':
			reconnect = true;
			break;
		default:
			return usage();
		}
	}
	if (optind >= argc)
		return usage();

	/* connects the socket and queues the hello; does not wait for the broker */
	r = jbus_conn_open(&a.c, sock, name);
	if (r < 0) {
		fprintf(stderr, "poll_subscriber: cannot connect to %s: %s\n",
			sock ? sock : "the default socket", jbus_strerror(r));
		return 1;
	}
	jbus_conn_on_message(a.c, on_message, &a);
	jbus_conn_on_error(a.c, on_error, &a);
	jbus_conn_on_state(a.c, on_state, &a);
	jbus_conn_set_reconnect(a.c, reconnect);
	for (int i = optind; i < argc; i++) {
		/* queued behind the hello; the broker sees them right after it */
		r = jbus_subscribe(a.c, argv[i], on_message, &a);
		if (r < 0) {
			fprintf(stderr, "poll_subscriber: %s: %s\n", argv[i], jbus_strerror(r));
			jbus_conn_free(a.c);
			return 2;
		}
	}

	while (!a.want || a.got < a.want) {
		/* ask every turn: the fd changes after a reconnect, POLLOUT comes and goes */
		struct pollfd p[2] = {
			{ .fd = STDIN_FILENO, .events = POLLIN },
			{ .fd = jbus_conn_get_fd(a.c), .events = jbus_conn_get_events(a.c) },
		};

		if (poll(p, 2, jbus_conn_get_timeout(a.c)) < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		if (p[0].revents) {
			r = read_stdin(&a);
			if (r < 0)
				break;
			if (r == 1)
				break; /* end of input: close below flushes what is queued */
		}
		/* cheap when nothing is ready, so no need to look at p[1].revents */
		r = jbus_conn_dispatch(a.c);
		if (r < 0)
			break;
	}
	if (r < 0) {
		fprintf(stderr, "poll_subscriber: %s\n", jbus_strerror(r));
		jbus_conn_free(a.c);
		return 1;
	}
	r = jbus_conn_close(a.c, 2000);
	if (r < 0) {
		fprintf(stderr, "poll_subscriber: close: %s\n", jbus_strerror(r));
		return 1;
	}
	return 0;
}
