/*
 * jbus wait NAME [-t SECONDS]: return once a client of that name is
 * connected.
 *
 * No race: the tool first subscribes to $SYS/client/connected (confirmed
 * by the broker), then asks for the list of clients. A client that
 * completed its handshake before the subscription is in the list; one
 * that completes it after is announced by an event. Either ends the wait.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_TOPIC "$SYS/client/connected"

struct wait {
	struct cli *cli;
	const char *name;
	long long timeout_ms; /* -t; 0: forever */
	bool found;
};

static int wait_option(struct cli *cli, int opt, const char *arg, void *opts)
{
	struct wait *w = opts;

	if (opt == 't')
		return cli_parse_seconds(cli, "-t", arg, &w->timeout_ms);
	return cli_usage(cli, "unknown option");
}

/* Is o an object whose "name" is the one waited for? */
static bool names(const struct wait *w, json_object *o)
{
	json_object *n;

	return json_object_object_get_ex(o, "name", &n) &&
	       json_object_is_type(n, json_type_string) &&
	       !strcmp(json_object_get_string(n), w->name);
}

static void on_connected(jbus_conn *c, const jbus_msg *m, void *ud)
{
	struct wait *w = ud;

	if (names(w, jbus_msg_json(m)))
		w->found = true;
}

/* Is the client in the broker's list? Returns 0 or an exit status. */
static int in_list(struct wait *w, jbus_conn *c)
{
	json_object *o, *list;
	char *frame = NULL;
	int r = jbus_clients(c, CLI_TIMEOUT_MS, &frame);

	if (r < 0)
		return cli_broker_error(w->cli, c, r, "clients");
	o = cli_parse_frame(frame);
	free(frame);
	if (!json_object_object_get_ex(o, "clients", &list)) {
		json_object_put(o);
		return cli_fail(w->cli, c, JBUS_E_PROTOCOL, "clients");
	}
	for (size_t i = 0; i < json_object_array_length(list) && !w->found; i++)
		w->found = names(w, json_object_array_get_idx(list, i));
	json_object_put(o);
	return CLI_OK;
}

static int wait_for(struct wait *w, jbus_conn *c)
{
	long long deadline = w->timeout_ms ? cli_now_ms() + w->timeout_ms : -1;
	int r = jbus_subscribe_sync(c, WAIT_TOPIC, on_connected, w, CLI_TIMEOUT_MS);

	if (r < 0)
		return cli_fail(w->cli, c, r, "subscribe to '%s'", WAIT_TOPIC);
	if (!w->found && (r = in_list(w, c)) != CLI_OK)
		return r;
	while (!w->found) {
		long long left = deadline < 0 ? -1 : deadline - cli_now_ms();

		if (deadline >= 0 && left <= 0) {
			cli_code_error("timeout", "no client named '%s' connected within %g s",
				       w->name, (double)w->timeout_ms / 1000);
			return CLI_TIMED_OUT;
		}
		r = jbus_conn_wait(c, left > INT_MAX ? INT_MAX : (int)left);
		if (r < 0)
			return cli_fail(w->cli, c, r, "wait");
	}
	return CLI_OK;
}

static int wait_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ 0 },
	};
	struct wait w = { .cli = cli };
	jbus_conn *c;
	int first, status;

	if (!cli_parse(cli, argc, argv, "t:", longopts, wait_option, &w, &first, &status))
		return status;
	if (first == argc)
		return cli_usage(cli, "missing NAME");
	if (argc - first > 1)
		return cli_usage(cli, "unexpected argument '%s'", argv[first + 1]);
	w.name = argv[first];
	if (!cli_name_valid(w.name))
		return cli_bad_name(cli, w.name);
	status = cli_connect(cli, cli->name, NULL, NULL, &c);
	if (status != CLI_OK)
		return status;
	status = wait_for(&w, c);
	jbus_conn_close(c, CLI_TIMEOUT_MS);
	return status != CLI_OK ? status : cli->status;
}

const struct cli_cmd cmd_wait = {
	.name = "wait",
	.args = "NAME",
	.summary = "wait until a client named NAME is connected",
	.help = "Wait until a client named NAME is connected to the broker (at once if it\n"
		"already is), then exit with status 0. For start-up scripts: start a\n"
		"service, then 'jbus wait SERVICE -t 10' before using it.\n"
		"\n"
		"Options:\n"
		"  -t, --timeout SECONDS  give up after SECONDS (fractional allowed) with\n"
		"                         'jbus: timeout: ...' and exit status 3; without\n"
		"                         it, wait for as long as it takes\n",
	.run = wait_run,
};
