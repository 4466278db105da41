/*
 * jbus sub PATTERN..., jbus listen [NAME] and jbus monitor: receive
 * messages and print one line each. They differ only in how they start:
 * sub subscribes to its PATTERNs; listen connects under NAME, subscribes
 * to its -t PATTERNs and is there mostly for direct messages; monitor asks
 * the broker for a copy of everything it routes. All print everything that
 * arrives, direct messages included, with the same options.
 *
 * The loop is poll() over the connection and a signalfd for SIGINT and
 * SIGTERM (blocked from the start, so a signal during the set-up is not
 * lost but ends the tool as soon as it is set up), with the time left of
 * -W as the timeout: nothing waits longer than the user asked.
 *
 * Each message is printed once. The broker sends a message once however
 * many of a client's patterns match, but the library runs the callback of
 * every matching pattern; see first_callback() for how the repeats of one
 * frame are recognised with the public API alone.
 *
 * With --on-full drop or latest (sub, listen) the broker may lose messages
 * when the tool falls behind; it says how many, and that goes to stderr as
 * one line in every output format, so stdout stays one message per line.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

enum fmt {
	FMT_FRAME,   /* the frame as the broker sent it */
	FMT_DATA,    /* --data: the data's text */
	FMT_VERBOSE, /* -v: "TOPIC DATA", or "@FROM DATA" for a direct message */
};

enum {
	OPT_DATA = 256,
	OPT_ON_FULL,
};

enum recv_kind { RECV_SUB, RECV_LISTEN, RECV_MONITOR };

struct recv_opts {
	unsigned long long count; /* -C, 0: no limit */
	long long wait_ms;        /* -W, 0: none */
	enum fmt fmt;
	enum jbus_on_full on_full; /* --on-full, for every pattern */
	bool data, verbose;
	const char **patterns; /* sub: its arguments; listen: the -t values */
	size_t npatterns;
};

struct recv;

/* userdata of one pattern's subscription */
struct pattern {
	struct recv *r;
	size_t idx;
};

struct recv {
	struct cli *cli;
	const struct recv_opts *o;
	enum recv_kind kind;
	unsigned long long printed;
	bool done;     /* stop receiving: count reached, stdout gone or a write error */
	bool out_gone; /* stdout failed (or its reader left): write nothing more */
	int status;    /* of the tool once done: the worst reason to stop */

	struct pattern *pats;
	bool *fired;    /* patterns whose callback ran for the frame in last */
	char *last;     /* the frame the last callback printed (only with several patterns) */
	size_t last_len, last_cap;
	bool have_last;
};

static int recv_option(struct cli *cli, int opt, const char *arg, void *opts)
{
	struct recv_opts *o = opts;

	switch (opt) {
	case 'C':
		return cli_parse_count(cli, "-C", arg, &o->count);
	case 'W':
		return cli_parse_seconds(cli, "-W", arg, &o->wait_ms);
	case OPT_DATA:
		o->data = true;
		return CLI_OK;
	case 'v':
		o->verbose = true;
		return CLI_OK;
	case 't':
		o->patterns[o->npatterns++] = arg;
		return CLI_OK;
	case OPT_ON_FULL:
		if (!strcmp(arg, "disconnect"))
			o->on_full = JBUS_ON_FULL_DISCONNECT;
		else if (!strcmp(arg, "drop"))
			o->on_full = JBUS_ON_FULL_DROP;
		else if (!strcmp(arg, "latest"))
			o->on_full = JBUS_ON_FULL_LATEST;
		else
			return cli_usage(cli, "invalid --on-full value '%s' (%s)", arg,
					 "disconnect, drop or latest");
		return CLI_OK;
	}
	return cli_usage(cli, "unknown option");
}

static void finish(struct recv *r, int status)
{
	r->done = true;
	if (status > r->status)
		r->status = status;
}

/* After a write or flush returned e. */
static void out_result(struct recv *r, int e)
{
	if (e < 0) {
		r->out_gone = true;
		/* a reader that left (| head -1) leaves nothing to do: not an error */
		finish(r, e == -EPIPE ? CLI_OK : CLI_FAIL);
	}
}

/*
 * Lines are written into stdout's buffer as messages are dispatched and
 * flushed before the tool waits again: a burst costs one write, and no
 * line ever waits in the buffer for the next message.
 */
static void flush(struct recv *r)
{
	if (!r->out_gone)
		out_result(r, cli_flush(r->cli));
}

/*
 * -v for a monitor's copy: "KIND FROM -> TO,TO [TOPIC] DATA", or "error
 * CODE: MESSAGE" for the data of an error reply. The kind and recipients
 * are only in the frame. Returns the spans' count, 0 when out of memory;
 * *buf is for the caller to free.
 */
static size_t mon_verbose(const jbus_msg *m, struct cli_span *s, char **buf)
{
	json_object *f = cli_parse_frame(jbus_msg_frame(m, NULL)), *to = NULL, *kind = NULL;
	const char *topic = jbus_msg_topic(m), *from = jbus_msg_from(m), *code = "", *message = "";
	bool failed = jbus_msg_error(m, &code, &message);
	size_t cap = 80 + strlen(from) + strlen(code) + strlen(message), k, n = 0, nto;

	json_object_object_get_ex(f, "kind", &kind);
	json_object_object_get_ex(f, "to", &to);
	nto = json_object_is_type(to, json_type_array) ? json_object_array_length(to) : 0;
	cap += topic ? strlen(topic) : 0;
	for (size_t i = 0; i < nto; i++)
		cap += 1 + strlen(json_object_get_string(json_object_array_get_idx(to, i)));
	*buf = malloc(cap);
	if (*buf) {
		const char *k_name = kind ? json_object_get_string(kind) : "?";

		k = (size_t)snprintf(*buf, cap, "%s %s ->%s", k_name, from, nto ? "" : " -");
		for (size_t i = 0; i < nto; i++) {
			json_object *name = json_object_array_get_idx(to, i);

			k += (size_t)snprintf(*buf + k, cap - k, "%s%s", i ? "," : " ",
					      json_object_get_string(name));
		}
		k += (size_t)snprintf(*buf + k, cap - k, "%s%s %s%s%s", topic ? " " : "",
				      topic ? topic : "", failed ? "error " : "", code,
				      failed ? ": " : "");
		s[n++] = (struct cli_span){ *buf, k };
		s[n].p = failed ? message : jbus_msg_data(m, &s[n].n);
		if (failed)
			s[n].n = strlen(message);
		n = s[n].p ? n + 1 : 0;
	}
	json_object_put(f);
	return n;
}

static void show(struct recv *r, const jbus_msg *m)
{
	struct cli_span s[4];
	const char *topic = jbus_msg_topic(m);
	char *buf = NULL;
	size_t n = 0;
	int err;

	if (r->done || r->out_gone)
		return;
	switch (r->o->fmt) {
	case FMT_FRAME:
		s[n].p = jbus_msg_frame(m, &s[n].n);
		n++;
		break;
	case FMT_VERBOSE:
		if (r->kind == RECV_MONITOR) {
			n = mon_verbose(m, s, &buf);
			if (!n) {
				cli_error(r->cli, "%s", strerror(ENOMEM));
				finish(r, CLI_FAIL);
				return;
			}
			break;
		}
		if (topic) {
			s[n++] = (struct cli_span){ topic, strlen(topic) };
		} else {
			s[n++] = (struct cli_span){ "@", 1 };
			s[n++] = (struct cli_span){ jbus_msg_from(m), strlen(jbus_msg_from(m)) };
		}
		s[n++] = (struct cli_span){ " ", 1 };
		/* fall through */
	case FMT_DATA:
		s[n].p = jbus_msg_data(m, &s[n].n);
		if (!s[n].p) {
			cli_error(r->cli, "%s", strerror(ENOMEM));
			finish(r, CLI_FAIL);
			return;
		}
		n++;
		break;
	}
	err = cli_write(r->cli, s, n);
	free(buf);
	out_result(r, err);
	if (err == 0 && ++r->printed == r->o->count)
		finish(r, CLI_OK);
}

/*
 * Is this the first callback for its frame? The callbacks for one frame
 * run back to back, the one of each matching pattern once. So a callback
 * continues the previous frame exactly when that frame has the same bytes
 * and its own pattern has not run for it yet: two equal frames in a row
 * have the same topic, hence the same matching patterns, and the second
 * one's first callback finds its pattern already run. With one pattern
 * every callback is a new frame.
 */
static bool first_callback(struct recv *r, size_t idx, const jbus_msg *m)
{
	size_t n;
	const char *f;

	if (r->o->npatterns == 1)
		return true;
	f = jbus_msg_frame(m, &n);
	if (r->have_last && !r->fired[idx] && n == r->last_len && !memcmp(f, r->last, n)) {
		r->fired[idx] = true;
		return false;
	}
	if (n > r->last_cap) {
		char *p = realloc(r->last, n);
		if (!p) {
			cli_error(r->cli, "%s", strerror(ENOMEM));
			finish(r, CLI_FAIL);
			return false;
		}
		r->last = p;
		r->last_cap = n;
	}
	memcpy(r->last, f, n);
	r->last_len = n;
	r->have_last = true;
	memset(r->fired, 0, r->o->npatterns * sizeof(r->fired[0]));
	r->fired[idx] = true;
	return true;
}

static void on_pattern(jbus_conn *c, const jbus_msg *m, void *ud)
{
	struct pattern *p = ud;

	if (!p->r->done && first_callback(p->r, p->idx, m))
		show(p->r, m);
}

/*
 * The broker lost messages of a --on-full drop/latest subscription: one line
 * on stderr, after the lines of the messages that came before it. Not a
 * failure: the user asked for losses rather than a disconnect.
 */
static void on_dropped(jbus_conn *c, const char *pattern, unsigned long long count, void *ud)
{
	struct recv *r = ud;
	char p[1100]; /* a pattern is at most 1024 bytes */

	snprintf(p, sizeof(p), "%s", pattern);
	flush(r);
	cli_error(r->cli, "dropped %llu message%s on '%s'", count, count == 1 ? "" : "s",
		  cli_one_line(p));
}

/* Direct messages (and published ones no pattern claims). */
static void on_other(jbus_conn *c, const jbus_msg *m, void *ud)
{
	struct recv *r = ud;

	r->have_last = false; /* whatever comes next is a new frame */
	show(r, m);
}

static bool signalled(int sfd)
{
	struct pollfd p = { .fd = sfd, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

/* Subscribe to every pattern, each confirmed by the broker. Returns an exit status. */
static int subscribe_all(struct recv *r, jbus_conn *c, int sfd)
{
	for (size_t i = 0; i < r->o->npatterns && !r->done; i++) {
		const char *pat = r->o->patterns[i];
		int e;

		r->pats[i] = (struct pattern){ r, i };
		r->have_last = false; /* the set of matching patterns changes */
		e = jbus_subscribe_full_sync(c, pat, r->o->on_full, on_pattern, &r->pats[i],
					     CLI_TIMEOUT_MS);
		if (e == JBUS_E_BAD_TOPIC)
			return cli_usage(r->cli, "invalid pattern '%s' (%s)", pat,
					 "'+' and '#' only as whole levels, '#' last");
		if (e < 0)
			return cli_fail(r->cli, c, e, "subscribe to '%s'", pat);
		flush(r); /* what arrived meanwhile */
		if (signalled(sfd))
			finish(r, CLI_OK);
	}
	return CLI_OK;
}

/* Receive until done, a signal, -W's deadline or the connection's end. */
static void receive(struct recv *r, jbus_conn *c, int sfd)
{
	long long deadline = r->o->wait_ms ? cli_now_ms() + r->o->wait_ms : -1;

	while (!r->done) {
		struct pollfd p[2] = {
			{ .fd = jbus_conn_get_fd(c), .events = jbus_conn_get_events(c) },
			{ .fd = sfd, .events = POLLIN },
		};
		int timeout = jbus_conn_get_timeout(c), e;
		long long left;

		flush(r);
		if (r->done)
			break;
		if (deadline >= 0 && (left = deadline - cli_now_ms()) <= 0) {
			if (r->o->count)
				cli_error(r->cli, "timed out after %llu of %llu messages", r->printed,
					  r->o->count);
			finish(r, r->o->count ? CLI_FAIL : CLI_OK);
		} else {
			if (deadline >= 0 && (timeout < 0 || left < timeout))
				timeout = left > INT_MAX ? INT_MAX : (int)left;
			if (poll(p, 2, timeout) < 0) {
				if (errno != EINTR)
					finish(r, cli_fail(r->cli, c, -errno, "poll"));
			} else if (p[1].revents)
				finish(r, CLI_OK); /* SIGINT, SIGTERM: the user is done */
			else if ((e = jbus_conn_dispatch(c)) < 0)
				finish(r, cli_fail(r->cli, c, e, "receive"));
		}
	}
}

/* Become a monitor: its copies reach on_other like direct messages. Returns an exit status. */
static int start_monitor(struct recv *r, jbus_conn *c)
{
	int e = jbus_monitor(c, on_other, r, CLI_TIMEOUT_MS);

	return e < 0 ? cli_broker_error(r->cli, c, e, "monitor") : CLI_OK;
}

static int recv_run(struct cli *cli, int argc, char **argv, enum recv_kind kind)
{
	bool listen = kind == RECV_LISTEN;
	/* listen's -t first, then --on-full: sub's table starts after -t, monitor's after both */
	static const struct option longopts[] = {
		{ "topic", required_argument, NULL, 't' },
		{ "on-full", required_argument, NULL, OPT_ON_FULL },
		{ "count", required_argument, NULL, 'C' },
		{ "timeout", required_argument, NULL, 'W' },
		{ "data", no_argument, NULL, OPT_DATA },
		{ "verbose", no_argument, NULL, 'v' },
		{ 0 },
	};
	struct recv_opts o = { 0 };
	struct recv r = { .cli = cli, .o = &o, .kind = kind };
	const char *name = cli->name;
	jbus_conn *c = NULL;
	int first, status, sfd = -1;
	sigset_t mask;

	/* at most one pattern per argument, from either source */
	o.patterns = calloc((size_t)argc, sizeof(o.patterns[0]));
	r.pats = calloc((size_t)argc, sizeof(r.pats[0]));
	r.fired = calloc((size_t)argc, sizeof(r.fired[0]));
	if (!o.patterns || !r.pats || !r.fired) {
		cli_error(cli, "%s", strerror(ENOMEM));
		status = CLI_FAIL;
		goto out;
	}
	if (!cli_parse(cli, argc, argv, listen ? "C:W:vt:" : "C:W:v",
		       longopts + (listen ? 0 : kind == RECV_SUB ? 1 : 2), recv_option, &o, &first,
		       &status))
		goto out;
	status = CLI_USAGE;
	if (o.data && o.verbose) {
		cli_usage(cli, "--data and -v exclude each other");
		goto out;
	}
	o.fmt = o.data ? FMT_DATA : o.verbose ? FMT_VERBOSE : FMT_FRAME;
	name = cli->name; /* -n may have come after the subcommand */
	if (kind == RECV_MONITOR) {
		if (first < argc) {
			cli_usage(cli, "unexpected argument '%s'", argv[first]);
			goto out;
		}
	} else if (!listen) {
		if (first == argc) {
			cli_usage(cli, "missing PATTERN");
			goto out;
		}
		for (int i = first; i < argc; i++)
			o.patterns[o.npatterns++] = argv[i];
	} else if (argc - first > 1) {
		cli_usage(cli, "unexpected argument '%s'", argv[first + 1]);
		goto out;
	} else if (argc - first == 1) {
		if (name && strcmp(name, argv[first])) {
			cli_usage(cli, "two names given: '%s' and '%s'", name, argv[first]);
			goto out;
		}
		name = argv[first];
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		cli_error(cli, "signalfd: %s", strerror(errno));
		status = CLI_FAIL;
		goto out;
	}

	status = cli_connect(cli, name, on_other, &r, &c);
	if (status != CLI_OK)
		goto out;
	jbus_conn_on_dropped(c, on_dropped, &r);
	status = kind == RECV_MONITOR ? start_monitor(&r, c) : subscribe_all(&r, c, sfd);
	if (status != CLI_OK)
		goto out;
	/* once subscribed, so that a script may take the line as "ready" */
	if (listen && !name)
		cli_error(cli, "listening as %s", jbus_conn_name(c));
	receive(&r, c, sfd);
	flush(&r);
	status = r.status != CLI_OK ? r.status : cli->status;
out:
	jbus_conn_close(c, CLI_TIMEOUT_MS);
	if (sfd >= 0)
		close(sfd);
	free(o.patterns);
	free(r.pats);
	free(r.fired);
	free(r.last);
	return status;
}

static int sub_run(struct cli *cli, int argc, char **argv)
{
	return recv_run(cli, argc, argv, RECV_SUB);
}

static int listen_run(struct cli *cli, int argc, char **argv)
{
	return recv_run(cli, argc, argv, RECV_LISTEN);
}

static int monitor_run(struct cli *cli, int argc, char **argv)
{
	return recv_run(cli, argc, argv, RECV_MONITOR);
}

#define RECV_OPTIONS_HELP                                                                          \
	"  -C, --count N         exit (status 0) after N messages\n"                               \
	"  -W, --timeout SECONDS exit after SECONDS (fractional allowed), counted from\n"         \
	"                        the moment the subscriptions are in place: status 0\n"          \
	"                        without -C, 1 if the -C count was not reached\n"                 \
	"      --data            print only the data, its bytes unchanged (one JSON\n"            \
	"                        text per line)\n"                                                 \
	"  -v, --verbose         print 'TOPIC DATA' for people ('@FROM DATA' for a\n"             \
	"                        direct message)\n"

#define ON_FULL_HELP(cmd)                                                                          \
	"      --on-full MODE    what the broker does with the messages of the\n"                 \
	"                        subscriptions when this tool falls behind: disconnect\n"        \
	"                        it (the default), drop what does not fit, or keep only\n"       \
	"                        the latest message of each topic; each loss is one\n"           \
	"                        line on standard error, 'jbus " cmd ": dropped N\n"             \
	"                        messages on 'PATTERN'', which does not change the\n"            \
	"                        exit status\n"

#define RECV_END_HELP                                                                              \
	"\n"                                                                                       \
	"Each line is written as soon as the message arrives, so pipes and jq see it\n"         \
	"at once. SIGINT or SIGTERM end the tool with status 0, and so does a reader\n"         \
	"of standard output that goes away (| head -1). The broker going away is\n"             \
	"'connection to the broker lost', status 1.\n"

const struct cli_cmd cmd_sub = {
	.name = "sub",
	.args = "PATTERN...",
	.summary = "print the messages published on matching topics",
	.help = "Subscribe to each PATTERN ('+' matches one level, '#' as the last level\n"
		"any number of them) and print each message as one line on standard output:\n"
		"the message exactly as the broker sent it, a JSON object such as\n"
		"{\"op\":\"msg\",\"topic\":\"a/b\",\"from\":\"anon-1\",\"data\":42}. A message\n"
		"is printed once, however many of the patterns match it. Printing starts once\n"
		"the broker has confirmed every subscription. Direct messages to the name\n"
		"given with -n are printed too.\n"
		"\n"
		"Options:\n" RECV_OPTIONS_HELP ON_FULL_HELP("sub") RECV_END_HELP,
	.run = sub_run,
};

const struct cli_cmd cmd_listen = {
	.name = "listen",
	.args = "[NAME]",
	.summary = "connect under NAME and print the messages sent to it",
	.help = "Connect under NAME (or -n NAME; without either, a name the broker\n"
		"generates, printed on standard error as 'jbus listen: listening as\n"
		"anon-N' once ready) and print the direct messages sent to it, plus the\n"
		"messages published on the topics of its -t patterns, one line each, in\n"
		"the same formats as 'jbus sub': by default each message exactly as the\n"
		"broker sent it, e.g. {\"op\":\"msg\",\"from\":\"a\",\"to\":\"NAME\",\"data\":1}.\n"
		"\n"
		"Options:\n"
		"  -t, --topic PATTERN   also subscribe to PATTERN (repeatable)\n" RECV_OPTIONS_HELP
			ON_FULL_HELP("listen") RECV_END_HELP,
	.run = listen_run,
};

const struct cli_cmd cmd_monitor = {
	.name = "monitor",
	.args = "",
	.summary = "print a copy of everything the broker routes",
	.help = "Turn the connection into a monitor and print, one line each, the copy\n"
		"the broker sends of every message it routes: pub, send, req, reply,\n"
		"will and its own events (sys), e.g.\n"
		"{\"op\":\"mon\",\"kind\":\"pub\",\"from\":\"a\",\"to\":[\"b\"],\"topic\":\"t\",\n"
		"\"data\":1}.\n"
		"Only the broker's own user and root may monitor: anyone else gets\n"
		"'jbus: forbidden: ...' and exit status 1.\n"
		"\n"
		"Options:\n" RECV_OPTIONS_HELP
		"                        (-v for a copy: 'KIND FROM -> TO,TO [TOPIC] DATA')\n"
			RECV_END_HELP,
	.run = monitor_run,
};
