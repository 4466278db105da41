/*
 * The broker: configuration, the objects every module reaches through it
 * (loop, router, registry, client lists) and its counters. main.c fills a
 * broker_config, calls broker_new() and broker_run(); tests link the same
 * code from build/libjbusd.a.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "account.h"
#include "listener.h"
#include "log.h"
#include "loop.h"
#include "notify.h"
#include "ratelim.h"
#include "registry.h"
#include "retain.h"
#include "router.h"
#include "util.h"

/*
 * Bytes read per client per turn: a publisher's whole burst at once, so
 * that each subscriber's share of it goes out in few writev() calls (with
 * 64 KiB the broker spent a third more time in the kernel in W2).
 */
#define BROKER_READ_CHUNK (256 * 1024)
#define BROKER_WRITE_CHUNK (1024 * 1024)
#define BROKER_LINGER_MS 1000          /* bound on flushing a closing client */

struct config;

struct broker_config {
	const char *socket_path;         /* with listen_fd: only compared with its address */
	mode_t mode;
	size_t max_frame;
	uint32_t max_clients;
	size_t queue_limit;
	uint32_t handshake_timeout_ms;
	uint64_t request_timeout_ms;     /* default deadline of a req */
	uint64_t max_request_timeout_ms; /* timeout_ms is clamped to this */
	uint32_t max_pending;            /* pending requests per requester */
	size_t max_retained;             /* retained topics */
	size_t max_retained_bytes;       /* retained topic + data bytes */
	size_t max_retained_bytes_per_uid; /* of values set by one uid; 0: none */
	const char *retain_file;         /* NULL: retained values live in memory only */
	const char *dgram_path;          /* datagram socket, or NULL for none */
	gid_t socket_group;              /* group of the socket files, or (gid_t)-1 */
	const char *policy_file;         /* access policy, or NULL: see access.h */
	uint32_t max_clients_per_uid;    /* 0: no limit beyond max_clients */
	uint32_t max_subs;               /* subscriptions per client */
	uint64_t idle_timeout_ms;        /* 0: none; else no frame for this long ends a session */
	int ready_fd; /* -1, or an fd that gets "ready\n" once listening */
	uint8_t log_level;               /* enum log_level */
	bool use_syslog;                 /* log to syslog instead of stderr */
	struct config *conf;             /* where the settings came from (reload), or NULL */
	/* socket activation (activation.h): taken by broker_new, closed even on failure */
	int listen_fd;                   /* passed listening stream socket, or -1: bind */
	int listen_dgram_fd;             /* passed datagram socket, or -1 */
	const char *notify_socket;       /* $NOTIFY_SOCKET, or NULL: see notify.h */
};

#define BROKER_CONFIG_DEFAULT                                                                      \
	{                                                                                          \
		.socket_path = NULL, .mode = 0600, .max_frame = 1024 * 1024,                       \
		.max_clients = 10000, .queue_limit = 8 * 1024 * 1024,                               \
		.handshake_timeout_ms = 5000, .request_timeout_ms = 30000,                         \
		.max_request_timeout_ms = 300000, .max_pending = 1024, .max_retained = 10000,      \
		.max_retained_bytes = 64 * 1024 * 1024, .retain_file = NULL, .ready_fd = -1,       \
		.socket_group = (gid_t)-1, .max_subs = 10000, .listen_fd = -1,                     \
		.listen_dgram_fd = -1, .log_level = LOG_LVL_INFO,                                  \
	}

struct broker_stats {
	uint64_t connections;     /* accepted */
	uint64_t rejected;        /* refused at accept: max_clients or out of fds */
	uint64_t handshake_fail;  /* closed during the handshake */
	uint64_t frames_in;
	uint64_t msgs_routed;     /* accepted pub and send (and wills) */
	uint64_t deliveries;      /* msg frames queued: live, retained replays, events */
	uint64_t bytes_in, bytes_out;
	uint64_t errors;          /* error frames sent */
	uint64_t slow_consumers;  /* disconnected for exceeding queue_limit */
	uint64_t too_large;       /* disconnected for frame_too_large */
	uint64_t requests_timed_out;
	uint64_t replies_dropped; /* late, or for a requester that left */
	uint64_t dgram_in;        /* datagrams received */
	uint64_t dgram_bad;       /* malformed datagrams dropped */
	uint64_t dgram_too_large; /* datagrams over max_frame dropped */
	uint64_t http_requests;   /* HTTP requests answered */
	uint64_t dropped;         /* messages lost by drop/latest subscriptions */
	uint64_t forbidden;       /* operations the policy denied */
	uint64_t limit_reached;   /* limit_reached errors and refusals */
	uint64_t idle_timeouts;   /* sessions ended by --idle-timeout */
};

struct broker {
	struct broker_config cfg;
	struct loop *loop;
	struct listener listener;
	struct watch sig;
	struct router router;
	struct registry registry;
	struct list_head clients; /* connected (incl. handshake and closing) */
	struct list_head dirty;   /* clients with output to flush this turn */
	struct list_head dead;    /* closed, freed at the end of the turn */
	struct list_head ending;  /* sessions ended this turn: will and event pending */
	struct list_head monitors;
	uint32_t nmonitors;
	struct client **mon_to;   /* recipients of the publish being routed (monitors only) */
	size_t mon_to_len, mon_to_cap;
	struct client **over;     /* clients set aside by the publish being routed (publish.c) */
	uint32_t over_cap;
	uint64_t requests_pending;
	struct retain_store retained;
	struct accounts accounts; /* connections per uid */
	struct policy *policy;    /* NULL: the default policy (access.h) */
	uint64_t policy_gen;      /* bumped by every (re)load */
	struct dgram *dgram;      /* the datagram door, or NULL */
	struct notify notify;     /* the service manager's $NOTIFY_SOCKET */
	uint64_t start_ms;        /* monotonic, for uptime */
	uint32_t nclients;
	uint64_t publish_seq;     /* deduplicates deliveries of one publish */
	uint64_t conn_seq;
	bool stopping;
	struct timer stop_timer;
	struct timer accept_timer; /* re-enables accepting after running out of fds */
	char *scratch;            /* BROKER_READ_CHUNK bytes, shared read buffer */
	int reserve_fd;           /* released to accept-and-refuse on EMFILE */
	struct ratelim emfile_log; /* EMFILE warnings */
	struct ratelim_window forbidden_log; /* "forbidden" lines, all clients together */
	struct broker_stats stats;
	const char *version;      /* "jbusd <version>" */
};

/*
 * Creates the broker and binds its socket. On failure returns a negative
 * errno and writes the reason to err (for the exit-1 message).
 */
int broker_new(struct broker **bp, const struct broker_config *cfg, char *err, size_t errlen);
struct broker *broker_free(struct broker *b);

/* Runs until SIGINT/SIGTERM and a bounded flush. Returns 0 or a negative errno. */
int broker_run(struct broker *b);

/* Starts the shutdown (also used by the signal handler). */
void broker_stop(struct broker *b);

/* Wall-clock time in ms since the Unix epoch (for since_ms). */
uint64_t broker_wall_ms(void);
/* Raises RLIMIT_NOFILE towards max_clients; warns if it stays below. */
void broker_raise_fd_limit(uint32_t max_clients);
/* Clients past the handshake. */
uint32_t broker_active_clients(const struct broker *b);
