/*
 * Datagram publishing throughput: one process sends N pub datagrams to
 * jbusd's datagram socket while a stream subscriber (a thread of the same
 * process) counts the deliveries; then the broker's stats tell how many
 * datagrams it received and dropped.
 *
 *   dgram_bench [-n N] [-b BYTES] [--nonblock] [-j JBUSD] [-s SOCK -d DGRAM]
 *
 * By default it starts its own broker ($JBUSD, else build/jbusd) in a
 * temporary directory. Blocking sends (the default) measure what the
 * broker sustains: a full receive queue makes sendto() wait, nothing is
 * lost. --nonblock sends like `jbus pub --dgram` (MSG_DONTWAIT): a full
 * queue refuses the datagram (EAGAIN), which is counted as refused.
 * With -s and -d it uses a running broker instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define IDLE_MS 2000 /* the subscriber gives up after this long without a message */

static void die(const char *what)
{
	fprintf(stderr, "dgram_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path)) {
		fprintf(stderr, "dgram_bench: path too long: %s\n", path);
		exit(1);
	}
	strcpy(sa->sun_path, path);
}

/* section: the broker */

static pid_t start_broker(const char *jbusd, const char *dir, const char *sock, const char *dgram)
{
	char fdbuf[16], log[300];
	int p[2], logfd;
	char buf[8];
	pid_t pid;

	if (pipe(p) < 0)
		die("pipe");
	snprintf(log, sizeof(log), "%s/jbusd.log", dir);
	logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(p[0]);
		if (logfd >= 0)
			dup2(logfd, STDERR_FILENO);
		snprintf(fdbuf, sizeof(fdbuf), "%d", p[1]);
		execl(jbusd, jbusd, "-s", sock, "--dgram", dgram, "--ready-fd", fdbuf,
		      "--queue-limit", "64M", (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", jbusd, strerror(errno));
		_exit(127);
	}
	close(p[1]);
	if (logfd >= 0)
		close(logfd);
	if (read(p[0], buf, sizeof(buf)) != 6) {
		fprintf(stderr, "dgram_bench: %s did not become ready (see %s)\n", jbusd, log);
		exit(1);
	}
	close(p[0]);
	return pid;
}

/* section: the subscriber */

struct sub {
	int fd;
	long want;     /* messages to wait for */
	long got;      /* messages received */
	double last;   /* when the last one arrived */
	char rest[65536];
	size_t rest_len;
};

/* Blocking line read (for the handshake and the stats answer). */
static void read_line(struct sub *s, char *out, size_t cap)
{
	for (;;) {
		char *nl = memchr(s->rest, '\n', s->rest_len);
		if (nl) {
			size_t n = (size_t)(nl - s->rest);
			snprintf(out, cap, "%.*s", (int)n, s->rest);
			s->rest_len -= n + 1;
			memmove(s->rest, nl + 1, s->rest_len);
			return;
		}
		ssize_t r = read(s->fd, s->rest + s->rest_len, sizeof(s->rest) - s->rest_len);
		if (r <= 0) {
			fprintf(stderr, "dgram_bench: the broker closed the subscriber\n");
			exit(1);
		}
		s->rest_len += (size_t)r;
	}
}

static void send_line(int fd, const char *line)
{
	size_t n = strlen(line);

	if (write(fd, line, n) != (ssize_t)n)
		die("write");
}

static void sub_connect(struct sub *s, const char *path)
{
	struct sockaddr_un sa;
	char line[1024];

	fill_addr(&sa, path);
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0 || connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect");
	send_line(s->fd, "{\"op\":\"hello\",\"proto\":1}\n"
			 "{\"op\":\"sub\",\"topic\":\"bench/#\",\"id\":1}\n");
	read_line(s, line, sizeof(line));
	if (!strstr(line, "\"welcome\"")) {
		fprintf(stderr, "dgram_bench: no welcome: %s\n", line);
		exit(1);
	}
	read_line(s, line, sizeof(line));
	if (!strstr(line, "\"ok\"")) {
		fprintf(stderr, "dgram_bench: sub refused: %s\n", line);
		exit(1);
	}
}

/* Counts delivered lines until want arrived or nothing came for IDLE_MS. */
static void *sub_main(void *arg)
{
	struct sub *s = arg;
	static char buf[1 << 20];

	s->last = now_s();
	while (s->got < s->want) {
		struct pollfd p = { .fd = s->fd, .events = POLLIN };
		int r = poll(&p, 1, IDLE_MS);
		ssize_t n;

		if (r == 0)
			break; /* the rest is lost, or the sender was refused */
		if (r < 0 && errno == EINTR)
			continue;
		n = read(s->fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			s->got += buf[i] == '\n';
		s->last = now_s();
	}
	return NULL;
}

static uint64_t stat_of(const char *line, const char *key)
{
	char k[64];
	const char *p;

	snprintf(k, sizeof(k), "\"%s\":", key);
	p = strstr(line, k);
	return p ? strtoull(p + strlen(k), NULL, 10) : 0;
}

/* section: main */

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "nonblock", no_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 },
	};
	const char *jbusd = getenv("JBUSD") && *getenv("JBUSD") ? getenv("JBUSD") : "build/jbusd";
	const char *sock = NULL, *dgram = NULL;
	char dir[] = "/tmp/dgram-bench-XXXXXX", sbuf[300], dbuf[300], frame[65536], line[4096];
	long n = 200000, size = 64, refused = 0, sent = 0;
	bool nonblock = false;
	struct sockaddr_un sa;
	struct sub s = { 0 };
	pthread_t th;
	pid_t broker = 0;
	double t0, t_sent;
	int fd, c;

	while ((c = getopt_long(argc, argv, "n:b:j:s:d:", opts, NULL)) != -1) {
		switch (c) {
		case 'n': n = atol(optarg); break;
		case 'b': size = atol(optarg); break;
		case 'j': jbusd = optarg; break;
		case 's': sock = optarg; break;
		case 'd': dgram = optarg; break;
		case 'N': nonblock = true; break;
		default:
			fprintf(stderr, "usage: dgram_bench [-n N] [-b BYTES] [--nonblock] "
					"[-j JBUSD] [-s SOCK -d DGRAM]\n");
			return 2;
		}
	}
	if (n < 1 || size < 48 || size > (long)sizeof(frame) - 1 || (!sock != !dgram)) {
		fprintf(stderr, "dgram_bench: need n >= 1, 48 <= BYTES < 64K, -s with -d\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (!sock) {
		if (!mkdtemp(dir))
			die("mkdtemp");
		snprintf(sbuf, sizeof(sbuf), "%s/jbus.sock", dir);
		snprintf(dbuf, sizeof(dbuf), "%s/jbus.dgram", dir);
		sock = sbuf;
		dgram = dbuf;
		broker = start_broker(jbusd, dir, sock, dgram);
	}
	sub_connect(&s, sock);
	s.want = n;
	if (pthread_create(&th, NULL, sub_main, &s) != 0)
		die("pthread_create");

	fill_addr(&sa, dgram);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	t0 = now_s();
	for (long i = 0; i < n; i++) {
		/* a pub of exactly size bytes: the counter, padded in data */
		int k = snprintf(frame, sizeof(frame),
				 "{\"op\":\"pub\",\"topic\":\"bench/x\",\"data\":[%ld,\"", i);
		long pad = size - k - 3;
		memset(frame + k, 'x', pad > 0 ? (size_t)pad : 0);
		k += pad > 0 ? (int)pad : 0;
		memcpy(frame + k, "\"]}", 3);
		k += 3;
		if (sendto(fd, frame, (size_t)k, nonblock ? MSG_DONTWAIT : 0,
			   (struct sockaddr *)&sa, sizeof(sa)) == k) {
			sent++;
		} else if (errno == EAGAIN) {
			refused++;
		} else {
			die("sendto");
		}
	}
	t_sent = now_s();
	close(fd);
	/* with refusals the subscriber stops after IDLE_MS without messages */
	pthread_join(th, NULL);

	send_line(s.fd, "{\"op\":\"stats\",\"id\":2}\n");
	/* anything still arriving counts, then the stats line */
	for (;;) {
		read_line(&s, line, sizeof(line));
		if (strstr(line, "\"op\":\"stats\""))
			break;
		s.got++;
	}
	double secs = s.last - t0;
	printf("dgram_bench: %ld pubs of %ld bytes%s: sent %ld in %.3f s, refused %ld (EAGAIN)\n",
	       n, size, nonblock ? " (MSG_DONTWAIT)" : "", sent, t_sent - t0, refused);
	printf("dgram_bench: received %ld in %.3f s: %.0f msgs/s\n", s.got, secs,
	       secs > 0 ? (double)s.got / secs : 0.0);
	printf("dgram_bench: broker stats: dgram_in=%llu dgram_dropped=%llu "
	       "slow_consumer_disconnects=%llu; lost after sending: %ld\n",
	       (unsigned long long)stat_of(line, "dgram_in"),
	       (unsigned long long)stat_of(line, "dgram_dropped"),
	       (unsigned long long)stat_of(line, "slow_consumer_disconnects"), sent - s.got);
	close(s.fd);
	if (broker) {
		int st;
		kill(broker, SIGTERM);
		waitpid(broker, &st, 0);
		snprintf(line, sizeof(line), "%s/jbusd.log", dir);
		unlink(line);
		rmdir(dir);
	}
	return s.got == sent ? 0 : 1;
}
