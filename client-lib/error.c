/*
 * Error values of libjbus: one table gives both jbus_strerror() and
 * jbus_error_name(), for the library's own codes and the errno values its
 * functions return.
 */
#include <errno.h>
#include <string.h>

#include "jbus.h"

struct err_entry {
	int code;
	const char *name;
	const char *text;
};

static const struct err_entry table[] = {
	{ 0, "OK", "success" },
	{ JBUS_E_BROKER, "JBUS_E_BROKER", "the broker answered with an error" },
	{ JBUS_E_HANDSHAKE, "JBUS_E_HANDSHAKE", "the broker refused the handshake" },
	{ JBUS_E_PROTOCOL, "JBUS_E_PROTOCOL", "the broker sent a frame outside protocol v1" },
	{ JBUS_E_CLOSED, "JBUS_E_CLOSED", "the broker closed the connection" },
	{ JBUS_E_BAD_JSON, "JBUS_E_BAD_JSON", "not a valid JSON value" },
	{ JBUS_E_BAD_TOPIC, "JBUS_E_BAD_TOPIC", "invalid topic or pattern" },
	{ JBUS_E_BAD_NAME, "JBUS_E_BAD_NAME",
	  "invalid client name (must match [A-Za-z0-9._-]{1,64})" },
	{ JBUS_E_NAME_TAKEN, "JBUS_E_NAME_TAKEN", "the name is taken by a connected client" },
	{ JBUS_E_LIMIT, "JBUS_E_LIMIT", "the broker refused the connection: limit reached" },
	{ JBUS_E_REPLY, "JBUS_E_REPLY", "the target of the request answered with an error" },
	{ -EINVAL, "EINVAL", "invalid argument" },
	{ -ENOMEM, "ENOMEM", "out of memory" },
	{ -ENOTCONN, "ENOTCONN", "not connected to the broker" },
	{ -ETIMEDOUT, "ETIMEDOUT", "timed out" },
	{ -EMSGSIZE, "EMSGSIZE", "frame larger than the broker's max_frame" },
	{ -ENOBUFS, "ENOBUFS", "too much output waiting to be written" },
	{ -ENOENT, "ENOENT", "no broker socket at that path" },
	{ -ECONNREFUSED, "ECONNREFUSED", "no broker listening on that socket" },
	{ -EACCES, "EACCES", "permission denied" },
	{ -ENAMETOOLONG, "ENAMETOOLONG", "socket path too long (at most 107 bytes)" },
	{ -EPIPE, "EPIPE", "connection to the broker broken" },
	{ -ECONNRESET, "ECONNRESET", "connection reset by the broker" },
	{ -EBUSY, "EBUSY", "blocking call made from inside a callback" },
	{ -EAGAIN, "EAGAIN", "the broker cannot take more right now (backlog or queue full)" },
};

static const struct err_entry *lookup(int err)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].code == err)
			return &table[i];
	return NULL;
}

JBUS_EXPORT const char *jbus_strerror(int err)
{
	const struct err_entry *e = lookup(err);

	if (e)
		return e->text;
	if (err < 0 && err > -4000)
		return strerror(-err);
	return "unknown error";
}

JBUS_EXPORT const char *jbus_error_name(int err)
{
	const struct err_entry *e = lookup(err);

	if (e)
		return e->name;
	if (err < 0 && err > -4000) {
		const char *n = strerrorname_np(-err);
		return n ? n : "unknown";
	}
	return "unknown";
}
