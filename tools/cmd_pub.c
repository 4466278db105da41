/*
 * jbus pub TOPIC [JSON]: publish one message, or with -l one per line of
 * standard input.
 *
 * Without --wait, messages are queued and written in batches, and a ping
 * round trip before exiting makes sure the broker processed all of them,
 * so an error it sent (through cli_on_error) is reported and changes the
 * exit status. With --wait, each message waits for the broker's ok and
 * "delivered N" is printed.
 *
 * -l reads standard input in chunks next to the broker's socket in one
 * poll() loop: a line is published as soon as it is read (a person typing
 * sees each one go out), and no more input is read while output is still
 * queued, so a fast producer cannot make the queue grow without bound.
 *
 * With --dgram there is no connection: each message is one datagram to the
 * broker's datagram socket (jbus_dgram_publish), and nothing comes back.
 * The broker's receive queue is short (net.unix.max_dgram_qlen, often 10),
 * so a full one is waited out, briefly and with a deadline, rather than
 * losing the message; -l then still sends the lines in order.
 */
#include "cli.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PUB_CHUNK (64 * 1024)
/*
 * With --dgram no max_frame is known: lines are bounded by what a datagram
 * could ever carry (the library reports smaller limits as -EMSGSIZE).
 */
#define PUB_DGRAM_LINE_MAX (16 * 1024 * 1024)
/* Waiting for room in the broker's datagram queue: first pause, and the longest. */
#define PUB_DGRAM_PAUSE_MIN_US 100
#define PUB_DGRAM_PAUSE_MAX_US (50 * 1000)

enum {
	OPT_STRING = 256,
	OPT_WAIT,
	OPT_DGRAM,
};

struct pub {
	struct cli *cli;
	jbus_conn *c; /* NULL with --dgram */
	const char *topic;
	bool lines, string, wait, dgram;
	const char *dgram_path; /* --dgram=PATH, or the default once resolved */
	unsigned flags; /* -r: JBUS_PUB_RETAIN */
	int status; /* CLI_FAIL once a message was refused */
	bool stop;  /* end now with status: a fatal error, or stdout's reader left */
};

static int pub_option(struct cli *cli, int opt, const char *arg, void *opts)
{
	struct pub *p = opts;

	switch (opt) {
	case 'l':
		p->lines = true;
		return CLI_OK;
	case 'r':
		p->flags = JBUS_PUB_RETAIN;
		return CLI_OK;
	case OPT_STRING:
		p->string = true;
		return CLI_OK;
	case OPT_WAIT:
		p->wait = true;
		return CLI_OK;
	case OPT_DGRAM:
		p->dgram = true;
		p->dgram_path = arg; /* NULL: the default, resolved once the options are known */
		return CLI_OK;
	}
	return cli_usage(cli, "unknown option");
}

static void fatal(struct pub *p, int status)
{
	p->status = status;
	p->stop = true;
}

/* section: datagrams */

/* jbus_dgram_publish(), waiting (CLI_TIMEOUT_MS at most) while the broker's queue is full. */
static int dgram_publish(struct pub *p, const char *json, size_t len)
{
	long long deadline = cli_now_ms() + CLI_TIMEOUT_MS;
	long pause_us = PUB_DGRAM_PAUSE_MIN_US;
	int r;

	/* a datagram socket cannot be polled for room at an unconnected peer: back off */
	while ((r = jbus_dgram_publish(p->dgram_path, p->topic, json, (ssize_t)len, p->flags)) ==
		       -EAGAIN &&
	       cli_now_ms() < deadline) {
		struct timespec ts = { 0, pause_us * 1000 };

		nanosleep(&ts, NULL);
		if (pause_us < PUB_DGRAM_PAUSE_MAX_US)
			pause_us *= 2;
	}
	return r;
}

static void dgram_too_large(struct pub *p, const char *where)
{
	cli_error(p->cli, "%smessage too large for one datagram", where);
	p->status = CLI_FAIL;
}

/* The failure r of dgram_publish(): every one but a message too large ends the command. */
static void dgram_failed(struct pub *p, int r, const char *where)
{
	const char *why;

	switch (r) {
	case -EMSGSIZE:
		dgram_too_large(p, where);
		return;
	case -EAGAIN:
		why = "the broker's queue stayed full";
		break;
	case -EPROTOTYPE:
		why = "not a datagram socket (the broker's stream socket?)";
		break;
	default:
		why = jbus_strerror(r);
		break;
	}
	cli_error(p->cli, "%scannot send to %s: %s", where, p->dgram_path, why);
	fatal(p, CLI_FAIL);
}

/* The datagram socket's path: --dgram=PATH or the default. Returns CLI_OK or the status. */
static int dgram_resolve(struct pub *p, char *def, size_t cap)
{
	int r;

	if (!p->dgram_path) {
		/* resolved here rather than by the library, so that errors can name it */
		r = jbus_default_dgram_path(def, cap);
		p->dgram_path = def;
		if (r < 0) {
			cli_error(p->cli, "cannot send to %s: %s", def, jbus_strerror(r));
			return CLI_FAIL;
		}
	}
	if (!*p->dgram_path)
		return cli_usage(p->cli, "the datagram socket path is empty");
	/* the options that belong to a connection would be ignored: say so */
	if (p->wait)
		return cli_usage(p->cli, "--wait cannot be used with --dgram: nobody answers a "
					 "datagram");
	if (p->cli->socket)
		return cli_usage(p->cli, "-s names the stream socket; give the datagram socket "
					 "as --dgram=PATH");
	if (p->cli->name)
		return cli_usage(p->cli, "-n cannot be used with --dgram: the broker names the "
					 "sender dgram:<uid>:<pid>");
	return CLI_OK;
}

/* section: publishing */

/*
 * Publish json (NULL: no data) and, with --wait, print the ok's count.
 * where prefixes messages about this one ("line 3: "). A refused message
 * makes the status CLI_FAIL; errors that concern every message (a bad
 * topic, the connection lost) set p->stop.
 */
static void publish(struct pub *p, const char *json, size_t len, const char *where)
{
	unsigned long long delivered = 0;
	char text[32];
	int r;

	if (p->dgram)
		r = dgram_publish(p, json, len);
	else if (p->wait)
		r = jbus_publish_text_ex_sync(p->c, p->topic, json, (ssize_t)len, p->flags,
					      CLI_TIMEOUT_MS, &delivered);
	else
		r = jbus_publish_text_ex(p->c, p->topic, json, (ssize_t)len, p->flags);
	if (r == JBUS_E_BAD_TOPIC) {
		fatal(p, cli_usage(p->cli, "invalid topic '%s' (%s)", p->topic,
				   "1 to 1024 bytes, no '+' or '#', not starting with '$'"));
		return;
	}
	if (r < 0 && p->dgram) {
		dgram_failed(p, r, where);
		return;
	}
	switch (r) {
	case 0:
		break;
	case -EMSGSIZE:
		cli_error(p->cli, "%smessage larger than the broker accepts (max_frame %zu bytes)",
			  where, jbus_conn_max_frame(p->c));
		p->status = CLI_FAIL;
		return;
	case JBUS_E_BROKER:
		cli_fail(p->cli, p->c, r, "%spublish", where);
		p->status = CLI_FAIL;
		return;
	default:
		fatal(p, cli_fail(p->cli, p->c, r, "%spublish", where));
		return;
	}
	if (p->wait) {
		struct cli_span s = { text, 0 };

		s.n = (size_t)snprintf(text, sizeof(text), "delivered %llu", delivered);
		r = cli_print(p->cli, &s, 1);
		if (r == -EPIPE)
			fatal(p, p->status); /* nobody reads the counts any more: end quietly */
		else if (r < 0)
			fatal(p, CLI_FAIL);
	}
}

/* One line of standard input (without its '\n'), number no. */
static void publish_line(struct pub *p, char *line, size_t len, unsigned long long no)
{
	const char *reason = "";
	char where[48];
	size_t off = 0;
	char *json;

	snprintf(where, sizeof(where), "line %llu: ", no);
	if (len && line[len - 1] == '\r')
		len--;
	if (p->string) {
		if (!len)
			return;
		json = cli_json_string(line, len);
		if (!json) {
			cli_error(p->cli, "%s%s", where,
				  errno == EILSEQ ? "not valid UTF-8" : strerror(errno));
			p->status = CLI_FAIL;
			return;
		}
		publish(p, json, strlen(json), where);
		free(json);
		return;
	}
	if (strspn(line, " \t\r") >= len)
		return; /* blank: no value to publish */
	if (jbus_json_check(line, (ssize_t)len, &off, &reason) != 0) {
		cli_error(p->cli, "%sinvalid JSON at byte %zu: %s", where, off, reason);
		p->status = CLI_FAIL;
		return;
	}
	publish(p, line, len, where);
}

/* Line splitting of standard input, with a bound on one line's length. */
struct lines {
	char *buf;
	size_t len, cap, max;
	unsigned long long no; /* lines seen so far */
	bool skipping;         /* in a line longer than max: dropped up to its '\n' */
};

static void lines_drain(struct pub *p, struct lines *l, bool eof)
{
	size_t start = 0;
	char *nl;

	while (!p->stop && (nl = memchr(l->buf + start, '\n', l->len - start))) {
		size_t n = (size_t)(nl - (l->buf + start));

		l->no++;
		*nl = '\0';
		if (!l->skipping)
			publish_line(p, l->buf + start, n, l->no);
		l->skipping = false;
		start += n + 1;
	}
	memmove(l->buf, l->buf + start, l->len - start);
	l->len -= start;
	if (p->stop)
		return;
	if (eof && l->len && !l->skipping) {
		/* a last line without '\n' */
		l->buf[l->len] = '\0';
		publish_line(p, l->buf, l->len, ++l->no);
		l->len = 0;
	} else if (l->len > l->max && !l->skipping) {
		if (p->dgram) {
			char where[48];

			snprintf(where, sizeof(where), "line %llu: ", l->no + 1);
			dgram_too_large(p, where);
		} else {
			cli_error(p->cli,
				  "line %llu: longer than the broker accepts (max_frame %zu bytes)",
				  l->no + 1, jbus_conn_max_frame(p->c));
			p->status = CLI_FAIL;
		}
		l->skipping = true;
	}
	if (l->skipping)
		l->len = 0;
}

/* Make room for a read; returns 0 or -ENOMEM. */
static int lines_room(struct lines *l)
{
	size_t cap;
	char *b;

	if (l->cap - l->len > PUB_CHUNK / 2)
		return 0;
	cap = l->cap ? l->cap * 2 : PUB_CHUNK;
	b = realloc(l->buf, cap);
	if (!b)
		return -ENOMEM;
	l->buf = b;
	l->cap = cap;
	return 0;
}

static void publish_stdin(struct pub *p)
{
	struct lines l = { .max = (p->c ? jbus_conn_max_frame(p->c) : PUB_DGRAM_LINE_MAX) + 1 };
	bool eof = false;

	while (!p->stop && !eof) {
		short ev = p->c ? jbus_conn_get_events(p->c) : 0;
		/* input only while nothing waits to be written: the queue stays one chunk */
		struct pollfd fds[2] = {
			/* poll() skips a negative fd: without a connection only stdin counts */
			{ .fd = p->c ? jbus_conn_get_fd(p->c) : -1, .events = ev },
			{ .fd = STDIN_FILENO, .events = (ev & POLLOUT) ? 0 : POLLIN },
		};
		ssize_t n;
		int r;

		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fatal(p, cli_fail(p->cli, p->c, -errno, "poll"));
			break;
		}
		if (fds[0].revents) {
			r = jbus_conn_dispatch(p->c);
			if (r < 0) {
				fatal(p, cli_fail(p->cli, p->c, r, "publish"));
				break;
			}
		}
		if (!fds[1].revents)
			continue;
		if (lines_room(&l) < 0) {
			fatal(p, cli_fail(p->cli, p->c, -ENOMEM, "reading standard input"));
			break;
		}
		/* one byte kept for the NUL of a last line without '\n' */
		n = read(STDIN_FILENO, l.buf + l.len, l.cap - l.len - 1);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			cli_error(p->cli, "cannot read standard input: %s", strerror(errno));
			fatal(p, CLI_FAIL);
			break;
		}
		eof = n == 0;
		l.len += (size_t)n;
		lines_drain(p, &l, eof);
	}
	free(l.buf);
}

static int pub_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "lines", no_argument, NULL, 'l' },
		{ "retain", no_argument, NULL, 'r' },
		{ "string", no_argument, NULL, OPT_STRING },
		{ "wait", no_argument, NULL, OPT_WAIT },
		{ "dgram", optional_argument, NULL, OPT_DGRAM },
		{ 0 },
	};
	struct pub p = { .cli = cli };
	const char *json = NULL;
	char *owned = NULL, def[4096];
	int first, status, r;

	if (!cli_parse(cli, argc, argv, "lr", longopts, pub_option, &p, &first, &status))
		return status;
	argc -= first;
	argv += first;
	if (argc < 1)
		return cli_usage(cli, "missing TOPIC");
	if (argc > (p.lines ? 1 : 2))
		return cli_usage(cli, p.lines ? "with -l the data comes from standard input, "
						"not from an argument ('%s')"
					      : "unexpected argument '%s'",
				 argv[p.lines ? 1 : 2]);
	if (p.string && !p.lines && argc < 2)
		return cli_usage(cli, "--string needs the text to send as an argument");
	p.topic = argv[0];
	if (p.dgram && (status = dgram_resolve(&p, def, sizeof(def))) != CLI_OK)
		return status;
	if (argc == 2) {
		status = cli_data_arg(cli, argv[1], p.string, &json, &owned);
		if (status != CLI_OK)
			return status;
	}

	if (p.dgram) {
		if (p.lines)
			publish_stdin(&p);
		else
			publish(&p, json, json ? strlen(json) : 0, "");
		free(owned);
		return p.status;
	}
	status = cli_connect(cli, cli->name, NULL, NULL, &p.c);
	if (status == CLI_OK) {
		if (p.lines)
			publish_stdin(&p);
		else
			publish(&p, json, json ? strlen(json) : 0, "");
		/* the batch is processed once the pong is back: errors were reported by then */
		if (!p.stop && !p.wait && (r = jbus_ping(p.c, CLI_TIMEOUT_MS)) < 0)
			fatal(&p, cli_fail(cli, p.c, r, "publish"));
		r = jbus_conn_close(p.c, CLI_TIMEOUT_MS);
		if (r < 0 && !p.stop)
			p.status = cli_fail(cli, NULL, r, "closing the connection");
		status = p.status ? p.status : cli->status;
	}
	free(owned);
	return status;
}

const struct cli_cmd cmd_pub = {
	.name = "pub",
	.args = "TOPIC [JSON]",
	.summary = "publish a message on TOPIC",
	.help = "Publish one message on TOPIC with JSON as its data (one JSON value, used\n"
		"byte for byte; without JSON the data is null). JSON that does not parse\n"
		"is a usage error. Use -- before a JSON argument starting with '-'.\n"
		"\n"
		"Options:\n"
		"  -r, --retain   also make it the topic's retained value, which every later\n"
		"                 subscriber of the topic receives first; without JSON (or\n"
		"                 with null) it clears the topic's retained value\n"
		"  -l, --lines    publish each line of standard input as one message;\n"
		"                 empty and blank lines are skipped; a line that is not\n"
		"                 JSON is reported ('line N: invalid JSON at byte B: ...'),\n"
		"                 skipped, and makes the exit status 1\n"
		"      --string   send the text (the JSON argument, or each line with -l,\n"
		"                 without a trailing '\\r') as a JSON string, escaped\n"
		"      --wait     wait for the broker's ok to each message and print\n"
		"                 'delivered N', N being the number of clients it reached\n"
		"      --dgram[=PATH]\n"
		"                 send each message as one datagram to the broker's datagram\n"
		"                 socket (jbusd --dgram), without connecting: PATH, else\n"
		"                 $JBUS_DGRAM_SOCKET, else $XDG_RUNTIME_DIR/jbus.dgram, else\n"
		"                 /tmp/jbus-<uid>.dgram; subscribers see the sender as\n"
		"                 dgram:<uid>:<pid>; not with --wait, -s or -n\n"
		"\n"
		"Without --wait messages are written in batches, and a round trip to the\n"
		"broker before exiting reports any error it sent (exit status 1).\n"
		"With --dgram nothing comes back: a message the broker drops (larger than\n"
		"its max_frame) is not reported. When the broker's datagram queue is full,\n"
		"each message waits up to 5 s for room; no broker at PATH is exit status 1.\n"
		"An invalid TOPIC (empty, containing '+' or '#', starting with '$') is a\n"
		"usage error, found once connected (with --dgram: before sending).\n",
	.run = pub_run,
};
