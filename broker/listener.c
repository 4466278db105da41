/*
 * Listening socket (see listener.h).
 *
 * Takeover rules: if the path exists and is a socket, a connect() tells a
 * live broker (accepts, or its backlog is full) from a stale file
 * (ECONNREFUSED); only the stale one is removed. Anything that is not a
 * socket is left alone.
 */
#include "listener.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "log.h"
#include "sockpath.h"

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
	size_t n = strlen(path);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (n == 0 || n >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, n + 1);
	return 0;
}

/* 1: a broker answers; 0: stale (removed); negative errno: refuse. */
static int probe_existing(const char *path, const struct sockaddr_un *sa, int type, char *err,
			  size_t errlen)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		r = -errno;
		snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
		return r;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket; refusing to replace it", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return r;
	}
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	if (r == 0 || errno == EAGAIN || errno == EINPROGRESS) {
		safe_close(fd);
		snprintf(err, errlen, "a broker is already listening on %s", path);
		return -EADDRINUSE;
	}
	r = errno;
	safe_close(fd);
	if (r != ECONNREFUSED) {
		snprintf(err, errlen, "cannot check existing socket %s: %s", path, strerror(r));
		return -r;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		r = -errno;
		snprintf(err, errlen, "cannot remove stale socket %s: %s", path, strerror(errno));
		return r;
	}
	log_info("removed stale socket path=%s", path);
	return 0;
}

int listener_open(struct listener *ls, const char *path, mode_t mode, int type, char *err,
		  size_t errlen)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t old;
	int fd, r;

	ls->w.fd = -1;
	ls->path = NULL;
	if (fill_addr(&sa, path) < 0) {
		snprintf(err, errlen,
			 "socket path is %zu bytes; at most %d fit in sun_path (with its NUL)",
			 strlen(path), SOCKPATH_MAX);
		return -ENAMETOOLONG;
	}
	r = probe_existing(path, &sa, type, err, errlen);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return r;
	}
	/* bind creates the file with 0777 & ~umask: no window with wider access */
	old = umask(~mode & 0777);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0) {
		r = -errno;
		if (r == -ENOENT)
			snprintf(err, errlen, "cannot bind %s: directory does not exist", path);
		else
			snprintf(err, errlen, "cannot bind %s: %s", path, strerror(-r));
		safe_close(fd);
		return r;
	}
	if ((type == SOCK_STREAM && listen(fd, SOMAXCONN) < 0) || stat(path, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(-r));
		unlink(path);
		safe_close(fd);
		return r;
	}
	ls->path = strdup(path);
	if (!ls->path) {
		unlink(path);
		safe_close(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ls->dev = st.st_dev;
	ls->ino = st.st_ino;
	ls->w.fd = fd;
	return 0;
}

void listener_close(struct listener *ls)
{
	struct stat st;

	ls->w.fd = safe_close(ls->w.fd);
	if (!ls->path)
		return;
	/* another broker may have replaced a file we lost: only remove ours */
	if (lstat(ls->path, &st) == 0 && st.st_dev == ls->dev && st.st_ino == ls->ino)
		unlink(ls->path);
	free(ls->path);
	ls->path = NULL;
}
