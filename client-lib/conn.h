/*
 * Internals of a libjbus connection, shared by conn.c (I/O, dispatch),
 * ops.c (operations) and sync.c (blocking helpers). Not installed.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "jbus.h"
#include "util.h"
#include "wire.h"

#define CONN_OUT_MAX (64u * 1024 * 1024) /* queued output before -ENOBUFS */
#define CONN_CONNECT_TIMEOUT_MS 5000

/* A local subscription: the broker knows the pattern, we keep the callback. */
struct lsub {
	struct list_head link;
	jbus_msg_fn fn;
	void *ud;
	bool dead; /* unsubscribed during dispatch; freed when it returns */
	size_t len;
	char pattern[];
};

struct jbus_msg {
	jbus_conn *c;
	const char *topic, *from, *to;
	const char *data_raw; /* span in the frame */
	size_t data_len;
	const char *data;     /* NUL-terminated copy, made on demand */
	json_object *json;    /* parsed on demand, put after the callbacks */
	const char *frame;
	size_t frame_len;
};

struct jbus_conn {
	int fd;
	enum jbus_state state;
	char *path;
	char *want_name; /* the application's choice, or NULL for a generated one */
	char name[WIRE_NAME_MAX + 1];
	struct wire_raw will; /* will object text sent with every hello (owned), or empty */
	size_t max_frame;

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

	/* at most one synchronous call is in flight: they block */
	struct {
		bool active, done;
		int result;
		unsigned long long delivered;
		uint64_t seq;
		char id[24];
	} sync;
	bool has_err;
	int hs_result; /* handshake refusal seen, reported at EOF */
	char err_code[64];
	char err_msg[256];

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
int conn_lost(jbus_conn *c, int err);
void conn_lost_retry(jbus_conn *c);
void conn_write_final(jbus_conn *c);
int conn_write(jbus_conn *c);

/*
 * Appending a frame: conn_queue_begin() checks the connection and notes
 * where the frame starts; the caller builds into c->out; conn_queue_end()
 * checks the build and max_frame (undoing the frame on failure) and writes
 * early once 64 KiB wait. Both return 0 or a negative error.
 */
int conn_queue_begin(jbus_conn *c, size_t *mark);
int conn_queue_end(jbus_conn *c, size_t mark);

/* ops.c: the operations with an optional id (raw JSON, len 0: none). */
int ops_subscribe(jbus_conn *c, const char *pattern, jbus_msg_fn fn, void *userdata,
		  struct wire_raw id);
int ops_publish(jbus_conn *c, const char *topic, json_object *obj, const char *text, ssize_t len,
		struct wire_raw id);
int ops_send(jbus_conn *c, const char *to, json_object *obj, const char *text, ssize_t len,
	     struct wire_raw id);
/* {"op":op} for ping and bye. */
int ops_simple(jbus_conn *c, const char *op, struct wire_raw id);
