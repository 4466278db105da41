/* jbusd's settings: defaults, configuration file, command line (see config.h). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sockpath.h"
#include "util.h"

enum kind {
	K_PATH,    /* a non-empty path; null in the file: unset */
	K_MODE,    /* octal digits, 0..0777 */
	K_GROUP,   /* a group name or number */
	K_SIZE,    /* bytes, suffix K, M or G */
	K_COUNT,   /* a plain integer */
	K_SECONDS, /* fractional seconds, kept in ms */
	K_FD,      /* a file descriptor */
	K_LEVEL,   /* a log level name */
	K_FLAG,    /* no value: sets log_level to lo (-v, -q) */
	K_BOOL,    /* no value on the command line; true or false in the file */
};

struct opt {
	const char *name;  /* long option */
	const char *key;   /* in the file and --print-config */
	int val;           /* getopt_long's value */
	uint8_t kind;
	bool live;         /* a reload applies it to the running broker */
	bool zero_ok;      /* K_SECONDS: 0 also allowed, meaning "none" */
	bool alias;        /* another spelling of a setting --print-config shows elsewhere */
	uint64_t lo, hi;   /* range (K_SECONDS: seconds) */
	const char *range; /* said after an invalid value */
	size_t off, size;  /* the field of struct broker_config */
};

#define F(field) offsetof(struct broker_config, field), sizeof(((struct broker_config *)0)->field)

static const struct opt opts[] = {
	{ "socket", "socket", 's', K_PATH, false, false, false, 0, 0, " (empty path)",
	  F(socket_path) },
	{ "mode", "mode", 'm', K_MODE, false, false, false, 0, 0777, " (octal, 0..0777)", F(mode) },
	{ "group", "group", 'g', K_GROUP, false, false, false, 0, UINT32_MAX - 1, " (no such group)",
	  F(socket_group) },
	{ "policy", "policy", 'p', K_PATH, true, false, false, 0, 0, " (empty path)",
	  F(policy_file) },
	{ "max-frame", "max_frame", 'F', K_SIZE, false, false, false, 64, 1ULL << 30, " (64..1G)",
	  F(max_frame) },
	{ "max-clients", "max_clients", 'C', K_COUNT, true, false, false, 1, 1000000,
	  " (1..1000000)", F(max_clients) },
	{ "max-clients-per-uid", "max_clients_per_uid", 'U', K_COUNT, true, false, false, 0,
	  1000000, " (0..1000000)", F(max_clients_per_uid) },
	{ "max-subs", "max_subs", 'S', K_COUNT, true, false, false, 1, 10000000, " (1..10000000)",
	  F(max_subs) },
	{ "queue-limit", "queue_limit", 'Q', K_SIZE, true, false, false, 1024, 64ULL << 30,
	  " (1K..64G)", F(queue_limit) },
	{ "handshake-timeout", "handshake_timeout", 'T', K_SECONDS, true, false, false, 0, 3600,
	  " (0.001..3600 seconds)", F(handshake_timeout_ms) },
	{ "idle-timeout", "idle_timeout", 'I', K_SECONDS, true, true, false, 0, 86400 * 7,
	  " (0, or 0.001..604800 seconds)", F(idle_timeout_ms) },
	{ "request-timeout", "request_timeout", 'r', K_SECONDS, true, false, false, 0, 86400,
	  " (0.001..86400 seconds)", F(request_timeout_ms) },
	{ "max-request-timeout", "max_request_timeout", 'x', K_SECONDS, true, false, false, 0,
	  86400, " (0.001..86400 seconds)", F(max_request_timeout_ms) },
	{ "max-pending", "max_pending", 'P', K_COUNT, true, false, false, 1, 1000000,
	  " (1..1000000)", F(max_pending) },
	{ "max-retained", "max_retained", 'N', K_COUNT, true, false, false, 0, 10000000,
	  " (0..10000000)", F(max_retained) },
	{ "max-retained-bytes", "max_retained_bytes", 'B', K_SIZE, true, false, false, 0,
	  64ULL << 30, " (0..64G)", F(max_retained_bytes) },
	{ "max-retained-bytes-per-uid", "max_retained_bytes_per_uid", 'b', K_SIZE, true, false,
	  false, 0, 64ULL << 30, " (0..64G)", F(max_retained_bytes_per_uid) },
	{ "retain-file", "retain_file", 'f', K_PATH, false, false, false, 0, 0, " (empty path)",
	  F(retain_file) },
	{ "dgram", "dgram", 'D', K_PATH, false, false, false, 0, 0, " (empty path)",
	  F(dgram_path) },
	{ "ready-fd", "ready_fd", 'R', K_FD, false, false, false, 0, INT_MAX, " (0.." "2147483647)",
	  F(ready_fd) },
	{ "verbose", "verbose", 'v', K_FLAG, true, false, true, LOG_LVL_DEBUG, 0, "",
	  F(log_level) },
	{ "quiet", "quiet", 'q', K_FLAG, true, false, true, LOG_LVL_WARN, 0, "", F(log_level) },
	{ "log-level", "log_level", 'l', K_LEVEL, true, false, false, 0, 0,
	  " (error, warn, info or debug)", F(log_level) },
	{ "syslog", "syslog", 'y', K_BOOL, true, false, false, 0, 0, "", F(use_syslog) },
};

#define NOPTS ARRAY_SIZE(opts)
_Static_assert(NOPTS <= 64, "config.given has a bit per option");

const struct option *config_getopt_table(void)
{
	static struct option t[NOPTS + 1];

	if (!t[0].name)
		for (size_t i = 0; i < NOPTS; i++)
			t[i] = (struct option){ opts[i].name,
						opts[i].kind >= K_FLAG ? no_argument
								       : required_argument,
						NULL, opts[i].val };
	return t;
}

int config_opt_of(int getopt_val)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (opts[i].val == getopt_val)
			return (int)i;
	return -1;
}

void config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->cfg = (struct broker_config)BROKER_CONFIG_DEFAULT;
}

void config_fini(struct config *c)
{
	free(c->args);
	free(c->policy_path);
	c->policy_path = NULL;
	c->args = NULL;
	c->nargs = 0;
	if (c->doc)
		json_object_put(c->doc);
	c->doc = NULL;
}

int config_add_arg(struct config *c, int opt, const char *value)
{
	struct config_arg *a = realloc(c->args, (c->nargs + 1) * sizeof(*a));

	if (!a)
		return -ENOMEM;
	c->args = a;
	a[c->nargs++] = (struct config_arg){ opt, value };
	return 0;
}

static void store(struct broker_config *cfg, const struct opt *o, uint64_t v)
{
	char *p = (char *)cfg + o->off;

	switch (o->size) {
	case 1: *(uint8_t *)p = (uint8_t)v; break;
	case 2: *(uint16_t *)p = (uint16_t)v; break;
	case 4: *(uint32_t *)p = (uint32_t)v; break;
	default: *(uint64_t *)p = v; break;
	}
}

static uint64_t fetch(const struct broker_config *cfg, const struct opt *o)
{
	const char *p = (const char *)cfg + o->off;

	switch (o->size) {
	case 1: return *(const uint8_t *)p;
	case 2: return *(const uint16_t *)p;
	case 4: return *(const uint32_t *)p;
	default: return *(const uint64_t *)p;
	}
}

static const char *fetch_str(const struct broker_config *cfg, const struct opt *o)
{
	return *(const char *const *)((const char *)cfg + o->off);
}

/* Unsigned integer with an optional binary suffix K, M or G (if suffix). */
static int parse_uint(const char *s, bool suffix, uint64_t *out)
{
	unsigned long long v, mul = 1;
	char *end;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	if (*end) {
		if (!suffix || end[1])
			return -1;
		switch (*end) {
		case 'k': case 'K': mul = 1ULL << 10; break;
		case 'm': case 'M': mul = 1ULL << 20; break;
		case 'g': case 'G': mul = 1ULL << 30; break;
		default: return -1;
		}
	}
	if (v > ULLONG_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

/* Parses text as o's value into cfg; -1 if it is not one (o->range says why). */
static int set_text(struct broker_config *cfg, const struct opt *o, const char *text)
{
	uint64_t v;

	switch (o->kind) {
	case K_PATH:
		if (!*text)
			return -1;
		*(const char **)((char *)cfg + o->off) = text;
		return 0;
	case K_MODE: {
		char *end;
		long m;

		if (!*text || *text == '-' || *text == '+' || *text == ' ')
			return -1;
		errno = 0;
		m = strtol(text, &end, 8);
		if (errno || *end || m < 0 || m > 0777)
			return -1;
		v = (uint64_t)m;
		break;
	}
	case K_GROUP: {
		struct group *g;

		if (parse_uint(text, false, &v) == 0) {
			if (v > o->hi)
				return -1;
			break;
		}
		g = getgrnam(text);
		if (!g)
			return -1;
		v = g->gr_gid;
		break;
	}
	case K_SIZE:
	case K_COUNT:
	case K_FD:
		if (parse_uint(text, o->kind == K_SIZE, &v) < 0 || v < o->lo || v > o->hi)
			return -1;
		break;
	case K_SECONDS: {
		char *end;
		double s;

		if (o->zero_ok && !strcmp(text, "0")) {
			v = 0;
			break;
		}
		errno = 0;
		s = strtod(text, &end);
		if (errno || end == text || *end || !isfinite(s) || s < 0.001 || s > (double)o->hi)
			return -1;
		v = (uint64_t)llround(s * 1000);
		break;
	}
	case K_LEVEL: {
		enum log_level l;

		if (log_level_parse(text, &l) < 0)
			return -1;
		v = l;
		break;
	}
	case K_FLAG:
		v = o->lo;
		break;
	default: /* K_BOOL: set from the command line */
		v = 1;
		break;
	}
	store(cfg, o, v);
	return 0;
}

/* The levenshtein distance of a and b, at most 3 (for "did you mean"). */
static unsigned distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned row[64], prev, tmp;

	if (la >= ARRAY_SIZE(row) || lb >= ARRAY_SIZE(row))
		return 3;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			tmp = row[j];
			unsigned best = prev + (a[i - 1] != b[j - 1]);

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb] < 3 ? row[lb] : 3;
}

static const struct opt *opt_by_key(const char *key)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (!strcmp(opts[i].key, key))
			return &opts[i];
	return NULL;
}

/* One member of the file into cfg; on failure the reason (after the key) in why. */
static int set_json(struct broker_config *cfg, const struct opt *o, json_object *v, char *why,
		    size_t len)
{
	enum json_type t = json_object_get_type(v);
	char num[64];
	const char *text = NULL;

	switch (o->kind) {
	case K_PATH:
	case K_FD:
		if (t == json_type_null) {
			if (o->kind == K_PATH)
				*(const char **)((char *)cfg + o->off) = NULL;
			else
				store(cfg, o, (uint64_t)-1);
			return 0;
		}
		break;
	case K_FLAG:
	case K_BOOL:
		if (t != json_type_boolean) {
			snprintf(why, len, "must be true or false");
			return -1;
		}
		if (o->kind == K_BOOL)
			store(cfg, o, json_object_get_boolean(v));
		else if (json_object_get_boolean(v))
			store(cfg, o, o->lo);
		return 0;
	case K_GROUP:
		if (t == json_type_null) {
			cfg->socket_group = (gid_t)-1;
			return 0;
		}
		break;
	default:
		break;
	}
	if (t == json_type_string && o->kind != K_COUNT && o->kind != K_FD &&
	    o->kind != K_SECONDS) {
		text = json_object_get_string(v);
	} else if (t == json_type_int && o->kind != K_PATH && o->kind != K_MODE &&
		   o->kind != K_LEVEL) {
		snprintf(num, sizeof(num), "%" PRId64, json_object_get_int64(v));
		text = num;
	} else if (t == json_type_double && o->kind == K_SECONDS) {
		snprintf(num, sizeof(num), "%.17g", json_object_get_double(v));
		text = num;
	} else {
		static const char *const what[] = {
			[K_PATH] = "a string (a path)",
			[K_MODE] = "a string of octal digits, such as \"0660\"",
			[K_GROUP] = "a group name (string) or number",
			[K_SIZE] = "a number of bytes, or a string with a suffix K, M or G",
			[K_COUNT] = "an integer",
			[K_SECONDS] = "a number of seconds",
			[K_FD] = "an integer (a file descriptor) or null",
			[K_LEVEL] = "a string: error, warn, info or debug",
		};
		snprintf(why, len, "must be %s", what[o->kind]);
		return -1;
	}
	if (set_text(cfg, o, text) < 0) {
		snprintf(why, len, "invalid value %s%s%s%s", t == json_type_string ? "'" : "", text,
			 t == json_type_string ? "'" : "", o->range);
		return -1;
	}
	return 0;
}

/* The file's line and column of byte offset off, for a syntax error. */
static void where(const char *s, size_t off, unsigned *line, unsigned *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && s[i]; i++) {
		if (s[i] == '\n') {
			++*line;
			*col = 1;
		} else {
			++*col;
		}
	}
}

static int read_file(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	size_t len = 0, cap = 4096, n;
	char *buf = NULL, *nb;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		nb = realloc(buf, cap + 1);
		if (!nb) {
			snprintf(err, errlen, "%s: out of memory", path);
			goto fail;
		}
		buf = nb;
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (len < cap)
			break;
		if (cap >= (16u << 20)) {
			snprintf(err, errlen, "%s: larger than 16 MiB", path);
			goto fail;
		}
		cap *= 2;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	fclose(f);
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
fail:
	fclose(f);
	free(buf);
	return -1;
}

static int load_file(struct config *c, char *err, size_t errlen)
{
	const struct opt *level_from = NULL;
	struct json_tokener *tok;
	enum json_tokener_error je;
	char why[256], *text;
	unsigned line, col;
	size_t len;

	if (read_file(c->file, &text, &len, err, errlen) < 0)
		return -1;
	tok = json_tokener_new_ex(64);
	if (!tok) {
		free(text);
		snprintf(err, errlen, "%s: out of memory", c->file);
		return -1;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	c->doc = json_tokener_parse_ex(tok, text, (int)len);
	je = json_tokener_get_error(tok);
	if (je == json_tokener_continue) {
		je = json_tokener_error_parse_eof;
	} else if (je == json_tokener_success && json_tokener_get_parse_end(tok) < len) {
		size_t end = json_tokener_get_parse_end(tok);

		while (end < len && strchr(" \t\r\n", text[end]))
			end++;
		if (end < len) {
			where(text, end, &line, &col);
			snprintf(err, errlen, "%s: line %u, column %u: text after the JSON object",
				 c->file, line, col);
			json_tokener_free(tok);
			free(text);
			return -1;
		}
	}
	if (je != json_tokener_success) {
		where(text, json_tokener_get_parse_end(tok), &line, &col);
		snprintf(err, errlen, "%s: line %u, column %u: %s", c->file, line, col,
			 json_tokener_error_desc(je));
		json_tokener_free(tok);
		free(text);
		return -1;
	}
	json_tokener_free(tok);
	free(text);
	if (!json_object_is_type(c->doc, json_type_object)) {
		snprintf(err, errlen, "%s: the configuration must be a JSON object", c->file);
		return -1;
	}
	json_object_object_foreach(c->doc, key, val) {
		const struct opt *o = opt_by_key(key);

		if (!o) {
			const char *near = NULL;

			for (size_t i = 0; i < NOPTS && !near; i++)
				if (distance(key, opts[i].key) <= 2)
					near = opts[i].key;
			snprintf(err, errlen, "%s: key '%s': unknown key%s%s%s", c->file, key,
				 near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
			return -1;
		}
		if (set_json(&c->cfg, o, val, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s: key '%s': %s", c->file, key, why);
			return -1;
		}
		/* one log level: two keys that both set it contradict each other */
		if (o->off == offsetof(struct broker_config, log_level) &&
		    (o->kind != K_FLAG || json_object_get_boolean(val))) {
			if (level_from) {
				snprintf(err, errlen, "%s: key '%s': conflicts with key '%s'",
					 c->file, key, level_from->key);
				return -1;
			}
			level_from = o;
		}
		/* null leaves the option unset: it was not given */
		if (!json_object_is_type(val, json_type_null))
			c->given |= 1ULL << (o - opts);
	}
	return 0;
}

int config_load(struct config *c, char *err, size_t errlen)
{
	struct broker_config *cfg = &c->cfg;
	uint64_t by_args = 0;
	const uint64_t timeouts = 1ULL << (opt_by_key("request_timeout") - opts) |
				  1ULL << (opt_by_key("max_request_timeout") - opts);

	if (c->doc)
		json_object_put(c->doc);
	c->doc = NULL;
	c->given = 0;
	*cfg = (struct broker_config)BROKER_CONFIG_DEFAULT;
	if (c->file && load_file(c, err, errlen) < 0)
		return CONFIG_E_FILE;
	for (size_t i = 0; i < c->nargs; i++) {
		const struct opt *o = &opts[c->args[i].opt];

		if (set_text(cfg, o, c->args[i].value ? c->args[i].value : "") < 0) {
			snprintf(err, errlen, "invalid --%s '%s'%s", o->name, c->args[i].value,
				 o->range);
			return CONFIG_E_ARG;
		}
		by_args |= 1ULL << c->args[i].opt;
	}
	c->given |= by_args;
	if (cfg->request_timeout_ms > cfg->max_request_timeout_ms) {
		/* named as the user gave them: options if either was on the command line */
		bool arg = by_args & timeouts;

		if (arg)
			snprintf(err, errlen, "--request-timeout (%llu ms) is above "
					      "--max-request-timeout (%llu ms)",
				 (unsigned long long)cfg->request_timeout_ms,
				 (unsigned long long)cfg->max_request_timeout_ms);
		else
			snprintf(err, errlen, "%s: key 'request_timeout': %llu ms is above "
					      "max_request_timeout (%llu ms)",
				 c->file, (unsigned long long)cfg->request_timeout_ms,
				 (unsigned long long)cfg->max_request_timeout_ms);
		return arg ? CONFIG_E_ARG : CONFIG_E_FILE;
	}
	/* left NULL if too long: only an error when jbusd has to bind it */
	if (!cfg->socket_path && sockpath_default(c->default_socket, sizeof(c->default_socket)) >= 0)
		cfg->socket_path = c->default_socket;
	cfg->conf = c;
	return 0;
}

bool config_given(const struct config *c, const char *key)
{
	const struct opt *o = opt_by_key(key);

	return o && (c->given & (1ULL << (o - opts)));
}

/* o's value in cfg as JSON, as --print-config shows it and -c reads it back. */
static json_object *value_json(const struct broker_config *cfg, const struct opt *o)
{
	uint64_t v = o->kind == K_PATH ? 0 : fetch(cfg, o);
	char buf[64];

	switch (o->kind) {
	case K_PATH:
		return fetch_str(cfg, o) ? json_object_new_string(fetch_str(cfg, o)) : NULL;
	case K_MODE:
		snprintf(buf, sizeof(buf), "%04o", (unsigned)v);
		return json_object_new_string(buf);
	case K_GROUP: {
		struct group *g;

		if ((gid_t)v == (gid_t)-1)
			return NULL;
		g = getgrgid((gid_t)v);
		return g ? json_object_new_string(g->gr_name) : json_object_new_int64((int64_t)v);
	}
	case K_SECONDS:
		if (v % 1000 == 0)
			return json_object_new_int64((int64_t)(v / 1000));
		/* exact text: a double printed with 17 digits would read 0.10000000000000001 */
		snprintf(buf, sizeof(buf), "%llu.%03llu", (unsigned long long)(v / 1000),
			 (unsigned long long)(v % 1000));
		while (buf[strlen(buf) - 1] == '0')
			buf[strlen(buf) - 1] = '\0';
		return json_object_new_double_s((double)v / 1000, buf);
	case K_FD:
		return (int)v < 0 ? NULL : json_object_new_int64((int64_t)v);
	case K_LEVEL:
		return json_object_new_string(log_level_name((enum log_level)v));
	case K_BOOL:
		return json_object_new_boolean(v != 0);
	default:
		return json_object_new_int64((int64_t)v);
	}
}

void config_print(const struct config *c, FILE *f)
{
	json_object *o = json_object_new_object();

	for (size_t i = 0; i < NOPTS; i++)
		if (!opts[i].alias)
			json_object_object_add(o, opts[i].key, value_json(&c->cfg, &opts[i]));
	fprintf(f, "%s\n",
		json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							  JSON_C_TO_STRING_SPACED |
							  JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

void config_copy_live(struct broker_config *dst, const struct broker_config *src)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (opts[i].live && opts[i].kind != K_PATH)
			store(dst, &opts[i], fetch(src, &opts[i]));
}

void config_diff(const struct broker_config *a, const struct broker_config *b, config_diff_fn fn,
		 void *ud)
{
	for (size_t i = 0; i < NOPTS; i++) {
		json_object *x, *y;
		const char *sx, *sy;

		if (opts[i].alias)
			continue;
		x = value_json(a, &opts[i]);
		y = value_json(b, &opts[i]);
		sx = x ? json_object_to_json_string_ext(x, JSON_C_TO_STRING_NOSLASHESCAPE) : "null";
		sy = y ? json_object_to_json_string_ext(y, JSON_C_TO_STRING_NOSLASHESCAPE) : "null";
		if (strcmp(sx, sy))
			fn(ud, opts[i].key, opts[i].live, sx, sy);
		json_object_put(x);
		json_object_put(y);
	}
}
