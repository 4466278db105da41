/*
 * A fixed workload for counting the broker's instructions per routed
 * message (scripts/insn-budget.sh runs jbusd under callgrind with it).
 *
 * insn_client SOCKET MESSAGES SUBSCRIBERS PAYLOAD_BYTES
 *
 * One process, raw sockets: SUBSCRIBERS clients subscribe to "bench/t", one
 * publisher sends MESSAGES pub frames (no id, so no answers) with a payload
 * of PAYLOAD_BYTES, written in 64 KiB batches while the subscribers are
 * read; it ends once every subscriber has every message, then all say bye.
 * Exit 0 when every message arrived exactly once, else 1 with the reason.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_SUBS 64
#define BATCH (64 * 1024)
#define TIMEOUT_MS 120000

struct peer {
	int fd;
	char buf[256 * 1024];
	size_t len;
	long got; /* msg frames received */
};

static struct peer subs[MAX_SUBS + 1];

static void die(const char *what)
{
	fprintf(stderr, "insn_client: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void fail(const char *what)
{
	fprintf(stderr, "insn_client: %s\n", what);
	exit(1);
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			die("send");
		p += w;
		n -= (size_t)w;
	}
}

/* Reads what p has; returns how many msg frames completed (any other frame fails). */
static long read_lines(struct peer *p)
{
	ssize_t r = recv(p->fd, p->buf + p->len, sizeof(p->buf) - p->len, MSG_DONTWAIT);
	long msgs = 0;
	char *s, *nl, *end;

	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (r < 0)
		die("recv");
	if (r == 0)
		fail("the broker closed a connection");
	p->len += (size_t)r;
	s = p->buf;
	end = p->buf + p->len;
	while ((nl = memchr(s, '\n', (size_t)(end - s)))) {
		if (strncmp(s, "{\"op\":\"msg\"", 11) != 0)
			fail("an unexpected frame");
		msgs++;
		s = nl + 1;
	}
	p->len = (size_t)(end - s);
	memmove(p->buf, s, p->len);
	return msgs;
}

/* One line from fd, blocking (the handshake and the sub's ok). */
static void expect_line(struct peer *p, const char *prefix)
{
	for (;;) {
		char *nl = memchr(p->buf, '\n', p->len);

		if (nl) {
			if (strncmp(p->buf, prefix, strlen(prefix)) != 0)
				fail("unexpected answer in the set-up");
			p->len -= (size_t)(nl + 1 - p->buf);
			memmove(p->buf, nl + 1, p->len);
			return;
		}
		ssize_t r = recv(p->fd, p->buf + p->len, sizeof(p->buf) - p->len, 0);
		if (r <= 0)
			die("recv in the set-up");
		p->len += (size_t)r;
	}
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	if (strlen(path) >= sizeof(sa.sun_path))
		fail("socket path too long");
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect");
	return fd;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	static const char hello[] = "{\"op\":\"hello\",\"proto\":1}\n";
	static const char sub[] = "{\"op\":\"sub\",\"topic\":\"bench/t\",\"id\":1}\n";
	static char batch[BATCH + 4096];
	struct pollfd pf[MAX_SUBS + 1];
	struct peer *pub = &subs[MAX_SUBS];
	long n, k, size, sent = 0, done = 0, deadline;
	char frame[4096];
	size_t flen, blen = 0, boff = 0;
	int pad;

	if (argc != 5)
		fail("usage: insn_client SOCKET MESSAGES SUBSCRIBERS PAYLOAD_BYTES");
	n = atol(argv[2]);
	k = atol(argv[3]);
	size = atol(argv[4]);
	if (n <= 0 || k <= 0 || k > MAX_SUBS || size < 16 || size > 2048)
		fail("MESSAGES > 0, SUBSCRIBERS 1..64, PAYLOAD_BYTES 16..2048");
	/* a JSON string payload of exactly size bytes: the quotes and the padding */
	pad = (int)size - 2;
	flen = (size_t)snprintf(frame, sizeof(frame),
				"{\"op\":\"pub\",\"topic\":\"bench/t\",\"data\":\"%*s\"}\n", pad, "");
	memset(strstr(frame, "\"data\":\"") + 8, 'x', (size_t)pad);

	for (long i = 0; i < k; i++) {
		subs[i].fd = connect_to(argv[1]);
		send_all(subs[i].fd, hello, sizeof(hello) - 1);
		expect_line(&subs[i], "{\"op\":\"welcome\"");
		send_all(subs[i].fd, sub, sizeof(sub) - 1);
		expect_line(&subs[i], "{\"op\":\"ok\"");
	}
	pub->fd = connect_to(argv[1]);
	send_all(pub->fd, hello, sizeof(hello) - 1);
	expect_line(pub, "{\"op\":\"welcome\"");

	deadline = now_ms() + TIMEOUT_MS;
	while (done < k) {
		int np = 0;

		if (now_ms() > deadline)
			fail("timed out");
		/* refill the batch with whole frames */
		if (boff == blen && sent < n) {
			blen = boff = 0;
			while (sent < n && blen + flen <= BATCH) {
				memcpy(batch + blen, frame, flen);
				blen += flen;
				sent++;
			}
		}
		for (long i = 0; i < k; i++)
			pf[np++] = (struct pollfd){ .fd = subs[i].fd, .events = POLLIN };
		pf[np++] = (struct pollfd){ .fd = pub->fd, .events = boff < blen ? POLLOUT : 0 };
		if (poll(pf, (nfds_t)np, 1000) < 0 && errno != EINTR)
			die("poll");
		if ((pf[k].revents & POLLOUT) && boff < blen) {
			ssize_t w = send(pub->fd, batch + boff, blen - boff, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w < 0 && errno != EAGAIN && errno != EINTR)
				die("send");
			if (w > 0)
				boff += (size_t)w;
		}
		if (pf[k].revents & (POLLERR | POLLHUP))
			fail("the publisher's connection broke");
		for (long i = 0; i < k; i++) {
			if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			subs[i].got += read_lines(&subs[i]);
			if (subs[i].got > n)
				fail("more messages than published");
		}
		done = 0;
		for (long i = 0; i < k; i++)
			done += subs[i].got == n;
	}
	for (long i = 0; i < k; i++)
		send_all(subs[i].fd, "{\"op\":\"bye\"}\n", 13);
	send_all(pub->fd, "{\"op\":\"bye\"}\n", 13);
	return 0;
}
