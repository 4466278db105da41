/*
 * Benchmarks (jbus bench, make bench-peers): the workloads W1-W6 of
 * docs/performance.md run over a driver, one per message bus, so that jbus,
 * redis and mosquitto are measured by the same code with the same payloads.
 *
 * A driver is a client of one bus. Every workload runs each client in its
 * own process (fork), so a driver's connection is only ever used by the
 * process that made it, from one thread. Payloads are JSON text; topics are
 * plain ASCII without wildcards.
 *
 * Ownership: connect() returns a connection that close() frees; the strings
 * passed to the callbacks of receive() are borrowed for the call.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct bench_conn;

typedef void (*bench_msg_fn)(void *ud, const char *topic, size_t topic_len, const char *payload,
			     size_t len);

struct bench_driver {
	const char *name; /* "jbus", "redis", "mosquitto" */
	/* Connects to the bus at target (a socket path). NULL with the reason in err. */
	struct bench_conn *(*connect)(const char *target, char *err, size_t errlen);
	/* Subscribes to topic and returns once the bus confirmed it (0 or -errno). */
	int (*subscribe)(struct bench_conn *c, const char *topic);
	/* Queues one message; may buffer (0 or -errno). */
	int (*publish)(struct bench_conn *c, const char *topic, const char *payload, size_t len);
	/* Writes everything queued, blocking (0 or -errno). */
	int (*flush)(struct bench_conn *c);
	/*
	 * Waits at most timeout_ms (0: do not wait) for messages and calls fn for
	 * each one that arrived; returns how many (0 on timeout) or -errno.
	 */
	int (*receive)(struct bench_conn *c, int timeout_ms, bench_msg_fn fn, void *ud);
	/* pid of the bus process at the other end (SO_PEERCRED), for its memory. */
	pid_t (*server_pid)(struct bench_conn *c);
	void (*close)(struct bench_conn *c);
};

/* The jbus driver (libjbus), tools/bench_jbus.c. */
extern const struct bench_driver bench_driver_jbus;
