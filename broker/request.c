/*
 * Request/reply (see request.h and docs/protocol.md, "Request/reply").
 *
 * The broker gives each request an id unique for its target (tid: 1, 2,
 * ... per connection, never reused), so targets never see requesters' ids
 * and two requesters can use the same id. A reply is matched by tid; the
 * requester gets its own id back. A deadline timer per request answers
 * `timeout`; whichever of reply, timeout or departure comes first removes
 * the request from both indexes, so nothing can leak or be answered twice.
 */
#include "request.h"

#include <stdio.h>
#include <string.h>

#include "access.h"
#include "broker.h"
#include "client.h"
#include "dispatch.h"
#include "log.h"
#include "monitor.h"
#include "outq.h"

struct request {
	struct hnode by_tid; /* in target->req.owed */
	struct hnode by_id;  /* in requester->req.asked */
	struct client *requester, *target;
	uint64_t tid;
	struct timer timer;
	uint32_t id_len;
	char id[]; /* the requester's raw id */
};

static void tid_key(const struct hnode *n, const char **k, size_t *len)
{
	const struct request *r = container_of(n, struct request, by_tid);
	*k = (const char *)&r->tid;
	*len = sizeof(r->tid);
}

static void id_key(const struct hnode *n, const char **k, size_t *len)
{
	const struct request *r = container_of(n, struct request, by_id);
	*k = r->id;
	*len = r->id_len;
}

void req_side_init(struct req_side *s)
{
	htable_init(&s->owed, tid_key);
	htable_init(&s->asked, id_key);
	s->next_tid = 0;
}

uint64_t request_pending(const struct broker *b)
{
	return b->requests_pending;
}

/*
 * Takes r out of both indexes before anything is sent about it: sending can
 * disconnect a slow requester, whose cleanup must not find r again.
 */
static void request_unlink(struct broker *b, struct request *r)
{
	htable_remove(&r->target->req.owed, &r->by_tid);
	htable_remove(&r->requester->req.asked, &r->by_id);
	loop_timer_cancel(&r->timer);
	b->requests_pending--;
}

/* Unlinks r, sends the requester an error about it, frees it. */
static void request_fail(struct broker *b, struct request *r, bool timed_out)
{
	struct wire_value id = { .p = r->id, .len = r->id_len, .type = WIRE_T_NUMBER };

	request_unlink(b, r);
	if (timed_out)
		client_error(r->requester, &id, "timeout", "no reply from '%s' within the deadline",
			     r->target->name.name);
	else
		client_error(r->requester, &id, "no_reply", "'%s' disconnected before replying",
			     r->target->name.name);
	free(r);
}

static void on_deadline(struct timer *t)
{
	struct request *r = container_of(t, struct request, timer);
	struct broker *b = r->requester->b;

	b->stats.requests_timed_out++;
	request_fail(b, r, true);
}

/* A positive JSON integer (digits only, no sign, fraction or exponent). */
static bool positive_int(const struct wire_value *v, uint64_t *out)
{
	return wire_uint(v, out) && *out > 0;
}

void request_handle_req(struct client *c, const struct wire_env *env)
{
	struct broker *b = c->b;
	const struct wire_value *id = &env->f[WF_ID], *to = &env->f[WF_TO];
	const struct wire_value *tmo = &env->f[WF_TIMEOUT_MS];
	struct name_entry *ne = NULL;
	struct client *target;
	struct request *r;
	struct wire_buf wb;
	char nbuf[WIRE_NAME_MAX];
	const char *s = NULL;
	size_t n = 0;
	uint64_t ms = b->cfg.request_timeout_ms;

	if (id->type == WIRE_T_ABSENT) {
		client_error(c, NULL, "bad_frame", "missing field 'id' (a req needs one)");
		return;
	}
	/* the id is kept while the request is pending: bound what a client can pin */
	if (id->len > REQUEST_ID_MAX) {
		client_error(c, NULL, "bad_frame", "field 'id' of a req is longer than %d bytes",
			     REQUEST_ID_MAX);
		return;
	}
	if (to->type == WIRE_T_ABSENT || to->type != WIRE_T_STRING) {
		client_error(c, id, "bad_frame", to->type == WIRE_T_ABSENT
						 ? "missing field 'to'"
						 : "field 'to' must be a string");
		return;
	}
	if (tmo->type != WIRE_T_ABSENT) {
		if (!positive_int(tmo, &ms)) {
			client_error(c, id, "bad_frame",
				     "field 'timeout_ms' must be a positive integer");
			return;
		}
		if (ms > b->cfg.max_request_timeout_ms)
			ms = b->cfg.max_request_timeout_ms;
	}
	if (wire_string(to, nbuf, sizeof(nbuf), &s, &n) == 0) {
		if (!access_client(c, id, POLICY_CALL, s, n, "req to"))
			return;
		ne = registry_find(&b->registry, s, n);
	}
	if (!ne) {
		client_error(c, id, "no_such_client", "no client named '%.*s' is connected",
			     s ? (int)(n > 64 ? 64 : n) : 0, s ? s : "");
		return;
	}
	if (htable_find(&c->req.asked, id->p, id->len, htable_hash(id->p, id->len))) {
		client_error(c, id, "bad_frame", "a request with this id is still pending");
		return;
	}
	if (c->req.asked.count >= b->cfg.max_pending) {
		b->stats.limit_reached++;
		client_error_extra(c, id, "limit_reached", "\"limit\":\"max_pending\"",
				   "more than %u requests pending (max_pending)", b->cfg.max_pending);
		return;
	}
	target = container_of(ne, struct client, name);
	r = malloc(sizeof(*r) + id->len);
	if (!r) {
		client_close(c, "out of memory", END_ERROR);
		return;
	}
	r->requester = c;
	r->target = target;
	r->tid = ++target->req.next_tid;
	r->id_len = id->len;
	memcpy(r->id, id->p, id->len);
	timer_init(&r->timer, on_deadline);
	if (htable_insert(&target->req.owed, &r->by_tid,
			  htable_hash((const char *)&r->tid, sizeof(r->tid))) < 0) {
		free(r);
		client_close(c, "out of memory", END_ERROR);
		return;
	}
	if (htable_insert(&c->req.asked, &r->by_id, htable_hash(id->p, id->len)) < 0) {
		htable_remove(&target->req.owed, &r->by_tid);
		free(r);
		client_close(c, "out of memory", END_ERROR);
		return;
	}
	b->requests_pending++;
	loop_timer_arm(b->loop, &r->timer, ms);

	struct wire_raw data = { 0 };
	if (env->f[WF_DATA].type != WIRE_T_ABSENT) {
		data.p = env->f[WF_DATA].p;
		data.len = env->f[WF_DATA].len;
	}
	wire_buf_init(&wb, FRAME_HEADROOM);
	wire_build_req_in(&wb, c->name.name, c->name.len, r->tid, data);
	/* if this makes the target a slow consumer, its cleanup answers no_reply */
	bool queued = client_queue_buf(target, &wb);
	monitor_routed(b, "req", origin_of(c), &target, queued, NULL, 0, data, (struct wire_raw){ 0 });
}

void request_handle_reply(struct client *c, const struct wire_env *env)
{
	struct broker *b = c->b;
	const struct wire_value *id = &env->f[WF_ID], *data = &env->f[WF_DATA];
	const struct wire_value *err = &env->f[WF_ERROR];
	struct wire_raw rdata = { 0 }, rerr = { 0 }, rid;
	struct request *r;
	struct hnode *hn;
	struct wire_buf wb;
	uint64_t tid;

	if (id->type == WIRE_T_ABSENT) {
		client_error(c, NULL, "bad_frame", "missing field 'id' (the id of the req)");
		return;
	}
	if (!positive_int(id, &tid) || tid > c->req.next_tid) {
		client_error(c, id, "bad_frame", "reply id was never issued to this client");
		return;
	}
	if ((data->type == WIRE_T_ABSENT) == (err->type == WIRE_T_ABSENT)) {
		client_error(c, id, "bad_frame", "a reply carries exactly one of 'data' or 'error'");
		return;
	}
	if (err->type != WIRE_T_ABSENT) {
		struct wire_env eenv;
		if (err->type != WIRE_T_OBJECT || wire_scan(err->p, err->len, &eenv, NULL) != 0 ||
		    eenv.f[WF_CODE].type != WIRE_T_STRING ||
		    eenv.f[WF_MESSAGE].type != WIRE_T_STRING) {
			client_error(c, id, "bad_frame",
				     "field 'error' must be an object with string 'code' and "
				     "'message'");
			return;
		}
		rerr.p = err->p;
		rerr.len = err->len;
	} else {
		rdata.p = data->p;
		rdata.len = data->len;
	}
	hn = htable_find(&c->req.owed, (const char *)&tid, sizeof(tid),
			 htable_hash((const char *)&tid, sizeof(tid)));
	if (!hn) {
		/* answered, timed out, or the requester left: nobody to tell */
		b->stats.replies_dropped++;
		return;
	}
	r = container_of(hn, struct request, by_tid);
	rid.p = r->id;
	rid.len = r->id_len;
	wire_buf_init(&wb, FRAME_HEADROOM);
	wire_build_reply(&wb, rid, c->name.name, c->name.len, rdata, NULL, NULL, rerr);
	request_unlink(b, r);
	bool queued = client_queue_buf(r->requester, &wb);
	monitor_routed(b, "reply", origin_of(c), &r->requester, queued, NULL, 0, rdata, rerr);
	free(r);
}

static struct request *first(struct htable *t, bool by_tid)
{
	for (uint32_t i = 0; t->buckets && i <= t->mask; i++)
		if (t->buckets[i])
			return by_tid ? container_of(t->buckets[i], struct request, by_tid)
				      : container_of(t->buckets[i], struct request, by_id);
	return NULL;
}

void request_client_gone(struct client *c)
{
	struct broker *b = c->b;
	struct request *r;

	while ((r = first(&c->req.owed, true))) {
		if (r->requester == c) {
			/* a request to itself: nobody is left to tell */
			request_unlink(b, r);
			free(r);
		} else {
			request_fail(b, r, false);
		}
	}
	while ((r = first(&c->req.asked, false))) {
		request_unlink(b, r);
		free(r);
	}
}
