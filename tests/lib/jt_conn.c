/*
 * Raw-socket test client (see jt.h): blocking connect, buffered line
 * reads with poll() deadlines, frames parsed with json-c.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "jt.h"

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct jt_conn *jt_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct jt_conn *c = calloc(1, sizeof(*c));

	ck_assert_ptr_nonnull(c);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(c->fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ck_assert_msg(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect %s: %s",
		      path, strerror(errno));
	return c;
}

void jt_close(struct jt_conn *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c->buf);
	free(c);
}

void jt_send_raw(struct jt_conn *c, const void *p, size_t n)
{
	const char *q = p;

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
	s[n++] = '\n';
	jt_send_raw(c, s, (size_t)n);
	free(s);
}

char *jt_line(struct jt_conn *c, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

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
		int64_t left = deadline - now_ms();
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
		if (n <= 0)
			return NULL;
		c->len += (size_t)n;
	}
}

json_object *jt_frame(struct jt_conn *c)
{
	char *line = jt_line(c, JT_TIMEOUT_MS);
	json_object *o;

	ck_assert_msg(line != NULL, "no frame within %d ms (EOF or timeout)", JT_TIMEOUT_MS);
	o = json_tokener_parse(line);
	ck_assert_msg(o != NULL && json_object_is_type(o, json_type_object),
		      "broker sent invalid frame: %s", line);
	free(line);
	return o;
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

void jt_expect_eof(struct jt_conn *c, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	c->len = 0; /* buffered frames do not matter: only the close does */
	for (;;) {
		char tmp[4096];
		int64_t left = deadline - now_ms();
		ck_assert_msg(left > 0, "connection not closed within %d ms", timeout_ms);
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		ssize_t n = read(c->fd, tmp, sizeof(tmp));
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return;
	}
}

void jt_expect_silence(struct jt_conn *c, int ms)
{
	char *line = jt_line(c, ms);

	ck_assert_msg(line == NULL, "unexpected frame: %s", line);
}

struct jt_conn *jt_hello(const char *path, const char *name)
{
	struct jt_conn *c = jt_connect(path);
	json_object *o;

	if (name)
		jt_send(c, "{\"op\":\"hello\",\"proto\":1,\"name\":\"%s\"}", name);
	else
		jt_send(c, "{\"op\":\"hello\",\"proto\":1}");
	o = jt_expect(c, "welcome");
	if (name)
		ck_assert_str_eq(jt_str(o, "name"), name);
	json_object_put(o);
	return c;
}

void jt_sync(struct jt_conn *c)
{
	json_object *o;

	jt_send(c, "{\"op\":\"ping\",\"id\":\"jt-sync\"}");
	o = jt_expect(c, "pong");
	ck_assert_str_eq(jt_str(o, "id"), "jt-sync");
	json_object_put(o);
}

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
