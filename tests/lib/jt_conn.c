/*
 * Raw-socket test client (see jt.h): blocking connect, buffered line
 * reads with poll() deadlines, frames parsed with json-c, and the list of
 * open connections that jt_teardown closes.
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jt.h"

/* section: open connections */

static struct jt_conn **open_conns;
static size_t nopen, capopen;

static void track(struct jt_conn *c)
{
	if (nopen == capopen) {
		capopen = capopen ? capopen * 2 : 64;
		open_conns = realloc(open_conns, capopen * sizeof(*open_conns));
		ck_assert_ptr_nonnull(open_conns);
	}
	open_conns[nopen++] = c;
}

static void untrack(struct jt_conn *c)
{
	/* from the end: jt_close_all closes the newest first, so this finds it at once */
	for (size_t i = nopen; i-- > 0;) {
		if (open_conns[i] == c) {
			open_conns[i] = open_conns[--nopen];
			return;
		}
	}
}

struct jt_conn *jt_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct jt_conn *c = calloc(1, sizeof(*c));

	ck_assert_ptr_nonnull(c);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(c->fd, 0);
	track(c);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ck_assert_msg(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect %s: %s",
		      path, strerror(errno));
	return c;
}

/*
 * The child of jt_try_connect_as: drop to gid/uid, connect, send the connect errno (0 on
 * success) with the socket attached. It never returns into Check (CK_FORK=no included).
 */
static void connect_child(int sp, const char *path, uid_t uid, gid_t gid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	int err = 0, fd = -1;
	struct iovec iov = { &err, sizeof(err) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	/* groups first: after setuid the process may no longer change them */
	if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
		err = errno ? errno : EPERM;
	} else {
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			err = errno;
	}
	if (!err) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		CMSG_FIRSTHDR(&mh)->cmsg_level = SOL_SOCKET;
		CMSG_FIRSTHDR(&mh)->cmsg_type = SCM_RIGHTS;
		CMSG_FIRSTHDR(&mh)->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(CMSG_FIRSTHDR(&mh)), &fd, sizeof(int));
	}
	_exit(sendmsg(sp, &mh, MSG_NOSIGNAL) == sizeof(err) ? 0 : 1);
}

int jt_try_connect_as(const char *path, uid_t uid, gid_t gid, struct jt_conn **cp)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	int sp[2], err = -1, status, fd = -1;
	struct iovec iov = { &err, sizeof(err) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf) };
	struct pollfd pfd;
	struct cmsghdr *cm;
	struct jt_conn *c;
	ssize_t n;
	pid_t pid;

	*cp = NULL;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(sp[0]);
		connect_child(sp[1], path, uid, gid);
	}
	close(sp[1]);
	pfd.fd = sp[0];
	pfd.events = POLLIN;
	ck_assert_msg(poll(&pfd, 1, JT_TIMEOUT_MS) == 1, "connect as uid %u: no answer",
		      (unsigned)uid);
	n = recvmsg(sp[0], &mh, MSG_CMSG_CLOEXEC);
	close(sp[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(n == sizeof(err), "connect as uid %u: child sent %zd bytes", (unsigned)uid,
		      n);
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	if (err)
		return err;
	ck_assert_msg(fd >= 0, "connect as uid %u: no socket passed", (unsigned)uid);
	c = calloc(1, sizeof(*c));
	ck_assert_ptr_nonnull(c);
	c->fd = fd;
	track(c);
	*cp = c;
	return 0;
}

struct jt_conn *jt_connect_as(const char *path, uid_t uid, gid_t gid)
{
	struct jt_conn *c;
	int err = jt_try_connect_as(path, uid, gid, &c);

	ck_assert_msg(err == 0, "connect %s as uid %u gid %u: %s", path, (unsigned)uid,
		      (unsigned)gid, strerror(err));
	return c;
}

void jt_close(struct jt_conn *c)
{
	if (!c)
		return;
	untrack(c);
	close(c->fd);
	json_object_put(c->last);
	free(c->buf);
	free(c);
}

void jt_close_all(void)
{
	while (nopen)
		jt_close(open_conns[nopen - 1]);
	free(open_conns);
	open_conns = NULL;
	capopen = 0;
}

/* section: sending */

void jt_send_raw(struct jt_conn *c, const void *p, size_t n)
{
	const char *q = p;
	size_t k = n < sizeof(c->sent) ? n : sizeof(c->sent);

	/* single bytes (a trickled frame, a lone '\n') would only hide the frame they belong to */
	if (k > 1)
		snprintf(c->sent, sizeof(c->sent), "%s", jt_show(q, q[k - 1] == '\n' ? k - 1 : k));
	while (n) {
		ssize_t w = send(c->fd, q, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		ck_assert_msg(w > 0, "send: %s", strerror(errno));
		q += w;
		n -= (size_t)w;
	}
}

void jt_send(struct jt_conn *c, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(n, 0);
	s = realloc(s, (size_t)n + 2);
	ck_assert_ptr_nonnull(s);
	s[n++] = '\n';
	jt_send_raw(c, s, (size_t)n);
	free(s);
}

void jt_send_until_closed(struct jt_conn *c, const void *p, size_t n)
{
	const char *q = p;

	while (n) {
		ssize_t r = send(c->fd, q, n, MSG_NOSIGNAL);

		if (r < 0 && errno == EINTR)
			continue;
		/* the broker refused the frame and closed: what it said is still to be read */
		if (r < 0 && (errno == EPIPE || errno == ECONNRESET))
			return;
		ck_assert_msg(r > 0, "send: %s", strerror(errno));
		q += r;
		n -= (size_t)r;
	}
}

/* section: receiving */

char *jt_line(struct jt_conn *c, int timeout_ms)
{
	int64_t deadline = jt_now_ms() + timeout_ms;

	for (;;) {
		char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
		if (nl) {
			size_t n = (size_t)(nl - c->buf);
			char *line = malloc(n + 1);
			ck_assert_ptr_nonnull(line);
			memcpy(line, c->buf, n);
			line[n] = '\0';
			memmove(c->buf, nl + 1, c->len - n - 1);
			c->len -= n + 1;
			return line;
		}
		int64_t left = deadline - jt_now_ms();
		if (left < 0)
			return NULL;
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return NULL;
		if (c->cap - c->len < 65536) {
			c->cap = c->cap ? c->cap * 2 : 131072;
			c->buf = realloc(c->buf, c->cap);
			ck_assert_ptr_nonnull(c->buf);
		}
		ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* a reset is a close with our bytes unread: still the peer's close */
			c->eof = n == 0 || errno == ECONNRESET;
			return NULL;
		}
		c->len += (size_t)n;
	}
}

char *jt_next_line(struct jt_conn *c)
{
	char *l = jt_line(c, JT_TIMEOUT_MS);

	ck_assert_msg(l != NULL, "no frame within %d ms (%s)", JT_TIMEOUT_MS,
		      c->eof ? "EOF" : "timeout");
	return l;
}

void jt_expect_line(struct jt_conn *c, const char *want)
{
	char *l = jt_next_line(c);

	ck_assert_msg(strcmp(l, want) == 0, "expected %s\n     got %s\n(last sent here: %s)", want,
		      l, c->sent);
	free(l);
}

json_object *jt_frame_raw(struct jt_conn *c, char **raw)
{
	char *line = jt_next_line(c);
	json_object *o = json_tokener_parse(line);

	ck_assert_msg(o != NULL && json_object_is_type(o, json_type_object),
		      "broker sent invalid frame: %s", line);
	if (raw)
		*raw = line;
	else
		free(line);
	return o;
}

json_object *jt_frame(struct jt_conn *c)
{
	return jt_frame_raw(c, NULL);
}

json_object *jt_expect(struct jt_conn *c, const char *op)
{
	json_object *o = jt_frame(c);
	const char *got = jt_str(o, "op");

	ck_assert_msg(got && strcmp(got, op) == 0, "expected op '%s', got %s", op,
		      json_object_to_json_string(o));
	return o;
}

json_object *jt_expect_error(struct jt_conn *c, const char *code)
{
	json_object *o = jt_expect(c, "error");
	const char *got = jt_str(o, "code");

	ck_assert_msg(got && strcmp(got, code) == 0, "expected error '%s', got %s", code,
		      json_object_to_json_string(o));
	ck_assert_msg(jt_str(o, "message") != NULL, "error without a message");
	return o;
}

void jt_assert_id(json_object *o, const char *raw, const char *id)
{
	char needle[128];
	const char *p;
	size_t n;

	if (!id) {
		ck_assert_msg(!jt_has(o, "id"), "unexpected id in %s", raw);
		return;
	}
	/* json-c would show 1.50 as 1.5: look at the bytes, where a member ends in ',' or '}' */
	n = (size_t)snprintf(needle, sizeof(needle), "\"id\":%s", id);
	p = strstr(raw, needle);
	ck_assert_msg(jt_has(o, "id") && p && (p[n] == ',' || p[n] == '}'),
		      "id %s not echoed exactly in %s", id, raw);
}

json_object *jt_expect_error_id(struct jt_conn *c, const char *code, const char *id,
				const char *field)
{
	char *raw, needle[80];
	json_object *o = jt_frame_raw(c, &raw);
	const char *op = jt_str(o, "op"), *got = jt_str(o, "code"), *msg = jt_str(o, "message");

	ck_assert_msg(op && strcmp(op, "error") == 0 && got && strcmp(got, code) == 0,
		      "expected error %s, got %s\n(last sent here: %s)", code, raw, c->sent);
	ck_assert_msg(msg && *msg, "no message in %s", raw);
	jt_assert_id(o, raw, id);
	if (field) {
		snprintf(needle, sizeof(needle), "'%s'", field);
		ck_assert_msg(strstr(msg, needle), "message does not name %s: %s", needle, raw);
	}
	free(raw);
	json_object_put(c->last);
	c->last = o;
	return o;
}

void jt_expect_eof(struct jt_conn *c, int timeout_ms)
{
	int64_t deadline = jt_now_ms() + timeout_ms;

	c->len = 0; /* buffered frames do not matter: only the close does */
	for (;;) {
		char tmp[4096];
		int64_t left = deadline - jt_now_ms();
		ck_assert_msg(left > 0, "connection not closed within %d ms", timeout_ms);
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		ssize_t n = read(c->fd, tmp, sizeof(tmp));
		if (n == 0 || (n < 0 && errno == ECONNRESET)) {
			c->eof = true;
			return;
		}
	}
}

void jt_expect_eof_next(struct jt_conn *c)
{
	char *line = jt_line(c, JT_TIMEOUT_MS);

	ck_assert_msg(line == NULL, "expected EOF, got %s", line);
	ck_assert_msg(c->eof, "connection not closed within %d ms", JT_TIMEOUT_MS);
	ck_assert_msg(c->len == 0, "EOF after a truncated frame (%zu bytes)", c->len);
}

void jt_expect_silence(struct jt_conn *c, int ms)
{
	char *line = jt_line(c, ms);

	ck_assert_msg(line == NULL, "unexpected frame: %s", line);
}

/* section: sessions */

/* hello with name (NULL: none) on c, welcome asserted. */
static struct jt_conn *hello_on(struct jt_conn *c, const char *name)
{
	json_object *o;

	if (name)
		jt_send(c, "{\"op\":\"hello\",\"proto\":1,\"name\":\"%s\"}", name);
	else
		jt_send(c, "{\"op\":\"hello\",\"proto\":1}");
	o = jt_expect(c, "welcome");
	if (name)
		ck_assert_str_eq(jt_str(o, "name"), name);
	ck_assert_ptr_nonnull(jt_str(o, "name"));
	snprintf(c->name, sizeof(c->name), "%s", jt_str(o, "name"));
	json_object_put(o);
	return c;
}

struct jt_conn *jt_hello(const char *path, const char *name)
{
	return hello_on(jt_connect(path), name);
}

struct jt_conn *jt_hello_as(const char *path, const char *name, uid_t uid, gid_t gid)
{
	return hello_on(jt_connect_as(path, uid, gid), name);
}

struct jt_conn *jt_client(const char *name)
{
	return jt_hello(jt_b.path, name);
}

void jt_sync(struct jt_conn *c)
{
	json_object *o;

	jt_send(c, "{\"op\":\"ping\",\"id\":\"jt-sync\"}");
	o = jt_expect(c, "pong");
	ck_assert_str_eq(jt_str(o, "id"), "jt-sync");
	json_object_put(o);
}

/* section: common frames */

void jt_expect_ok(struct jt_conn *c, const char *id, int delivered)
{
	char want[256];

	if (delivered >= 0)
		jt_fmt(want, sizeof(want), "{\"op\":\"ok\",\"id\":%s,\"delivered\":%d}", id,
		       delivered);
	else
		jt_fmt(want, sizeof(want), "{\"op\":\"ok\",\"id\":%s}", id);
	jt_expect_line(c, want);
}

struct jt_conn *jt_sub(struct jt_conn *c, const char *pattern)
{
	jt_send(c, "{\"op\":\"sub\",\"topic\":\"%s\",\"id\":\"s\"}", pattern);
	jt_expect_ok(c, "\"s\"", -1);
	return c;
}

void jt_expect_msg(struct jt_conn *c, const char *topic, const char *from, const char *data)
{
	char want[1024];

	jt_fmt(want, sizeof(want), "{\"op\":\"msg\",\"topic\":\"%s\",\"from\":\"%s\",\"data\":%s}",
	       topic, from, data);
	jt_expect_line(c, want);
}

int64_t jt_stat(struct jt_conn *c, const char *key)
{
	json_object *o;
	int64_t v;

	jt_send(c, "{\"op\":\"stats\",\"id\":\"st\"}");
	o = jt_expect(c, "stats");
	v = jt_int(o, key);
	json_object_put(o);
	return v;
}

int64_t jt_pub_n(struct jt_conn *c, const char *topic, int n, int pad)
{
	char xs[JT_PAD_MAX];
	json_object *o;
	int64_t d;

	ck_assert_int_le(pad, JT_PAD_MAX);
	memset(xs, 'x', sizeof(xs));
	jt_send(c,
		"{\"op\":\"pub\",\"topic\":\"%s\",\"id\":%d,\"data\":{\"n\":%d,\"pad\":\"%.*s\"}}",
		topic, n, n, pad, xs);
	o = jt_expect(c, "ok");
	ck_assert_int_eq(jt_int(o, "id"), n);
	d = jt_int(o, "delivered");
	json_object_put(o);
	return d;
}

/* section: fields */

const char *jt_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int64_t jt_int(json_object *o, const char *key)
{
	json_object *v;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "missing field '%s'", key);
	return json_object_get_int64(v);
}

bool jt_has(json_object *o, const char *key)
{
	return json_object_object_get_ex(o, key, NULL);
}

json_object *jt_parse(const char *text)
{
	json_object *o = json_tokener_parse(text);

	ck_assert_msg(o != NULL, "not JSON: %s", text);
	return o;
}
