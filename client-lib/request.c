/*
 * libjbus requests (jbus.h, sections requests and introspection): the
 * table of this connection's pending requests, the blocking call built on
 * it, serving requests, and the broker's introspection (stats, clients,
 * monitor).
 *
 * A pending request is keyed by the id the library put on its req frame.
 * That id comes from the one counter behind every id of the handle, so an
 * error frame names exactly one waiter: the synchronous call, a request,
 * or neither. The broker answers each request exactly once (reply, error,
 * timeout); its entry ends when that answer is dispatched, or when the
 * connection is lost, and its callback runs then, once. Entries are kept
 * in issue order and answers mostly come in that order, so the search
 * from the head is short even with many requests outstanding.
 */
#include "conn.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* jbus_call waits this much longer than the broker's deadline: its answer comes first */
#define REQ_CALL_GRACE_MS 1000

struct pending {
	struct list_head link;
	jbus_reply_fn fn; /* NULL: given up by jbus_call(), the answer is swallowed */
	void *ud;
	char id[24];
};

static struct pending *pending_find(jbus_conn *c, const char *id, size_t n)
{
	struct pending *p;

	list_for_each_entry(p, &c->reqs, link)
		if (strlen(p->id) == n && !memcmp(p->id, id, n))
			return p;
	return NULL;
}

static struct pending *pending_answered(jbus_conn *c, const struct wire_value *id)
{
	return id->type == WIRE_T_NUMBER ? pending_find(c, id->p, id->len) : NULL;
}

/* Take p off the table, run its callback, free it. */
static void pending_end(jbus_conn *c, struct pending *p, int err, const struct jbus_msg *m)
{
	list_del(&p->link);
	if (p->fn)
		p->fn(c, err, m, p->ud);
	free(p);
}

void req_free_all(jbus_conn *c)
{
	struct pending *p, *tmp;

	list_for_each_entry_safe(p, tmp, &c->reqs, link) {
		list_del(&p->link);
		free(p);
	}
}

void req_lost(jbus_conn *c)
{
	struct list_head gone;
	struct pending *p, *tmp;

	if (list_empty(&c->reqs))
		return;
	/* moved aside first: a callback may make new requests (they fail while disconnected) */
	gone = c->reqs;
	gone.next->prev = gone.prev->next = &gone;
	list_init(&c->reqs);
	/* callbacks run as from dispatch: a close from one only marks the handle */
	c->depth++;
	list_for_each_entry_safe(p, tmp, &gone, link)
		pending_end(c, p, JBUS_E_CLOSED, NULL);
	c->depth--;
}

/* section: frames */

/* A message built from a reply, req, mon or error frame, with its error decoded. */
struct rmsg {
	struct jbus_msg m;
	char *code, *message;
};

/* A string value as a malloc'd C string; dflt when it is not a string. */
static char *dup_string(const struct wire_value *v, const char *dflt)
{
	const char *s;
	char *buf;

	if (v->type != WIRE_T_STRING)
		return strdup(dflt);
	buf = malloc(v->len); /* decoded, it is shorter than with its quotes */
	if (buf && frame_copy_string(v, buf, v->len, &s) < 0) {
		/* \u0000 or a lone surrogate cannot be in a C string: the escapes stay */
		memcpy(buf, v->p + 1, v->len - 2);
		buf[v->len - 2] = '\0';
	}
	return buf;
}

static int rmsg_init(jbus_conn *c, struct rmsg *r, const struct wire_env *env, const char *line,
		     size_t n)
{
	const struct wire_value *e = &env->f[WF_ERROR];
	const struct wire_env *errs = NULL;
	struct wire_env sub;
	int ret;

	r->code = r->message = NULL;
	ret = frame_msg_init(c, &r->m, env, line, n);
	if (ret < 0)
		return ret;
	if (wire_value_is(&env->f[WF_OP], "error"))
		errs = env; /* the broker's own: code and message at the top */
	else if (e->type == WIRE_T_OBJECT && wire_scan(e->p, e->len, &sub, NULL) == 0)
		errs = &sub;
	else if (e->type != WIRE_T_ABSENT)
		return JBUS_E_PROTOCOL;
	if (errs) {
		r->code = dup_string(&errs->f[WF_CODE], "unknown");
		r->message = dup_string(&errs->f[WF_MESSAGE], "");
		r->m.err_code = r->code ? r->code : "unknown";
		r->m.err_msg = r->message ? r->message : "";
	}
	return 0;
}

static void rmsg_done(struct rmsg *r)
{
	frame_msg_done(&r->m);
	free(r->code);
	free(r->message);
}

bool req_error(jbus_conn *c, const struct wire_env *env, const char *line, size_t n)
{
	struct pending *p = pending_answered(c, &env->f[WF_ID]);
	struct rmsg r;

	if (!p || rmsg_init(c, &r, env, line, n) < 0)
		return false;
	pending_end(c, p, JBUS_E_BROKER, &r.m);
	rmsg_done(&r);
	return true;
}

static int on_reply(jbus_conn *c, const struct wire_env *env, const char *line, size_t n)
{
	struct pending *p = pending_answered(c, &env->f[WF_ID]);
	struct rmsg r;
	int ret;

	if (!p)
		return 0; /* not ours: nothing to answer */
	ret = rmsg_init(c, &r, env, line, n);
	if (ret < 0)
		return ret;
	pending_end(c, p, r.m.err_code ? JBUS_E_REPLY : 0, &r.m);
	rmsg_done(&r);
	return 0;
}

/* The broker's id of a req: a positive integer. */
static unsigned long long request_id(const struct wire_value *id)
{
	unsigned long long v = 0;

	if (id->type != WIRE_T_NUMBER || id->len > 19)
		return 0;
	for (size_t i = 0; i < id->len; i++) {
		if (id->p[i] < '0' || id->p[i] > '9')
			return 0;
		v = v * 10 + (unsigned)(id->p[i] - '0');
	}
	return v;
}

static int on_request(jbus_conn *c, const struct wire_env *env, const char *line, size_t n)
{
	unsigned long long id = request_id(&env->f[WF_ID]);
	struct rmsg r;
	int ret;

	if (!id || env->f[WF_FROM].type != WIRE_T_STRING)
		return JBUS_E_PROTOCOL;
	if (!c->on_req) {
		/* nobody here serves: say so now rather than let the requester time out */
		ops_reply(c, id, NULL, 0, "no_handler", "this client does not serve requests");
		return 0;
	}
	ret = rmsg_init(c, &r, env, line, n);
	if (ret < 0)
		return ret;
	r.m.request_id = id;
	c->on_req(c, &r.m, c->req_ud);
	rmsg_done(&r);
	return 0;
}

static int on_mon(jbus_conn *c, const struct wire_env *env, const char *line, size_t n)
{
	struct rmsg r;
	int ret;

	if (!c->on_mon)
		return 0;
	ret = rmsg_init(c, &r, env, line, n);
	if (ret < 0)
		return ret;
	c->on_mon(c, &r.m, c->mon_ud);
	rmsg_done(&r);
	return 0;
}

int req_frame(jbus_conn *c, const struct wire_value *op, const struct wire_env *env,
	      const char *line, size_t n)
{
	if (wire_value_is(op, "reply"))
		return on_reply(c, env, line, n);
	if (wire_value_is(op, "req"))
		return on_request(c, env, line, n);
	if (wire_value_is(op, "mon"))
		return on_mon(c, env, line, n);
	return 0; /* ops of later protocol revisions: ignored */
}

/* section: requests */

/* Queue a req and its table entry; *idp (may be NULL) receives the entry's id. */
static int request(jbus_conn *c, const char *to, const char *json, ssize_t len, int timeout_ms,
		   jbus_reply_fn fn, void *userdata, const char **idp)
{
	struct pending *p;
	int r;

	if (!c || !fn)
		return -EINVAL;
	p = malloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	r = ops_req(c, to, json, len, timeout_ms > 0 ? (uint64_t)timeout_ms : 0,
		    conn_next_id(c, p->id));
	if (r < 0) {
		free(p);
		return r;
	}
	p->fn = fn;
	p->ud = userdata;
	list_add_tail(&p->link, &c->reqs);
	if (idp)
		*idp = p->id;
	return 0;
}

JBUS_EXPORT int jbus_request(jbus_conn *c, const char *to, const char *json, ssize_t len,
			     int timeout_ms, jbus_reply_fn fn, void *userdata)
{
	return request(c, to, json, len, timeout_ms, fn, userdata, NULL);
}

/* What jbus_call() waits for. */
struct call {
	bool done;
	int err;
	char *data;
	size_t len;
};

/* Copy s into buf (cap bytes), cut at a character boundary if it is too long. */
static void copy_utf8(char *buf, size_t cap, const char *s)
{
	size_t n = strlen(s);

	if (n >= cap) {
		n = cap - 1;
		while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--; /* s[n] would start the cut character's tail */
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
}

static void call_done(jbus_conn *c, int err, const jbus_msg *m, void *ud)
{
	struct call *k = ud;
	const char *code, *message, *d;

	k->done = true;
	k->err = err;
	if (err == 0) {
		d = jbus_msg_data(m, &k->len);
		k->data = d ? strndup(d, k->len) : NULL;
		if (!k->data)
			k->err = -ENOMEM;
	} else if (m && jbus_msg_error(m, &code, &message)) {
		copy_utf8(c->err_code, sizeof(c->err_code), code);
		copy_utf8(c->err_msg, sizeof(c->err_msg), message);
		c->has_err = true;
	}
}

static bool until_called(jbus_conn *c, int r, int *result, void *ud)
{
	struct call *k = ud;

	*result = k->done ? k->err : r;
	return k->done || r < 0;
}

JBUS_EXPORT int jbus_call(jbus_conn *c, const char *to, const char *json, ssize_t len,
			  int timeout_ms, char **reply, size_t *reply_len)
{
	struct call k = { false, 0, NULL, 0 };
	char id[24];
	const char *pid;
	int r, wait_ms = -1;

	if (!c)
		return -EINVAL;
	if (c->depth)
		return -EBUSY;
	c->has_err = false;
	r = request(c, to, json, len, timeout_ms, call_done, &k, &pid);
	if (r < 0)
		return r;
	snprintf(id, sizeof(id), "%s", pid);
	if (timeout_ms > 0)
		wait_ms = timeout_ms > INT_MAX - REQ_CALL_GRACE_MS ? INT_MAX
								   : timeout_ms + REQ_CALL_GRACE_MS;
	r = sync_run(c, wait_ms, until_called, &k, -ETIMEDOUT);
	if (!k.done) {
		/*
		 * Timed out, or the handle is closing: the entry stays, without a
		 * callback, until the broker's answer (it always sends one) ends it
		 * quietly, so a late answer is not reported as a stray error.
		 */
		struct pending *p = pending_find(c, id, strlen(id));
		if (p)
			p->fn = NULL;
	}
	if (r == 0 && reply) {
		*reply = k.data;
		k.data = NULL;
	}
	if (r == 0 && reply_len)
		*reply_len = k.len;
	free(k.data);
	return sync_release(c, r);
}

/* section: serving */

JBUS_EXPORT void jbus_conn_on_request(jbus_conn *c, jbus_msg_fn fn, void *userdata)
{
	c->on_req = fn;
	c->req_ud = userdata;
}

JBUS_EXPORT int jbus_reply(jbus_conn *c, unsigned long long request_id, const char *json,
			   ssize_t len)
{
	return ops_reply(c, request_id, json, len, NULL, NULL);
}

JBUS_EXPORT int jbus_reply_error(jbus_conn *c, unsigned long long request_id, const char *code,
				 const char *message)
{
	if (!code)
		return -EINVAL;
	return ops_reply(c, request_id, NULL, 0, code, message ? message : "");
}

/* section: introspection */

/* A synchronous call of op whose answer is a frame of its own, handed out in *frame. */
static int introspect(jbus_conn *c, const char *op, int timeout_ms, char **frame)
{
	int r;

	if (!c || !frame)
		return -EINVAL;
	*frame = NULL;
	if (c->depth)
		return -EBUSY;
	r = sync_finish(c, ops_simple(c, op, sync_begin(c)), timeout_ms, NULL);
	if (r == 0) {
		*frame = c->sync.answer;
		c->sync.answer = NULL;
	}
	return r;
}

JBUS_EXPORT int jbus_stats(jbus_conn *c, int timeout_ms, char **frame)
{
	return introspect(c, "stats", timeout_ms, frame);
}

JBUS_EXPORT int jbus_clients(jbus_conn *c, int timeout_ms, char **frame)
{
	return introspect(c, "clients", timeout_ms, frame);
}

JBUS_EXPORT int jbus_monitor(jbus_conn *c, jbus_msg_fn fn, void *userdata, int timeout_ms)
{
	int r;

	if (!c || !fn)
		return -EINVAL;
	if (c->depth)
		return -EBUSY;
	/* in place before the ok: copies may follow it in the same read */
	c->on_mon = fn;
	c->mon_ud = userdata;
	c->monitor = true;
	r = sync_finish(c, ops_simple(c, "monitor", sync_begin(c)), timeout_ms, NULL);
	if (r < 0 && r != JBUS_E_CLOSED) {
		/* refused, or no answer: not a monitor (a lost connection asks again) */
		c->monitor = false;
		c->on_mon = NULL;
	}
	return r;
}
