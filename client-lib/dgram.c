/*
 * libjbus datagram publishing (public API in jbus.h): one pub frame in one
 * datagram to the broker's SOCK_DGRAM socket, for programs that publish
 * now and then and want neither a connection nor a handshake.
 *
 * Every call opens its own socket, sends once without blocking and closes
 * it: there is no state between calls, and nobody answers. The broker
 * learns who sent it from the kernel (SCM_CREDENTIALS), so the frame
 * carries no name. The checks the broker would make on the topic and the
 * data are made here first, since it cannot report them back.
 */
#include "conn.h"

#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "sockpath.h"

/*
 * A unix datagram may be as large as the sender's SO_SNDBUF allows (less a
 * little). Frames above this get a buffer of their own size, as far as
 * net.core.wmem_max lets it grow; the rest keep the default.
 */
#define DGRAM_SNDBUF_DEFAULT (64 * 1024)

JBUS_EXPORT int jbus_default_dgram_path(char *buf, size_t size)
{
	if (!buf)
		return -EINVAL;
	return sockpath_default_dgram(buf, size);
}

/*
 * The topic's bytes go into the frame as they are, and the broker drops a
 * frame that is not UTF-8 without a word: check it here (ASCII always is).
 */
static bool topic_utf8(const char *t, size_t n)
{
	struct wire_buf b;
	size_t i;
	bool ok;

	for (i = 0; i < n && !((unsigned char)t[i] & 0x80); i++)
		;
	if (i == n)
		return true;
	wire_buf_init(&b, 0);
	wire_buf_put_jstr(&b, t, n);
	ok = !wire_buf_failed(&b) && wire_scan_value(b.p, b.len, NULL) == 0;
	wire_buf_free(&b);
	return ok;
}

/* One sendto() of b[0..n) to path, never blocking. Returns 0 or a negative errno. */
static int dgram_send(const char *path, const char *b, size_t n)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r = 0;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (n > DGRAM_SNDBUF_DEFAULT) {
		int size = n < INT32_MAX - 4096 ? (int)n + 4096 : INT32_MAX;

		/* best effort: a frame the kernel still finds too large is -EMSGSIZE below */
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	/* a datagram goes out whole or not at all: no short count to handle */
	if (sendto(fd, b, n, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		r = -errno;
	safe_close(fd);
	return r;
}

JBUS_EXPORT int jbus_dgram_publish(const char *path, const char *topic, const char *json,
				   ssize_t len, unsigned flags)
{
	struct wire_raw data, none = { 0 };
	char def[SOCKPATH_MAX + 2], *copy;
	struct wire_buf b;
	size_t tn;
	int r;

	if (flags & ~JBUS_PUB_RETAIN)
		return -EINVAL;
	r = conn_path(path, sockpath_default_dgram, def, &path);
	if (r < 0)
		return r;
	/* the stream socket's rules: the broker would drop what they refuse, unheard */
	r = ops_pub_args(topic, NULL, json, len, &tn, &data, &copy);
	if (r == 0 && !topic_utf8(topic, tn))
		r = JBUS_E_BAD_TOPIC;
	if (r < 0) {
		free(copy);
		return r;
	}
	wire_buf_init(&b, 0);
	wire_build_pub(&b, topic, tn, data, flags & JBUS_PUB_RETAIN, none);
	free(copy);
	if (wire_buf_failed(&b)) {
		wire_buf_free(&b);
		return -ENOMEM;
	}
	/* the builder ends the frame with '\n': a datagram is one frame without it */
	r = dgram_send(path, b.p, b.len - 1);
	wire_buf_free(&b);
	return r;
}
