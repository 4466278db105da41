/*
 * blocking: the blocking helpers of libjbus, for programs without an
 * event loop of their own.
 *
 *   blocking [-s SOCKET] [-n NAME] [-c COUNT] [-w MS] TOPIC [JSON]
 *
 * Connects (jbus_conn_new waits for the broker's welcome), measures a
 * round trip (jbus_ping), subscribes to TOPIC and waits for the broker's
 * confirmation (jbus_subscribe_sync), publishes JSON (default
 * {"hello":"world"}) and waits for the broker's ok, which says how many
 * clients it reached (jbus_publish_sync), then waits for messages on
 * TOPIC with jbus_conn_wait() until COUNT arrived (default 1: our own
 * message comes back, since we subscribed) or MS milliseconds passed
 * (default 2000, exit status 1). Every call has a timeout: none can hang.
 */
#include <jbus.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: blocking [-s SOCKET] [-n NAME] [-c COUNT] [-w MS] TOPIC [JSON]\n");
	return 2;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Called from inside jbus_conn_wait() (and the other helpers) for each message. */
static void on_message(jbus_conn *c, const jbus_msg *m, void *userdata)
{
	long *got = userdata;

	printf("%s %s %s\n", jbus_msg_topic(m), jbus_msg_from(m), jbus_msg_data(m, NULL));
	fflush(stdout);
	(*got)++;
}

static int fail(jbus_conn *c, const char *what, int err)
{
	const char *code = NULL, *msg = NULL;

	/* JBUS_E_BROKER: the broker's own error code and message say more */
	if (err == JBUS_E_BROKER && jbus_conn_last_error(c, &code, &msg))
		fprintf(stderr, "blocking: %s: %s: %s\n", what, code, msg);
	else
		fprintf(stderr, "blocking: %s: %s\n", what, jbus_strerror(err));
	jbus_conn_free(c);
	return 1;
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *name = NULL, *topic, *json, *reason = "";
	long count = 1, wait_ms = 2000, got = 0;
	unsigned long long delivered = 0;
	json_object *data;
	size_t off = 0;
	long long t0, left;
	jbus_conn *c;
	char *end;
	int opt, r;

	while ((opt = getopt(argc, argv, "s:n:c:w:")) != -1) {
		switch (opt) {
		case 's':
			sock = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'c':
			count = strtol(optarg, &end, 10);
			if (*end || count < 0)
				return usage();
			break;
		case 'w':
			wait_ms = strtol(optarg, &end, 10);
			if (*end || wait_ms < 0 || wait_ms > 3600000)
				return usage();
			break;
		default:
			return usage();
		}
	}
	if (argc - optind < 1 || argc - optind > 2)
		return usage();
	topic = argv[optind];
	json = argc - optind == 2 ? argv[optind + 1] : "{\"hello\":\"world\"}";
	if (jbus_json_check(json, -1, &off, &reason) < 0) {
		fprintf(stderr, "blocking: invalid JSON at byte %zu: %s\n", off, reason);
		return 2;
	}

	r = jbus_conn_new(&c, sock, name); /* at most 5 s */
	if (r < 0) {
		fprintf(stderr, "blocking: cannot connect to %s: %s\n",
			sock ? sock : "the default socket", jbus_strerror(r));
		return 1;
	}
	printf("connected to %s as %s\n", jbus_conn_path(c), jbus_conn_name(c));

	t0 = now_ms();
	r = jbus_ping(c, 1000);
	if (r < 0)
		return fail(c, "ping", r);
	printf("ping: %lld ms\n", now_ms() - t0);

	r = jbus_subscribe_sync(c, topic, on_message, &got, 1000);
	if (r < 0)
		return fail(c, "subscribe", r);

	/* json-c's object for the checked text (NULL for "null": published as null) */
	data = json_tokener_parse(json);
	r = jbus_publish_sync(c, topic, data, 1000, &delivered);
	json_object_put(data); /* the call only borrowed it */
	if (r < 0)
		return fail(c, "publish", r);
	printf("published to %s: delivered to %llu client%s\n", topic, delivered,
	       delivered == 1 ? "" : "s");

	/* our own message may already have arrived during publish_sync */
	t0 = now_ms();
	while (got < count && (left = t0 + wait_ms - now_ms()) > 0) {
		r = jbus_conn_wait(c, (int)left);
		if (r < 0)
			return fail(c, "wait", r);
	}
	if (got < count) {
		fprintf(stderr, "blocking: timed out after %ld ms: %ld of %ld messages\n", wait_ms,
			got, count);
		jbus_conn_close(c, 1000);
		return 1;
	}
	return jbus_conn_close(c, 1000) < 0 ? 1 : 0;
}
