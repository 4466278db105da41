/*
 * Broker wiring: listener, signals, accept path, the per-turn hook (flush
 * dirty clients, free dead ones) and the bounded shutdown.
 */
#include "broker.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "access.h"
#include "client.h"
#include "dgram.h"
#include "log.h"
#include "presence.h"
#include "reload.h"
#include "wire.h"

#ifndef JBUS_VERSION
#define JBUS_VERSION "0"
#endif

static void on_accept(struct watch *w, uint32_t events);
static void on_signal(struct watch *w, uint32_t events);
static void on_stop_timer(struct timer *t);
static void on_accept_timer(struct timer *t);
static void on_turn_end(void *userdata);

/* Raise RLIMIT_NOFILE as far as allowed; warn if it cannot cover max_clients. */
void broker_raise_fd_limit(uint32_t max_clients)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)max_clients + 32;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
		log_warn("open-file limit %llu is below max_clients %u plus reserve; "
			 "connections past it will be refused",
			 (unsigned long long)rl.rlim_cur, max_clients);
}

static int setup_signals(struct broker *b)
{
	sigset_t mask;
	int fd;

	/* SIGPIPE would kill us on a write to a vanished peer; errors come back as EPIPE */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	b->sig.fd = fd;
	b->sig.fn = on_signal;
	return loop_add(b->loop, &b->sig, EPOLLIN);
}

/* -g: the socket file's group; the mode decides what the group may do. */
static int set_group(const char *path, gid_t gid, char *err, size_t errlen)
{
	if (gid == (gid_t)-1)
		return 0;
	if (chown(path, (uid_t)-1, gid) < 0) {
		int r = -errno;
		snprintf(err, errlen, "cannot set the group of %s to %u: %s", path,
			 (unsigned)gid, strerror(errno));
		return r;
	}
	return 0;
}

/*
 * A socket passed by the service manager is used whatever the command line
 * says; an option naming another address gets a warning rather than a
 * refusal, since the manager's unit is what clients were told to use.
 */
static void passed_socket(const char *opt, const char *want, const char *bound)
{
	struct stat a, b;

	log_info("socket activation: using the passed socket bound to %s", bound);
	if (!want || !strcmp(want, bound))
		return;
	/* the same file by another name (relative, through a symlink) is no mismatch */
	if (stat(want, &a) == 0 && stat(bound, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino)
		return;
	log_warn("socket activation: %s %s is not the passed socket's address %s; "
		 "serving on the passed socket only",
		 opt, want, bound);
}

/* Binds the stream socket, or adopts the passed one (no lock, no mode, no group: the manager's). */
static int open_listener(struct broker *b, char *err, size_t errlen)
{
	const struct broker_config *cfg = &b->cfg;
	int r;

	if (cfg->listen_fd >= 0) {
		r = listener_adopt(&b->listener, cfg->listen_fd, err, errlen);
		if (r < 0)
			return r;
		passed_socket("-s", cfg->socket_path, b->listener.path);
		return 0;
	}
	r = listener_open(&b->listener, cfg->socket_path, cfg->mode, SOCK_STREAM, err, errlen);
	if (r < 0)
		return r;
	return set_group(cfg->socket_path, cfg->socket_group, err, errlen);
}

int broker_new(struct broker **bp, const struct broker_config *cfg, char *err, size_t errlen)
{
	struct broker *b = calloc(1, sizeof(*b));
	int r;

	if (!b) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	b->cfg = *cfg;
	b->version = "jbusd " JBUS_VERSION;
	b->sig.fd = -1;
	b->listener.w.fd = -1;
	b->listener.lock_fd = -1;
	b->reserve_fd = -1;
	b->notify.fd = -1;
	list_init(&b->clients);
	list_init(&b->dirty);
	list_init(&b->dead);
	list_init(&b->ending);
	list_init(&b->monitors);
	registry_init(&b->registry);
	accounts_init(&b->accounts);
	timer_init(&b->stop_timer, on_stop_timer);
	timer_init(&b->accept_timer, on_accept_timer);
	b->scratch = malloc(BROKER_READ_CHUNK);
	r = b->scratch ? router_init(&b->router) : -ENOMEM;
	if (r < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	r = loop_new(&b->loop);
	if (r < 0) {
		snprintf(err, errlen, "epoll: %s", strerror(-r));
		goto fail;
	}
	loop_set_hook(b->loop, on_turn_end, b);
	b->start_ms = loop_now(b->loop);
	/* advisory: a broker that serves beats none, and the manager notices the missing READY=1 */
	if (notify_open(&b->notify, b->loop, cfg->notify_socket, err, errlen) < 0)
		log_warn("notify: %s; not notifying the service manager", err);
	retain_init(&b->retained, b->loop, cfg->max_retained, cfg->max_retained_bytes,
		    cfg->max_retained_bytes_per_uid, &b->accounts, cfg->retain_file);
	r = retain_load(&b->retained, err, errlen);
	if (r < 0)
		goto fail;
	r = access_init(b, err, errlen);
	if (r < 0)
		goto fail;
	broker_raise_fd_limit(cfg->max_clients);
	r = setup_signals(b);
	if (r < 0) {
		snprintf(err, errlen, "signals: %s", strerror(-r));
		goto fail;
	}
	r = open_listener(b, err, errlen);
	if (r < 0)
		goto fail;
	b->listener.w.fn = on_accept;
	r = loop_add(b->loop, &b->listener.w, EPOLLIN);
	if (r < 0) {
		snprintf(err, errlen, "epoll: %s", strerror(-r));
		goto fail;
	}
	if (b->cfg.listen_dgram_fd >= 0) {
		r = dgram_open(&b->dgram, b, NULL, b->cfg.listen_dgram_fd, 0, err, errlen);
		b->cfg.listen_dgram_fd = -1;
		if (r < 0)
			goto fail;
		passed_socket("--dgram", cfg->dgram_path, dgram_address(b->dgram));
	} else if (cfg->dgram_path) {
		r = dgram_open(&b->dgram, b, cfg->dgram_path, -1, cfg->mode, err, errlen);
		if (r >= 0)
			r = set_group(cfg->dgram_path, cfg->socket_group, err, errlen);
		if (r < 0)
			goto fail;
	}
	b->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	*bp = b;
	return 0;
fail:
	/* passed sockets are ours to close even when we never got to them */
	if (b->cfg.listen_fd >= 0 && b->listener.w.fd != b->cfg.listen_fd)
		safe_close(b->cfg.listen_fd);
	safe_close(b->cfg.listen_dgram_fd);
	broker_free(b);
	return r;
}

struct broker *broker_free(struct broker *b)
{
	struct client *c, *tmp;

	if (!b)
		return NULL;
	list_for_each_entry_safe(c, tmp, &b->clients, link)
		client_close(c, "broker exit", END_SHUTDOWN);
	list_for_each_entry_safe(c, tmp, &b->dead, link) {
		list_del(&c->link);
		client_free(c);
	}
	listener_close(&b->listener);
	b->dgram = dgram_free(b->dgram);
	notify_close(&b->notify);
	safe_close(b->sig.fd);
	safe_close(b->reserve_fd);
	if (b->router.root)
		router_fini(&b->router);
	if (b->loop)
		retain_fini(&b->retained);
	free(b->mon_to);
	free(b->over);
	registry_fini(&b->registry);
	accounts_fini(&b->accounts);
	access_fini(b);
	loop_free(b->loop);
	free(b->scratch);
	free(b);
	/* every frame is gone with the clients and retained values */
	frame_pool_drain();
	return NULL;
}

/*
 * Best-effort limit_reached on a connection we are about to refuse (it has
 * no client), naming the limit.
 */
static void refuse(struct broker *b, int fd, const char *limit, const char *msg)
{
	struct wire_buf wb;
	struct wire_raw none = { 0 };
	char extra[48];

	snprintf(extra, sizeof(extra), "\"limit\":\"%s\"", limit);
	wire_buf_init(&wb, 0);
	wire_build_error(&wb, none, "limit_reached", msg, extra);
	if (!wire_buf_failed(&wb)) {
		/* best effort: if it does not fit, the peer still learns from the close */
		ssize_t n = send(fd, wb.p, wb.len, MSG_DONTWAIT | MSG_NOSIGNAL);
		b->stats.errors++;
		if (n > 0)
			b->stats.bytes_out += (size_t)n;
	}
	wire_buf_free(&wb);
	safe_close(fd);
	b->stats.rejected++;
}

/* At most one warning a second, however often the listener fires. */
static void warn_out_of_fds(struct broker *b, const char *what)
{
	if (!ratelim_pass(&b->emfile_log, loop_now(b->loop), NULL))
		return;
	log_warn("out of file descriptors; %s clients=%u", what, b->nclients);
}

/* The kernel reserves the new fd before it looks at the queue, so a full fd
 * table gives EMFILE even with nothing to accept. */
static void accept_out_of_fds(struct broker *b)
{
	int fd;

	/* EMFILE leaves the connection pending and the listener readable: free
	 * the reserve fd, take the connection off the queue and refuse it, or
	 * the loop would spin on it */
	b->reserve_fd = safe_close(b->reserve_fd);
	fd = accept4(b->listener.w.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd >= 0) {
		refuse(b, fd, "open_files", "the broker is out of file descriptors");
		warn_out_of_fds(b, "refusing connections");
	}
	b->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* The reserve fd could not be had back: stop watching the listener for a
 * while instead of waking up for a connection we cannot take. */
static void pause_accepting(struct broker *b)
{
	warn_out_of_fds(b, "not accepting for 100 ms");
	loop_mod(b->loop, &b->listener.w, 0);
	loop_timer_arm(b->loop, &b->accept_timer, 100);
}

static void on_accept_timer(struct timer *t)
{
	struct broker *b = container_of(t, struct broker, accept_timer);

	if (b->stopping || b->listener.w.fd < 0)
		return;
	if (b->reserve_fd < 0)
		b->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	loop_mod(b->loop, &b->listener.w, EPOLLIN);
}

/* --max-clients-per-uid: refuses fd (true) if its uid has as many connections already. */
static bool over_uid_limit(struct broker *b, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char msg[128];

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    accounts_clients(&b->accounts, cred.uid) < b->cfg.max_clients_per_uid)
		return false;
	snprintf(msg, sizeof(msg), "uid %u has reached max_clients_per_uid (%u)",
		 (unsigned)cred.uid, b->cfg.max_clients_per_uid);
	b->stats.limit_reached++;
	refuse(b, fd, "max_clients_per_uid", msg);
	return true;
}

/*
 * One connection per wake-up: the listener is level-triggered, so the next
 * epoll_wait reports it again while more wait, in turn with the clients'
 * frames. Looping on to EAGAIN would cost an accept4 that finds nothing for
 * every connection that came alone (the usual case), and a storm of them
 * would be taken in before any of their hellos is served.
 */
static void on_accept(struct watch *w, uint32_t events)
{
	struct broker *b = container_of(w, struct broker, listener.w);
	int fd;

	do
		fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	while (fd < 0 && (errno == EINTR || errno == ECONNABORTED));
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE) {
			accept_out_of_fds(b);
			if (b->reserve_fd < 0)
				pause_accepting(b);
		} else if (errno != EAGAIN) {
			log_warn("accept: %s", strerror(errno));
		}
		return;
	}
	if (b->nclients >= b->cfg.max_clients) {
		char msg[96];
		snprintf(msg, sizeof(msg), "the broker has reached max_clients (%u)",
			 b->cfg.max_clients);
		b->stats.limit_reached++;
		refuse(b, fd, "max_clients", msg);
		return;
	}
	if (b->cfg.max_clients_per_uid && over_uid_limit(b, fd))
		return;
	b->stats.connections++;
	if (client_new(b, fd) < 0)
		b->stats.rejected++;
}

static void on_signal(struct watch *w, uint32_t events)
{
	struct broker *b = container_of(w, struct broker, sig);
	struct signalfd_siginfo si;

	while (read(w->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			notify_reloading(&b->notify);
			reload_run(b);
			notify_ready(&b->notify, NULL, broker_active_clients(b));
			continue;
		}
		if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM) {
			log_info("signal %s: shutting down clients=%u",
				 si.ssi_signo == SIGINT ? "INT" : "TERM", b->nclients);
			broker_stop(b);
		}
	}
}

void broker_stop(struct broker *b)
{
	struct client *c, *tmp;

	if (b->stopping)
		return;
	b->stopping = true;
	notify_stopping(&b->notify);
	loop_del(b->loop, &b->listener.w);
	listener_close(&b->listener);
	/* closed, not freed: its event may still come later in this turn */
	dgram_close(b->dgram);
	list_for_each_entry_safe(c, tmp, &b->clients, link) {
		if (c->state == CLIENT_HANDSHAKE || c->state == CLIENT_ACTIVE)
			client_error(c, NULL, "shutting_down", "the broker is shutting down");
		client_linger(c, false, END_SHUTDOWN);
	}
	loop_timer_arm(b->loop, &b->stop_timer, BROKER_LINGER_MS);
}

static void on_stop_timer(struct timer *t)
{
	struct broker *b = container_of(t, struct broker, stop_timer);
	struct client *c, *tmp;

	list_for_each_entry_safe(c, tmp, &b->clients, link)
		client_close(c, "shutdown flush timeout", END_SHUTDOWN);
}

static void on_turn_end(void *userdata)
{
	struct broker *b = userdata;
	struct client *c, *tmp;

	/* wills and disconnected events first: they queue output for this flush;
	 * a flush can end more sessions (write errors), whose events go out too */
	do {
		presence_flush(b);
		while (!list_empty(&b->dirty)) {
			c = list_first_entry(&b->dirty, struct client, dirty_link);
			list_del(&c->dirty_link);
			client_flush(c);
		}
	} while (!list_empty(&b->ending));
	list_for_each_entry_safe(c, tmp, &b->dead, link) {
		list_del(&c->link);
		client_free(c);
	}
	notify_clients(&b->notify, broker_active_clients(b));
	if (b->stopping && list_empty(&b->clients))
		loop_quit(b->loop);
}

int broker_run(struct broker *b)
{
	int r;

	log_info("listening on %s (%s, max_frame=%zu max_clients=%u queue_limit=%zu)",
		 b->listener.path, b->version, b->cfg.max_frame, b->cfg.max_clients,
		 b->cfg.queue_limit);
	if (b->dgram)
		log_info("datagrams on %s", dgram_address(b->dgram));
	if (b->cfg.ready_fd >= 0) {
		if (write(b->cfg.ready_fd, "ready\n", 6) < 0)
			log_warn("ready-fd: %s", strerror(errno));
		b->cfg.ready_fd = safe_close(b->cfg.ready_fd);
	}
	notify_ready(&b->notify, b->listener.path, broker_active_clients(b));
	r = loop_run(b->loop);
	if (retain_flush(&b->retained) < 0)
		log_error("cannot write retain file path=%s", b->cfg.retain_file);
	log_info("stopped connections=%llu routed=%llu deliveries=%llu errors=%llu "
		 "slow_consumers=%llu rejected=%llu",
		 (unsigned long long)b->stats.connections, (unsigned long long)b->stats.msgs_routed,
		 (unsigned long long)b->stats.deliveries, (unsigned long long)b->stats.errors,
		 (unsigned long long)b->stats.slow_consumers,
		 (unsigned long long)b->stats.rejected);
	return r;
}

uint64_t broker_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint32_t broker_active_clients(const struct broker *b)
{
	return registry_count(&b->registry);
}
