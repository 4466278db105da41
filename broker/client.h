/*
 * One connection: its socket, input buffer, output queue, name and
 * subscriptions, and its life cycle:
 *
 *   HANDSHAKE --hello--> ACTIVE --bye / EOF / error--> CLOSING --> DEAD
 *
 * CLOSING stops reading, releases the name at once, receives no more
 * messages (its subscriptions leave the tree when it is freed), and flushes
 * what the client is owed for at most BROKER_LINGER_MS (for bye and EOF:
 * without progress). DEAD clients have no fd and are freed at the end
 * of the loop turn, so nothing earlier in the same turn can dangle.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "loop.h"
#include "outq.h"
#include "registry.h"
#include "request.h"
#include "router.h"
#include "wire.h"

struct broker;
struct client_lag;

/* Why a client's session ended: the "reason" of $SYS/client/disconnected. */
enum client_end {
	END_NONE,
	END_BYE,      /* the client said bye */
	END_CLOSED,   /* the client closed or reset the connection */
	END_ERROR,    /* the broker closed it for a protocol error */
	END_SLOW,     /* slow consumer */
	END_SHUTDOWN, /* the broker is stopping: no will, no event */
	END_TIMEOUT,  /* no frame within --idle-timeout */
};

/* A last will, published if the session ends without bye. */
struct will {
	char *topic;
	size_t topic_len;
	char *data; /* raw JSON, or NULL for null */
	size_t data_len;
	bool retain;
};

enum client_state {
	CLIENT_HANDSHAKE,
	CLIENT_ACTIVE,
	CLIENT_CLOSING,
	CLIENT_DEAD,
};

struct client {
	struct watch w;
	struct broker *b;
	struct list_head link;       /* b->clients, then b->dead */
	struct list_head dirty_link; /* b->dirty while output waits for this turn's flush */
	struct name_entry name;
	struct router_owner subs;    /* struct sub, owner_link */
	/* on_full drop/latest (lag.c) */
	struct list_head lagging;    /* struct sub_lag: subscriptions that lost or kept messages */
	uint32_t nlossy;             /* subscriptions with on_full drop or latest */
	bool behind;                 /* lossy subscriptions are not queued until it drains */
	bool over;                   /* in b->over for the publish being routed */
	struct sub *over_sub;        /* the strictest matching subscription of that publish */
	struct client_lag *lag;      /* its episodes (lag.c), from the first on */
	uint64_t dropped;            /* messages lost to drop/latest, in all */
	size_t held_bytes;           /* bytes of messages kept by latest subscriptions */
	struct outq out;
	struct timer timer;          /* handshake deadline, then linger bound */
	char *in;                    /* partial frame carried between reads, or NULL */
	uint32_t in_len, in_cap;
	struct wire_cursor cur;
	uint64_t seq;                /* last publish_seq delivered to this client */
	uint64_t serial;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	uint8_t state;               /* enum client_state */
	uint8_t end;                 /* enum client_end, set when it leaves ACTIVE */
	bool linger_progress;        /* linger deadline restarts on write progress */
	bool monitor;
	bool released;               /* name, requests and monitoring let go (client.c) */
	bool http;                   /* the connection is an HTTP request (http.c) */
	uint32_t idle_ms;            /* idle timeout its welcome announced; 0: none */
	struct list_head mon_link;   /* b->monitors */
	struct list_head end_link;   /* b->ending until its will and event are out */
	struct req_side req;
	struct will will;
	uint64_t since_ms;           /* wall clock at accept */
	uint64_t last_frame_ms;      /* loop time of the last complete frame (idle timeout) */
	struct account *acct;        /* connections of its uid */
	gid_t *groups;               /* supplementary groups, fetched when a policy needs them */
	int ngroups;
	bool groups_known;
	uint8_t *denied;             /* denials logged, a bit per policy verdict (access.c) */
	uint64_t denied_gen;         /* policy generation denied belongs to */
	uint64_t frames_in, frames_out;
};

/* Takes ownership of fd (a freshly accepted connection). */
int client_new(struct broker *b, int fd);
void client_free(struct client *c);

/* Queues f (takes a new reference; the caller keeps its own). Counts
 * against the queue limit: past it the client is disconnected as a slow
 * consumer and false is returned. */
bool client_queue(struct client *c, struct frame *f);

/* Builds and queues an error frame; id may be NULL. */
void client_error(struct client *c, const struct wire_value *id, const char *code,
		  const char *fmt, ...) _printf_(4, 5);
/* Like client_error with extra members (see wire_build_error). */
void client_error_extra(struct client *c, const struct wire_value *id, const char *code,
			const char *extra, const char *fmt, ...) _printf_(5, 6);
/* Queues a frame built by the caller into b (FRAME_HEADROOM); true if queued. */
bool client_queue_buf(struct client *c, struct wire_buf *b);
/*
 * Queues f (may be NULL: out of memory), taking over the caller's reference,
 * without the queue limit: for what was accepted earlier and is owed now.
 * Returns false if the client was closed instead.
 */
bool client_queue_owed(struct client *c, struct frame *f);

/* Stop reading, release the name, stop deliveries, flush then close. */
void client_linger(struct client *c, bool restart_on_progress, enum client_end why);
/* Close now (peer gone or fatal error); log says why. */
void client_close(struct client *c, const char *log_why, enum client_end why);
/* Name of an end reason as in the disconnected event. */
const char *client_end_name(enum client_end e);

/* The idle timer fired (or the session began): end it, or re-arm for what is left. */
void client_idle_check(struct client *c);

/* Writes queued output (called once per turn from the broker's hook). */
void client_flush(struct client *c);

static inline bool client_active(const struct client *c)
{
	return c->state == CLIENT_ACTIVE;
}

/* Whether a frame of len bytes fits the queue limit (one into an empty queue always does). */
static inline bool client_fits(const struct client *c, size_t len, size_t limit)
{
	return outq_empty(&c->out) || c->out.bytes + len <= limit;
}
