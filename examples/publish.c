/*
 * publish: send one or more messages to a topic and exit.
 *
 *   publish [-s SOCKET] [-n NAME] [-c COUNT] TOPIC [JSON]
 *
 * With JSON, that text is published byte for byte (jbus_publish_text);
 * without it, each message is an object {"seq":i} built with json-c
 * (jbus_publish). Publishing only queues the frame: the library writes
 * the queue in batches, so thousands of small messages cost few system
 * calls. jbus_conn_flush() waits until everything is written and
 * jbus_conn_close() says bye.
 *
 * Build: make examples; run against a broker: build/examples/publish demo/topic '"hi"'
 */
#include <jbus.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: publish [-s SOCKET] [-n NAME] [-c COUNT] TOPIC [JSON]\n");
	return 2;
}

/* One message: the caller's JSON text as is, or {"seq":i}. */
static int publish_one(jbus_conn *c, const char *topic, const char *json, long i)
{
	json_object *o;
	int r;

	if (json)
		return jbus_publish_text(c, topic, json, -1);
	o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "seq", json_object_new_int64(i));
	r = jbus_publish(c, topic, o);
	json_object_put(o); /* jbus_publish only borrows the object */
	return r;
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *name = NULL, *topic, *json = NULL, *reason = "";
	long count = 1, i;
	size_t off = 0;
	jbus_conn *c;
	char *end;
	int opt, r;

	while ((opt = getopt(argc, argv, "s:n:c:")) != -1) {
		switch (opt) {
		case 's':
			sock = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'c':
			count = strtol(optarg, &end, 10);
			if (*end || count < 1)
				return usage();
			break;
		default:
			return usage();
		}
	}
	if (argc - optind < 1 || argc - optind > 2)
		return usage();
	topic = argv[optind];
	if (argc - optind == 2) {
		json = argv[optind + 1];
		/* a bad argument is the user's mistake: say where, before connecting */
		if (jbus_json_check(json, -1, &off, &reason) < 0) {
			fprintf(stderr, "publish: invalid JSON at byte %zu: %s\n", off, reason);
			return 2;
		}
	}

	/* sock NULL: $JBUS_SOCKET, $XDG_RUNTIME_DIR/jbus.sock or /tmp/jbus-<uid>.sock */
	r = jbus_conn_new(&c, sock, name);
	if (r < 0) {
		fprintf(stderr, "publish: cannot connect to %s: %s\n",
			sock ? sock : "the default socket", jbus_strerror(r));
		return 1;
	}
	for (i = 0; i < count; i++) {
		r = publish_one(c, topic, json, i);
		if (r == -ENOBUFS) {
			/* the queue is full (the broker reads slower than we publish): drain it */
			r = jbus_conn_flush(c, 10000);
			if (r == 0)
				r = publish_one(c, topic, json, i);
		}
		if (r < 0)
			break;
	}
	if (r == 0)
		r = jbus_conn_flush(c, 10000);
	if (r < 0) {
		fprintf(stderr, "publish: %s: %s\n", topic, jbus_strerror(r));
		jbus_conn_free(c);
		return 1;
	}
	r = jbus_conn_close(c, 1000);
	if (r < 0) {
		fprintf(stderr, "publish: close: %s\n", jbus_strerror(r));
		return 1;
	}
	printf("published %ld message%s to %s\n", count, count == 1 ? "" : "s", topic);
	return 0;
}
