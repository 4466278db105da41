/*
 * Access policy (see policy.h). Parsing is a slow path (start and SIGHUP)
 * and uses json-c after the codec's strict scanner has validated the text;
 * checks are a scan over the rules, which are few, with the topic
 * functions of client-lib/topic.c.
 */
#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <json-c/json.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "topic.h"
#include "util.h"
#include "wire.h"

#define POLICY_MAX_BYTES (4 * 1024 * 1024)

enum subject_kind { SUBJ_ALL, SUBJ_UID, SUBJ_GID };

struct subject {
	uint8_t kind;
	uint32_t id;
	char text[80]; /* as written, for messages */
};

struct str {
	char *s;
	size_t n;
};

/* The list-valued permissions, in policy_op order. */
#define NLISTS (POLICY_CALL + 1)

struct perms {
	struct str *list[NLISTS];
	size_t n[NLISTS];
	bool monitor, introspect;
};

struct rule {
	struct subject who;
	struct perms allow, deny;
};

struct reserve {
	struct str prefix;
	struct subject who;
};

struct policy {
	struct rule *rules;
	size_t nrules;
	struct reserve *res;
	size_t nres;
	bool groups;
};

static const char *const list_keys[NLISTS] = {
	[POLICY_PUBLISH] = "publish", [POLICY_SUBSCRIBE] = "subscribe", [POLICY_OWN] = "own",
	[POLICY_SEND] = "send",       [POLICY_CALL] = "call",
};

struct parser {
	struct policy *p;
	char *err;
	size_t errlen;
};

static int fail(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ps->err, ps->errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool all_digits(const char *s)
{
	if (!*s || strlen(s) > 10)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* "*", "uid:N", "user:NAME", "gid:N" or "group:NAME"; names are resolved now. */
static int parse_subject(struct parser *ps, const char *where, json_object *o, struct subject *s)
{
	const char *t;
	unsigned long long v;

	if (!json_object_is_type(o, json_type_string))
		return fail(ps, "%s: must be a string (\"*\", \"uid:N\", \"user:NAME\", "
				"\"gid:N\" or \"group:NAME\")", where);
	t = json_object_get_string(o);
	if (strlen(t) >= sizeof(s->text))
		return fail(ps, "%s: too long", where);
	snprintf(s->text, sizeof(s->text), "%s", t);
	if (!strcmp(t, "*")) {
		s->kind = SUBJ_ALL;
		return 0;
	}
	if (!strncmp(t, "uid:", 4) || !strncmp(t, "gid:", 4)) {
		if (!all_digits(t + 4) || (v = strtoull(t + 4, NULL, 10)) >= UINT32_MAX)
			return fail(ps, "%s: '%s' is not a valid id", where, t);
		s->kind = t[0] == 'u' ? SUBJ_UID : SUBJ_GID;
		s->id = (uint32_t)v;
		return 0;
	}
	if (!strncmp(t, "user:", 5)) {
		struct passwd *pw = getpwnam(t + 5);
		if (!t[5] || !pw)
			return fail(ps, "%s: unknown user '%s'", where, t + 5);
		s->kind = SUBJ_UID;
		s->id = (uint32_t)pw->pw_uid;
		return 0;
	}
	if (!strncmp(t, "group:", 6)) {
		struct group *gr = getgrnam(t + 6);
		if (!t[6] || !gr)
			return fail(ps, "%s: unknown group '%s'", where, t + 6);
		s->kind = SUBJ_GID;
		s->id = (uint32_t)gr->gr_gid;
		return 0;
	}
	return fail(ps, "%s: '%s' is not \"*\", \"uid:N\", \"user:NAME\", \"gid:N\" or "
			"\"group:NAME\"", where, t);
}

/* A name pattern: "*", a name, or a name prefix followed by "*". */
static const char *check_name_pattern(const char *s, size_t n)
{
	if (n == 1 && s[0] == '*')
		return NULL;
	if (n && s[n - 1] == '*')
		n--;
	if (!wire_name_valid(s, n))
		return "must be a client name, a name prefix followed by '*', or '*'";
	return NULL;
}

static int parse_list(struct parser *ps, const char *where, int which, json_object *arr,
		      struct perms *pm)
{
	size_t n;

	if (!json_object_is_type(arr, json_type_array))
		return fail(ps, "%s: must be an array of strings", where);
	n = json_object_array_length(arr);
	pm->list[which] = calloc(n ? n : 1, sizeof(struct str));
	if (!pm->list[which])
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		const char *s, *why;
		size_t len;

		if (!json_object_is_type(e, json_type_string))
			return fail(ps, "%s[%zu]: must be a string", where, i);
		s = json_object_get_string(e);
		len = (size_t)json_object_get_string_len(e);
		if (which == POLICY_PUBLISH || which == POLICY_SUBSCRIBE)
			why = topic_check_pattern(s, len);
		else
			why = check_name_pattern(s, len);
		if (why)
			return fail(ps, "%s[%zu]: '%s': %s", where, i, s, why);
		pm->list[which][i].s = strndup(s, len);
		if (!pm->list[which][i].s)
			return -ENOMEM;
		pm->list[which][i].n = len;
		pm->n[which]++;
	}
	return 0;
}

static int parse_perms(struct parser *ps, const char *where, json_object *o, struct perms *pm)
{
	char w[128];
	int r;

	if (!json_object_is_type(o, json_type_object))
		return fail(ps, "%s: must be an object", where);
	json_object_object_foreach(o, key, val) {
		int which = -1;
		for (int i = 0; i < NLISTS; i++)
			if (!strcmp(key, list_keys[i]))
				which = i;
		snprintf(w, sizeof(w), "%s.%s", where, key);
		if (which >= 0) {
			/* json-c keeps the last of repeated keys: each list is set once */
			r = parse_list(ps, w, which, val, pm);
			if (r < 0)
				return r;
		} else if (!strcmp(key, "monitor") || !strcmp(key, "introspect")) {
			if (!json_object_is_type(val, json_type_boolean))
				return fail(ps, "%s: must be true or false", w);
			*(key[0] == 'm' ? &pm->monitor : &pm->introspect) =
				json_object_get_boolean(val);
		} else {
			return fail(ps, "%s: unknown key (expected publish, subscribe, own, send, "
					"call, monitor or introspect)", w);
		}
	}
	return 0;
}

static int parse_rule(struct parser *ps, size_t i, json_object *o, struct rule *ru)
{
	char where[64], w[96];
	bool who = false;
	int r;

	snprintf(where, sizeof(where), "rules[%zu]", i);
	if (!json_object_is_type(o, json_type_object))
		return fail(ps, "%s: must be an object", where);
	json_object_object_foreach(o, key, val) {
		snprintf(w, sizeof(w), "%s.%s", where, key);
		if (!strcmp(key, "for")) {
			r = parse_subject(ps, w, val, &ru->who);
			who = true;
		} else if (!strcmp(key, "allow")) {
			r = parse_perms(ps, w, val, &ru->allow);
		} else if (!strcmp(key, "deny")) {
			r = parse_perms(ps, w, val, &ru->deny);
		} else {
			r = fail(ps, "%s: unknown key (expected for, allow or deny)", w);
		}
		if (r < 0)
			return r;
	}
	if (!who)
		return fail(ps, "%s: missing key 'for'", where);
	if (ru->who.kind == SUBJ_GID)
		ps->p->groups = true;
	return 0;
}

static int parse_reserve(struct parser *ps, json_object *o)
{
	struct policy *p = ps->p;
	char w[160];
	int r;

	if (!json_object_is_type(o, json_type_object))
		return fail(ps, "reserve: must be an object of \"prefix\": \"subject\"");
	p->res = calloc((size_t)json_object_object_length(o) + 1, sizeof(*p->res));
	if (!p->res)
		return -ENOMEM;
	json_object_object_foreach(o, key, val) {
		struct reserve *rs = &p->res[p->nres];
		size_t n = strlen(key);
		snprintf(w, sizeof(w), "reserve.%s", key);
		if (!wire_name_valid(key, n))
			return fail(ps, "%s: a reserved prefix must be the start of a client name",
				    w);
		r = parse_subject(ps, w, val, &rs->who);
		if (r < 0)
			return r;
		rs->prefix.s = strndup(key, n);
		if (!rs->prefix.s)
			return -ENOMEM;
		rs->prefix.n = n;
		p->nres++;
		if (rs->who.kind == SUBJ_GID)
			p->groups = true;
	}
	return 0;
}

static int parse_top(struct parser *ps, json_object *root)
{
	struct policy *p = ps->p;
	int r;

	if (!json_object_is_type(root, json_type_object))
		return fail(ps, "the policy must be a JSON object");
	json_object_object_foreach(root, key, val) {
		if (!strcmp(key, "rules")) {
			size_t n;
			if (!json_object_is_type(val, json_type_array))
				return fail(ps, "rules: must be an array of objects");
			n = json_object_array_length(val);
			p->rules = calloc(n ? n : 1, sizeof(*p->rules));
			if (!p->rules)
				return -ENOMEM;
			for (size_t i = 0; i < n; i++) {
				r = parse_rule(ps, i, json_object_array_get_idx(val, i),
					       &p->rules[i]);
				p->nrules = i + 1;
				if (r < 0)
					return r;
			}
		} else if (!strcmp(key, "reserve")) {
			r = parse_reserve(ps, val);
			if (r < 0)
				return r;
		} else {
			return fail(ps, "%s: unknown key (expected rules or reserve)", key);
		}
	}
	return 0;
}

int policy_parse(const char *text, size_t len, struct policy **out, char *err, size_t errlen)
{
	struct parser ps = { .err = err, .errlen = errlen };
	struct wire_err we;
	json_tokener *tok;
	json_object *root;
	int r;

	*out = NULL;
	/* the codec's scanner is the strict judge of JSON: same rules as frames */
	if (wire_scan_value(text, len, &we) != 0) {
		snprintf(err, errlen, "invalid JSON at byte %zu: %s", we.offset, we.reason);
		return -EINVAL;
	}
	if (len > INT_MAX) {
		snprintf(err, errlen, "the policy is larger than %d bytes", INT_MAX);
		return -EINVAL;
	}
	/* text need not end in a NUL; depth as the scanner allows it */
	tok = json_tokener_new_ex(WIRE_MAX_DEPTH + 1);
	if (!tok) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	root = json_tokener_parse_ex(tok, text, (int)len);
	if (!root) {
		/* a lone number is still open without a byte after it; null is NULL */
		snprintf(err, errlen, "the policy must be a JSON object");
		json_tokener_free(tok);
		return -EINVAL;
	}
	json_tokener_free(tok);
	ps.p = calloc(1, sizeof(*ps.p));
	r = ps.p ? parse_top(&ps, root) : -ENOMEM;
	json_object_put(root);
	if (r < 0) {
		if (r == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		policy_free(ps.p);
		return r;
	}
	*out = ps.p;
	return 0;
}

int policy_load(const char *path, struct policy **out, char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	ssize_t n;
	size_t got = 0;
	int fd, r;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		safe_close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > POLICY_MAX_BYTES) {
		snprintf(err, errlen, "%s: not a regular file of at most %d bytes", path,
			 POLICY_MAX_BYTES);
		safe_close(fd);
		return -EINVAL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		safe_close(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size && (n = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	safe_close(fd);
	buf[got] = '\0';
	if (strlen(buf) != got) {
		free(buf);
		snprintf(err, errlen, "%s: contains a NUL byte", path);
		return -EINVAL;
	}
	r = policy_parse(buf, got, out, err, errlen);
	free(buf);
	if (r < 0) {
		/* name the file: the parser only knows the place inside it */
		char e[400];
		snprintf(e, sizeof(e), "%s", err);
		snprintf(err, errlen, "%s: %s", path, e);
	}
	return r;
}

static void perms_free(struct perms *pm)
{
	for (int i = 0; i < NLISTS; i++) {
		for (size_t j = 0; j < pm->n[i]; j++)
			free(pm->list[i][j].s);
		free(pm->list[i]);
	}
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nrules; i++) {
		perms_free(&p->rules[i].allow);
		perms_free(&p->rules[i].deny);
	}
	for (size_t i = 0; i < p->nres; i++)
		free(p->res[i].prefix.s);
	free(p->rules);
	free(p->res);
	free(p);
}

bool policy_needs_groups(const struct policy *p)
{
	return p->groups;
}

size_t policy_size(const struct policy *p)
{
	return p->nrules + p->nres;
}

size_t policy_verdict_key(const struct policy *p, const struct policy_verdict *v)
{
	if (v->rule < 0)
		return policy_size(p);
	return v->reserved ? p->nrules + (size_t)v->rule : (size_t)v->rule;
}

void policy_verdict_text(const struct policy *p, const struct policy_verdict *v, char *buf,
			 size_t cap)
{
	if (v->allowed)
		snprintf(buf, cap, "allowed");
	else if (v->rule < 0)
		snprintf(buf, cap, "no rule of the policy allows it");
	else if (v->reserved)
		snprintf(buf, cap, "names starting with '%s' are reserved for %s",
			 p->res[v->rule].prefix.s, p->res[v->rule].who.text);
	else
		snprintf(buf, cap, "denied by rules[%d] (for %s)", v->rule,
			 p->rules[v->rule].who.text);
}

static bool is_subject(const struct subject *s, const struct policy_subject *who)
{
	switch (s->kind) {
	case SUBJ_ALL:
		return true;
	case SUBJ_UID:
		return (uint32_t)who->uid == s->id;
	default:
		if ((uint32_t)who->gid == s->id)
			return true;
		for (int i = 0; i < who->ngroups; i++)
			if ((uint32_t)who->groups[i] == s->id)
				return true;
		return false;
	}
}

static bool name_matches(const struct str *pat, const char *s, size_t n)
{
	if (pat->n && pat->s[pat->n - 1] == '*')
		return n >= pat->n - 1 && !memcmp(pat->s, s, pat->n - 1);
	return pat->n == n && !memcmp(pat->s, s, n);
}

/* Does one entry of the list admit s? deny: any overlap counts for subscribe. */
static bool list_hits(const struct perms *pm, enum policy_op op, const char *s, size_t n,
		      bool deny)
{
	const struct str *l = pm->list[op];

	for (size_t i = 0; i < pm->n[op]; i++) {
		bool hit;
		if (op == POLICY_PUBLISH)
			hit = topic_match(l[i].s, l[i].n, s, n);
		else if (op == POLICY_SUBSCRIBE)
			hit = deny ? topic_overlap(l[i].s, l[i].n, s, n)
				   : topic_covers(l[i].s, l[i].n, s, n);
		else
			hit = name_matches(&l[i], s, n);
		if (hit)
			return true;
	}
	return false;
}

static bool perms_hit(const struct perms *pm, enum policy_op op, const char *s, size_t n,
		      bool deny)
{
	if (op == POLICY_MONITOR)
		return pm->monitor;
	if (op == POLICY_INTROSPECT)
		return pm->introspect;
	return list_hits(pm, op, s, n, deny);
}

struct policy_verdict policy_check(const struct policy *p, const struct policy_subject *who,
				   enum policy_op op, const char *s, size_t n)
{
	struct policy_verdict v = { .allowed = false, .rule = -1 };
	bool allowed = false;

	if (op == POLICY_OWN) {
		for (size_t i = 0; i < p->nres; i++) {
			const struct reserve *rs = &p->res[i];
			if (n >= rs->prefix.n && !memcmp(s, rs->prefix.s, rs->prefix.n) &&
			    !is_subject(&rs->who, who)) {
				v.rule = (int)i;
				v.reserved = true;
				return v;
			}
		}
	}
	for (size_t i = 0; i < p->nrules; i++) {
		const struct rule *ru = &p->rules[i];
		if (!is_subject(&ru->who, who))
			continue;
		if (perms_hit(&ru->deny, op, s, n, true)) {
			v.rule = (int)i;
			return v;
		}
		allowed = allowed || perms_hit(&ru->allow, op, s, n, false);
	}
	v.allowed = allowed;
	return v;
}
