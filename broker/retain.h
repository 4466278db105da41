/*
 * Retained messages: the last value published with "retain":true on each
 * topic, replayed to new subscriptions. Bounded in count and bytes (topic
 * plus data). Optionally persisted to a file, rewritten atomically (a
 * temporary file renamed over it) at most once a second while there are
 * changes, and at shutdown.
 *
 * File format: UTF-8 text, one JSON object per line. The first line is
 * {"jbus_retained":1}; each further line is {"topic":T,"from":F,"data":D}
 * with data as published, byte for byte.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "htable.h"
#include "loop.h"
#include "wire.h"

struct broker;
struct client;

struct retain_store {
	struct htable topics;
	size_t count, bytes;
	size_t max_count, max_bytes;
	const char *path;  /* persistence file, or NULL */
	bool dirty;
	struct timer save_timer;
	struct loop *loop;
};

enum {
	RETAIN_E_LIMIT = 1, /* storing would exceed a bound: refused, nothing evicted */
};

void retain_init(struct retain_store *rs, struct loop *loop, size_t max_count, size_t max_bytes,
		 const char *path);
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
 * Stores (data non-null) or clears (data null or absent) topic's value.
 * Returns 0, RETAIN_E_LIMIT or -ENOMEM.
 */
int retain_set(struct retain_store *rs, const char *topic, size_t topic_len, const char *from,
	       size_t from_len, struct wire_raw data);

/*
 * Queues to c, in byte order of topic, every retained message whose topic
 * matches pattern. Returns how many were queued.
 */
size_t retain_replay(struct retain_store *rs, struct client *c, const char *pattern,
		     size_t pattern_len);
