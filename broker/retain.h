/*
 * Retained messages: the last value published with "retain":true on each
 * topic, replayed to new subscriptions. Bounded in count and bytes (topic
 * plus data), and in bytes per uid of the publisher that set each value
 * (charged to its struct account until the value is replaced or cleared).
 * Optionally persisted to a file, rewritten atomically (a
 * temporary file renamed over it) at most once a second while there are
 * changes, and at shutdown.
 *
 * File format: UTF-8 text, one JSON object per line. The first line is
 * {"jbus_retained":1}; each further line is
 * {"topic":T,"from":F,"uid":U,"data":D} with data as published, byte for
 * byte; "uid" (whom the value is charged to) may be absent: not charged.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "htable.h"
#include "loop.h"
#include "wire.h"

struct accounts;
struct broker;
struct client;

struct retain_store {
	struct htable topics;
	size_t count, bytes;
	size_t max_count, max_bytes;
	size_t max_bytes_per_uid; /* 0: none */
	struct accounts *accounts; /* where values are charged; NULL: not charged */
	const char *path;  /* persistence file, or NULL */
	bool dirty;
	struct timer save_timer;
	struct loop *loop;
};

/* Storing would exceed a bound: refused, nothing evicted. */
enum {
	RETAIN_E_MAX_COUNT = 1,  /* max_retained */
	RETAIN_E_MAX_BYTES,      /* max_retained_bytes */
	RETAIN_E_MAX_UID_BYTES,  /* max_retained_bytes_per_uid */
};

/* accounts (may be NULL) must outlive the store; max_bytes_per_uid 0 is no bound. */
void retain_init(struct retain_store *rs, struct loop *loop, size_t max_count, size_t max_bytes,
		 size_t max_bytes_per_uid, struct accounts *accounts, const char *path);
/* The limit's name for a RETAIN_E_* code ("max_retained", ...). */
const char *retain_limit_name(int code);
void retain_fini(struct retain_store *rs);

/*
 * Loads the persistence file. A missing file is a first start (0); one
 * that cannot be read or parsed gives a negative errno with the file, line
 * and reason in err.
 */
int retain_load(struct retain_store *rs, char *err, size_t errlen);
/* Writes the file now if anything changed (shutdown). Returns 0 or -errno. */
int retain_flush(struct retain_store *rs);

/*
 * Stores (data non-null) or clears (data null or absent) topic's value,
 * set by uid (charged to it). Returns 0, a RETAIN_E_* bound or -ENOMEM.
 */
int retain_set(struct retain_store *rs, const char *topic, size_t topic_len, const char *from,
	       size_t from_len, uid_t uid, struct wire_raw data);

/*
 * Queues to c, in byte order of topic, every retained message whose topic
 * matches pattern. Returns how many were queued.
 */
size_t retain_replay(struct retain_store *rs, struct client *c, const char *pattern,
		     size_t pattern_len);
