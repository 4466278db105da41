/*
 * Output queues (see outq.h). The ring grows by doubling and shrinks back to
 * nothing when a burst has drained, so an idle client costs no ring memory.
 */
#include "outq.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/uio.h>

/* Frames per writev(): each call costs the kernel an skb and a wake-up of the reader. */
#define OUTQ_IOV IOV_MAX
/* about an AF_UNIX socket's default send buffer (net.core.wmem_default) */
#define OUTQ_WRITEV_BYTES (256 * 1024)

/* Free buffers of 256, 512, 1024 and 2048 bytes (wire_buf sizes are powers of two). */
#define POOL_MIN_SHIFT 8
#define POOL_CLASSES 4
#define POOL_MAX_BYTES (1u << 20)

struct pooled {
	struct pooled *next;
};

static struct pooled *pool[POOL_CLASSES];
static size_t pool_bytes;

/* The class of a buffer of cap bytes, or -1 when it is not pooled. */
static int pool_class(size_t cap)
{
	for (int c = 0; c < POOL_CLASSES; c++)
		if (cap == (size_t)1 << (POOL_MIN_SHIFT + c))
			return c;
	return -1;
}

void frame_buf_init(struct wire_buf *b, size_t size)
{
	int c = 0;

	wire_buf_init(b, FRAME_HEADROOM);
	size += FRAME_HEADROOM;
	while (c < POOL_CLASSES && size > (size_t)1 << (POOL_MIN_SHIFT + c))
		c++;
	if (c == POOL_CLASSES || !pool[c])
		return;
	b->p = (char *)pool[c];
	b->cap = (size_t)1 << (POOL_MIN_SHIFT + c);
	pool[c] = pool[c]->next;
	pool_bytes -= b->cap;
}

void frame_pool_drain(void)
{
	for (int c = 0; c < POOL_CLASSES; c++) {
		while (pool[c]) {
			struct pooled *p = pool[c];
			pool[c] = p->next;
			free(p);
		}
	}
	pool_bytes = 0;
}

struct frame *frame_from_buf(struct wire_buf *b)
{
	struct frame *f;

	if (wire_buf_failed(b) || !b->p || b->len - FRAME_HEADROOM > UINT32_MAX) {
		wire_buf_free(b);
		return NULL;
	}
	f = (struct frame *)(void *)b->p;
	f->refs = 1;
	f->len = (uint32_t)(b->len - FRAME_HEADROOM);
	f->cap = b->cap > UINT32_MAX ? 0 : (uint32_t)b->cap;
	b->p = NULL;
	b->len = b->cap = 0;
	return f;
}

void frame_unref(struct frame *f)
{
	int c;

	if (!f || --f->refs)
		return;
	c = pool_class(f->cap);
	if (c < 0 || pool_bytes + f->cap > POOL_MAX_BYTES) {
		free(f);
		return;
	}
	pool_bytes += f->cap;
	((struct pooled *)(void *)f)->next = pool[c];
	pool[c] = (struct pooled *)(void *)f;
}

void outq_init(struct outq *q)
{
	q->ring = NULL;
	q->head = q->count = q->cap = 0;
	q->off = 0;
	q->bytes = 0;
}

static struct frame *at(const struct outq *q, uint32_t i)
{
	return q->ring[(q->head + i) & (q->cap - 1)];
}

void outq_clear(struct outq *q)
{
	for (uint32_t i = 0; i < q->count; i++)
		frame_unref(at(q, i));
	free(q->ring);
	outq_init(q);
}

int outq_push(struct outq *q, struct frame *f)
{
	if (q->count == q->cap) {
		uint32_t cap = q->cap ? q->cap * 2 : 8;
		struct frame **r = malloc(cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		for (uint32_t i = 0; i < q->count; i++)
			r[i] = at(q, i);
		free(q->ring);
		q->ring = r;
		q->head = 0;
		q->cap = cap;
	}
	q->ring[(q->head + q->count) & (q->cap - 1)] = frame_ref(f);
	q->count++;
	q->bytes += f->len;
	return 0;
}

static void pop_head(struct outq *q)
{
	struct frame *f = q->ring[q->head];

	q->head = (q->head + 1) & (q->cap - 1);
	q->count--;
	q->off = 0;
	frame_unref(f);
}

void outq_drop_backlog(struct outq *q)
{
	uint32_t keep = q->off ? 1 : 0;

	while (q->count > keep) {
		uint32_t last = (q->head + q->count - 1) & (q->cap - 1);
		q->bytes -= q->ring[last]->len;
		frame_unref(q->ring[last]);
		q->count--;
	}
	if (!q->count)
		outq_clear(q);
}

int outq_write(struct outq *q, int fd, size_t max_bytes, size_t *written)
{
	struct iovec iov[OUTQ_IOV];
	size_t total = 0;

	while (q->count && total < max_bytes) {
		uint32_t n = 0;
		size_t want = 0;
		ssize_t w;

		/* no more than the socket could take in one call: a short write
		 * would leave the rest of a longer list prepared for nothing */
		for (uint32_t i = 0; i < q->count && n < OUTQ_IOV && want < OUTQ_WRITEV_BYTES;
		     i++, n++) {
			struct frame *f = at(q, i);
			uint32_t skip = i == 0 ? q->off : 0;
			iov[n].iov_base = f->data + skip;
			iov[n].iov_len = f->len - skip;
			want += iov[n].iov_len;
		}
		w = writev(fd, iov, (int)n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			if (written)
				*written = total;
			return -errno;
		}
		total += (size_t)w;
		q->bytes -= (size_t)w;
		bool full = (size_t)w < want; /* a short write: the next would be EAGAIN */
		while (w > 0) {
			struct frame *f = q->ring[q->head];
			size_t left = f->len - q->off;
			if ((size_t)w < left) {
				q->off += (uint32_t)w;
				break;
			}
			w -= (ssize_t)left;
			pop_head(q);
		}
		if (full)
			break;
	}
	if (written)
		*written = total;
	if (q->count)
		return OUTQ_E_AGAIN;
	/* drained: give a large ring back; a small one is kept for the next burst */
	if (q->cap > 64) {
		free(q->ring);
		outq_init(q);
	}
	return 0;
}
