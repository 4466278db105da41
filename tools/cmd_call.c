/*
 * jbus call NAME [JSON]: one request to the client connected as NAME, and
 * its answer.
 *
 * The reply's data goes to stdout as one line, its bytes unchanged, and
 * the exit status is 0. Anything else is one line on stderr in the form
 * scripts rely on, "jbus: <code>: <message>": an error reply
 * with its own code and message, or the broker's error (no_such_client,
 * no_reply, timeout, limit_reached), all with exit status 1 except the
 * broker's timeout, 3. -t is the request's deadline, given to the broker;
 * the library waits a second longer, so the broker's answer normally
 * comes first.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

enum {
	OPT_STRING = 256,
};

struct call_opts {
	bool string;
	long long timeout_ms; /* 0: the broker's default */
};

static int call_option(struct cli *cli, int opt, const char *arg, void *opts)
{
	struct call_opts *o = opts;

	switch (opt) {
	case 't':
		return cli_parse_seconds(cli, "-t", arg, &o->timeout_ms);
	case OPT_STRING:
		o->string = true;
		return CLI_OK;
	}
	return cli_usage(cli, "unknown option");
}

/* Send the request and report its outcome; returns the exit status. */
static int call(struct cli *cli, jbus_conn *c, const char *to, const char *json,
		const struct call_opts *o)
{
	int timeout = o->timeout_ms > INT_MAX ? INT_MAX : (int)o->timeout_ms;
	struct cli_span s = { NULL, 0 };
	char *reply = NULL;
	int r;

	r = jbus_call(c, to, json, json ? (ssize_t)strlen(json) : 0, timeout, &reply, &s.n);
	switch (r) {
	case 0:
		s.p = reply;
		r = cli_print(cli, &s, 1);
		free(reply);
		return r < 0 && r != -EPIPE ? CLI_FAIL : CLI_OK;
	case JBUS_E_BAD_NAME:
		return cli_bad_name(cli, to);
	case -ETIMEDOUT:
		cli_error(cli, "no answer from the broker within %lld ms", o->timeout_ms + 1000);
		return CLI_FAIL;
	}
	return cli_broker_error(cli, c, r, "call");
}

static int call_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "string", no_argument, NULL, OPT_STRING },
		{ 0 },
	};
	struct call_opts o = { false, 0 };
	const char *json = NULL;
	char *owned = NULL;
	jbus_conn *c;
	int first, status;

	if (!cli_parse(cli, argc, argv, "t:", longopts, call_option, &o, &first, &status))
		return status;
	status = cli_name_json_args(cli, argc - first, argv + first, o.string, &json, &owned);
	if (status != CLI_OK)
		return status;
	argv += first;
	status = cli_connect(cli, cli->name, NULL, NULL, &c);
	if (status == CLI_OK) {
		status = call(cli, c, argv[0], json, &o);
		jbus_conn_close(c, CLI_TIMEOUT_MS);
		if (status == CLI_OK)
			status = cli->status;
	}
	free(owned);
	return status;
}

const struct cli_cmd cmd_call = {
	.name = "call",
	.args = "NAME [JSON]",
	.summary = "send a request to the client NAME and print its reply",
	.help = "Send a request to the client connected as NAME, with JSON as its data\n"
		"(one JSON value, used byte for byte; without JSON the data is null), and\n"
		"print the data of its reply on standard output, its bytes unchanged.\n"
		"JSON that does not parse is a usage error. Use -- before a JSON argument\n"
		"starting with '-'.\n"
		"\n"
		"When the answer is an error, one line on standard error says so:\n"
		"'jbus: CODE: MESSAGE', with the code and message of the error reply, or\n"
		"the broker's: no_such_client (nobody has that name), no_reply (the client\n"
		"went away before answering), timeout (no answer in time), limit_reached\n"
		"(too many requests pending). Exit status 1 for all of them, except 3 for\n"
		"the broker's timeout.\n"
		"\n"
		"Options:\n"
		"  -t, --timeout SECONDS  how long the client has to answer (fractional\n"
		"                         allowed; default: the broker's, 30 s unless\n"
		"                         configured)\n"
		"      --string           send the JSON argument's text as a JSON string\n",
	.run = call_run,
};
