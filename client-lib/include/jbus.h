/*
 * libjbus: client library for jbusd, the local message broker.
 *
 * A connection (jbus_conn) speaks protocol v1 (docs/protocol.md) over the
 * broker's Unix socket. It can be driven two ways:
 *
 *  - from the application's own event loop: watch jbus_conn_get_fd() for
 *    jbus_conn_get_events(), wake up after jbus_conn_get_timeout() at the
 *    latest, and call jbus_conn_dispatch(), which never blocks;
 *  - with the blocking helpers (jbus_conn_wait(), jbus_conn_flush(),
 *    jbus_publish_sync(), jbus_ping()), which are built on exactly that and
 *    return after a timeout at the latest.
 *
 * Outgoing frames are queued and written in batches (by dispatch, flush or
 * the blocking helpers), so publishing many small messages does not cost a
 * system call each. Against a broker with an idle timeout (jbusd
 * --idle-timeout), dispatch sends a ping after a third of it without a
 * frame, and get_timeout() includes that moment.
 *
 * Beyond publish/subscribe and direct messages: requests to a named client
 * and serving them (jbus_request(), jbus_call(), jbus_conn_on_request()),
 * subscriptions that lose messages rather than the connection when the
 * application falls behind (jbus_subscribe_full(), jbus_conn_on_dropped()),
 * retained messages (JBUS_PUB_RETAIN), a last will (jbus_conn_new_will()),
 * the broker's introspection (jbus_stats(), jbus_clients(),
 * jbus_monitor()), and publishing without a connection through the
 * broker's datagram socket (jbus_dgram_publish()). Presence events are
 * ordinary messages on the topics "$SYS/client/connected" and
 * "$SYS/client/disconnected": subscribe to them by name ('#' and '+' at
 * the start of a pattern skip '$' topics).
 *
 * Errors: functions return 0 (or a count) on success and a negative value
 * on failure: a negative errno where one fits (-EINVAL, -ENOMEM, -ENOTCONN,
 * -ETIMEDOUT, -EMSGSIZE, -ECONNREFUSED, -ENOENT) or a JBUS_E_* value.
 * jbus_strerror() turns either into text. The library never prints, never
 * exits and never raises SIGPIPE.
 *
 * Threads: a handle may be used by one thread at a time (no internal
 * locking); different handles are independent. The library has no global
 * state.
 *
 * Ownership: strings and json_object pointers passed in are borrowed for
 * the call. Pointers handed to callbacks are valid until the callback
 * returns.
 */
#ifndef JBUS_H
#define JBUS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(JBUS_BUILDING)
#define JBUS_EXPORT __attribute__((visibility("default")))
#else
#define JBUS_EXPORT
#endif

#define JBUS_PROTO 1

typedef struct jbus_conn jbus_conn;
typedef struct jbus_msg jbus_msg;

/* Library errors, below the errno range. */
enum {
	JBUS_E_BROKER = -4000,   /* the broker answered with an error frame */
	JBUS_E_HANDSHAKE = -4001,/* the broker rejected the hello */
	JBUS_E_PROTOCOL = -4002, /* the broker sent something not in protocol v1 */
	JBUS_E_CLOSED = -4003,   /* the broker closed the connection */
	JBUS_E_BAD_JSON = -4004, /* a JSON text argument is not valid JSON */
	JBUS_E_BAD_TOPIC = -4005,/* invalid topic or pattern (checked locally) */
	JBUS_E_BAD_NAME = -4006, /* invalid client name (checked locally, or bad_name) */
	JBUS_E_NAME_TAKEN = -4007,/* the broker answered name_taken */
	JBUS_E_LIMIT = -4008,    /* the broker answered limit_reached */
	JBUS_E_REPLY = -4009,    /* the target of a request answered with an error */
};

/* Text for a return value of this library (negative errno or JBUS_E_*). */
JBUS_EXPORT const char *jbus_strerror(int err);
/* Symbolic name ("JBUS_E_BROKER", "ETIMEDOUT"), or "unknown". */
JBUS_EXPORT const char *jbus_error_name(int err);

/*
 * Check that text[0..len) (len -1: NUL-terminated) is one JSON value as the
 * broker accepts it in "data": RFC 8259, UTF-8, nesting of at most 63
 * levels. Return: 0 or JBUS_E_BAD_JSON; then *offset (may be NULL) is the
 * byte where it failed and *reason (may be NULL) a static description.
 */
JBUS_EXPORT int jbus_json_check(const char *text, ssize_t len, size_t *offset,
				const char **reason);

/*
 * The socket path used when none is given ($JBUS_SOCKET, else
 * $XDG_RUNTIME_DIR/jbus.sock, else /tmp/jbus-<uid>.sock), written to buf.
 * Return: 0, -EINVAL for a NULL buf, or -ENAMETOOLONG if it does not fit size.
 */
JBUS_EXPORT int jbus_default_socket_path(char *buf, size_t size);

/* section: connection */

enum jbus_state {
	JBUS_STATE_CONNECTING,   /* socket open, waiting for the welcome */
	JBUS_STATE_CONNECTED,    /* welcome received: name and limits known */
	JBUS_STATE_DISCONNECTED, /* lost; with reconnect on, a retry is scheduled */
};

/**
 * jbus_conn_new() - connect and complete the handshake (blocking).
 * @cp:   receives the new handle
 * @path: socket path, or NULL for the default ($JBUS_SOCKET, else
 *        $XDG_RUNTIME_DIR/jbus.sock, else /tmp/jbus-<uid>.sock)
 * @name: client name ([A-Za-z0-9._-]{1,64}), or NULL for a generated one
 *
 * Waits at most 5 s for the broker's welcome. Frames that arrive together
 * with the welcome are kept for the first dispatch after this returns, so
 * callbacks set right after it miss nothing (get_timeout() is 0 meanwhile).
 *
 * Return: 0; -EINVAL, -ENAMETOOLONG (path longer than 107 bytes),
 * JBUS_E_BAD_NAME for bad arguments; -ENOENT or -ECONNREFUSED when no
 * broker listens at the path, -EACCES; when the broker refuses the hello:
 * JBUS_E_NAME_TAKEN, JBUS_E_BAD_NAME, JBUS_E_LIMIT (too many clients), or
 * JBUS_E_HANDSHAKE (any other code); JBUS_E_CLOSED, -ETIMEDOUT, -ENOMEM.
 */
JBUS_EXPORT int jbus_conn_new(jbus_conn **cp, const char *path, const char *name);

/**
 * jbus_conn_open() - connect without waiting for the handshake.
 *
 * Same arguments as jbus_conn_new(). The hello is queued; the welcome is
 * processed by jbus_conn_dispatch(), which then reports
 * JBUS_STATE_CONNECTED to the state callback. Frames queued before that
 * are sent after the hello. For event loops that must never block.
 *
 * Return: 0, or the errors of jbus_conn_new() that can be known at once.
 */
JBUS_EXPORT int jbus_conn_open(jbus_conn **cp, const char *path, const char *name);

/**
 * jbus_conn_new_will() - jbus_conn_new() with a last will.
 * @cp:    receives the new handle
 * @path:  socket path, or NULL for the default
 * @name:  client name, or NULL for a generated one
 * @topic: the topic the will is published on (rules as for publishing)
 * @json:  its data, one JSON value (NULL: null), copied
 * @len:   length of json, -1 when NUL-terminated
 * @flags: 0, or JBUS_PUB_RETAIN to make it the topic's retained value
 *
 * The broker publishes the will, from this client's name, when the
 * connection ends without a bye: the process died or was killed, the
 * socket broke, the broker dropped it as a slow consumer, or the
 * application called jbus_conn_free() (which closes without bye), but not
 * after jbus_conn_close() and not when the broker shuts down. The will is
 * part of every hello, so a reconnected handle has it again.
 *
 * Return: as jbus_conn_new(), plus JBUS_E_BAD_TOPIC, JBUS_E_BAD_JSON and
 * -EINVAL (topic NULL, unknown flags). A will the broker refuses fails
 * the handshake (JBUS_E_HANDSHAKE).
 */
JBUS_EXPORT int jbus_conn_new_will(jbus_conn **cp, const char *path, const char *name,
				   const char *topic, const char *json, ssize_t len,
				   unsigned flags);

/* Closes the connection at once (queued output is discarded: use
 * jbus_conn_close() to say bye first) and frees the handle. NULL is fine.
 * Must not be called from a callback of the same handle; a callback may
 * call jbus_conn_close() instead. Returns NULL. */
JBUS_EXPORT jbus_conn *jbus_conn_free(jbus_conn *c);

/* Queues a bye, flushes for at most timeout_ms, closes and frees the
 * handle. Return: 0, or the flush error (the handle is freed either way).
 * From inside a callback the handle is freed when dispatch returns. */
JBUS_EXPORT int jbus_conn_close(jbus_conn *c, int timeout_ms);

/* The name the broker assigned (valid while connected), or NULL. */
JBUS_EXPORT const char *jbus_conn_name(const jbus_conn *c);
/* The broker's max_frame for this client (0 before the welcome). */
JBUS_EXPORT size_t jbus_conn_max_frame(const jbus_conn *c);
/* The socket path in use. */
JBUS_EXPORT const char *jbus_conn_path(const jbus_conn *c);
JBUS_EXPORT enum jbus_state jbus_conn_state(const jbus_conn *c);

/*
 * Automatic reconnect (off by default). When the broker goes away, the
 * connection is retried with a backoff from 100 ms doubling up to 5 s;
 * once back, the same name (if the application chose one) and every
 * subscription (with its on_full) are restored. The state callback reports
 * each change.
 * Frames queued but not written when the connection was lost are
 * discarded and counted in jbus_conn_dropped(); pending synchronous calls
 * fail with JBUS_E_CLOSED. While disconnected, get_fd() is -1 and
 * get_timeout() tells when the next attempt is due; after a reconnect the
 * fd is a different one (event loops re-register it on
 * JBUS_STATE_CONNECTED).
 */
JBUS_EXPORT void jbus_conn_set_reconnect(jbus_conn *c, bool on);
/* Frames discarded because the connection was lost before they were written
 * (messages the broker drops for JBUS_ON_FULL_DROP/_LATEST subscriptions are
 * reported by jbus_conn_on_dropped() instead). */
JBUS_EXPORT unsigned long long jbus_conn_dropped(const jbus_conn *c);

/* section: callbacks */

/*
 * Callback contracts: a callback may call any function on its own handle,
 * including subscribe/unsubscribe, publish, and jbus_conn_close() (the
 * handle is then freed when the outermost dispatch returns), but not
 * jbus_conn_free() and not the blocking helpers.
 */

/* A message: pointers are valid until the callback returns. */
typedef void (*jbus_msg_fn)(jbus_conn *c, const jbus_msg *m, void *userdata);

/* An error frame not answering a synchronous call of this library:
 * code and message as sent; id is the raw JSON text of its id or NULL. */
typedef void (*jbus_error_fn)(jbus_conn *c, const char *code, const char *message,
			      const char *id, void *userdata);

typedef void (*jbus_state_fn)(jbus_conn *c, enum jbus_state state, void *userdata);

/*
 * The broker lost count (>= 1) messages of the subscription to pattern (as
 * subscribed, made with JBUS_ON_FULL_DROP or _LATEST) while this client was
 * behind; see jbus_subscribe_full(). It runs once the client has caught up,
 * before any later message of that subscription. The pattern may be one the
 * application unsubscribed a moment ago (the broker had sent it first).
 */
typedef void (*jbus_dropped_fn)(jbus_conn *c, const char *pattern, unsigned long long count,
				void *userdata);

/* Direct messages, and published ones no local subscription claims. */
JBUS_EXPORT void jbus_conn_on_message(jbus_conn *c, jbus_msg_fn fn, void *userdata);
/*
 * Error frames no call is waiting for (id NULL when the frame had none). A
 * "forbidden" without an id after a policy reload may take a subscription
 * back: the library forgets it (a reconnect does not ask for it again)
 * before the callback runs.
 */
JBUS_EXPORT void jbus_conn_on_error(jbus_conn *c, jbus_error_fn fn, void *userdata);
JBUS_EXPORT void jbus_conn_on_state(jbus_conn *c, jbus_state_fn fn, void *userdata);
/*
 * The broker's notices of lost messages. Without this callback (fn NULL, the
 * default) each notice reaches the error callback instead, with the code
 * "dropped", the message "dropped N messages on 'PATTERN'" and no id (the
 * connection stays up); with neither callback it is ignored, as error frames
 * are.
 */
JBUS_EXPORT void jbus_conn_on_dropped(jbus_conn *c, jbus_dropped_fn fn, void *userdata);

/* section: messages */

/* Topic of a published message, or NULL for a direct one. */
JBUS_EXPORT const char *jbus_msg_topic(const jbus_msg *m);
/* Sender's name as the broker knows it. */
JBUS_EXPORT const char *jbus_msg_from(const jbus_msg *m);
/* Recipient of a direct message, or NULL. */
JBUS_EXPORT const char *jbus_msg_to(const jbus_msg *m);
/* The data value's exact JSON text as delivered (NUL-terminated); *len may be NULL. */
JBUS_EXPORT const char *jbus_msg_data(const jbus_msg *m, size_t *len);
/* The data parsed by json-c (parsed on first call; owned by the message:
 * take a reference with json_object_get() to keep it). NULL when out of
 * memory, or if the data is not valid JSON: jbusd validates every frame it
 * routes, and the library takes the data of a msg frame laid out as jbusd
 * builds it without validating it again, so that happens only with a peer
 * that is not jbusd. json-c's model is lossy: integers beyond 64 bits saturate and
 * duplicate members collapse; jbus_msg_data() has the exact text. */
JBUS_EXPORT json_object *jbus_msg_json(const jbus_msg *m);
/* The whole frame as received, without its '\n' (NUL-terminated). */
JBUS_EXPORT const char *jbus_msg_frame(const jbus_msg *m, size_t *len);
/* A retained message, replayed because of a new subscription ("retained":true). */
JBUS_EXPORT bool jbus_msg_retained(const jbus_msg *m);
/* A request handed to the jbus_conn_on_request() callback: the id to
 * answer it with (never 0). 0 for every other message. */
JBUS_EXPORT unsigned long long jbus_msg_request_id(const jbus_msg *m);
/* An error reply, or the broker's error ending a request (see
 * jbus_reply_fn), or an error reply seen by a monitor: true, with its code
 * and message (NUL-terminated; either pointer may be NULL). Else false. */
JBUS_EXPORT bool jbus_msg_error(const jbus_msg *m, const char **code, const char **message);

/* section: operations (queued; written by dispatch/flush) */

/* Subscribe to a pattern: fn receives each matching message. One callback
 * per pattern; subscribing again replaces fn/userdata (and makes it a
 * JBUS_ON_FULL_DISCONNECT subscription again, see jbus_subscribe_full()).
 * When several of a connection's patterns match a topic, each of their
 * callbacks runs once.
 * Return: 0, JBUS_E_BAD_TOPIC, -ENOMEM, -ENOTCONN (disconnected and no
 * reconnect). */
JBUS_EXPORT int jbus_subscribe(jbus_conn *c, const char *pattern, jbus_msg_fn fn,
			       void *userdata);
JBUS_EXPORT int jbus_unsubscribe(jbus_conn *c, const char *pattern);

/*
 * What the broker does with a subscription's messages when its queue for
 * this client is full because the application does not read fast enough
 * (docs/protocol.md, "Slow consumers").
 */
enum jbus_on_full {
	JBUS_ON_FULL_DISCONNECT = 0, /* disconnect the client as a slow consumer (the default) */
	JBUS_ON_FULL_DROP,           /* discard the messages that do not fit, and count them */
	JBUS_ON_FULL_LATEST,         /* keep only the newest message of each topic until the
					client caught up (state topics), counting the others */
};

/**
 * jbus_subscribe_full() - subscribe, choosing what happens when the client falls behind.
 * @c:        the connection
 * @pattern:  the pattern, as for jbus_subscribe()
 * @on_full:  JBUS_ON_FULL_DISCONNECT (what jbus_subscribe() does), JBUS_ON_FULL_DROP or
 *            JBUS_ON_FULL_LATEST
 * @fn:       receives each matching message
 * @userdata: for fn
 *
 * With DROP or LATEST the broker loses messages of this subscription rather
 * than the connection when its queue for this client is full: the client is
 * then "behind" until the queue has drained to half its limit. DROP
 * discards what does not fit; LATEST keeps the newest message of each topic
 * and delivers those once the client has caught up. Either way the client
 * learns how many messages were lost before it sees the subscription's next
 * one: jbus_conn_on_dropped() receives the pattern and the count (without
 * it, the error callback does). Other frames (answers, direct messages,
 * requests, messages of DISCONNECT subscriptions) never wait: when they do
 * not fit, the client is disconnected as a slow consumer. A message matching
 * several subscriptions follows the strictest: DISCONNECT, then LATEST, then
 * DROP.
 *
 * Subscribing again to a pattern replaces fn/userdata and sets on_full anew.
 * A reconnect restores each subscription with its on_full.
 *
 * Return: as jbus_subscribe(); -EINVAL for an on_full not listed above.
 */
JBUS_EXPORT int jbus_subscribe_full(jbus_conn *c, const char *pattern, enum jbus_on_full on_full,
				    jbus_msg_fn fn, void *userdata);

/* Publish data (NULL: null). Return: 0, JBUS_E_BAD_TOPIC, -EMSGSIZE
 * (frame larger than the broker's max_frame), -ENOBUFS (more than 64 MiB
 * of output already waiting: dispatch or flush first), -ENOMEM, -ENOTCONN
 * (disconnected: nothing is queued while the connection is down). */
JBUS_EXPORT int jbus_publish(jbus_conn *c, const char *topic, json_object *data);
/* Publish a JSON text as is, byte for byte (len -1: NUL-terminated). It
 * must be one JSON value: JBUS_E_BAD_JSON otherwise. NULL json: null. */
JBUS_EXPORT int jbus_publish_text(jbus_conn *c, const char *topic, const char *json, ssize_t len);

/*
 * Flag of jbus_publish_text_ex(): the broker also stores the message as
 * the topic's retained value, which every later subscription matching the
 * topic receives right after subscribing (jbus_msg_retained() is true
 * then). It replaces the previous value; json NULL (no data) or "null"
 * clears it. Storing past the broker's bounds is refused with
 * limit_reached (the message is still delivered live).
 */
#define JBUS_PUB_RETAIN 0x1u

/* jbus_publish_text() with flags (0 or JBUS_PUB_RETAIN); -EINVAL for others. */
JBUS_EXPORT int jbus_publish_text_ex(jbus_conn *c, const char *topic, const char *json,
				     ssize_t len, unsigned flags);

/* Direct message to a connected client name. Errors as for publish, plus
 * JBUS_E_BAD_NAME. An unknown recipient is reported by the broker through
 * the error callback (or use jbus_send_sync()). */
JBUS_EXPORT int jbus_send(jbus_conn *c, const char *to, json_object *data);
JBUS_EXPORT int jbus_send_text(jbus_conn *c, const char *to, const char *json, ssize_t len);

/* section: event loop integration */

/* The socket, or -1 while disconnected. */
JBUS_EXPORT int jbus_conn_get_fd(const jbus_conn *c);
/* POLLIN, plus POLLOUT while output is queued (0 while disconnected). */
JBUS_EXPORT short jbus_conn_get_events(const jbus_conn *c);
/* Milliseconds until dispatch must run even without I/O (the next
 * reconnect attempt; 0 while frames that came with the welcome wait to be
 * dispatched, see jbus_conn_new()), 0 if due, -1 for none. */
JBUS_EXPORT int jbus_conn_get_timeout(const jbus_conn *c);

/**
 * jbus_conn_dispatch() - do what can be done now, never blocking.
 *
 * Reads what the socket has, runs callbacks for complete frames, writes
 * queued output as far as the socket takes it, and handles due timers
 * (reconnect). Safe to call when nothing is ready.
 *
 * Return: the number of frames handled (>= 0), or a negative error when
 * the connection is lost and will not be retried (JBUS_E_CLOSED, -EPIPE,
 * -ECONNRESET, JBUS_E_PROTOCOL).
 */
JBUS_EXPORT int jbus_conn_dispatch(jbus_conn *c);

/*
 * section: blocking helpers (timeout_ms < 0: no limit)
 *
 * They run callbacks while they wait. If one of those callbacks calls
 * jbus_conn_close(), the helper returns JBUS_E_CLOSED and the handle is
 * freed by then: do not use it again.
 */

/* Waits until at least one frame was handled, then dispatches what else is
 * ready. Return: frames handled (0 on timeout), or a dispatch error. */
JBUS_EXPORT int jbus_conn_wait(jbus_conn *c, int timeout_ms);
/* Writes all queued output. If the socket takes it at once, returns without
 * reading (no callback runs); else dispatches while it waits.
 * Return: 0, -ETIMEDOUT, or a dispatch error. */
JBUS_EXPORT int jbus_conn_flush(jbus_conn *c, int timeout_ms);

/* Publish and wait for the broker's ok. *delivered (may be NULL) receives
 * the number of clients the message was queued to. Messages arriving
 * meanwhile are dispatched to their callbacks.
 * Return: 0, JBUS_E_BROKER (code in jbus_conn_last_error()), -ETIMEDOUT,
 * or the errors of jbus_publish(). */
JBUS_EXPORT int jbus_publish_sync(jbus_conn *c, const char *topic, json_object *data,
				  int timeout_ms, unsigned long long *delivered);
JBUS_EXPORT int jbus_publish_text_sync(jbus_conn *c, const char *topic, const char *json,
				       ssize_t len, int timeout_ms,
				       unsigned long long *delivered);
/* jbus_publish_text_sync() with the flags of jbus_publish_text_ex(). A
 * retained message the broker could not store: JBUS_E_BROKER with code
 * "limit_reached". */
JBUS_EXPORT int jbus_publish_text_ex_sync(jbus_conn *c, const char *topic, const char *json,
					  ssize_t len, unsigned flags, int timeout_ms,
					  unsigned long long *delivered);
/* Direct message and wait for the ok (JBUS_E_BROKER with code
 * "no_such_client" for an unknown name). */
JBUS_EXPORT int jbus_send_sync(jbus_conn *c, const char *to, json_object *data, int timeout_ms);
JBUS_EXPORT int jbus_send_text_sync(jbus_conn *c, const char *to, const char *json, ssize_t len,
				    int timeout_ms);
/* Subscribe and wait until the broker confirmed it. */
JBUS_EXPORT int jbus_subscribe_sync(jbus_conn *c, const char *pattern, jbus_msg_fn fn,
				    void *userdata, int timeout_ms);
/* jbus_subscribe_full() and wait until the broker confirmed it. */
JBUS_EXPORT int jbus_subscribe_full_sync(jbus_conn *c, const char *pattern,
					 enum jbus_on_full on_full, jbus_msg_fn fn, void *userdata,
					 int timeout_ms);
/* Round trip to the broker. Return: 0, -ETIMEDOUT, or a dispatch error. */
JBUS_EXPORT int jbus_ping(jbus_conn *c, int timeout_ms);

/*
 * The last error frame that failed a call of this handle (synchronous call
 * or handshake), or the error reply that failed jbus_call(): its code and
 * message, valid until the next call. Returns false when there is none.
 */
JBUS_EXPORT bool jbus_conn_last_error(const jbus_conn *c, const char **code,
				      const char **message);

/*
 * section: requests
 *
 * A request goes to one connected client by name; the broker gives it an
 * id and the target answers it once, with data or with an error of its
 * own ({"code","message"}). The broker answers instead when the target is
 * not there, goes away before answering, or does not answer in time.
 */

/*
 * The end of a request, called exactly once (by dispatch, or by whatever
 * notices that the connection is lost), with the callback contract above:
 *  - err 0: reply is the target's answer: jbus_msg_from() names it,
 *    jbus_msg_data() / jbus_msg_json() are the data, byte for byte;
 *  - JBUS_E_REPLY: the target answered with an error: jbus_msg_error()
 *    gives its code and message;
 *  - JBUS_E_BROKER: the broker's error frame, jbus_msg_error() gives its
 *    code: "no_such_client", "no_reply" (the target disconnected first),
 *    "timeout", "limit_reached" (too many requests of this connection
 *    pending), "bad_frame"; jbus_msg_from() is NULL;
 *  - JBUS_E_CLOSED: the connection was lost first; reply is NULL.
 */
typedef void (*jbus_reply_fn)(jbus_conn *c, int err, const jbus_msg *reply, void *userdata);

/**
 * jbus_request() - send a request, get the answer through a callback.
 * @c:          the connection
 * @to:         the target client's name
 * @json:       the request's data, one JSON value (NULL: null), sent byte for byte
 * @len:        length of json, -1 when NUL-terminated
 * @timeout_ms: the broker's deadline for the answer (it clamps it to its
 *              --max-request-timeout); <= 0: the broker's default
 * @fn:         receives the answer
 * @userdata:   for fn
 *
 * Any number of requests may be pending at once (the broker bounds them).
 * jbus_conn_close() and jbus_conn_free() discard pending requests without
 * calling fn.
 *
 * Return: 0 (fn will run), or the errors of jbus_send() (fn will not run).
 */
JBUS_EXPORT int jbus_request(jbus_conn *c, const char *to, const char *json, ssize_t len,
			     int timeout_ms, jbus_reply_fn fn, void *userdata);

/**
 * jbus_call() - send a request and wait for the answer (blocking).
 * @c, @to, @json, @len, @timeout_ms: as for jbus_request()
 * @reply:     receives the answer's data text, NUL-terminated, malloc'd
 *             (the caller frees it); may be NULL
 * @reply_len: receives its length; may be NULL
 *
 * Waits for the broker's deadline plus one second (so the broker's timeout
 * answer normally comes first), or without a limit when timeout_ms <= 0
 * (the broker's default deadline still ends the request). Other frames
 * arriving meanwhile are dispatched to their callbacks.
 *
 * Return: 0; JBUS_E_REPLY (the target answered with an error) or
 * JBUS_E_BROKER, with the code and message in jbus_conn_last_error();
 * -ETIMEDOUT (no answer within the library's own wait), JBUS_E_CLOSED,
 * -EBUSY from a callback, or the errors of jbus_request().
 */
JBUS_EXPORT int jbus_call(jbus_conn *c, const char *to, const char *json, ssize_t len,
			  int timeout_ms, char **reply, size_t *reply_len);

/*
 * Serve requests: fn receives each one as a message: jbus_msg_from() is
 * the requester, jbus_msg_data() the data, jbus_msg_request_id() the id to
 * answer with, now (from fn) or later (after fn returned), exactly once,
 * with jbus_reply() or jbus_reply_error(). Without a callback (fn NULL, the
 * default) the library answers every request with the error "no_handler".
 * The ids belong to the connection: after a reconnect, requests received
 * before can no longer be answered (their requesters got "no_reply").
 */
JBUS_EXPORT void jbus_conn_on_request(jbus_conn *c, jbus_msg_fn fn, void *userdata);

/* Answer request request_id with data (one JSON value, NULL: null, sent
 * byte for byte). Return: 0, -EINVAL (id 0), JBUS_E_BAD_JSON, -EMSGSIZE,
 * -ENOBUFS, -ENOMEM, -ENOTCONN. */
JBUS_EXPORT int jbus_reply(jbus_conn *c, unsigned long long request_id, const char *json,
			   ssize_t len);
/* Answer request request_id with an error: code (not empty) and message
 * (NULL: ""), UTF-8 text. Return: as jbus_reply(); JBUS_E_BAD_JSON when
 * code or message is not valid UTF-8. */
JBUS_EXPORT int jbus_reply_error(jbus_conn *c, unsigned long long request_id, const char *code,
				 const char *message);

/* section: introspection (blocking) */

/*
 * The broker's counters: *frame receives its answer, the frame
 * {"op":"stats","id":..,"uptime_ms":..,"clients":..,...} as text
 * (NUL-terminated, malloc'd: the caller frees it; docs/protocol.md lists
 * the fields). Return: 0, -ETIMEDOUT, JBUS_E_BROKER, -EBUSY, or the errors
 * of jbus_ping().
 */
JBUS_EXPORT int jbus_stats(jbus_conn *c, int timeout_ms, char **frame);
/* The same for the connected clients:
 * {"op":"clients","id":..,"clients":[{"name":..,"pid":..,...},...]}. */
JBUS_EXPORT int jbus_clients(jbus_conn *c, int timeout_ms, char **frame);

/**
 * jbus_monitor() - receive a copy of everything the broker routes.
 * @c:          the connection
 * @fn:         receives each copy
 * @userdata:   for fn
 * @timeout_ms: for the broker's answer
 *
 * Once the broker agreed, fn receives a message for every pub, send, req,
 * reply, will and broker event it routes, built from the broker's frame
 * {"op":"mon","kind":..,"from":..,"to":[..],"topic":..,"data":..}:
 * jbus_msg_frame() is that frame (kind and recipients are in it),
 * jbus_msg_from() the sender, jbus_msg_topic() the topic (pub, will, sys),
 * jbus_msg_data() the data, jbus_msg_error() the error of an error reply.
 * The connection stays a monitor (also across reconnects) and may still
 * publish and subscribe. Only a client running as the broker's user, or
 * root, may monitor.
 *
 * Return: 0; JBUS_E_BROKER with code "forbidden" for anyone else;
 * -EINVAL, -ETIMEDOUT, -EBUSY, or the errors of jbus_ping().
 */
JBUS_EXPORT int jbus_monitor(jbus_conn *c, jbus_msg_fn fn, void *userdata, int timeout_ms);

/*
 * section: datagram publishing
 *
 * A broker started with --dgram PATH also listens on a datagram socket,
 * where a program publishes without a connection, as programs log to
 * /dev/log: one call, one datagram, no handshake and no answer. For a
 * shell, a cron job or a small program that publishes now and then and
 * must never wait for the broker. What a connection offers and this does
 * not: a name of one's own, errors from the broker, any other operation.
 */

/*
 * The datagram socket path used when none is given ($JBUS_DGRAM_SOCKET,
 * else $XDG_RUNTIME_DIR/jbus.dgram, else /tmp/jbus-<uid>.dgram; empty
 * variables count as unset), written to buf. Return: 0, -EINVAL for a
 * NULL buf, or -ENAMETOOLONG if it does not fit size.
 */
JBUS_EXPORT int jbus_default_dgram_path(char *buf, size_t size);

/**
 * jbus_dgram_publish() - publish one message in one datagram (never blocks).
 * @path:  the broker's datagram socket, or NULL for the default (see
 *         jbus_default_dgram_path())
 * @topic: the topic (rules as for jbus_publish(), and UTF-8)
 * @json:  the data, one JSON value (NULL: null), sent byte for byte
 *         (line breaks become spaces, as with jbus_publish_text())
 * @len:   length of json, -1 when NUL-terminated
 * @flags: 0, or JBUS_PUB_RETAIN to make it the topic's retained value
 *
 * Checks the topic and the data, then sends the pub frame with one
 * sendto() on a socket of its own, closed before it returns. The broker
 * names the sender after the datagram's credentials: subscribers see
 * "from":"dgram:<uid>:<pid>". Nobody answers: 0 means the kernel queued
 * the datagram for the broker. A frame the broker refuses (one larger than
 * its max_frame, for instance) is dropped and counted in its stats.
 * Datagrams from one thread reach the broker in the order they were sent.
 * No state is kept: any thread may call it at any time.
 *
 * Return: 0; -EINVAL (topic NULL, path "", unknown flags), -ENAMETOOLONG
 * (path longer than 107 bytes), JBUS_E_BAD_TOPIC, JBUS_E_BAD_JSON (all
 * found before anything is sent); -ENOENT or -ECONNREFUSED when no broker
 * listens at the path, -EPROTOTYPE when the path is a stream socket (the
 * broker's main one), -EACCES; -EAGAIN when the broker's receive queue is
 * full (it holds net.unix.max_dgram_qlen datagrams; try again shortly);
 * -EMSGSIZE when the frame is larger than one datagram can be (about twice
 * net.core.wmem_max: 416 KiB on most systems); -ENOMEM.
 */
JBUS_EXPORT int jbus_dgram_publish(const char *path, const char *topic, const char *json,
				   ssize_t len, unsigned flags);

#ifdef __cplusplus
}
#endif

#endif /* JBUS_H */
