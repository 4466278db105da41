/*
 * Socket activation (see activation.h). Everything here runs once, before
 * the broker exists, from main.c: it reads the process environment and
 * closes fds, which no code linking libjbusd.a in a test or a fuzzer may do.
 */
#include "activation.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

/* A decimal number with nothing around it; false otherwise. */
static bool parse_uint(const char *s, unsigned long *v)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*v = strtoul(s, &end, 10);
	return !errno && !*end;
}

/* fd as the one socket of its kind (*slot); a second one is refused. */
static int claim(int *slot, int fd, const char *kind, char *err, size_t errlen)
{
	if (*slot >= 0) {
		snprintf(err, errlen,
			 "socket activation: two %s sockets passed (fds %d and %d); jbusd takes one",
			 kind, *slot, fd);
		return -EINVAL;
	}
	*slot = fd;
	return 0;
}

/* fd made close-on-exec and non-blocking, then sorted into a. */
static int take_fd(struct activation *a, int fd, char *err, size_t errlen)
{
	int domain, type, listening, fl;
	socklen_t len = sizeof(int);

	fl = fcntl(fd, F_GETFD);
	if (fl < 0) {
		snprintf(err, errlen, "socket activation: passed fd %d is not open", fd);
		return -EBADF;
	}
	/* the manager left them inheritable and blocking: the loop needs neither */
	if (fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0 || (fl = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		int r = -errno;
		snprintf(err, errlen, "socket activation: passed fd %d: fcntl: %s", fd,
			 strerror(errno));
		return r;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0) {
		int r = -errno;
		if (r == -ENOTSOCK)
			snprintf(err, errlen, "socket activation: passed fd %d is not a socket", fd);
		else
			snprintf(err, errlen, "socket activation: passed fd %d: %s", fd,
				 strerror(errno));
		return r;
	}
	len = sizeof(int);
	if (domain != AF_UNIX || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) {
		snprintf(err, errlen,
			 "socket activation: passed fd %d is not an AF_UNIX socket (family %d)", fd,
			 domain);
		return -EAFNOSUPPORT;
	}
	if (type == SOCK_DGRAM)
		return claim(&a->dgram_fd, fd, "datagram", err, errlen);
	if (type != SOCK_STREAM) {
		snprintf(err, errlen,
			 "socket activation: passed fd %d is neither a stream nor a datagram socket",
			 fd);
		return -ESOCKTNOSUPPORT;
	}
	len = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening) {
		snprintf(err, errlen,
			 "socket activation: passed fd %d is a stream socket that is not listening "
			 "(jbusd does not take connected sockets: Accept=no)",
			 fd);
		return -EINVAL;
	}
	return claim(&a->stream_fd, fd, "listening stream", err, errlen);
}

int activation_take(struct activation *a, char *err, size_t errlen)
{
	const char *pid_s = getenv("LISTEN_PID"), *fds_s = getenv("LISTEN_FDS");
	unsigned long pid, n;
	char fds_copy[32];
	bool ours, valid;
	int r;

	a->nfds = 0;
	a->stream_fd = -1;
	a->dgram_fd = -1;
	ours = parse_uint(pid_s, &pid) && pid == (unsigned long)getpid();
	valid = parse_uint(fds_s, &n);
	/* kept for the message: the string belongs to the environment we change */
	snprintf(fds_copy, sizeof(fds_copy), "%s", fds_s ? fds_s : "");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	/* meant for another process (a parent that did not clean up): not ours to use */
	if (!ours)
		return 0;
	if (!valid) {
		snprintf(err, errlen, "socket activation: LISTEN_FDS='%s' is not a number",
			 fds_copy);
		return -EINVAL;
	}
	if (n == 0)
		return 0;
	if (n > 2) {
		snprintf(err, errlen,
			 "socket activation: %lu fds passed; jbusd takes one listening stream socket "
			 "and at most one datagram socket",
			 n);
		return -EINVAL;
	}
	for (int fd = ACTIVATION_FD_START; fd < ACTIVATION_FD_START + (int)n; fd++) {
		r = take_fd(a, fd, err, errlen);
		if (r < 0)
			return r;
	}
	if (a->stream_fd < 0) {
		snprintf(err, errlen,
			 "socket activation: no listening AF_UNIX stream socket among the %lu "
			 "passed fds",
			 n);
		return -EINVAL;
	}
	a->nfds = (int)n;
	return 0;
}

static bool kept(const struct activation *a, int keep_fd, int fd)
{
	return fd <= STDERR_FILENO || fd == keep_fd ||
	       (fd >= ACTIVATION_FD_START && fd < ACTIVATION_FD_START + a->nfds);
}

/* Without close_range (kernel < 5.9, or a seccomp filter): one close per open fd. */
static int close_listed(const struct activation *a, int keep_fd)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		unsigned long fd;
		if (!parse_uint(e->d_name, &fd) || fd > INT_MAX || (int)fd == dirfd(d) ||
		    kept(a, keep_fd, (int)fd))
			continue;
		close((int)fd);
	}
	closedir(d);
	return 0;
}

int activation_close_inherited(const struct activation *a, int keep_fd)
{
	int keep[2], nkeep = 0, from = STDERR_FILENO + 1;

	/* what to keep above stderr, in ascending order: the passed fds start at 3, so a
	 * keep_fd above stderr and outside them comes after them */
	if (a->nfds)
		keep[nkeep++] = ACTIVATION_FD_START;
	if (keep_fd > STDERR_FILENO && !kept(a, -1, keep_fd))
		keep[nkeep++] = keep_fd;
	for (int i = 0; i <= nkeep; i++) {
		int to = i < nkeep ? keep[i] - 1 : INT_MAX;
		if (to >= from && close_range((unsigned)from, (unsigned)to, 0) < 0)
			return close_listed(a, keep_fd);
		if (i < nkeep)
			from = keep[i] + (keep[i] == ACTIVATION_FD_START && a->nfds ? a->nfds : 1);
	}
	return 0;
}
