/*
 * jbus send NAME [JSON]: a direct message to the client connected as NAME.
 *
 * The message is sent as text, so its bytes reach the recipient unchanged,
 * and the tool waits for the broker's answer to it: ok, or no_such_client
 * (reported with the broker's message, exit status 1).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

enum {
	OPT_STRING = 256,
};

struct send_opts {
	bool string;
};

static int send_option(struct cli *cli, int opt, const char *arg, void *opts)
{
	struct send_opts *o = opts;

	if (opt == OPT_STRING) {
		o->string = true;
		return CLI_OK;
	}
	return cli_usage(cli, "unknown option");
}

static int send_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "string", no_argument, NULL, OPT_STRING },
		{ 0 },
	};
	struct send_opts o = { false };
	const char *json = NULL;
	char *owned = NULL;
	jbus_conn *c;
	int first, status, r;

	if (!cli_parse(cli, argc, argv, "", longopts, send_option, &o, &first, &status))
		return status;
	argc -= first;
	argv += first;
	status = cli_name_json_args(cli, argc, argv, o.string, &json, &owned);
	if (status != CLI_OK)
		return status;

	status = cli_connect(cli, cli->name, NULL, NULL, &c);
	if (status == CLI_OK) {
		r = jbus_send_text_sync(c, argv[0], json, json ? (ssize_t)strlen(json) : 0,
					CLI_TIMEOUT_MS);
		if (r == JBUS_E_BAD_NAME)
			status = cli_bad_name(cli, argv[0]);
		else if (r < 0)
			status = cli_fail(cli, c, r, "send");
		jbus_conn_close(c, CLI_TIMEOUT_MS);
		if (status == CLI_OK)
			status = cli->status;
	}
	free(owned);
	return status;
}

const struct cli_cmd cmd_send = {
	.name = "send",
	.args = "NAME [JSON]",
	.summary = "send a direct message to the client NAME",
	.help = "Send a direct message to the client connected as NAME, with JSON as its\n"
		"data (one JSON value, used byte for byte; without JSON the data is null),\n"
		"and wait until the broker has handled it. No client of that name: the\n"
		"broker's error on standard error and exit status 1. JSON that does not\n"
		"parse is a usage error. Use -- before a JSON argument starting with '-'.\n"
		"\n"
		"Options:\n"
		"      --string   send the JSON argument's text as a JSON string, escaped\n",
	.run = send_run,
};
