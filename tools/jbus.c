/*
 * jbus: command-line client of jbusd. This file holds main(): the common
 * options (-s, -n, -h, -V), which may come before or after the subcommand,
 * the dispatch to the subcommands (cmd_*.c) and the help texts' common
 * parts. The subcommands parse their own options through cli_parse(), so
 * every one of them accepts the common options too.
 */
#include "cli.h"

#include <signal.h>
#include <string.h>

#ifndef JBUS_VERSION
#define JBUS_VERSION "unknown"
#endif

/* -s, -n, -h, -V: merged into every subcommand's own table by cli_parse() */
#define OPT_COMMON_MAX 4

static const struct cli_cmd *const commands[] = {
	&cmd_pub,  &cmd_sub,   &cmd_send,  &cmd_listen, &cmd_call,    &cmd_serve,
	&cmd_wait, &cmd_stats, &cmd_clients, &cmd_monitor, &cmd_ping,
	&cmd_bench,
};

static const struct option common_opts[OPT_COMMON_MAX + 1] = {
	{ "socket", required_argument, NULL, 's' },
	{ "name", required_argument, NULL, 'n' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ 0 },
};

static const char common_help[] =
	"Common options (also accepted before the subcommand):\n"
	"  -s, --socket PATH   the broker's socket (default: $JBUS_SOCKET, else\n"
	"                      $XDG_RUNTIME_DIR/jbus.sock, else /tmp/jbus-<uid>.sock)\n"
	"  -n, --name NAME     connect under this client name, [A-Za-z0-9._-]{1,64}\n"
	"                      (default: a name the broker generates, anon-<n>)\n"
	"  -h, --help          show this help and exit\n"
	"  -V, --version       show the version and exit\n";

static const char status_help[] =
	"Exit status: 0 on success, 1 on a runtime failure (no broker at the socket,\n"
	"an error from the broker, the connection lost), 2 on a usage error (unknown\n"
	"option or subcommand, missing or invalid argument, JSON that does not parse),\n"
	"3 when 'call' got the broker's timeout or 'wait' ran out of time.\n"
	"Data goes to standard output, errors to standard error.\n";

static void main_help(FILE *f)
{
	fprintf(f, "Usage: jbus [OPTION]... SUBCOMMAND [ARG]...\n"
		   "Publish, subscribe, send direct messages and requests through jbusd,\n"
		   "the local message broker, and look inside it.\n\nSubcommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		char syn[64];

		snprintf(syn, sizeof(syn), "%s%s%s", commands[i]->name, *commands[i]->args ? " " : "",
			 commands[i]->args);
		fprintf(f, "  %-22s%s\n", syn, commands[i]->summary);
	}
	fprintf(f, "  %-22s%s\n\n%s\n", "help [SUBCOMMAND]", "show the help of a subcommand",
		common_help);
	fprintf(f, "'jbus SUBCOMMAND --help' describes a subcommand and its options.\n\n%s",
		status_help);
}

static void cmd_help(FILE *f, const struct cli_cmd *cmd)
{
	fprintf(f, "Usage: jbus %s [OPTION]...%s%s\n%s\n%s\n%s", cmd->name, *cmd->args ? " " : "",
		cmd->args, cmd->help, common_help, status_help);
}

static void version(void)
{
	printf("jbus %s\n", JBUS_VERSION);
}

/* The option getopt complained about, as the user typed it. */
static const char *bad_option(char **argv, char *buf, size_t cap)
{
	if (optopt && optopt < 256) {
		snprintf(buf, cap, "-%c", optopt);
		return buf;
	}
	return argv[optind - 1];
}

/*
 * A common option or getopt's error report. Returns true when parsing goes
 * on, false when the command ends with *status.
 */
static bool common_option(struct cli *cli, int o, char **argv, int *status)
{
	char buf[8];

	switch (o) {
	case 's':
		cli->socket = optarg;
		return true;
	case 'n':
		cli->name = optarg;
		return true;
	case 'h':
		if (cli->cmd)
			cmd_help(stdout, cli->cmd);
		else
			main_help(stdout);
		*status = CLI_OK;
		return false;
	case 'V':
		version();
		*status = CLI_OK;
		return false;
	case ':':
		*status = cli_usage(cli, "option '%s' needs a value", argv[optind - 1]);
		return false;
	default:
		*status = cli_usage(cli, "unknown option '%s'", bad_option(argv, buf, sizeof(buf)));
		return false;
	}
}

bool cli_parse(struct cli *cli, int argc, char **argv, const char *shortopts,
	       const struct option *longopts, cli_option_fn fn, void *opts, int *first,
	       int *status)
{
	struct option all[32];
	char sopts[64];
	size_t n = 0;
	int o;

	/* ':' first: a missing value is reported apart from an unknown option */
	snprintf(sopts, sizeof(sopts), ":s:n:hV%s", shortopts);
	for (size_t i = 0; i < OPT_COMMON_MAX; i++)
		all[n++] = common_opts[i];
	for (; longopts && longopts[0].name && n < sizeof(all) / sizeof(all[0]) - 1; longopts++)
		all[n++] = *longopts;
	all[n] = (struct option){ 0 };

	optind = 0; /* glibc: start afresh, permuting options after arguments */
	opterr = 0;
	while ((o = getopt_long(argc, argv, sopts, all, NULL)) != -1) {
		if (o == ':' || o == '?' || o == 's' || o == 'n' || o == 'h' || o == 'V') {
			if (!common_option(cli, o, argv, status))
				return false;
			continue;
		}
		*status = fn(cli, o, optarg, opts);
		if (*status != CLI_OK)
			return false;
	}
	if (!first && optind < argc) {
		*status = cli_usage(cli, "unexpected argument '%s'", argv[optind]);
		return false;
	}
	if (first)
		*first = optind;
	return true;
}

static const struct cli_cmd *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	return NULL;
}

/* jbus help [SUBCOMMAND] */
static int help_command(struct cli *cli, int argc, char **argv)
{
	const struct cli_cmd *cmd;

	if (argc == 1) {
		main_help(stdout);
		return CLI_OK;
	}
	if (argc > 2)
		return cli_usage(cli, "help takes one subcommand name, not %d", argc - 1);
	cmd = find_command(argv[1]);
	if (!cmd)
		return cli_usage(cli, "unknown subcommand '%s'", argv[1]);
	cmd_help(stdout, cmd);
	return CLI_OK;
}

int main(int argc, char **argv)
{
	struct cli cli = { 0 };
	int o, status;

	/* a reader that goes away is an EPIPE from write, never a signal (cli_print) */
	signal(SIGPIPE, SIG_IGN);

	/* the common options before the subcommand: stop at the first argument */
	opterr = 0;
	while ((o = getopt_long(argc, argv, "+:s:n:hV", common_opts, NULL)) != -1)
		if (!common_option(&cli, o, argv, &status))
			return status;
	if (optind == argc)
		return cli_usage(&cli, "missing subcommand");
	argc -= optind;
	argv += optind;
	if (!strcmp(argv[0], "help"))
		return help_command(&cli, argc, argv);
	cli.cmd = find_command(argv[0]);
	if (!cli.cmd)
		return cli_usage(&cli, "unknown subcommand '%s'", argv[0]);
	return cli.cmd->run(&cli, argc, argv);
}
