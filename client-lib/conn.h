/*
 * Internals of a libjbus connection, shared by conn.c (I/O, dispatch),
 * frame.c (what each frame from the broker does, message accessors),
 * ops.c (operations), sync.c (blocking helpers) and request.c (requests,
 * serving, introspection). Not installed.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "jbus.h"
#include "util.h"
#include "wire.h"

#define CONN_OUT_MAX (64u * 1024 * 1024) /* queued output before -ENOBUFS */
#define CONN_CONNECT_TIMEOUT_MS 5000
#define CONN_BACKOFF_MIN_MS 100

/* A local subscription: the broker knows the pattern, we keep the callback. */
struct lsub {
	struct list_head link;
	jbus_msg_fn fn;
	void *ud;
	enum jbus_on_full on_full; /* sent with every sub of it, reconnects included */
	bool dead; /* unsubscribed during dispatch; freed when it returns */
	bool literal; /* no wildcard: a topic matches when it is the same string */
	/* id of the sub frame whose ok is awaited: the retained messages that
	 * follow that ok are this pattern's alone (see conn_set_replay) */
	char ok_id[24];
	size_t len;
	char pattern[];
};

struct jbus_msg {
	jbus_conn *c;
	const char *topic, *from, *to;
	size_t topic_len;
	const char *data_raw; /* span in the frame */
	size_t data_len;
	const char *data;     /* NUL-terminated copy, made on demand */
	json_object *json;    /* parsed on demand, put after the callbacks */
	const char *frame;
	size_t frame_len;
	bool retained;        /* a retained message replayed after a sub */
	uint64_t request_id;  /* a req to serve: the broker's id, else 0 */
	const char *err_code; /* an error reply or a broker error: its code and */
	const char *err_msg;  /* message (NUL-terminated), else NULL */
};

struct jbus_conn {
	int fd;
	enum jbus_state state;
	char *path;
	char *want_name; /* the application's choice, or NULL for a generated one */
	char name[WIRE_NAME_MAX + 1];
	struct wire_raw will; /* will object text sent with every hello (owned), or empty */
	size_t max_frame;
	uint64_t idle_ms;    /* the broker's idle timeout (welcome), 0: none */
	int64_t last_out_ms; /* when the last frame was queued: keepalive pings count from it */

	char *in;
	size_t in_len, in_cap;
	struct wire_cursor cur;
	struct wire_buf out;
	size_t out_off; /* bytes of out already written */

	struct list_head subs; /* struct lsub */
	jbus_msg_fn on_msg;
	void *msg_ud;
	jbus_error_fn on_error;
	void *error_ud;
	jbus_state_fn on_state;
	void *state_ud;
	jbus_dropped_fn on_dropped; /* NULL: dropped notices go to on_error */
	void *dropped_ud;

	/* at most one synchronous call is in flight: they block */
	struct {
		bool active, done;
		int result;
		unsigned long long delivered;
		char id[24];
		char *answer; /* stats, clients: the answering frame (malloc'd) */
	} sync;
	uint64_t last_id; /* ids the library puts on frames: one counter for all */
	bool has_err;
	int hs_result; /* handshake refusal seen, reported at EOF */
	char err_code[64];
	char err_msg[1024];

	struct list_head reqs; /* struct pending (request.c): requests awaiting a reply */
	jbus_msg_fn on_req;    /* serves requests; NULL: refused with "no_handler" */
	void *req_ud;
	jbus_msg_fn on_mon;    /* monitor frames; not NULL once jbus_monitor() succeeded */
	void *mon_ud;
	bool monitor;          /* re-sent with every hello (set by jbus_monitor) */
	struct lsub *replay_to; /* retained messages now arriving are this pattern's */

	bool reconnect;
	int backoff_ms;
	int64_t retry_at;
	unsigned long long dropped;
	unsigned gen; /* bumped on every loss: stops dispatch loops over stale state */

	bool pause_after_welcome; /* conn_new: stop dispatching at the welcome */
	bool backlog;             /* complete frames may wait in the input buffer */
	int depth;         /* dispatch nesting; callbacks run at depth > 0 */
	bool free_pending; /* jbus_conn_close() from a callback */
	int hold;          /* a blocking helper runs dispatch: it frees the handle, not dispatch */

	char topic_buf[WIRE_TOPIC_MAX + 1];
	char from_buf[WIRE_NAME_MAX + 1];
	char to_buf[WIRE_NAME_MAX + 1];
	char *data_buf;
	size_t data_cap;
};

int64_t conn_now_ms(void);
/* Set the state and tell the application's state callback. */
void conn_set_state(jbus_conn *c, enum jbus_state st);
/* The next library id, as JSON text in buf (at least 24 bytes). */
struct wire_raw conn_next_id(jbus_conn *c, char *buf);
/*
 * The socket path a call uses: path, or when it is NULL the default that
 * dflt (sockpath_default or sockpath_default_dgram) writes into buf, of
 * SOCKPATH_MAX + 2 bytes. Returns 0 with *out set, -EINVAL for an empty
 * path, or -ENAMETOOLONG when it does not fit sun_path.
 */
int conn_path(const char *path, int (*dflt)(char *, size_t), char *buf, const char **out);
int conn_lost(jbus_conn *c, int err);
void conn_lost_retry(jbus_conn *c);
void conn_write_final(jbus_conn *c);
int conn_write(jbus_conn *c);
/* A keepalive ping is due: the broker has an idle timeout and we were quiet a third of it. */
bool conn_keepalive_due(const jbus_conn *c);

/*
 * Appending a frame: conn_queue_begin() checks the connection and notes
 * where the frame starts; the caller builds into c->out; conn_queue_end()
 * checks the build and max_frame (undoing the frame on failure) and writes
 * early once 64 KiB wait. Both return 0 or a negative error.
 */
int conn_queue_begin(jbus_conn *c, size_t *mark);
int conn_queue_end(jbus_conn *c, size_t mark);

/* frame.c: handle one frame (line[n] is overwritten with a NUL). */
int frame_handle(jbus_conn *c, char *line, size_t n);
/* Decode string value v into buf (cap bytes, NUL included) and point *out at it. */
int frame_copy_string(const struct wire_value *v, char *buf, size_t cap, const char **out);
/* Fill m from a msg-like frame (from, topic, to, data, retained). */
int frame_msg_init(jbus_conn *c, struct jbus_msg *m, const struct wire_env *env, const char *line,
		  size_t n);
/* Done with m: what the accessors made on demand is released. */
void frame_msg_done(struct jbus_msg *m);

/* ops.c: the operations with an optional id (raw JSON, len 0: none). */
int ops_subscribe(jbus_conn *c, const char *pattern, enum jbus_on_full on_full, jbus_msg_fn fn,
		  void *userdata, struct wire_raw id);
/* The on_full member of a sub frame: NULL for the default (disconnect), "drop", "latest". */
const char *ops_on_full_name(enum jbus_on_full on_full);
/* Drops the local subscription of pattern (no frame); false if there was none. */
bool ops_forget_sub(jbus_conn *c, const char *pattern, size_t n);
int ops_publish(jbus_conn *c, const char *topic, json_object *obj, const char *text, ssize_t len,
		bool retain, struct wire_raw id);
int ops_send(jbus_conn *c, const char *to, json_object *obj, const char *text, ssize_t len,
	     struct wire_raw id);
/* A req frame; timeout_ms 0: the broker's default. */
int ops_req(jbus_conn *c, const char *to, const char *text, ssize_t len, uint64_t timeout_ms,
	    struct wire_raw id);
/* A reply frame: data text, or an error when code is not NULL. */
int ops_reply(jbus_conn *c, unsigned long long request_id, const char *text, ssize_t len,
	      const char *code, const char *message);
/* {"op":op} for ping, bye, stats, clients and monitor. */
int ops_simple(jbus_conn *c, const char *op, struct wire_raw id);
/*
 * Raw data for a frame: json-c's serialisation of obj, or text checked to
 * be one JSON value (len -1: NUL-terminated; NULL: absent). *copy receives
 * what to free (NULL if nothing). Returns 0, JBUS_E_BAD_JSON or -ENOMEM.
 */
int ops_data_raw(json_object *obj, const char *text, ssize_t len, struct wire_raw *out,
		 char **copy);
/*
 * The checks of a pub frame's arguments, wherever it goes: topic (NULL:
 * -EINVAL) may be published to (*tn receives its length), and the data is
 * as for ops_data_raw(). Returns 0, -EINVAL, JBUS_E_BAD_TOPIC,
 * JBUS_E_BAD_JSON or -ENOMEM.
 */
int ops_pub_args(const char *topic, json_object *obj, const char *text, ssize_t len, size_t *tn,
		 struct wire_raw *data, char **copy);

/* sync.c */
/* A synchronous call's id: the answer to it ends sync_finish(). */
struct wire_raw sync_begin(jbus_conn *c);
/* Wait for the answer to the call queued with result queued (< 0: failed at once). */
int sync_finish(jbus_conn *c, int queued, int timeout_ms, unsigned long long *delivered);
/*
 * The blocking loop: dispatch, ask until() whether to stop (it sees
 * dispatch's result and sets the return value), else sleep in poll()
 * until I/O, a library timer or the deadline (on_timeout is returned
 * then). A handle a callback closed meanwhile stays allocated (the result
 * is JBUS_E_CLOSED) until sync_release(), which frees it; the caller may
 * still tidy up in between.
 */
typedef bool (*until_fn)(jbus_conn *c, int dispatched, int *result, void *ud);
int sync_run(jbus_conn *c, int timeout_ms, until_fn until, void *ud, int on_timeout);
int sync_release(jbus_conn *c, int r);
/* Connect and wait for the welcome, with will (len 0: none) in the hello. */
int sync_conn_new(jbus_conn **cp, const char *path, const char *name, struct wire_raw will);

/* conn.c: jbus_conn_open with a will (raw object text, copied; len 0: none). */
int conn_open(jbus_conn **cp, const char *path, const char *name, struct wire_raw will);

/* Hand out an error's code and message (either pointer may be NULL); returns true. */
static inline bool conn_error_out(const char *code, const char *message, const char **codep,
				  const char **messagep)
{
	if (codep)
		*codep = code;
	if (messagep)
		*messagep = message;
	return true;
}

/* request.c: the frames it handles, and the connection's end. */
/* A frame of an op conn.c does not handle itself (req, reply, mon, stats, clients). */
int req_frame(jbus_conn *c, const struct wire_value *op, const struct wire_env *env,
	      const char *line, size_t n);
/* An error frame: true when it answered a pending request (then handled). */
bool req_error(jbus_conn *c, const struct wire_env *env, const char *line, size_t n);
/* The connection is lost: every pending request fails with JBUS_E_CLOSED. */
void req_lost(jbus_conn *c);
/* Free the pending requests without calling back (jbus_conn_free). */
void req_free_all(jbus_conn *c);
