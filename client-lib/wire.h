/*
 * Wire codec of protocol v1, shared by libjbus and jbusd (compiled once).
 *
 *  - framing: newline-delimited frames, trailing CR stripped, blank lines
 *    skipped, max_frame enforced before a buffer has to grow;
 *  - scanning: a strict single-pass JSON validator (RFC 8259, UTF-8, depth
 *    limit) that records the byte span of each known top-level member, so
 *    payloads can be forwarded byte for byte without building a tree;
 *  - building: the frames the broker and the library emit.
 *
 * Nothing here allocates except struct wire_buf, and nothing keeps state
 * between calls: every function is reentrant.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_PROTO 1
#define WIRE_MAX_DEPTH 64           /* the frame's own object is level 1 */
#define WIRE_DEFAULT_MAX_FRAME (1024 * 1024)
#define WIRE_NAME_MAX 64
#define WIRE_TOPIC_MAX 1024

/* Expected outcomes (positive); negative values are errno codes. */
enum {
	WIRE_E_MORE = 1,  /* no complete frame yet */
	WIRE_E_TOO_LARGE, /* frame longer than max_frame */
	WIRE_E_JSON,      /* not valid JSON / UTF-8, or too deep */
	WIRE_E_NOT_OBJECT,/* valid JSON but not an object */
	WIRE_E_STRING,    /* a string field decodes to NUL or a lone surrogate */
	WIRE_E_LENGTH,    /* a decoded string does not fit the caller's buffer */
};

/* section: framing */

/*
 * Cursor over a receive buffer. pos is where the next frame starts; scanned
 * is how far the search for '\n' already went, so bytes arriving in small
 * pieces are not searched again.
 */
struct wire_cursor {
	size_t pos;
	size_t scanned;
};

/*
 * Find the next frame in buf[0..len) starting at cur->pos. Returns 0 with
 * line and line_len set (borrowed from buf, without the line ending) and
 * cur->pos moved past it; WIRE_E_MORE when buf holds only part of a frame
 * (cur->pos then marks its start); WIRE_E_TOO_LARGE when the frame at pos is
 * longer than max_frame (whether or not its end has arrived; blank lines
 * count too, so the outcome never depends on how the bytes were split).
 */
int wire_next_frame(const char *buf, size_t len, struct wire_cursor *cur, size_t max_frame,
		    const char **line, size_t *line_len);

/* section: scanning */

enum wire_type {
	WIRE_T_ABSENT = 0,
	WIRE_T_NULL,
	WIRE_T_FALSE,
	WIRE_T_TRUE,
	WIRE_T_NUMBER,
	WIRE_T_STRING,
	WIRE_T_ARRAY,
	WIRE_T_OBJECT,
};

/* A value's raw bytes in the frame (strings include their quotes). */
struct wire_value {
	const char *p;
	uint32_t len;
	uint8_t type;   /* enum wire_type */
	bool escaped;   /* string contains a backslash escape */
};

/* The top-level members the codec knows; others are validated and ignored. */
enum wire_field {
	WF_OP,
	WF_ID,
	WF_TOPIC,
	WF_TO,
	WF_FROM,
	WF_DATA,
	WF_NAME,
	WF_PROTO,
	WF_CODE,
	WF_MESSAGE,
	WF_DELIVERED,
	WF_BROKER,
	WF_MAX_FRAME,
	WF_SUPPORTED,
	WF_ERROR,
	WF_RETAIN,
	WF_RETAINED,
	WF_WILL,
	WF_TIMEOUT_MS,
	WF_KIND,
	WF_CLIENTS,
	WF_ON_FULL,
	WF_COUNT,
	WF_UID,
	WF_IDLE_TIMEOUT_MS,
	WF__COUNT
};

/* Envelope of one frame: spans borrowed from the frame's bytes. */
struct wire_env {
	struct wire_value f[WF__COUNT];
};

/* Where and why a scan failed, for the human part of an error frame. */
struct wire_err {
	size_t offset;
	const char *reason; /* static string */
};

/*
 * Validate frame p[0..n) and fill env with its known top-level members (a
 * repeated member: the last one wins). Returns 0, WIRE_E_JSON (err says
 * where) or WIRE_E_NOT_OBJECT.
 */
int wire_scan(const char *p, size_t n, struct wire_env *env, struct wire_err *err);

/*
 * Validate p[0..n) as one JSON value (any type) that may be embedded as a
 * frame member: same rules as wire_scan, nesting counted from level 2.
 * Returns 0 or WIRE_E_JSON.
 */
int wire_scan_value(const char *p, size_t n, struct wire_err *err);
/*
 * The same, and *line_break (may be NULL) says whether the value holds a
 * '\n' or '\r': valid JSON can hold one only as whitespace between tokens,
 * which a frame must not (a sender replaces it), and the scan finds it on
 * its way at no extra pass.
 */
int wire_scan_data(const char *p, size_t n, bool *line_break, struct wire_err *err);

/* Name of a field as it appears on the wire ("op", "topic", ...). */
const char *wire_field_name(enum wire_field f);

/*
 * Decode a string value into UTF-8. When it has no escapes the result points
 * into the frame and buf is untouched; otherwise it is written to buf (cap
 * bytes, not NUL-terminated). Returns 0, WIRE_E_LENGTH, or WIRE_E_STRING for
 * \u0000 and unpaired surrogates (not representable as a C string / UTF-8).
 */
int wire_string(const struct wire_value *v, char *buf, size_t cap, const char **out,
		size_t *out_len);

/* Is the value a string equal to s (escapes decoded; s shorter than 64 bytes)? */
bool wire_value_is(const struct wire_value *v, const char *s);

/*
 * Is the value a non-negative JSON integer (digits only: no sign, fraction
 * or exponent)? Its value in *out, saturated at UINT64_MAX.
 */
bool wire_uint(const struct wire_value *v, uint64_t *out);

/* section: building */

/*
 * Growable output buffer. headroom bytes are reserved at the front for the
 * caller (the broker puts its frame header there), so a built frame needs no
 * second allocation or copy. Allocation failure is sticky: check
 * wire_buf_failed() once after building.
 */
struct wire_buf {
	char *p;
	size_t len, cap;
	bool failed;
};

void wire_buf_init(struct wire_buf *b, size_t headroom);
void wire_buf_free(struct wire_buf *b);
bool wire_buf_reserve(struct wire_buf *b, size_t more);
void wire_buf_put(struct wire_buf *b, const void *p, size_t n);
void wire_buf_puts(struct wire_buf *b, const char *s);
void wire_buf_put_u64(struct wire_buf *b, uint64_t v);
/* Appends s[0..n) as a JSON string literal (quotes and escapes added). */
void wire_buf_put_jstr(struct wire_buf *b, const char *s, size_t n);
static inline bool wire_buf_failed(const struct wire_buf *b)
{
	return b->failed;
}

/* Length of s[0..n) as a JSON string literal, quotes included. */
size_t wire_jstr_len(const char *s, size_t n);

/* A raw JSON span (id, data) to copy verbatim; len 0 means absent. */
struct wire_raw {
	const char *p;
	size_t len;
};

/* The raw span of a scanned value (empty when absent). */
static inline struct wire_raw wire_raw_of(const struct wire_value *v)
{
	struct wire_raw r = { 0, 0 };

	if (v && v->type != WIRE_T_ABSENT) {
		r.p = v->p;
		r.len = v->len;
	}
	return r;
}

/* Each builder appends one complete frame, '\n' included. */
void wire_build_ok(struct wire_buf *b, struct wire_raw id, const uint64_t *delivered);
/* extra: NULL, or members appended verbatim after "message" (e.g. "\"supported\":[1]"). */
void wire_build_error(struct wire_buf *b, struct wire_raw id, const char *code, const char *msg,
		      const char *extra);
void wire_build_pong(struct wire_buf *b, struct wire_raw id);
/* idle_timeout_ms 0 (none) is left out. */
void wire_build_welcome(struct wire_buf *b, struct wire_raw id, const char *name, size_t name_len,
			const char *broker, uint64_t max_frame, uint64_t idle_timeout_ms);

/*
 * {"op":"msg",["topic":T,]"from":F,["to":TO,]"data":D}: topic and to are
 * optional (NULL), data is raw JSON ("null" when absent). The exact size is
 * reserved first so a large payload is copied once.
 */
void wire_build_msg(struct wire_buf *b, const char *topic, size_t topic_len, const char *from,
		    size_t from_len, const char *to, size_t to_len, struct wire_raw data);
/* The same with "retained":true last: a replayed retained message. */
#define WIRE_RETAINED_SUFFIX ",\"retained\":true}\n"
void wire_build_msg_retained(struct wire_buf *b, const char *topic, size_t topic_len,
			     const char *from, size_t from_len, struct wire_raw data);

/*
 * Client-side frames. topic/name/to are JSON-escaped here; data is raw
 * JSON (len 0: omitted, which the broker delivers as null); id is raw JSON
 * (len 0: none).
 */
/* will: raw JSON object text for the "will" member (len 0: none). */
void wire_build_hello(struct wire_buf *b, const char *name, size_t name_len, struct wire_raw will);
/* The will object: {"topic":..[,"data":..][,"retain":true]}. */
void wire_build_will(struct wire_buf *b, const char *topic, size_t topic_len, struct wire_raw data,
		     bool retain);
/*
 * {"op":<op>[,"id":..],"topic":..[,"on_full":..]}: op is "sub" or "unsub"; on_full is a
 * sub's "drop" or "latest", NULL to leave it out (the broker's default, "disconnect").
 */
void wire_build_topic_op(struct wire_buf *b, const char *op, const char *topic, size_t topic_len,
			 const char *on_full, struct wire_raw id);
/* {"op":"dropped","topic":<pattern>,"count":N}: what a drop/latest subscription missed. */
void wire_build_dropped(struct wire_buf *b, const char *pattern, size_t len, uint64_t count);
void wire_build_pub(struct wire_buf *b, const char *topic, size_t topic_len, struct wire_raw data,
		    bool retain, struct wire_raw id);
/* {"op":"req","to":..,"id":..[,"data":..][,"timeout_ms":..]}; timeout_ms 0: none. */
void wire_build_req(struct wire_buf *b, const char *to, size_t to_len, struct wire_raw data,
		    uint64_t timeout_ms, struct wire_raw id);
/* Broker to target: {"op":"req","from":..,"id":<tid>,"data":..} (data null when absent). */
void wire_build_req_in(struct wire_buf *b, const char *from, size_t from_len, uint64_t tid,
		       struct wire_raw data);
/*
 * {"op":"reply","id":..[,"from":..],"data":..} or, when code is not NULL,
 * {"op":"reply","id":..[,"from":..],"error":{"code":..,"message":..}}.
 * from is NULL from a client; the broker adds the replier's name. error_raw,
 * when its len is not 0, is copied verbatim instead of code/message (the
 * broker forwards a replier's error object byte for byte).
 */
void wire_build_reply(struct wire_buf *b, struct wire_raw id, const char *from, size_t from_len,
		      struct wire_raw data, const char *code, const char *message,
		      struct wire_raw error_raw);
void wire_build_send(struct wire_buf *b, const char *to, size_t to_len, struct wire_raw data,
		     struct wire_raw id);
/* {"op":<op>[,"id":id]} for ping and bye. */
void wire_build_simple(struct wire_buf *b, const char *op, struct wire_raw id);

/*
 * The spans of a msg frame read without a full scan (wire_msg_parse),
 * borrowed from the frame.
 */
struct wire_msg {
	const char *topic, *from, *data;
	size_t topic_len, from_len, data_len;
};

/*
 * Recognise a frame in exactly the layout wire_build_msg() writes for a
 * published message, {"op":"msg","topic":"T","from":"F","data":D}, with
 * topic and sender free of escapes and of bytes above 0x7f, and fill m.
 * D is not validated: the broker validated it before building the frame,
 * which is what lets a subscriber skip scanning every payload a second
 * time. False for any other frame (a retained or direct message, escapes),
 * which the caller scans whole.
 */
bool wire_msg_parse(const char *p, size_t n, struct wire_msg *m);

/* section: names */

/* Does s[0..n) match [A-Za-z0-9._-]{1,64}? */
bool wire_name_valid(const char *s, size_t n);
