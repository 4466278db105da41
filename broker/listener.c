/*
 * Listening socket (see listener.h).
 *
 * Takeover rules: if the path exists and is a socket, a connect() tells a
 * live broker (accepts, or its backlog is full) from a stale file
 * (ECONNREFUSED); only the stale one is removed. Anything that is not a
 * socket is left alone.
 */
#include "listener.h"

#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/file.h>
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

/*
 * 0: nothing there, or stale (removed when remove_stale); negative errno:
 * refuse (-EADDRINUSE: a broker answers).
 */
static int probe_existing(const char *path, const struct sockaddr_un *sa, int type,
			  bool remove_stale, char *err, size_t errlen)
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
	if (!remove_stale)
		return 0;
	if (unlink(path) < 0 && errno != ENOENT) {
		r = -errno;
		snprintf(err, errlen, "cannot remove stale socket %s: %s", path, strerror(errno));
		return r;
	}
	log_info("removed stale socket path=%s", path);
	return 0;
}

/* Takes <path>.lock (-errno with the reason in err; -EADDRINUSE when another holds it). */
static int take_lock(struct listener *ls, const char *path, const struct sockaddr_un *sa,
		     int type, char *err, size_t errlen)
{
	char lock[PATH_MAX];
	int r;

	if (snprintf(lock, sizeof(lock), "%s.lock", path) >= (int)sizeof(lock)) {
		snprintf(err, errlen, "lock file path %s.lock is too long", path);
		return -ENAMETOOLONG;
	}
	ls->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (ls->lock_fd < 0) {
		r = -errno;
		if (r == -ENOENT)
			snprintf(err, errlen, "cannot bind %s: directory does not exist", path);
		else
			snprintf(err, errlen, "cannot open lock file %s: %s", lock, strerror(-r));
		return r;
	}
	if (flock(ls->lock_fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	r = -errno;
	ls->lock_fd = safe_close(ls->lock_fd);
	if (r != -EWOULDBLOCK) {
		snprintf(err, errlen, "cannot lock %s: %s", lock, strerror(-r));
		return r;
	}
	/* the holder is running (say so, as the probe does) or still starting */
	if (probe_existing(path, sa, type, false, err, errlen) != -EADDRINUSE)
		snprintf(err, errlen, "another broker is starting on %s (it holds %s)", path, lock);
	return -EADDRINUSE;
}

static int open_locked(struct listener *ls, const char *path, const struct sockaddr_un *sa,
		       mode_t mode, int type, char *err, size_t errlen);

int listener_open(struct listener *ls, const char *path, mode_t mode, int type, char *err,
		  size_t errlen)
{
	struct sockaddr_un sa;
	int r;

	ls->w.fd = -1;
	ls->lock_fd = -1;
	ls->path = NULL;
	ls->adopted = false;
	if (fill_addr(&sa, path) < 0) {
		snprintf(err, errlen,
			 "socket path is %zu bytes; at most %d fit in sun_path (with its NUL)",
			 strlen(path), SOCKPATH_MAX);
		return -ENAMETOOLONG;
	}
	r = take_lock(ls, path, &sa, type, err, errlen);
	if (r < 0)
		return r;
	r = open_locked(ls, path, &sa, mode, type, err, errlen);
	if (r < 0)
		ls->lock_fd = safe_close(ls->lock_fd);
	return r;
}

/* Under the lock: take the path over (if stale), bind, listen. */
static int open_locked(struct listener *ls, const char *path, const struct sockaddr_un *sa,
		       mode_t mode, int type, char *err, size_t errlen)
{
	struct stat st;
	mode_t old;
	int fd, r;

	r = probe_existing(path, sa, type, true, err, errlen);
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
	r = bind(fd, (const struct sockaddr *)sa, sizeof(*sa));
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

int listener_adopt(struct listener *ls, int fd, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	size_t n;

	ls->w.fd = -1;
	ls->lock_fd = -1;
	ls->path = NULL;
	ls->adopted = true;
	memset(&sa, 0, sizeof(sa));
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		int r = -errno;
		snprintf(err, errlen, "passed fd %d: getsockname: %s", fd, strerror(errno));
		return r;
	}
	if (len <= offsetof(struct sockaddr_un, sun_path) || sa.sun_family != AF_UNIX) {
		snprintf(err, errlen, "passed fd %d is not bound to an address", fd);
		return -EINVAL;
	}
	n = len - offsetof(struct sockaddr_un, sun_path);
	if (n > sizeof(sa.sun_path))
		n = sizeof(sa.sun_path);
	ls->path = malloc(n + 2);
	if (!ls->path) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (sa.sun_path[0] == '\0') {
		/* abstract: the name is every byte after the NUL, shown the way ss(8) does */
		ls->path[0] = '@';
		memcpy(ls->path + 1, sa.sun_path + 1, n - 1);
		ls->path[n] = '\0';
	} else {
		memcpy(ls->path, sa.sun_path, n);
		ls->path[n] = '\0';
	}
	ls->w.fd = fd;
	return 0;
}

void listener_close(struct listener *ls)
{
	struct stat st;

	ls->w.fd = safe_close(ls->w.fd);
	if (ls->path && ls->adopted) {
		/* the manager keeps its own copy of the socket and owns the file */
		free(ls->path);
		ls->path = NULL;
	} else if (ls->path) {
		/* another broker may have replaced a file we lost: only remove ours */
		if (lstat(ls->path, &st) == 0 && st.st_dev == ls->dev && st.st_ino == ls->ino)
			unlink(ls->path);
		free(ls->path);
		ls->path = NULL;
	}
	/* last: no one takes the path over before our file is gone */
	ls->lock_fd = safe_close(ls->lock_fd);
}
