/*
 * jbusd: command line, then broker_new() and broker_run(). Nothing else
 * lives here, so tests and fuzzers link the same broker code.
 *
 * Exit status: 0 after a clean shutdown, 1 when the broker cannot start,
 * 2 for a usage error.
 */
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "activation.h"
#include "broker.h"
#include "log.h"
#include "sockpath.h"

#define EXIT_USAGE 2

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: jbusd [OPTION]...\n"
		"Local message broker: routes newline-delimited JSON frames between\n"
		"clients of an AF_UNIX stream socket.\n"
		"\n"
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
		"SIGHUP reloads the policy file; a policy that fails to load is logged\n"
		"and the running one kept.\n"
		"\n"
		"Under a service manager: with LISTEN_FDS and LISTEN_PID (socket activation)\n"
		"jbusd serves on the passed listening socket (and a passed datagram socket)\n"
		"instead of binding, and leaves their files to the manager; with\n"
		"NOTIFY_SOCKET it reports READY=1, STATUS=, RELOADING=1 and STOPPING=1.\n"
		"\n"
		"Exit status: 0 after a clean shutdown (SIGINT, SIGTERM), 1 if the broker\n"
		"cannot start, 2 for a usage error.\n");
}

static int usage_error(const char *what, const char *arg, const char *range)
{
	fprintf(stderr, "jbusd: %s '%s'%s\nTry 'jbusd --help' for more information.\n", what,
		arg, range);
	return EXIT_USAGE;
}

/* Unsigned integer with an optional binary suffix K, M or G. */
static int parse_size(const char *s, unsigned long long lo, unsigned long long hi,
		      unsigned long long *out)
{
	unsigned long long v, mul = 1;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	if (*end) {
		switch (*end) {
		case 'k': case 'K': mul = 1ULL << 10; break;
		case 'm': case 'M': mul = 1ULL << 20; break;
		case 'g': case 'G': mul = 1ULL << 30; break;
		default: return -1;
		}
		if (end[1])
			return -1;
	}
	if (v > ULLONG_MAX / mul)
		return -1;
	v *= mul;
	if (v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* Seconds, fractional allowed, from 0.001 to max; result in ms. */
static int parse_seconds(const char *s, double max, uint64_t *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0.001 || v > max)
		return -1;
	*ms = (uint64_t)llround(v * 1000);
	return 0;
}

/* A group name or number. */
static int parse_group(const char *s, gid_t *gid)
{
	unsigned long long v;
	struct group *g;

	if (parse_size(s, 0, UINT32_MAX - 1, &v) == 0 && !strpbrk(s, "kKmMgG")) {
		*gid = (gid_t)v;
		return 0;
	}
	g = getgrnam(s);
	if (!g)
		return -1;
	*gid = g->gr_gid;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "mode", required_argument, NULL, 'm' },
		{ "max-frame", required_argument, NULL, 'F' },
		{ "max-clients", required_argument, NULL, 'C' },
		{ "queue-limit", required_argument, NULL, 'Q' },
		{ "handshake-timeout", required_argument, NULL, 'T' },
		{ "ready-fd", required_argument, NULL, 'R' },
		{ "request-timeout", required_argument, NULL, 'r' },
		{ "max-request-timeout", required_argument, NULL, 'x' },
		{ "max-pending", required_argument, NULL, 'P' },
		{ "max-retained", required_argument, NULL, 'N' },
		{ "max-retained-bytes", required_argument, NULL, 'B' },
		{ "max-retained-bytes-per-uid", required_argument, NULL, 'b' },
		{ "retain-file", required_argument, NULL, 'f' },
		{ "dgram", required_argument, NULL, 'D' },
		{ "group", required_argument, NULL, 'g' },
		{ "policy", required_argument, NULL, 'p' },
		{ "max-clients-per-uid", required_argument, NULL, 'U' },
		{ "max-subs", required_argument, NULL, 'S' },
		{ "idle-timeout", required_argument, NULL, 'I' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "syslog", no_argument, NULL, 'y' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct broker_config cfg = BROKER_CONFIG_DEFAULT;
	struct activation act;
	bool mode_given = false, use_syslog = false;
	struct broker *b = NULL;
	char path[PATH_MAX], err[512];
	unsigned long long v;
	uint64_t ms;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:m:g:vqhV", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			cfg.socket_path = optarg;
			break;
		case 'm': {
			char *end;
			long m;
			errno = 0;
			m = strtol(optarg, &end, 8);
			if (errno || end == optarg || *end || m < 0 || m > 0777 || *optarg == '-' ||
			    *optarg == '+')
				return usage_error("invalid mode", optarg, " (octal, 0..0777)");
			cfg.mode = (mode_t)m;
			mode_given = true;
			break;
		}
		case 'F':
			if (parse_size(optarg, 64, 1ULL << 30, &v) < 0)
				return usage_error("invalid --max-frame", optarg, " (64..1G)");
			cfg.max_frame = (size_t)v;
			break;
		case 'C':
			if (parse_size(optarg, 1, 1000000, &v) < 0 || strpbrk(optarg, "kKmMgG"))
				return usage_error("invalid --max-clients", optarg,
						   " (1..1000000)");
			cfg.max_clients = (uint32_t)v;
			break;
		case 'Q':
			if (parse_size(optarg, 1024, 64ULL << 30, &v) < 0)
				return usage_error("invalid --queue-limit", optarg, " (1K..64G)");
			cfg.queue_limit = (size_t)v;
			break;
		case 'T':
			if (parse_seconds(optarg, 3600, &ms) < 0)
				return usage_error("invalid --handshake-timeout", optarg,
						   " (0.001..3600 seconds)");
			cfg.handshake_timeout_ms = (uint32_t)ms;
			break;
		case 'r':
			if (parse_seconds(optarg, 86400, &ms) < 0)
				return usage_error("invalid --request-timeout", optarg,
						   " (0.001..86400 seconds)");
			cfg.request_timeout_ms = ms;
			break;
		case 'x':
			if (parse_seconds(optarg, 86400, &ms) < 0)
				return usage_error("invalid --max-request-timeout", optarg,
						   " (0.001..86400 seconds)");
			cfg.max_request_timeout_ms = ms;
			break;
		case 'P':
			if (parse_size(optarg, 1, 1000000, &v) < 0 || strpbrk(optarg, "kKmMgG"))
				return usage_error("invalid --max-pending", optarg, " (1..1000000)");
			cfg.max_pending = (uint32_t)v;
			break;
		case 'N':
			if (parse_size(optarg, 0, 10000000, &v) < 0 || strpbrk(optarg, "kKmMgG"))
				return usage_error("invalid --max-retained", optarg, " (0..10000000)");
			cfg.max_retained = (size_t)v;
			break;
		case 'B':
			if (parse_size(optarg, 0, 64ULL << 30, &v) < 0)
				return usage_error("invalid --max-retained-bytes", optarg, " (0..64G)");
			cfg.max_retained_bytes = (size_t)v;
			break;
		case 'b':
			if (parse_size(optarg, 0, 64ULL << 30, &v) < 0)
				return usage_error("invalid --max-retained-bytes-per-uid", optarg,
						   " (0..64G)");
			cfg.max_retained_bytes_per_uid = (size_t)v;
			break;
		case 'f':
			if (!*optarg)
				return usage_error("invalid --retain-file", optarg, " (empty path)");
			cfg.retain_file = optarg;
			break;
		case 'D':
			if (!*optarg)
				return usage_error("invalid --dgram", optarg, " (empty path)");
			cfg.dgram_path = optarg;
			break;
		case 'g':
			if (parse_group(optarg, &cfg.socket_group) < 0)
				return usage_error("unknown group", optarg, "");
			break;
		case 'p':
			if (!*optarg)
				return usage_error("invalid --policy", optarg, " (empty path)");
			cfg.policy_file = optarg;
			break;
		case 'U':
			if (parse_size(optarg, 0, 1000000, &v) < 0 || strpbrk(optarg, "kKmMgG"))
				return usage_error("invalid --max-clients-per-uid", optarg,
						   " (0..1000000)");
			cfg.max_clients_per_uid = (uint32_t)v;
			break;
		case 'S':
			if (parse_size(optarg, 1, 10000000, &v) < 0 || strpbrk(optarg, "kKmMgG"))
				return usage_error("invalid --max-subs", optarg, " (1..10000000)");
			cfg.max_subs = (uint32_t)v;
			break;
		case 'I':
			if (!strcmp(optarg, "0")) {
				cfg.idle_timeout_ms = 0;
				break;
			}
			if (parse_seconds(optarg, 86400 * 7, &ms) < 0)
				return usage_error("invalid --idle-timeout", optarg,
						   " (0, or 0.001..604800 seconds)");
			cfg.idle_timeout_ms = ms;
			break;
		case 'R':
			if (parse_size(optarg, 0, INT_MAX, &v) < 0 || strpbrk(optarg, "kKmMgG"))
				return usage_error("invalid --ready-fd", optarg, "");
			cfg.ready_fd = (int)v;
			break;
		case 'v':
			log_max_level = LOG_LVL_DEBUG;
			break;
		case 'q':
			log_max_level = LOG_LVL_WARN;
			break;
		case 'l':
			if (log_level_parse(optarg, &log_max_level) < 0)
				return usage_error("invalid --log-level", optarg,
						   " (error, warn, info or debug)");
			break;
		case 'y':
			use_syslog = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("jbusd %s\n", JBUS_VERSION);
			return 0;
		case ':':
			return usage_error("missing value for option", argv[optind - 1], "");
		default:
			return usage_error("unknown option", argv[optind - 1], "");
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument", argv[optind], "");
	if (cfg.request_timeout_ms > cfg.max_request_timeout_ms) {
		fprintf(stderr, "jbusd: --request-timeout (%llu ms) is above --max-request-timeout "
				"(%llu ms)\nTry 'jbusd --help' for more information.\n",
			(unsigned long long)cfg.request_timeout_ms,
			(unsigned long long)cfg.max_request_timeout_ms);
		return EXIT_USAGE;
	}
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
	if (use_syslog)
		log_use_syslog();
	if (r < 0)
		log_warn("cannot close inherited file descriptors: %s", strerror(-r));
	cfg.listen_fd = act.stream_fd;
	cfg.listen_dgram_fd = act.dgram_fd;
	cfg.notify_socket = getenv("NOTIFY_SOCKET");
	if (act.nfds && (mode_given || cfg.socket_group != (gid_t)-1))
		log_info("socket activation: -m and -g apply only to sockets jbusd binds; the "
			 "passed ones keep the mode and group the service manager gave them");
	if (!cfg.socket_path && act.stream_fd < 0) {
		if (sockpath_default(path, sizeof(path)) < 0) {
			fprintf(stderr, "jbusd: default socket path is too long\n");
			return 1;
		}
		cfg.socket_path = path;
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
