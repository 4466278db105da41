/*
 * jbus ping [-c COUNT]: round trips to the broker, one after the other,
 * each timed from queuing the ping to handling its pong.
 */
#include "cli.h"

#include <errno.h>
#include <time.h>

struct ping_opts {
	unsigned long long count;
};

static int ping_option(struct cli *cli, int opt, const char *arg, void *opts)
{
	struct ping_opts *o = opts;

	if (opt == 'c')
		return cli_parse_count(cli, "-c", arg, &o->count);
	return cli_usage(cli, "unknown option");
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int ping_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "count", required_argument, NULL, 'c' },
		{ 0 },
	};
	struct ping_opts o = { 1 };
	jbus_conn *c;
	int first, status, r;

	if (!cli_parse(cli, argc, argv, "c:", longopts, ping_option, &o, &first, &status))
		return status;
	if (first < argc)
		return cli_usage(cli, "unexpected argument '%s'", argv[first]);
	status = cli_connect(cli, cli->name, NULL, NULL, &c);
	if (status != CLI_OK)
		return status;
	for (unsigned long long i = 0; i < o.count; i++) {
		double t0 = now_ms(), t;
		char line[4200];
		struct cli_span s = { line, 0 };

		r = jbus_ping(c, CLI_TIMEOUT_MS);
		t = now_ms() - t0;
		if (r < 0) {
			status = cli_fail(cli, c, r, "ping");
			break;
		}
		s.n = (size_t)snprintf(line, sizeof(line), "pong from %s: time=%.3f ms",
				       jbus_conn_path(c), t);
		if (s.n >= sizeof(line))
			s.n = sizeof(line) - 1;
		r = cli_print(cli, &s, 1);
		if (r < 0) {
			status = r == -EPIPE ? CLI_OK : CLI_FAIL;
			break;
		}
	}
	jbus_conn_close(c, CLI_TIMEOUT_MS);
	return status != CLI_OK ? status : cli->status;
}

const struct cli_cmd cmd_ping = {
	.name = "ping",
	.args = "",
	.summary = "measure the round trip to the broker",
	.help = "Make COUNT round trips to the broker, one after the other, and print\n"
		"'pong from SOCKET: time=T ms' for each. Exit status 1 when there is no\n"
		"broker or it does not answer within 5 s.\n"
		"\n"
		"Options:\n"
		"  -c, --count COUNT   number of round trips (default 1)\n",
	.run = ping_run,
};
