/*
 * Retained messages (see retain.h). Each entry keeps the replay frame
 * ({"op":"msg",...,"retained":true}) built once, shared by every
 * subscriber it is replayed to; the data span inside it is what the
 * persistence file stores. Replays go through the client's queue like any
 * frame, so the slow-consumer rule covers them.
 */
#include "retain.h"

#include "account.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"
#include "client.h"
#include "log.h"
#include "outq.h"
#include "topic.h"

#define RETAIN_HEADER "{\"jbus_retained\":1}"
#define RETAIN_SAVE_MS 1000

struct retained {
	struct hnode hn;
	struct frame *f;
	struct account *owner; /* charged with topic_len + data_len; NULL: nobody */
	uint32_t data_len;
	uint8_t from_len;
	char from[WIRE_NAME_MAX + 1];
	size_t topic_len;
	char topic[];
};

static void entry_key(const struct hnode *n, const char **k, size_t *len)
{
	const struct retained *e = container_of(n, struct retained, hn);
	*k = e->topic;
	*len = e->topic_len;
}

static const char *entry_data(const struct retained *e)
{
	return e->f->data + e->f->len - (sizeof(WIRE_RETAINED_SUFFIX) - 1) - e->data_len;
}

static void on_save_timer(struct timer *t);

void retain_init(struct retain_store *rs, struct loop *loop, size_t max_count, size_t max_bytes,
		 size_t max_bytes_per_uid, struct accounts *accounts, const char *path)
{
	htable_init(&rs->topics, entry_key);
	rs->count = rs->bytes = 0;
	rs->max_count = max_count;
	rs->max_bytes = max_bytes;
	rs->max_bytes_per_uid = max_bytes_per_uid;
	rs->accounts = accounts;
	rs->path = path;
	rs->dirty = false;
	rs->loop = loop;
	timer_init(&rs->save_timer, on_save_timer);
}

const char *retain_limit_name(int code)
{
	switch (code) {
	case RETAIN_E_MAX_COUNT:
		return "max_retained";
	case RETAIN_E_MAX_BYTES:
		return "max_retained_bytes";
	case RETAIN_E_MAX_UID_BYTES:
		return "max_retained_bytes_per_uid";
	}
	return "?";
}

static void entry_free(struct retain_store *rs, struct retained *e)
{
	htable_remove(&rs->topics, &e->hn);
	rs->count--;
	rs->bytes -= e->topic_len + e->data_len;
	if (e->owner) {
		e->owner->retained -= e->topic_len + e->data_len;
		account_put(rs->accounts, e->owner);
	}
	frame_unref(e->f);
	free(e);
}

static struct retained *first_entry(struct retain_store *rs)
{
	for (uint32_t i = 0; rs->topics.buckets && i <= rs->topics.mask; i++)
		if (rs->topics.buckets[i])
			return container_of(rs->topics.buckets[i], struct retained, hn);
	return NULL;
}

void retain_fini(struct retain_store *rs)
{
	struct retained *e;

	loop_timer_cancel(&rs->save_timer);
	while ((e = first_entry(rs)))
		entry_free(rs, e);
	htable_fini(&rs->topics);
}

static struct retained *find(const struct retain_store *rs, const char *t, size_t n)
{
	struct hnode *hn = htable_find(&rs->topics, t, n, htable_hash(t, n));
	return hn ? container_of(hn, struct retained, hn) : NULL;
}

static void mark_dirty(struct retain_store *rs)
{
	if (!rs->path)
		return;
	rs->dirty = true;
	/* coalesce: one write per second at most while changes keep coming */
	if (!timer_armed(&rs->save_timer))
		loop_timer_arm(rs->loop, &rs->save_timer, RETAIN_SAVE_MS);
}

/*
 * Store without bounds checks or persistence (also used by load), charged
 * to owner (may be NULL; the caller's reference becomes the entry's, or is
 * put back on failure).
 */
static int store(struct retain_store *rs, struct retained *old, const char *topic,
		 size_t topic_len, const char *from, size_t from_len, struct account *owner,
		 struct wire_raw data)
{
	struct retained *e = malloc(sizeof(*e) + topic_len + 1);
	struct wire_buf wb;

	if (!e) {
		account_put(rs->accounts, owner);
		return -ENOMEM;
	}
	wire_buf_init(&wb, FRAME_HEADROOM);
	wire_build_msg_retained(&wb, topic, topic_len, from, from_len, data);
	e->f = frame_from_buf(&wb);
	if (!e->f) {
		free(e);
		account_put(rs->accounts, owner);
		return -ENOMEM;
	}
	/* charged before old goes: old may hold the same account's last reference */
	e->owner = owner;
	if (owner)
		owner->retained += topic_len + data.len;
	e->data_len = (uint32_t)data.len;
	e->from_len = (uint8_t)from_len;
	memcpy(e->from, from, from_len);
	e->from[from_len] = '\0';
	e->topic_len = topic_len;
	memcpy(e->topic, topic, topic_len);
	e->topic[topic_len] = '\0';
	if (old)
		entry_free(rs, old);
	if (htable_insert(&rs->topics, &e->hn, htable_hash(topic, topic_len)) < 0) {
		if (owner) {
			owner->retained -= topic_len + data.len;
			account_put(rs->accounts, owner);
		}
		frame_unref(e->f);
		free(e);
		return -ENOMEM;
	}
	rs->count++;
	rs->bytes += topic_len + data.len;
	return 0;
}

int retain_set(struct retain_store *rs, const char *topic, size_t topic_len, const char *from,
	       size_t from_len, uid_t uid, struct wire_raw data)
{
	struct retained *old = find(rs, topic, topic_len);
	size_t count = rs->count, bytes = rs->bytes, size = topic_len + data.len;
	struct account *owner = NULL;
	int r;

	if (!data.len || (data.len == 4 && memcmp(data.p, "null", 4) == 0)) {
		if (old) {
			entry_free(rs, old);
			mark_dirty(rs);
		}
		return 0;
	}
	if (old) {
		count--;
		bytes -= old->topic_len + old->data_len;
	}
	if (count + 1 > rs->max_count)
		return RETAIN_E_MAX_COUNT;
	if (bytes + size > rs->max_bytes)
		return RETAIN_E_MAX_BYTES;
	if (rs->accounts) {
		size_t used;

		owner = account_get(rs->accounts, uid);
		if (!owner)
			return -ENOMEM;
		/* replacing one's own value: only the difference counts */
		used = owner->retained - (old && old->owner == owner ? old->topic_len + old->data_len : 0);
		if (rs->max_bytes_per_uid && used + size > rs->max_bytes_per_uid) {
			account_put(rs->accounts, owner);
			return RETAIN_E_MAX_UID_BYTES;
		}
	}
	r = store(rs, old, topic, topic_len, from, from_len, owner, data);
	if (r == 0)
		mark_dirty(rs);
	return r;
}

static int cmp_topic(const void *a, const void *b)
{
	const struct retained *x = *(struct retained *const *)a, *y = *(struct retained *const *)b;
	size_t n = x->topic_len < y->topic_len ? x->topic_len : y->topic_len;
	int c = memcmp(x->topic, y->topic, n);

	if (c)
		return c;
	return x->topic_len < y->topic_len ? -1 : x->topic_len > y->topic_len;
}

struct collect {
	const char *pattern;
	size_t pattern_len;
	struct retained **v;
	size_t n;
};

static void collect_match(struct hnode *hn, void *ud)
{
	struct collect *col = ud;
	struct retained *e = container_of(hn, struct retained, hn);

	if (topic_match(col->pattern, col->pattern_len, e->topic, e->topic_len))
		col->v[col->n++] = e;
}

size_t retain_replay(struct retain_store *rs, struct client *c, const char *pattern,
		     size_t pattern_len)
{
	struct collect col = { pattern, pattern_len, NULL, 0 };
	size_t queued = 0;

	if (!rs->count)
		return 0;
	col.v = malloc(rs->count * sizeof(*col.v));
	if (!col.v) {
		client_close(c, "out of memory", END_ERROR);
		return 0;
	}
	htable_foreach(&rs->topics, collect_match, &col);
	qsort(col.v, col.n, sizeof(*col.v), cmp_topic);
	for (size_t i = 0; i < col.n && client_active(c); i++)
		if (client_queue(c, col.v[i]->f))
			queued++;
	free(col.v);
	return queued;
}

/* section: persistence */

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void append_entry(struct hnode *hn, void *ud)
{
	struct retained *e = container_of(hn, struct retained, hn);
	struct wire_buf *b = ud;

	wire_buf_puts(b, "{\"topic\":");
	wire_buf_put_jstr(b, e->topic, e->topic_len);
	wire_buf_puts(b, ",\"from\":");
	wire_buf_put_jstr(b, e->from, e->from_len);
	if (e->owner) {
		wire_buf_puts(b, ",\"uid\":");
		wire_buf_put_u64(b, e->owner->uid);
	}
	wire_buf_puts(b, ",\"data\":");
	wire_buf_put(b, entry_data(e), e->data_len);
	wire_buf_puts(b, "}\n");
}

/* Write path.tmp, fsync, rename over path, fsync the directory. */
static int save(struct retain_store *rs)
{
	char tmp[4096], dir[4096];
	struct wire_buf b;
	int fd, r;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", rs->path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	wire_buf_init(&b, 0);
	wire_buf_puts(&b, RETAIN_HEADER "\n");
	htable_foreach(&rs->topics, append_entry, &b);
	if (wire_buf_failed(&b)) {
		wire_buf_free(&b);
		return -ENOMEM;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		wire_buf_free(&b);
		return r;
	}
	r = write_all(fd, b.p, b.len);
	wire_buf_free(&b);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, rs->path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	/* the rename itself must survive a crash too */
	snprintf(dir, sizeof(dir), "%s", rs->path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	else
		strcpy(dir, ".");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	rs->dirty = false;
	return 0;
}

int retain_flush(struct retain_store *rs)
{
	loop_timer_cancel(&rs->save_timer);
	if (!rs->path || !rs->dirty)
		return 0;
	return save(rs);
}

static void on_save_timer(struct timer *t)
{
	struct retain_store *rs = container_of(t, struct retain_store, save_timer);
	int r = save(rs);

	if (r < 0) {
		log_error("cannot write retain file path=%s: %s; retrying in 1 s", rs->path,
			  strerror(-r));
		loop_timer_arm(rs->loop, &rs->save_timer, RETAIN_SAVE_MS);
	}
}

static int load_line(struct retain_store *rs, const char *line, size_t n, const char **why)
{
	struct wire_env env;
	char tbuf[TOPIC_MAX], fbuf[WIRE_NAME_MAX + 8];
	const char *t, *f;
	size_t tn, fn;
	struct wire_raw data;
	struct account *owner = NULL;
	uint64_t uid;

	if (wire_scan(line, n, &env, NULL) != 0) {
		*why = "not a JSON object";
		return -EINVAL;
	}
	if (env.f[WF_TOPIC].type != WIRE_T_STRING ||
	    wire_string(&env.f[WF_TOPIC], tbuf, sizeof(tbuf), &t, &tn) != 0 ||
	    topic_check_name(t, tn)) {
		*why = "missing or invalid 'topic'";
		return -EINVAL;
	}
	if (env.f[WF_FROM].type != WIRE_T_STRING ||
	    wire_string(&env.f[WF_FROM], fbuf, sizeof(fbuf), &f, &fn) != 0 || fn > WIRE_NAME_MAX) {
		*why = "missing or invalid 'from'";
		return -EINVAL;
	}
	if (env.f[WF_DATA].type == WIRE_T_ABSENT || env.f[WF_DATA].type == WIRE_T_NULL) {
		*why = "missing 'data'";
		return -EINVAL;
	}
	if (rs->count + 1 > rs->max_count ||
	    rs->bytes + tn + env.f[WF_DATA].len > rs->max_bytes) {
		*why = "more retained messages than --max-retained / --max-retained-bytes allow";
		return -E2BIG;
	}
	if (env.f[WF_UID].type != WIRE_T_ABSENT) {
		if (!wire_uint(&env.f[WF_UID], &uid) || uid >= (uid_t)-1) {
			*why = "invalid 'uid'";
			return -EINVAL;
		}
		/* charged, but not held to the per-uid bound: that applies to new values */
		if (rs->accounts && !(owner = account_get(rs->accounts, (uid_t)uid)))
			return -ENOMEM;
	}
	data.p = env.f[WF_DATA].p;
	data.len = env.f[WF_DATA].len;
	return store(rs, find(rs, t, tn), t, tn, f, fn, owner, data);
}

/* A first start must still be able to save later: find out now, not in a second. */
static int check_writable(struct retain_store *rs, char *err, size_t errlen)
{
	char tmp[4096];
	int fd, r;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", rs->path) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "retain file path %s is too long", rs->path);
		return -ENAMETOOLONG;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST)
		return 0; /* a leftover of an interrupted save: the directory is writable */
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot create files next to retain file %s: %s", rs->path,
			 strerror(errno));
		return r;
	}
	close(fd);
	unlink(tmp);
	return 0;
}

int retain_load(struct retain_store *rs, char *err, size_t errlen)
{
	struct wire_cursor cur = { 0, 0 };
	struct stat st;
	const char *line, *why = NULL;
	size_t n, lineno = 0;
	char *buf;
	int fd, r = 0;
	ssize_t got;

	if (!rs->path)
		return 0;
	fd = open(rs->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return check_writable(rs, err, errlen); /* first start */
		r = -errno;
		snprintf(err, errlen, "cannot open retain file %s: %s", rs->path, strerror(errno));
		return r;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err, errlen, "retain file %s is not a regular file", rs->path);
		return -EINVAL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		snprintf(err, errlen, "out of memory reading %s", rs->path);
		return -ENOMEM;
	}
	got = read(fd, buf, (size_t)st.st_size);
	close(fd);
	if (got != st.st_size) {
		free(buf);
		snprintf(err, errlen, "cannot read retain file %s", rs->path);
		return -EIO;
	}
	/* a last line without its newline still counts (hand-edited files) */
	if (got && buf[got - 1] != '\n')
		buf[got++] = '\n';
	while ((r = wire_next_frame(buf, (size_t)got, &cur, SIZE_MAX / 4, &line, &n)) == 0) {
		lineno++;
		if (lineno == 1) {
			if (n != sizeof(RETAIN_HEADER) - 1 || memcmp(line, RETAIN_HEADER, n) != 0) {
				why = "first line is not " RETAIN_HEADER;
				r = -EINVAL;
				break;
			}
			continue;
		}
		r = load_line(rs, line, n, &why);
		if (r < 0)
			break;
	}
	if (r == WIRE_E_MORE && lineno == 0) {
		why = "no header line";
		r = -EINVAL;
	}
	free(buf);
	if (r < 0) {
		snprintf(err, errlen, "retain file %s, line %zu: %s", rs->path, lineno + (lineno == 0),
			 why ? why : strerror(-r));
		retain_fini(rs);
		return r;
	}
	return 0;
}
