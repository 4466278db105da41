/*
 * jbus, the command-line client: what jbus.c (dispatch, option parsing,
 * help) and the subcommands (cmd_*.c) share.
 *
 * Conventions every subcommand keeps:
 *  - exit status CLI_OK (0), CLI_FAIL (1: runtime failure: no broker, a
 *    broker error, lost connection), CLI_USAGE (2: bad command line) or,
 *    for call and wait, CLI_TIMED_OUT (3);
 *  - data goes to stdout, flushed line by line; messages go to stderr,
 *    prefixed "jbus <sub>: " (cli_error) or "jbus: " before the subcommand
 *    is known;
 *  - nothing blocks without a deadline: every synchronous call of libjbus
 *    gets CLI_TIMEOUT_MS.
 * Only the public API of libjbus (jbus.h) is used.
 */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "jbus.h"

#define _printf_(a, b) __attribute__((format(printf, a, b)))

enum {
	CLI_OK = 0,
	CLI_FAIL = 1,
	CLI_USAGE = 2,
	CLI_TIMED_OUT = 3, /* call: the broker's timeout; wait: -t ran out */
};

/* Deadline of every blocking library call (ok, pong, bye); jbus_conn_new() has its own 5 s. */
#define CLI_TIMEOUT_MS 5000

struct cli;

/* A subcommand: its help text and its entry point. */
struct cli_cmd {
	const char *name;
	const char *args;    /* synopsis after the options: "TOPIC [JSON]" */
	const char *summary; /* one line for 'jbus --help' */
	const char *help;    /* description and the subcommand's own options */
	/* argv[0] is the subcommand's name; returns the exit status */
	int (*run)(struct cli *cli, int argc, char **argv);
};

/* The invocation: set by jbus.c and the common options. */
struct cli {
	const struct cli_cmd *cmd; /* NULL until the subcommand is known */
	const char *socket;        /* -s PATH, or NULL for the default */
	const char *name;          /* -n NAME, or NULL for a generated one */
	int status;                /* CLI_FAIL once cli_on_error reported a broker error */
};

/* The subcommands (cmd_*.c). */
extern const struct cli_cmd cmd_pub, cmd_sub, cmd_listen, cmd_send, cmd_ping, cmd_call, cmd_serve,
	cmd_wait, cmd_stats, cmd_clients, cmd_monitor, cmd_bench;

/* section: options (jbus.c) */

/*
 * The subcommand's own option: fn stores arg (NULL for a flag) into opts
 * and returns 0, or reports a usage error and returns CLI_USAGE.
 */
typedef int (*cli_option_fn)(struct cli *cli, int opt, const char *arg, void *opts);

/*
 * Parse a subcommand's argv (argv[0] is its name) with its own options
 * (getopt_long syntax; long-only options use values >= 256) and the common
 * ones, in any order; options may follow the arguments ("--" ends them).
 * Returns true when the subcommand should go on with the arguments
 * argv[*first..argc); false when it must end with *status: --help or
 * --version were handled (0), or a usage error was reported (2). With
 * first NULL the subcommand takes no arguments: one is a usage error.
 */
bool cli_parse(struct cli *cli, int argc, char **argv, const char *shortopts,
	       const struct option *longopts, cli_option_fn fn, void *opts, int *first,
	       int *status);

/* section: messages (cli.c) */

/* "jbus <sub>: " + message + "\n" on stderr. */
void cli_error(const struct cli *cli, const char *fmt, ...) _printf_(2, 3);
/* cli_error plus a pointer to --help; returns CLI_USAGE. */
int cli_usage(const struct cli *cli, const char *fmt, ...) _printf_(2, 3);

/* section: arguments (cli.c) */

/*
 * The data argument of pub and send as JSON text. With as_string the text
 * is wrapped as a JSON string (escaped); otherwise it must be one JSON
 * value. Reports a usage error and returns CLI_USAGE if not; else 0, with
 * *json pointing at the text and *owned at what to free (NULL if nothing).
 */
int cli_data_arg(const struct cli *cli, const char *arg, bool as_string, const char **json,
		 char **owned);
/*
 * The arguments "NAME [JSON]" of send and call (argv[0..argc), after the
 * options): the data as for cli_data_arg(), *json NULL without JSON.
 * Returns CLI_OK or the status of a usage error (a missing NAME, an extra
 * argument, --string without text, JSON that does not parse).
 */
int cli_name_json_args(const struct cli *cli, int argc, char **argv, bool as_string,
		       const char **json, char **owned);
/*
 * Text (any bytes, n of them) as a JSON string, malloc'd. NULL when it is
 * not valid UTF-8 (errno EILSEQ) or out of memory (errno ENOMEM).
 */
char *cli_json_string(const char *text, size_t n);
/*
 * A frame from the broker parsed by json-c as deep as the protocol allows
 * (64 levels; json_tokener_parse() stops at 32). NULL if it does not parse.
 */
json_object *cli_parse_frame(const char *text);
/* Positive integer option value; else a usage error naming opt (returns CLI_USAGE). */
int cli_parse_count(const struct cli *cli, const char *opt, const char *arg,
		    unsigned long long *out);
/* Seconds, fractional allowed, 0.001 to 1e9; *ms receives them in milliseconds (rounded up). */
int cli_parse_seconds(const struct cli *cli, const char *opt, const char *arg, long long *ms);

/* section: the broker (cli.c) */

/*
 * Connect to cli->socket (or the default path) under name (NULL: a
 * generated one), with cli_on_error as the error callback and on_msg (may
 * be NULL) for direct messages. A message sent to the name as soon as the
 * broker knows it, arriving with the welcome, still reaches on_msg: the
 * library keeps it for the first dispatch. On failure reports "cannot
 * connect to PATH: reason" and returns CLI_FAIL (CLI_USAGE for a name the
 * broker would never accept).
 */
int cli_connect(struct cli *cli, const char *name, jbus_msg_fn on_msg, void *ud, jbus_conn **cp);
/* The usage error for a client name outside [A-Za-z0-9._-]{1,64}; returns CLI_USAGE. */
int cli_bad_name(const struct cli *cli, const char *name);
/* Does name match [A-Za-z0-9._-]{1,64}? */
bool cli_name_valid(const char *name);
/*
 * Report the failure r of a library call on c as "<what>: <reason>", what
 * formatted from fmt; a broker error is reported by the broker's message
 * alone, a lost connection as such. Returns the exit status: CLI_USAGE
 * when the library rejected an argument (JBUS_E_BAD_TOPIC, _BAD_NAME,
 * _BAD_JSON), CLI_FAIL for the rest.
 */
int cli_fail(const struct cli *cli, jbus_conn *c, int r, const char *fmt, ...) _printf_(4, 5);
/*
 * Error callback for jbus_conn_on_error(), with the struct cli as userdata:
 * an error frame not answering a synchronous call (a batched publish that
 * failed, shutting_down, slow_consumer) is printed as the broker's message
 * and makes cli->status CLI_FAIL.
 */
void cli_on_error(jbus_conn *c, const char *code, const char *message, const char *id, void *ud);
/* Control characters in s become spaces, so that it prints as one line; returns s. */
char *cli_one_line(char *s);
/*
 * An error that has a code, in the form every subcommand uses: one
 * line "jbus: CODE: MESSAGE" on stderr (control characters in the message
 * become spaces). Returns CLI_FAIL.
 */
int cli_code_error(const char *code, const char *fmt, ...) _printf_(2, 3);
/*
 * The failure r of a library call on c: an error frame or an error reply
 * (JBUS_E_BROKER, JBUS_E_REPLY) through cli_code_error with its code and
 * message, anything else through cli_fail with what. Returns the exit
 * status: CLI_TIMED_OUT for the broker's own timeout (an error reply that
 * happens to have the code "timeout" is CLI_FAIL, like any other).
 */
int cli_broker_error(const struct cli *cli, jbus_conn *c, int r, const char *what);

/* section: output (cli.c) */

/*
 * Write parts[0..n) then '\n' on stdout and flush, so a pipe reader gets
 * the line at once. Returns 0, -EPIPE when the reader has gone (SIGPIPE
 * is ignored: the caller ends quietly), or another negative errno, already
 * reported.
 */
struct cli_span {
	const char *p;
	size_t n;
};
int cli_print(const struct cli *cli, const struct cli_span *parts, size_t n);
/*
 * The same in two steps, for a burst of lines: cli_write() leaves the line
 * in stdout's buffer (written when it fills), cli_flush() writes the rest.
 * A caller must flush before it waits for anything.
 */
int cli_write(const struct cli *cli, const struct cli_span *parts, size_t n);
int cli_flush(const struct cli *cli);
/* Monotonic clock in milliseconds, for deadlines. */
long long cli_now_ms(void);
