/*
 * Outgoing frames and per-client output queues.
 *
 * A frame is built once (into a wire_buf with FRAME_HEADROOM) and shared by
 * every recipient through a reference count. A queue holds frame references
 * in a ring plus the offset already written of the head frame, and counts
 * the bytes still owed against the client's limit.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

struct frame {
	uint32_t refs;
	uint32_t len;  /* bytes of data, '\n' included */
	uint32_t cap;  /* bytes allocated, header included: decides whether it is pooled */
	char data[];
};

#define FRAME_HEADROOM offsetof(struct frame, data)

/*
 * wire_buf_init(b, FRAME_HEADROOM) with a recycled buffer of a size for
 * about size bytes of frame when one is free: the routing path builds a
 * frame per message, and freed ones wait in a small pool (bounded in bytes)
 * instead of going back to malloc.
 */
void frame_buf_init(struct wire_buf *b, size_t size);
/* Frees the pooled buffers (at shutdown, for leak checkers). */
void frame_pool_drain(void);

/*
 * Turns a built wire_buf into a frame with one reference (the caller's).
 * Takes b's memory; returns NULL (and frees it) if building had failed.
 */
struct frame *frame_from_buf(struct wire_buf *b);
static inline struct frame *frame_ref(struct frame *f)
{
	f->refs++;
	return f;
}
void frame_unref(struct frame *f);

struct outq {
	struct frame **ring; /* NULL while nothing was ever queued */
	uint32_t head, count, cap;
	uint32_t off;  /* bytes of the head frame already written */
	size_t bytes;  /* bytes still to write */
};

enum {
	OUTQ_E_AGAIN = 1, /* the socket is full; wait for EPOLLOUT */
};

void outq_init(struct outq *q);
/* Drops every frame and the ring itself. */
void outq_clear(struct outq *q);
/* Appends f, taking a new reference. Returns 0 or -ENOMEM. */
int outq_push(struct outq *q, struct frame *f);
/*
 * Drops everything not yet started, keeping a partly written head frame so
 * the stream stays well formed.
 */
void outq_drop_backlog(struct outq *q);
/*
 * Writes as much as the socket takes, in writev batches of up to IOV_MAX
 * frames; no new batch starts once max_bytes were written (fairness).
 * Returns 0 when the queue is empty, OUTQ_E_AGAIN when data remains, or a
 * negative errno (the peer is gone).
 */
int outq_write(struct outq *q, int fd, size_t max_bytes, size_t *written);

static inline bool outq_empty(const struct outq *q)
{
	return q->count == 0;
}
