/*
 * Messages a bench driver received while it waited for something else (the
 * confirmation of a subscription, a flush), kept in arrival order for the
 * next receive(). Each is a copy: the client library's buffers are gone by
 * then. Every driver (jbus, redis, mosquitto) holds its messages here.
 */
#pragma once

#include <stddef.h>

#include "bench.h"

struct bench_held_msg;

struct bench_held {
	struct bench_held_msg *head;
	struct bench_held_msg **tail; /* NULL while empty */
};

/* Copies the message to the end (0 or -ENOMEM). */
int bench_held_push(struct bench_held *h, const char *topic, size_t topic_len, const char *payload,
		    size_t len);

/* Hands every held message to fn, oldest first, and frees them; returns how many. */
int bench_held_deliver(struct bench_held *h, bench_msg_fn fn, void *ud);

/* Frees what is held without delivering it. */
void bench_held_clear(struct bench_held *h);
