/*
 * Helpers shared by the jbus subcommands (see cli.h): messages on stderr,
 * argument checking, connecting with an error that names the socket path,
 * turning library errors into messages and exit statuses, and line output
 * that reaches a pipe at once.
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void vmessage(const struct cli *cli, const char *fmt, va_list ap)
{
	fprintf(stderr, "jbus%s%s: ", cli->cmd ? " " : "", cli->cmd ? cli->cmd->name : "");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_error(const struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(cli, fmt, ap);
	va_end(ap);
}

int cli_usage(const struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(cli, fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try 'jbus%s%s --help' for more information.\n", cli->cmd ? " " : "",
		cli->cmd ? cli->cmd->name : "");
	return CLI_USAGE;
}

/* section: arguments */

char *cli_json_string(const char *text, size_t n)
{
	json_object *o = n <= INT32_MAX ? json_object_new_string_len(text, (int)n) : NULL;
	const char *s;
	char *copy = NULL;

	if (!o) {
		errno = ENOMEM;
		return NULL;
	}
	/* json-c escapes quotes, backslashes and control characters but copies other bytes */
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						      JSON_C_TO_STRING_NOSLASHESCAPE);
	if (s && jbus_json_check(s, -1, NULL, NULL) != 0)
		errno = EILSEQ;
	else if (s && !(copy = strdup(s)))
		errno = ENOMEM;
	else if (!s)
		errno = ENOMEM;
	json_object_put(o);
	return copy;
}

json_object *cli_parse_frame(const char *text)
{
	/* json-c counts a scalar as a level of its own: 64 containers need 65 */
	json_tokener *tok = json_tokener_new_ex(65);
	json_object *o;

	if (!tok)
		return NULL;
	o = json_tokener_parse_ex(tok, text, (int)strlen(text) + 1);
	json_tokener_free(tok);
	return o;
}

int cli_data_arg(const struct cli *cli, const char *arg, bool as_string, const char **json,
		 char **owned)
{
	const char *reason = NULL;
	size_t off = 0;

	*owned = NULL;
	*json = arg;
	if (as_string) {
		*owned = cli_json_string(arg, strlen(arg));
		if (!*owned && errno == EILSEQ)
			return cli_usage(cli, "the text argument is not valid UTF-8");
		if (!*owned) {
			cli_error(cli, "%s", strerror(errno));
			return CLI_FAIL;
		}
		*json = *owned;
		return 0;
	}
	if (jbus_json_check(arg, -1, &off, &reason) != 0)
		return cli_usage(cli, "invalid JSON argument at byte %zu: %s", off, reason);
	return 0;
}

int cli_name_json_args(const struct cli *cli, int argc, char **argv, bool as_string,
		       const char **json, char **owned)
{
	*json = NULL;
	*owned = NULL;
	if (argc < 1)
		return cli_usage(cli, "missing NAME");
	if (argc > 2)
		return cli_usage(cli, "unexpected argument '%s'", argv[2]);
	if (as_string && argc < 2)
		return cli_usage(cli, "--string needs the text to send as an argument");
	return argc == 2 ? cli_data_arg(cli, argv[1], as_string, json, owned) : CLI_OK;
}

int cli_parse_count(const struct cli *cli, const char *opt, const char *arg,
		    unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end || errno || *out == 0)
		return cli_usage(cli, "invalid %s value '%s' (a positive integer)", opt, arg);
	return 0;
}

int cli_parse_seconds(const struct cli *cli, const char *opt, const char *arg, long long *ms)
{
	char *end;
	double s;

	errno = 0;
	s = strtod(arg, &end);
	if (end == arg || *end || errno || !isfinite(s) || s < 0.001 || s > 1e9)
		return cli_usage(cli, "invalid %s value '%s' (seconds, 0.001 to 1e9)", opt, arg);
	*ms = (long long)ceil(s * 1000);
	return 0;
}

/* section: the broker */

bool cli_name_valid(const char *name)
{
	static const char allowed[] = "abcdefghijklmnopqrstuvwxyz"
				      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
	size_t n = strlen(name);

	return n >= 1 && n <= 64 && strspn(name, allowed) == n;
}

int cli_bad_name(const struct cli *cli, const char *name)
{
	return cli_usage(cli, "invalid client name '%s' (%s)", name,
			 "[A-Za-z0-9._-], 1 to 64 characters");
}

int cli_connect(struct cli *cli, const char *name, jbus_msg_fn on_msg, void *ud, jbus_conn **cp)
{
	/*
	 * Resolved here rather than by the library so that an error can name it,
	 * with room for a default the library will refuse (over 107 bytes).
	 */
	char def[4096];
	const char *path = cli->socket;
	int r = 0;

	if (!path) {
		r = jbus_default_socket_path(def, sizeof(def));
		path = def;
	}
	if (r == 0 && !*path)
		return cli_usage(cli, "the socket path is empty");
	/*
	 * jbus_conn_new() rather than jbus_conn_open() and a loop of our own: it
	 * keeps what arrives with the welcome (a message sent to the name as soon
	 * as the broker knows it) until the first dispatch, which runs after the
	 * callbacks below are in place.
	 */
	if (r == 0)
		r = jbus_conn_new(cp, path, name);
	switch (r) {
	case 0:
		jbus_conn_on_error(*cp, cli_on_error, cli);
		if (on_msg)
			jbus_conn_on_message(*cp, on_msg, ud);
		return CLI_OK;
	case JBUS_E_BAD_NAME:
		/* refused locally or by the broker: the same rule either way */
		return cli_bad_name(cli, name);
	case JBUS_E_NAME_TAKEN:
		cli_error(cli, "cannot connect to %s: the name '%s' is taken by a connected client",
			  path, name);
		return CLI_FAIL;
	default:
		cli_error(cli, "cannot connect to %s: %s", path, jbus_strerror(r));
		return CLI_FAIL;
	}
}

int cli_fail(const struct cli *cli, jbus_conn *c, int r, const char *fmt, ...)
{
	const char *code, *message;
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	switch (r) {
	case JBUS_E_BROKER:
		if (c && jbus_conn_last_error(c, &code, &message)) {
			cli_error(cli, "%s", *message ? message : code);
			return CLI_FAIL;
		}
		break;
	case JBUS_E_CLOSED:
		cli_error(cli, "connection to the broker lost");
		return CLI_FAIL;
	case -EPIPE:
	case -ECONNRESET:
	case -ENOTCONN:
	case JBUS_E_PROTOCOL:
		cli_error(cli, "connection to the broker lost: %s", jbus_strerror(r));
		return CLI_FAIL;
	case -ETIMEDOUT:
		cli_error(cli, "%s: no answer from the broker within %d s", what,
			  CLI_TIMEOUT_MS / 1000);
		return CLI_FAIL;
	case JBUS_E_BAD_TOPIC:
	case JBUS_E_BAD_NAME:
	case JBUS_E_BAD_JSON:
		return cli_usage(cli, "%s: %s", what, jbus_strerror(r));
	}
	cli_error(cli, "%s: %s", what, jbus_strerror(r));
	return CLI_FAIL;
}

void cli_on_error(jbus_conn *c, const char *code, const char *message, const char *id, void *ud)
{
	struct cli *cli = ud;

	cli_error(cli, "%s", *message ? message : code);
	cli->status = CLI_FAIL;
}

char *cli_one_line(char *s)
{
	for (char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return s;
}

int cli_code_error(const char *code, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* one line, whatever the message carries */
	fprintf(stderr, "jbus: %s: %s\n", code, cli_one_line(msg));
	return CLI_FAIL;
}

int cli_broker_error(const struct cli *cli, jbus_conn *c, int r, const char *what)
{
	const char *code, *message;

	if ((r != JBUS_E_BROKER && r != JBUS_E_REPLY) || !c ||
	    !jbus_conn_last_error(c, &code, &message))
		return cli_fail(cli, c, r, "%s", what);
	cli_code_error(code, "%s", message);
	return r == JBUS_E_BROKER && !strcmp(code, "timeout") ? CLI_TIMED_OUT : CLI_FAIL;
}

/* section: output */

/* The state of stdout after a write or flush: 0, -EPIPE, or another error (reported). */
static int out_status(const struct cli *cli, bool failed)
{
	int err = errno;

	if (!failed && !ferror(stdout))
		return 0;
	if (err == EPIPE)
		return -EPIPE;
	cli_error(cli, "cannot write to standard output: %s", strerror(err));
	return err ? -err : -EIO;
}

int cli_write(const struct cli *cli, const struct cli_span *parts, size_t n)
{
	bool failed = false;

	for (size_t i = 0; i < n; i++)
		failed |= fwrite(parts[i].p, 1, parts[i].n, stdout) != parts[i].n;
	failed |= putc('\n', stdout) == EOF;
	return out_status(cli, failed);
}

int cli_flush(const struct cli *cli)
{
	return out_status(cli, fflush(stdout) != 0);
}

int cli_print(const struct cli *cli, const struct cli_span *parts, size_t n)
{
	int r = cli_write(cli, parts, n);

	return r < 0 ? r : cli_flush(cli);
}

long long cli_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
