/*
 * jbusd's settings from three sources, later ones winning: built-in
 * defaults, a JSON configuration file (-c FILE) and the command line.
 * Every command-line option has a key in the file: its long name with '_'
 * for '-' (--max-clients is "max_clients"). One table describes each
 * option once, so the command line, the file, --print-config and the
 * reload on SIGHUP cannot disagree about names, ranges or units.
 */
#pragma once

#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "broker.h"

/* config_load()'s failures: which source was wrong decides the exit status. */
enum {
	CONFIG_E_FILE = 1, /* the file, or a combination of settings */
	CONFIG_E_ARG,      /* a command-line value (a usage error) */
};

struct config_arg {
	int opt;           /* index into the option table */
	const char *value; /* borrowed from argv; NULL for flags */
};

struct config {
	struct broker_config cfg; /* the effective settings, after config_load() */
	const char *file;         /* -c FILE (borrowed from argv), or NULL */
	struct config_arg *args;  /* the command line's settings, in order: owned */
	size_t nargs;
	json_object *doc;         /* the parsed file: cfg's strings from it point here */
	char *policy_path;        /* cfg.policy_file after a reload (reload.c): owned */
	uint64_t given;           /* bit per option: set by the file or the command line */
	char default_socket[PATH_MAX];
};

/* getopt_long's table for the settings (NULL-terminated, owned by config.c). */
const struct option *config_getopt_table(void);
/* The option index of a getopt_long value from that table, or -1. */
int config_opt_of(int getopt_val);

void config_init(struct config *c);
void config_fini(struct config *c);

/* Records a command-line setting (validated by config_load). */
int config_add_arg(struct config *c, int opt, const char *value);

/*
 * Defaults, then the file (if any), then the command line into c->cfg.
 * Returns 0, or CONFIG_E_FILE / CONFIG_E_ARG with the reason in err: the
 * file, the key and why ("/etc/jbusd.json: key 'max_clients': invalid
 * value 0 (1..1000000)"), or the option as it was given.
 */
int config_load(struct config *c, char *err, size_t errlen);

/* True if the option named by its key was set by the file or the command line. */
bool config_given(const struct config *c, const char *key);

/* Writes the effective configuration as a JSON object that -c accepts. */
void config_print(const struct config *c, FILE *f);

/* Copies the settings that can change while running from src to dst (not strings). */
void config_copy_live(struct broker_config *dst, const struct broker_config *src);

/*
 * Calls fn for each setting that differs between a and b, with its key,
 * whether it can change while running, and both values as text.
 */
typedef void (*config_diff_fn)(void *ud, const char *key, bool live, const char *was,
			       const char *now);
void config_diff(const struct broker_config *a, const struct broker_config *b, config_diff_fn fn,
		 void *ud);
