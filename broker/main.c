/*
 * jbusd: command line, then broker_new() and broker_run(). Nothing else
 * lives here, so tests and fuzzers link the same broker code.
 *
 * Exit status: 0 after a clean shutdown, 1 when the broker cannot start,
 * 2 for a usage error.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "activation.h"
#include "broker.h"
#include "config.h"
#include "log.h"
#include "policy.h"

#define EXIT_USAGE 2

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: jbusd [OPTION]...\n"
		"Local message broker: routes newline-delimited JSON frames between\n"
		"clients of an AF_UNIX stream socket.\n"
		"\n"
		"  -c, --config FILE            read settings from FILE (JSON: each option\n"
		"                               a key, '_' for '-'); the command line wins\n"
		"      --print-config           print the effective settings as JSON and exit\n"
		"      --check-config           check the settings (from -c FILE, or FILE\n"
		"                               given as the argument) and the policy file\n"
		"                               they name, then exit 0 if valid, else 1\n"
		"  -s, --socket PATH            socket path (default: $JBUS_SOCKET, else\n"
		"                               $XDG_RUNTIME_DIR/jbus.sock, else\n"
		"                               /tmp/jbus-<uid>.sock)\n"
		"  -m, --mode MODE              socket file mode, octal (default 0600)\n"
		"  -g, --group GROUP            group of the socket files (name or number);\n"
		"                               with -m 0660 that group may connect\n"
		"      --policy FILE            access policy (JSON; reloaded on SIGHUP)\n"
		"      --max-frame BYTES        largest frame a client may send\n"
		"                               (default 1M; 64..1G, suffix K, M, G)\n"
		"      --max-clients N          connections at once, handshake included\n"
		"                               (default 10000; 1..1000000)\n"
		"      --max-clients-per-uid N  connections at once per uid (default 0:\n"
		"                               only --max-clients applies)\n"
		"      --max-subs N             subscriptions per client (default 10000)\n"
		"      --queue-limit BYTES      output queued per client before it is\n"
		"                               disconnected as a slow consumer\n"
		"                               (default 8M; 1K..64G)\n"
		"      --handshake-timeout SECONDS\n"
		"                               time allowed for the hello (default 5;\n"
		"                               0.001..3600)\n"
		"      --idle-timeout SECONDS   end a session that sends no frame for this\n"
		"                               long (default 0: never)\n"
		"      --request-timeout SECONDS\n"
		"                               deadline of a req without timeout_ms\n"
		"                               (default 30)\n"
		"      --max-request-timeout SECONDS\n"
		"                               timeout_ms is clamped to this (default 300)\n"
		"      --max-pending N          pending requests per client (default 1024)\n"
		"      --max-retained N         retained topics (default 10000)\n"
		"      --max-retained-bytes BYTES\n"
		"                               retained topic + data bytes (default 64M)\n"
		"      --max-retained-bytes-per-uid BYTES\n"
		"                               retained bytes the clients of one uid may\n"
		"                               have set (default 0: no bound but the above)\n"
		"      --retain-file PATH       keep retained messages in PATH across restarts\n"
		"      --dgram PATH             also bind a datagram socket at PATH: each\n"
		"                               datagram is one pub frame, no answer\n"
		"      --ready-fd FD            write \"ready\\n\" to FD once listening,\n"
		"                               then close it (for supervisors and tests)\n"
		"  -v, --verbose                log debug events (connections, handshakes)\n"
		"  -q, --quiet                  log only warnings and errors\n"
		"      --log-level LEVEL        error, warn, info (default) or debug\n"
		"      --syslog                 log to syslog (facility daemon) instead of\n"
		"                               standard error\n"
		"  -h, --help                   show this help and exit\n"
		"  -V, --version                show the version and exit\n"
		"\n"
		"SIGHUP reloads the configuration file and the policy file: limits,\n"
		"timeouts, the policy and logging change at once; the socket, mode, group,\n"
		"max_frame, retain file, datagram socket and ready fd need a restart (the\n"
		"log says so). A reload that fails is logged and changes nothing.\n"
		"\n"
		"Under a service manager: with LISTEN_FDS and LISTEN_PID (socket activation)\n"
		"jbusd serves on the passed listening socket (and a passed datagram socket)\n"
		"instead of binding, and leaves their files to the manager; with\n"
		"NOTIFY_SOCKET it reports READY=1, STATUS=, RELOADING=1 and STOPPING=1.\n"
		"\n"
		"Exit status: 0 after a clean shutdown (SIGINT, SIGTERM), 1 if the broker\n"
		"cannot start, 2 for a usage error.\n");
}

/* what, then the argument as given (if any) */
static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "jbusd: %s%s%s%s\nTry 'jbusd --help' for more information.\n", what,
		arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
	return EXIT_USAGE;
}

enum { OPT_PRINT_CONFIG = 1000, OPT_CHECK_CONFIG };

/* The settings' options (config.c) plus those that are not settings. */
static const struct option *getopt_table(void)
{
	static const struct option own[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "print-config", no_argument, NULL, OPT_PRINT_CONFIG },
		{ "check-config", no_argument, NULL, OPT_CHECK_CONFIG },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	static struct option t[64];
	const struct option *set = config_getopt_table();
	size_t n = 0;

	while (set[n].name)
		n++;
	_Static_assert(ARRAY_SIZE(own) < ARRAY_SIZE(t), "room for the settings");
	if (n + ARRAY_SIZE(own) > ARRAY_SIZE(t))
		abort();
	memcpy(t, set, n * sizeof(*t));
	memcpy(t + n, own, sizeof(own));
	return t;
}

/* --check-config: the settings, and the policy file they name. */
static int check_config(const struct config *conf)
{
	struct policy *p;
	char err[512];

	if (conf->cfg.policy_file) {
		if (policy_load(conf->cfg.policy_file, &p, err, sizeof(err)) < 0) {
			fprintf(stderr, "jbusd: policy %s\n", err);
			return 1;
		}
		policy_free(p);
	}
	printf("%s: configuration ok\n", conf->file ? conf->file : "command line");
	return 0;
}

/* The command line into conf: -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct config *conf, bool *print, bool *check)
{
	const struct option *opts = getopt_table();
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:m:g:c:vqhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			conf->file = optarg;
			break;
		case OPT_PRINT_CONFIG:
			*print = true;
			break;
		case OPT_CHECK_CONFIG:
			*check = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("jbusd %s\n", JBUS_VERSION);
			return 0;
		case ':':
			return usage_error("missing value for option", argv[optind - 1]);
		case '?':
			return usage_error("unknown option", argv[optind - 1]);
		default:
			if (config_add_arg(conf, config_opt_of(c), optarg) < 0) {
				fprintf(stderr, "jbusd: out of memory\n");
				return 1;
			}
		}
	}
	/* jbusd --check-config FILE */
	if (*check && !conf->file && optind == argc - 1)
		conf->file = argv[optind++];
	if (optind < argc)
		return usage_error("unexpected argument", argv[optind]);
	return -1;
}

/* Settings loaded: check, print, or run the broker. Returns the exit status. */
static int run(struct config *conf, bool print, bool check)
{
	struct broker_config cfg;
	struct activation act;
	struct broker *b = NULL;
	char err[512];
	int r;

	r = config_load(conf, err, sizeof(err));
	if (r == CONFIG_E_ARG && !check)
		return usage_error(err, NULL);
	if (r) {
		fprintf(stderr, "jbusd: %s%s\n", check ? "" : "cannot start: ", err);
		return 1;
	}
	if (check || print) {
		r = check ? check_config(conf) : 0;
		if (print)
			config_print(conf, stdout);
		return r;
	}
	cfg = conf->cfg;
	log_max_level = cfg.log_level;
	r = activation_take(&act, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "jbusd: cannot start: %s\n", err);
		return 1;
	}
	if (act.nfds && cfg.ready_fd >= ACTIVATION_FD_START &&
	    cfg.ready_fd < ACTIVATION_FD_START + act.nfds) {
		fprintf(stderr, "jbusd: cannot start: --ready-fd %d is one of the passed sockets\n",
			cfg.ready_fd);
		return 1;
	}
	r = activation_close_inherited(&act, cfg.ready_fd);
	/* after the inherited fds are gone: syslog's socket must not be one of them */
	log_use_syslog(cfg.use_syslog);
	if (r < 0)
		log_warn("cannot close inherited file descriptors: %s", strerror(-r));
	cfg.listen_fd = act.stream_fd;
	cfg.listen_dgram_fd = act.dgram_fd;
	cfg.notify_socket = getenv("NOTIFY_SOCKET");
	if (act.nfds && (config_given(conf, "mode") || config_given(conf, "group")))
		log_info("socket activation: -m and -g apply only to sockets jbusd binds; the "
			 "passed ones keep the mode and group the service manager gave them");
	/* a passed socket is only compared with a path that was asked for */
	if (act.stream_fd >= 0 && !config_given(conf, "socket"))
		cfg.socket_path = NULL;
	else if (!cfg.socket_path) {
		fprintf(stderr, "jbusd: default socket path is too long\n");
		return 1;
	}
	r = broker_new(&b, &cfg, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "jbusd: cannot start: %s\n", err);
		return 1;
	}
	r = broker_run(b);
	broker_free(b);
	if (r < 0) {
		fprintf(stderr, "jbusd: event loop failed: %s\n", strerror(-r));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct config conf;
	bool print = false, check = false;
	int r;

	config_init(&conf);
	r = parse_args(argc, argv, &conf, &print, &check);
	if (r < 0)
		r = run(&conf, print, check);
	config_fini(&conf);
	return r;
}
