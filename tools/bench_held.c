/*
 * The held messages of a bench driver (bench_held.h): a singly linked FIFO
 * of one allocation per message, topic and payload stored after the header.
 * Holding is rare (while a subscribe or a flush waits on a connection that
 * already receives), so simplicity beats speed here.
 */
#include "bench_held.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct bench_held_msg {
	struct bench_held_msg *next;
	size_t topic_len, len;
	char text[]; /* topic, '\0', payload, '\0' */
};

int bench_held_push(struct bench_held *h, const char *topic, size_t topic_len, const char *payload,
		    size_t len)
{
	struct bench_held_msg *m = malloc(sizeof(*m) + topic_len + len + 2);

	if (!m)
		return -ENOMEM;
	m->next = NULL;
	m->topic_len = topic_len;
	m->len = len;
	memcpy(m->text, topic, topic_len);
	m->text[topic_len] = '\0';
	memcpy(m->text + topic_len + 1, payload, len);
	m->text[topic_len + 1 + len] = '\0';
	if (!h->tail)
		h->tail = &h->head;
	*h->tail = m;
	h->tail = &m->next;
	return 0;
}

int bench_held_deliver(struct bench_held *h, bench_msg_fn fn, void *ud)
{
	int n = 0;

	while (h->head) {
		struct bench_held_msg *m = h->head;

		/* unlinked first: fn may call receive() again, which delivers the rest */
		h->head = m->next;
		if (!h->head)
			h->tail = NULL;
		fn(ud, m->text, m->topic_len, m->text + m->topic_len + 1, m->len);
		free(m);
		n++;
	}
	return n;
}

void bench_held_clear(struct bench_held *h)
{
	while (h->head) {
		struct bench_held_msg *m = h->head;

		h->head = m->next;
		free(m);
	}
	h->tail = NULL;
}
