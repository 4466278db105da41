/*
 * Unit tests of the intrusive hash table (broker/htable.h): insert, find and
 * remove many entries while it grows, shrink back as it empties (to no
 * memory at all), colliding hashes, binary keys, and foreach visiting each
 * entry exactly once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htable.h"
#include "jt.h"
#include "util.h"

/*
 * Hot loops check with CHECK rather than ck_assert: in fork mode every passing
 * ck_assert writes to Check's pipe, which would dominate the runtime here.
 */
#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond))                                                                       \
			ck_abort_msg(__VA_ARGS__);                                                 \
	} while (0)

struct ent {
	struct hnode hn;
	size_t len;
	char key[24];
	int visits;
	bool in;
};

static void ent_key(const struct hnode *n, const char **k, size_t *len)
{
	const struct ent *e = container_of(n, struct ent, hn);

	*k = e->key;
	*len = e->len;
}

/* Fixture-owned table and entries. */
static struct htable T;
static struct ent *ents;
static size_t nents;

static void setup(void)
{
	htable_init(&T, ent_key);
	ents = NULL;
	nents = 0;
}

static void teardown(void)
{
	htable_fini(&T);
	free(ents);
	ents = NULL;
}

static void make_ents(size_t n)
{
	ents = calloc(n, sizeof(*ents));
	ck_assert_ptr_nonnull(ents);
	nents = n;
	for (size_t i = 0; i < n; i++)
		ents[i].len = (size_t)snprintf(ents[i].key, sizeof(ents[i].key), "key-%zu", i);
}

static uint32_t hash_of(const struct ent *e)
{
	return htable_hash(e->key, e->len);
}

static void insert(struct ent *e, uint32_t h)
{
	CHECK(!e->in, "test bug: %s inserted twice", e->key);
	CHECK(htable_insert(&T, &e->hn, h) == 0, "insert %s failed", e->key);
	e->in = true;
}

static void remove_ent(struct ent *e)
{
	htable_remove(&T, &e->hn);
	e->in = false;
}

static struct ent *find(const char *k, size_t n, uint32_t h)
{
	struct hnode *hn = htable_find(&T, k, n, h);

	return hn ? container_of(hn, struct ent, hn) : NULL;
}

static bool pow2(uint32_t x)
{
	return x && !(x & (x - 1));
}

/* Every entry that is in is found, every entry that is out is not. */
static void check_all(uint32_t (*hash)(const struct ent *))
{
	uint32_t in = 0;

	for (size_t i = 0; i < nents; i++) {
		struct ent *e = &ents[i], *f = find(e->key, e->len, hash(e));
		CHECK(f == (e->in ? e : NULL), "%s: found %p, want %s", e->key, (void *)f,
		      e->in ? "itself" : "nothing");
		in += e->in;
	}
	ck_assert_uint_eq(T.count, in);
}

START_TEST(test_htable_hash)
{
	/* FNV-1a 32-bit reference values */
	ck_assert_uint_eq(htable_hash("", 0), 0x811c9dc5u);
	ck_assert_uint_eq(htable_hash("a", 1), 0xe40c292cu);
	ck_assert_uint_eq(htable_hash("foobar", 6), 0xbf9cf968u);
	/* bytes >= 0x80 are taken unsigned (UTF-8 levels) */
	ck_assert_uint_eq(htable_hash("\xff", 1), 0x7a0b824eu);
	ck_assert_uint_eq(htable_hash("\xc3\xa9", 2), 0x1e9de8c1u);
	/* the length is honoured, NUL bytes included */
	ck_assert_uint_eq(htable_hash("foobarXYZ", 6), 0xbf9cf968u);
	ck_assert_uint_ne(htable_hash("a\0", 2), htable_hash("a", 1));
}
END_TEST

static void count_visit(struct hnode *n, void *ud)
{
	(*(int *)ud)++;
	container_of(n, struct ent, hn)->visits++;
}

/* An empty table allocates nothing and finds nothing. */
START_TEST(test_htable_empty)
{
	int visits = 0;
	struct ent e = { .len = 1, .key = "x" };

	ck_assert_ptr_null(T.buckets);
	ck_assert_uint_eq(T.count, 0);
	ck_assert_ptr_null(find("x", 1, htable_hash("x", 1)));
	htable_foreach(&T, count_visit, &visits);
	ck_assert_int_eq(visits, 0);
	/* removing from an empty table is harmless */
	htable_remove(&T, &e.hn);
	ck_assert_uint_eq(T.count, 0);
	ck_assert_ptr_null(T.buckets);
}
END_TEST

/*
 * 20000 entries: the table grows by doubling and keeps its load <= 1; removing
 * shrinks it (never under 1/8 full above 16 buckets) and the last removal
 * frees it. Lookups stay right through every resize.
 */
START_TEST(test_htable_grow_shrink)
{
	size_t n = 20000;
	uint32_t max_buckets = 0;

	make_ents(n);
	for (size_t i = 0; i < n; i++) {
		insert(&ents[i], hash_of(&ents[i]));
		CHECK(T.count == i + 1, "count %u after %zu inserts", T.count, i + 1);
		CHECK(pow2(T.mask + 1), "buckets %u", T.mask + 1);
		CHECK(T.count <= T.mask + 1, "load: %u entries, %u buckets", T.count, T.mask + 1);
		if (i % 997 == 0)
			check_all(hash_of);
	}
	check_all(hash_of);
	max_buckets = T.mask + 1;
	ck_assert_uint_ge(max_buckets, n);

	/* absent keys, and a present key looked up with another hash */
	ck_assert_ptr_null(find("key-20000", 9, htable_hash("key-20000", 9)));
	ck_assert_ptr_null(find("key-", 4, htable_hash("key-", 4)));
	ck_assert_ptr_null(find("", 0, htable_hash("", 0)));
	ck_assert_ptr_null(find(ents[5].key, ents[5].len, hash_of(&ents[5]) ^ 1));

	/* remove the even ones, then the rest from the top down */
	for (size_t i = 0; i < n; i += 2)
		remove_ent(&ents[i]);
	check_all(hash_of);
	for (size_t i = n; i-- > 0;) {
		if (!ents[i].in)
			continue;
		remove_ent(&ents[i]);
		if (!T.count)
			break;
		CHECK(pow2(T.mask + 1), "buckets %u", T.mask + 1);
		CHECK(T.mask + 1 <= 16 || T.count >= (T.mask + 1) / 8,
		      "not shrunk: %u entries in %u buckets", T.count, T.mask + 1);
		if (i % 501 == 0)
			check_all(hash_of);
	}
	ck_assert_uint_eq(T.count, 0);
	ck_assert_ptr_null(T.buckets);
	ck_assert_uint_eq(T.mask, 0);
	check_all(hash_of);

	/* and it works again afterwards */
	insert(&ents[7], hash_of(&ents[7]));
	ck_assert_ptr_eq(find(ents[7].key, ents[7].len, hash_of(&ents[7])), &ents[7]);
	ck_assert_uint_le(T.mask + 1, 16);
}
END_TEST

START_TEST(test_htable_foreach)
{
	int visits = 0;

	make_ents(1000);
	for (size_t i = 0; i < nents; i++)
		insert(&ents[i], hash_of(&ents[i]));
	htable_foreach(&T, count_visit, &visits);
	ck_assert_int_eq(visits, 1000);
	for (size_t i = 0; i < nents; i++)
		CHECK(ents[i].visits == 1, "%s visited %d times", ents[i].key, ents[i].visits);

	/* after removing most (the table shrinks), only the rest are visited */
	for (size_t i = 0; i < nents; i++) {
		ents[i].visits = 0;
		if (i % 10)
			remove_ent(&ents[i]);
	}
	visits = 0;
	htable_foreach(&T, count_visit, &visits);
	ck_assert_int_eq(visits, 100);
	for (size_t i = 0; i < nents; i++)
		CHECK(ents[i].visits == (i % 10 ? 0 : 1), "%s visited %d times", ents[i].key,
		      ents[i].visits);
}
END_TEST

static uint32_t same_hash(const struct ent *e)
{
	(void)e;
	return 0x5eed;
}

/* Same low bits, different hashes: one bucket in any table below 2^20 buckets. */
static uint32_t same_bucket(const struct ent *e)
{
	return (uint32_t)(e - ents) << 20;
}

/* Entries are told apart by key, not by hash alone. */
START_TEST(test_htable_collisions)
{
	uint32_t (*const hashes[])(const struct ent *) = { same_hash, same_bucket };

	make_ents(300);
	for (size_t k = 0; k < ARRAY_SIZE(hashes); k++) {
		for (size_t i = 0; i < nents; i++)
			insert(&ents[i], hashes[k](&ents[i]));
		check_all(hashes[k]);
		/* a key that is not there, with the shared hash */
		ck_assert_ptr_null(find("nope", 4, same_hash(NULL)));
		for (size_t i = 0; i < nents; i += 3)
			remove_ent(&ents[i]);
		check_all(hashes[k]);
		for (size_t i = 0; i < nents; i++)
			if (ents[i].in)
				remove_ent(&ents[i]);
		check_all(hashes[k]);
		ck_assert_ptr_null(T.buckets);
	}
}
END_TEST

/* Keys are byte strings: lengths matter, NUL bytes and the empty key included. */
START_TEST(test_htable_binary_keys)
{
	static const struct {
		const char *k;
		size_t len;
	} keys[] = {
		{ "", 0 }, { "a", 1 }, { "ab", 2 }, { "abc", 3 }, { "a\0", 2 }, { "a\0b", 3 },
		{ "\0", 1 }, { "\0\0", 2 }, { "b", 1 },
	};

	make_ents(ARRAY_SIZE(keys));
	for (size_t i = 0; i < nents; i++) {
		memcpy(ents[i].key, keys[i].k, keys[i].len);
		ents[i].len = keys[i].len;
		insert(&ents[i], hash_of(&ents[i]));
	}
	check_all(hash_of);
	remove_ent(&ents[1]); /* "a" */
	check_all(hash_of);
	ck_assert_ptr_eq(find("a\0", 2, htable_hash("a\0", 2)), &ents[4]);
	ck_assert_ptr_null(find("a", 1, htable_hash("a", 1)));
	remove_ent(&ents[0]); /* "" */
	check_all(hash_of);
}
END_TEST

Suite *jt_suite(void)
{
	Suite *s = suite_create("htable");
	const struct jt_case cases[] = {
		{ "hash", test_htable_hash },
		{ "empty", test_htable_empty },
		{ "grow_shrink", test_htable_grow_shrink },
		{ "foreach", test_htable_foreach },
		{ "collisions", test_htable_collisions },
		{ "binary_keys", test_htable_binary_keys },
	};

	jt_add_cases(s, cases, ARRAY_SIZE(cases), setup, teardown, 60);
	return s;
}
