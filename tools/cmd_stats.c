/*
 * jbus stats and jbus clients: the broker's introspection answers, as a
 * table for people or, with --json, as the frame the broker sent.
 *
 * The tables show every field the broker sends, in its order, so fields
 * added later appear without a change here; only the clients table picks
 * its columns.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
	OPT_JSON = 256,
};

struct intro_opts {
	bool json;
};

static int intro_option(struct cli *cli, int opt, const char *arg, void *opts)
{
	struct intro_opts *o = opts;

	if (opt == OPT_JSON) {
		o->json = true;
		return CLI_OK;
	}
	return cli_usage(cli, "unknown option");
}

/* printf to stdout; returns 0 or the negative errno of a failed write */
static int out(const struct cli *cli, const char *fmt, ...) _printf_(2, 3);
static int out(const struct cli *cli, const char *fmt, ...)
{
	char line[4096];
	struct cli_span s = { line, 0 };
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	s.n = n < 0 ? 0 : (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	return cli_write(cli, &s, 1);
}

/* "name value" per field of the stats frame, op and id left out; an object's
 * fields as "name.field value". */
static int stats_table(const struct cli *cli, json_object *o, const char *prefix)
{
	char name[128];
	int r = 0;

	json_object_object_foreach(o, key, v)
	{
		if (!*prefix && (!strcmp(key, "op") || !strcmp(key, "id")))
			continue;
		snprintf(name, sizeof(name), "%s%s", prefix, key);
		if (json_object_is_type(v, json_type_object)) {
			char sub[130];
			snprintf(sub, sizeof(sub), "%s.", name);
			r = stats_table(cli, v, sub);
		} else {
			r = out(cli, "%-26s %s", name, json_object_to_json_string(v));
		}
		if (r < 0)
			break;
	}
	return r;
}

static const char *str_of(json_object *e, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(e, key, &v) ? json_object_get_string(v) : "";
}

/* The patterns of a client, comma-separated, "-" for none. */
static void join_subs(json_object *e, char *buf, size_t cap)
{
	json_object *subs;
	size_t n = 0;

	snprintf(buf, cap, "-");
	if (!json_object_object_get_ex(e, "subs", &subs))
		return;
	for (size_t i = 0; i < json_object_array_length(subs) && n < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? "," : "",
				      json_object_get_string(json_object_array_get_idx(subs, i)));
}

/* since_ms as local time, "2026-11-21 10:00:00". */
static void since(json_object *e, char *buf, size_t cap)
{
	json_object *v;
	time_t t;
	struct tm tm;

	t = json_object_object_get_ex(e, "since_ms", &v) ? (time_t)(json_object_get_int64(v) / 1000)
							 : 0;
	if (!localtime_r(&t, &tm) || !strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, cap, "-");
}

static int clients_table(const struct cli *cli, json_object *o)
{
	json_object *list = json_object_object_get(o, "clients");
	size_t n = json_object_array_length(list);
	int w = 4, r;

	for (size_t i = 0; i < n; i++) {
		int len = (int)strlen(str_of(json_object_array_get_idx(list, i), "name"));
		w = len > w ? len : w;
	}
	r = out(cli, "%-*s %7s %6s %6s %-19s %9s %9s %8s %8s %-7s %s", w, "NAME", "PID", "UID",
		"GID", "SINCE", "IN", "OUT", "QUEUED", "DROPPED", "MONITOR", "SUBS");
	for (size_t i = 0; i < n && r == 0; i++) {
		json_object *e = json_object_array_get_idx(list, i);
		char subs[2048], when[32];

		join_subs(e, subs, sizeof(subs));
		since(e, when, sizeof(when));
		r = out(cli, "%-*s %7s %6s %6s %-19s %9s %9s %8s %8s %-7s %s", w, str_of(e, "name"),
			str_of(e, "pid"), str_of(e, "uid"), str_of(e, "gid"), when,
			str_of(e, "frames_in"), str_of(e, "frames_out"), str_of(e, "queued_bytes"),
			str_of(e, "dropped"), !strcmp(str_of(e, "monitor"), "true") ? "yes" : "no",
			subs);
	}
	return r;
}

/* Ask, print, return the exit status. */
static int introspect(struct cli *cli, int argc, char **argv, bool clients)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ 0 },
	};
	struct intro_opts o = { false };
	struct cli_span s = { NULL, 0 };
	json_object *frame;
	jbus_conn *c;
	char *text = NULL;
	int status, r;

	if (!cli_parse(cli, argc, argv, "", longopts, intro_option, &o, NULL, &status))
		return status;
	status = cli_connect(cli, cli->name, NULL, NULL, &c);
	if (status != CLI_OK)
		return status;
	r = clients ? jbus_clients(c, CLI_TIMEOUT_MS, &text) : jbus_stats(c, CLI_TIMEOUT_MS, &text);
	if (r < 0)
		status = cli_broker_error(cli, c, r, cli->cmd->name);
	jbus_conn_close(c, CLI_TIMEOUT_MS);
	if (r < 0)
		return status;
	if (o.json) {
		s.p = text;
		s.n = strlen(text);
		r = cli_print(cli, &s, 1);
	} else if ((frame = cli_parse_frame(text))) {
		r = clients ? clients_table(cli, frame) : stats_table(cli, frame, "");
		json_object_put(frame);
		if (r == 0)
			r = cli_flush(cli);
	} else {
		r = cli_fail(cli, NULL, JBUS_E_PROTOCOL, "%s", cli->cmd->name);
	}
	free(text);
	return r < 0 && r != -EPIPE ? CLI_FAIL : cli->status;
}

static int stats_run(struct cli *cli, int argc, char **argv)
{
	return introspect(cli, argc, argv, false);
}

static int clients_run(struct cli *cli, int argc, char **argv)
{
	return introspect(cli, argc, argv, true);
}

const struct cli_cmd cmd_stats = {
	.name = "stats",
	.args = "",
	.summary = "show the broker's counters",
	.help = "Show the broker's counters, one 'NAME VALUE' line each: uptime_ms,\n"
		"clients, subscriptions, retained, retained_bytes, frames_in, msgs_routed,\n"
		"deliveries, bytes_in, bytes_out, slow_consumer_disconnects,\n"
		"requests_pending, requests_timed_out, replies_dropped, errors_sent, and\n"
		"any the broker adds (docs/protocol.md says what each one counts).\n"
		"\n"
		"Options:\n"
		"      --json   print the broker's answer as it came, one JSON object\n",
	.run = stats_run,
};

const struct cli_cmd cmd_clients = {
	.name = "clients",
	.args = "",
	.summary = "list the clients connected to the broker",
	.help = "List the clients connected to the broker, one line each under a header:\n"
		"name, pid, uid, gid, connected since (local time), frames received from\n"
		"and sent to it, bytes queued for it, messages its --on-full drop/latest\n"
		"subscriptions lost, whether it is a monitor, and its subscription\n"
		"patterns. This tool's own connection is in the list.\n"
		"\n"
		"Options:\n"
		"      --json   print the broker's answer as it came, one JSON object\n",
	.run = clients_run,
};
