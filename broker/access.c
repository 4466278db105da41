/* Access control at the broker's entry points (see access.h). */
#include "access.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker.h"
#include "client.h"
#include "dispatch.h"
#include "log.h"
#include "monitor.h"
#include "ratelim.h"
#include "router.h"
#include "topic.h"

#define ACCESS_MAX_GROUPS 256
/* "forbidden" warning lines a second, all clients together */
#define ACCESS_LOG_LINES 10

static struct policy_verdict verdict_default(uid_t uid, enum policy_op op)
{
	struct policy_verdict v = { .allowed = true, .rule = -1 };

	if (op == POLICY_MONITOR)
		v.allowed = uid == 0 || uid == geteuid();
	return v;
}

/* Supplementary groups of c's peer, fetched once from the socket when a policy needs them. */
static void fetch_groups(struct client *c)
{
	gid_t g[ACCESS_MAX_GROUPS];
	socklen_t len = sizeof(g);

	c->groups_known = true;
	if (getsockopt(c->w.fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) < 0)
		return; /* matched by uid and primary gid only */
	c->groups = malloc(len ? len : 1);
	if (!c->groups)
		return;
	memcpy(c->groups, g, len);
	c->ngroups = (int)(len / sizeof(gid_t));
}

static void why_text(struct broker *b, const struct policy_verdict *v, char *buf, size_t cap)
{
	if (b->policy)
		policy_verdict_text(b->policy, v, buf, cap);
	else
		snprintf(buf, cap, "it needs the broker's uid or root");
}

/* Once per client and rule: a bit per verdict key, reset by a reload. */
static bool first_denial(struct client *c, const struct policy_verdict *v)
{
	struct broker *b = c->b;
	size_t key = b->policy ? policy_verdict_key(b->policy, v) : 0;
	size_t bits = b->policy ? policy_size(b->policy) + 1 : 1;

	if (c->denied_gen != b->policy_gen || !c->denied) {
		free(c->denied);
		c->denied = calloc((bits + 7) / 8, 1);
		c->denied_gen = b->policy_gen;
		if (!c->denied)
			return true;
	}
	if (c->denied[key / 8] & (1u << (key % 8)))
		return false;
	c->denied[key / 8] |= (uint8_t)(1u << (key % 8));
	return true;
}

/* What a denial names: "<verb> '<s>'", or the verb alone without s. */
struct what {
	char text[100];
	char why[200];
};

static void name_it(struct what *w, const char *verb, const char *s, size_t n)
{
	if (s)
		dispatch_what(w->text, sizeof(w->text), verb, s, n);
	else
		snprintf(w->text, sizeof(w->text), "%s", verb);
}

/*
 * The verdict for c. A denial is counted, logged once per rule, and named
 * and explained in *w; nothing is formatted when the answer is yes (every
 * pub goes through here).
 */
static bool check(struct client *c, enum policy_op op, const char *s, size_t n,
		  const char *verb, struct what *w)
{
	struct broker *b = c->b;
	struct policy_verdict v;
	uint32_t unlogged;
	char more[32];

	if (!b->policy) {
		v = verdict_default(c->uid, op);
	} else {
		struct policy_subject who = { c->uid, c->gid, NULL, 0 };
		if (policy_needs_groups(b->policy)) {
			if (!c->groups_known)
				fetch_groups(c);
			who.groups = c->groups;
			who.ngroups = c->ngroups;
		}
		v = policy_check(b->policy, &who, op, s, n);
	}
	if (v.allowed)
		return true;
	b->stats.forbidden++;
	name_it(w, verb, s, n);
	why_text(b, &v, w->why, sizeof(w->why));
	/* once per client and rule, and a bound over all clients for one that
	 * reconnects in a loop and is denied each time */
	if (first_denial(c, &v) && ratelim_window_pass(&b->forbidden_log, ACCESS_LOG_LINES,
						       loop_now(b->loop), &unlogged))
		log_warn("forbidden client=%s pid=%d uid=%u op=%s reason=\"%s\"%s",
			 c->name.len ? c->name.name : "-", (int)c->pid, (unsigned)c->uid, w->text,
			 w->why, ratelim_unlogged_text(more, sizeof(more), unlogged));
	return false;
}

bool access_client(struct client *c, const struct wire_value *id, enum policy_op op,
		   const char *s, size_t n, const char *verb)
{
	struct what w;

	if (check(c, op, s, n, verb, &w))
		return true;
	client_error(c, id, "forbidden", "%s is forbidden: %s", w.text, w.why);
	return false;
}

bool access_check(struct client *c, enum policy_op op, const char *s, size_t n,
		  const char *verb)
{
	struct what w;

	return check(c, op, s, n, verb, &w);
}

bool access_peer(struct broker *b, uid_t uid, gid_t gid, enum policy_op op, const char *s,
		 size_t n, const char *verb)
{
	struct policy_subject who = { uid, gid, NULL, 0 };
	struct policy_verdict v = b->policy ? policy_check(b->policy, &who, op, s, n)
					    : verdict_default(uid, op);
	struct what w;

	if (v.allowed)
		return true;
	b->stats.forbidden++;
	name_it(&w, verb, s, n);
	why_text(b, &v, w.why, sizeof(w.why));
	/* the caller reports it (dgram.c: rate-limited per sender) */
	log_debug("forbidden uid=%u op=%s reason=\"%s\"", (unsigned)uid, w.text, w.why);
	return false;
}

int access_init(struct broker *b, char *err, size_t errlen)
{
	char e[400];
	int r;

	if (!b->cfg.policy_file)
		return 0;
	r = policy_load(b->cfg.policy_file, &b->policy, e, sizeof(e));
	if (r < 0) {
		snprintf(err, errlen, "policy %s", e);
		return r;
	}
	b->policy_gen++;
	return 0;
}

/* section: taking back what a reloaded policy no longer allows */

struct revoked {
	unsigned names, subs, monitors, wills;
};

/* A subscription taken back: forbidden without an id, naming its pattern in "topic". */
static void revoke_sub(struct client *c, struct sub *s, const char *pat, size_t n,
		       const struct what *w)
{
	struct wire_buf x;

	wire_buf_init(&x, 0);
	wire_buf_puts(&x, "\"topic\":");
	wire_buf_put_jstr(&x, pat, n);
	wire_buf_put(&x, "", 1);
	client_error_extra(c, NULL, "forbidden", wire_buf_failed(&x) ? NULL : x.p,
			   "%s is forbidden: %s; unsubscribed", w->text, w->why);
	wire_buf_free(&x);
	dispatch_drop_sub(c, s);
}

static void revoke_client(struct client *c, struct revoked *n)
{
	struct sub *s, *tmp;
	struct what w;

	if (!c->name.anon &&
	    !check(c, POLICY_OWN, c->name.name, c->name.len, "taking the name", &w)) {
		n->names++;
		client_error(c, NULL, "forbidden", "%s is forbidden: %s; disconnecting", w.text,
			     w.why);
		client_linger(c, false, END_ERROR);
		return;
	}
	list_for_each_entry_safe(s, tmp, &c->subs.subs, owner_link) {
		char pat[TOPIC_MAX];
		size_t len = router_sub_pattern(s, pat, sizeof(pat));

		if (check(c, POLICY_SUBSCRIBE, pat, len, "sub to", &w))
			continue;
		n->subs++;
		revoke_sub(c, s, pat, len, &w);
		if (!client_active(c))
			return;
	}
	if (c->monitor && !check(c, POLICY_MONITOR, NULL, 0, "monitor", &w)) {
		n->monitors++;
		monitor_client_gone(c);
		client_error(c, NULL, "forbidden", "monitor is forbidden: %s; monitoring stopped",
			     w.why);
	}
	if (c->will.topic &&
	    !check(c, POLICY_PUBLISH, c->will.topic, c->will.topic_len, "a will on", &w)) {
		n->wills++;
		client_error(c, NULL, "forbidden", "%s is forbidden: %s; the will is dropped",
			     w.text, w.why);
		free(c->will.topic);
		free(c->will.data);
		memset(&c->will, 0, sizeof(c->will));
	}
}

static void revoke_all(struct broker *b)
{
	struct revoked n = { 0 };
	struct client *c, *tmp;

	list_for_each_entry_safe(c, tmp, &b->clients, link)
		if (c->state == CLIENT_ACTIVE)
			revoke_client(c, &n);
	if (n.names || n.subs || n.monitors || n.wills)
		log_info("reload: taken back names=%u subscriptions=%u monitors=%u wills=%u",
			 n.names, n.subs, n.monitors, n.wills);
}

void access_set_policy(struct broker *b, struct policy *p)
{
	policy_free(b->policy);
	b->policy = p;
	b->policy_gen++;
	if (p)
		log_info("reload: policy %s loaded (%zu rules and reservations)",
			 b->cfg.policy_file, policy_size(p));
	else
		log_info("reload: no policy file; the default policy applies");
	revoke_all(b);
}

void access_fini(struct broker *b)
{
	policy_free(b->policy);
	b->policy = NULL;
}

void access_client_gone(struct client *c)
{
	free(c->denied);
	free(c->groups);
	c->denied = NULL;
	c->groups = NULL;
}
