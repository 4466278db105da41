/*
 * Unit tests of the access policy (broker/policy.h): every message of the
 * parser, each naming the place in the file, and the verdicts of
 * policy_check (deny wins whatever the order, subjects by uid and groups,
 * reservations, name patterns, topic covering and overlap).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jt.h"
#include "policy.h"
#include "util.h"

static struct policy *parse_ok(const char *text)
{
	struct policy *p = NULL;
	char err[400] = "";
	int r = policy_parse(text, strlen(text), &p, err, sizeof(err));

	ck_assert_msg(r == 0, "%s: %s", text, err);
	ck_assert_ptr_nonnull(p);
	return p;
}

/* section: parse errors */

struct err_case {
	const char *text;
	const char *err; /* exact message, or its start when it ends in "..." */
};

static const struct err_case err_cases[] = {
	/* JSON, judged by the codec's scanner */
	{ "", "invalid JSON at byte 0: ..." },
	{ "{", "invalid JSON at byte 1: ..." },
	{ "{\"rules\":[]} x", "invalid JSON at byte 13: unexpected bytes after the JSON value" },
	{ "{\"rules\":[]}{}", "invalid JSON at byte 12: unexpected bytes after the JSON value" },
	{ "{\"rules\":[\"\xff\"]}", "invalid JSON at byte 11: ..." },
	/* top level */
	{ "[]", "the policy must be a JSON object" },
	{ "\"rules\"", "the policy must be a JSON object" },
	{ "{\"rule\":[]}", "rule: unknown key (expected rules or reserve)" },
	{ "{\"rules\":{}}", "rules: must be an array of objects" },
	{ "{\"rules\":[1]}", "rules[0]: must be an object" },
	/* rules */
	{ "{\"rules\":[{\"for\":\"*\"},{}]}", "rules[1]: missing key 'for'" },
	{ "{\"rules\":[{\"for\":\"*\",\"allows\":{}}]}",
	  "rules[0].allows: unknown key (expected for, allow or deny)" },
	{ "{\"rules\":[{\"for\":1}]}",
	  "rules[0].for: must be a string (\"*\", \"uid:N\", \"user:NAME\", \"gid:N\" or "
	  "\"group:NAME\")" },
	{ "{\"rules\":[{\"for\":\"root\"}]}",
	  "rules[0].for: 'root' is not \"*\", \"uid:N\", \"user:NAME\", \"gid:N\" or "
	  "\"group:NAME\"" },
	{ "{\"rules\":[{\"for\":\"uid:\"}]}", "rules[0].for: 'uid:' is not a valid id" },
	{ "{\"rules\":[{\"for\":\"uid:1x\"}]}", "rules[0].for: 'uid:1x' is not a valid id" },
	{ "{\"rules\":[{\"for\":\"uid:-1\"}]}", "rules[0].for: 'uid:-1' is not a valid id" },
	{ "{\"rules\":[{\"for\":\"gid:4294967295\"}]}",
	  "rules[0].for: 'gid:4294967295' is not a valid id" },
	{ "{\"rules\":[{\"for\":\"gid:12345678901\"}]}",
	  "rules[0].for: 'gid:12345678901' is not a valid id" },
	{ "{\"rules\":[{\"for\":\"user:no-such-user-jt\"}]}",
	  "rules[0].for: unknown user 'no-such-user-jt'" },
	{ "{\"rules\":[{\"for\":\"user:\"}]}", "rules[0].for: unknown user ''" },
	{ "{\"rules\":[{\"for\":\"group:no-such-group-jt\"}]}",
	  "rules[0].for: unknown group 'no-such-group-jt'" },
	{ "{\"rules\":[{\"for\":\"user:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxx\"}]}",
	  "rules[0].for: too long" },
	/* permissions */
	{ "{\"rules\":[{\"for\":\"*\",\"allow\":[]}]}", "rules[0].allow: must be an object" },
	{ "{\"rules\":[{\"for\":\"*\",\"deny\":{\"pub\":[]}}]}",
	  "rules[0].deny.pub: unknown key (expected publish, subscribe, own, send, call, monitor "
	  "or introspect)" },
	{ "{\"rules\":[{\"for\":\"*\",\"allow\":{\"publish\":\"a\"}}]}",
	  "rules[0].allow.publish: must be an array of strings" },
	{ "{\"rules\":[{\"for\":\"*\",\"allow\":{\"subscribe\":[\"a\",null]}}]}",
	  "rules[0].allow.subscribe[1]: must be a string" },
	{ "{\"rules\":[{\"for\":\"*\",\"allow\":{\"publish\":[\"a/#/b\"]}}]}",
	  "rules[0].allow.publish[0]: 'a/#/b': '#' is only allowed as the last level" },
	{ "{\"rules\":[{\"for\":\"*\",\"deny\":{\"subscribe\":[\"a+\"]}}]}",
	  "rules[0].deny.subscribe[0]: 'a+': '+' and '#' must each occupy a whole level" },
	{ "{\"rules\":[{\"for\":\"*\",\"allow\":{\"publish\":[\"\"]}}]}",
	  "rules[0].allow.publish[0]: '': ..." },
	{ "{\"rules\":[{\"for\":\"*\",\"allow\":{\"own\":[\"a*b\"]}}]}",
	  "rules[0].allow.own[0]: 'a*b': must be a client name, a name prefix followed by '*', "
	  "or '*'" },
	{ "{\"rules\":[{\"for\":\"*\",\"allow\":{\"send\":[\"**\"]}}]}",
	  "rules[0].allow.send[0]: '**': must be a client name, a name prefix followed by '*', "
	  "or '*'" },
	{ "{\"rules\":[{\"for\":\"*\",\"allow\":{\"call\":[\"a b\"]}}]}",
	  "rules[0].allow.call[0]: 'a b': must be a client name, a name prefix followed by '*', "
	  "or '*'" },
	{ "{\"rules\":[{\"for\":\"*\",\"allow\":{\"monitor\":1}}]}",
	  "rules[0].allow.monitor: must be true or false" },
	{ "{\"rules\":[{\"for\":\"*\",\"deny\":{\"introspect\":\"yes\"}}]}",
	  "rules[0].deny.introspect: must be true or false" },
	/* reservations */
	{ "{\"reserve\":[]}", "reserve: must be an object of \"prefix\": \"subject\"" },
	{ "{\"reserve\":{\"a b\":\"*\"}}",
	  "reserve.a b: a reserved prefix must be the start of a client name" },
	{ "{\"reserve\":{\"\":\"*\"}}",
	  "reserve.: a reserved prefix must be the start of a client name" },
	{ "{\"reserve\":{\"net.\":\"gid:x\"}}", "reserve.net.: 'gid:x' is not a valid id" },
	{ "{\"reserve\":{\"net.\":true}}",
	  "reserve.net.: must be a string (\"*\", \"uid:N\", \"user:NAME\", \"gid:N\" or "
	  "\"group:NAME\")" },
};

START_TEST(test_policy_parse_errors)
{
	const struct err_case *t = &err_cases[_i];
	struct policy *p = (struct policy *)1;
	char err[400] = "";
	size_t n = strlen(t->err);
	int r = policy_parse(t->text, strlen(t->text), &p, err, sizeof(err));

	ck_assert_msg(r == -EINVAL, "%s: returned %d", jt_show(t->text, strlen(t->text)), r);
	ck_assert_ptr_null(p);
	if (n > 3 && strcmp(t->err + n - 3, "...") == 0)
		ck_assert_msg(strncmp(err, t->err, n - 3) == 0 && strlen(err) > n - 3,
			      "%s:\n got: %s\nwant: %s", jt_show(t->text, strlen(t->text)), err,
			      t->err);
	else
		ck_assert_msg(strcmp(err, t->err) == 0, "%s:\n got: %s\nwant: %s",
			      jt_show(t->text, strlen(t->text)), err, t->err);
}
END_TEST

START_TEST(test_policy_parse_valid)
{
	struct policy *p;

	/* empty: a policy that allows nothing */
	p = parse_ok("{}");
	ck_assert_uint_eq(policy_size(p), 0);
	ck_assert(!policy_needs_groups(p));
	policy_free(p);
	p = parse_ok(" {\"rules\":[]}\n");
	policy_free(p);
	/* every key, names resolved; an id up to 2^32-2 */
	p = parse_ok("{\"rules\":[{\"for\":\"user:root\",\"allow\":{\"publish\":[\"a/+\",\"#\"],"
		     "\"subscribe\":[],\"own\":[\"x\",\"y.*\",\"*\"],\"send\":[\"*\"],"
		     "\"call\":[\"z\"],\"monitor\":true,\"introspect\":false},\"deny\":{}},"
		     "{\"for\":\"uid:4294967294\"}],\"reserve\":{\"net.\":\"uid:0\"}}");
	ck_assert_uint_eq(policy_size(p), 3);
	ck_assert(!policy_needs_groups(p));
	policy_free(p);
	/* a group subject, in a rule or a reservation, makes groups needed */
	p = parse_ok("{\"rules\":[{\"for\":\"group:root\"}]}");
	ck_assert(policy_needs_groups(p));
	policy_free(p);
	p = parse_ok("{\"reserve\":{\"a\":\"gid:5\"}}");
	ck_assert(policy_needs_groups(p));
	policy_free(p);
	/* unknown top-level members are errors, but a repeated one: the last wins (json-c) */
	p = parse_ok("{\"rules\":[1],\"rules\":[]}");
	ck_assert_uint_eq(policy_size(p), 0);
	policy_free(p);
	policy_free(NULL);
}
END_TEST

START_TEST(test_policy_load)
{
	char dir[] = "/tmp/jt-policy-XXXXXX", path[64], err[400];
	struct policy *p = (struct policy *)1;
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	jt_fmt(path, sizeof(path), "%s/p.json", dir);
	ck_assert_int_eq(policy_load(path, &p, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_null(p);
	ck_assert_str_eq(err + strlen(path), ": No such file or directory");
	/* a directory is no policy */
	ck_assert_int_eq(policy_load(dir, &p, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(strncmp(err + strlen(dir), ": not a regular file", 20), 0);
	/* a NUL byte would hide the rest of the file from the parser */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "{}\0{", 4), 4);
	close(fd);
	ck_assert_int_eq(policy_load(path, &p, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(strncmp(err + strlen(path), ": contains a NUL byte", 21), 0);
	unlink(path);
	jt_write_file(path, "{\"rules\":[{\"for\":\"*\",\"allow\":{\"monitor\":true}}]}\n");
	ck_assert_int_eq(policy_load(path, &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(policy_size(p), 1);
	policy_free(p);
	unlink(path);
	/* a parse error names the place in the file */
	jt_write_file(path, "{\"rules\":[{}]}");
	ck_assert_int_eq(policy_load(path, &p, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "rules[0]: missing key 'for'") != NULL, "%s", err);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* section: verdicts */

static const struct policy_subject ROOT = { 0, 0, NULL, 0 };
static const struct policy_subject USER = { 1000, 1000, NULL, 0 };
static const gid_t AUDIO[] = { 29, 44 };
static const struct policy_subject AUDIO_USER = { 1001, 1001, AUDIO, 2 };

static struct policy_verdict check(const struct policy *p, const struct policy_subject *who,
				   enum policy_op op, const char *s)
{
	return policy_check(p, who, op, s, s ? strlen(s) : 0);
}

/* allowed, or else denied by rule (-1: no rule allows) */
static void expect(const struct policy *p, const struct policy_subject *who, enum policy_op op,
		   const char *s, bool allowed, int rule)
{
	struct policy_verdict v = check(p, who, op, s);

	ck_assert_msg(v.allowed == allowed, "op %d on '%s' for uid %u: allowed %d", op,
		      s ? s : "", (unsigned)who->uid, v.allowed);
	if (!allowed) {
		ck_assert_msg(v.rule == rule && !v.reserved, "op %d on '%s': rule %d", op,
			      s ? s : "", v.rule);
	}
}

START_TEST(test_policy_deny_wins)
{
	/* the same rules in both orders: the deny wins either way */
	static const char *const texts[] = {
		"{\"rules\":[{\"for\":\"*\",\"allow\":{\"publish\":[\"#\"]}},"
		"{\"for\":\"uid:1000\",\"deny\":{\"publish\":[\"a/#\"]}}]}",
		"{\"rules\":[{\"for\":\"uid:1000\",\"deny\":{\"publish\":[\"a/#\"]}},"
		"{\"for\":\"*\",\"allow\":{\"publish\":[\"#\"]}}]}",
	};
	char buf[200];

	for (int i = 0; i < 2; i++) {
		struct policy *p = parse_ok(texts[i]);
		struct policy_verdict v;
		int deny = i == 0 ? 1 : 0;

		expect(p, &USER, POLICY_PUBLISH, "a/b", false, deny);
		expect(p, &USER, POLICY_PUBLISH, "a", false, deny);
		expect(p, &USER, POLICY_PUBLISH, "b", true, 0);
		expect(p, &ROOT, POLICY_PUBLISH, "a/b", true, 0);
		v = check(p, &USER, POLICY_PUBLISH, "a/b");
		policy_verdict_text(p, &v, buf, sizeof(buf));
		ck_assert_str_eq(buf, i == 0 ? "denied by rules[1] (for uid:1000)"
					     : "denied by rules[0] (for uid:1000)");
		ck_assert_uint_eq(policy_verdict_key(p, &v), (size_t)deny);
		/* nothing allows subscribe: no rule, key after the rules */
		v = check(p, &USER, POLICY_SUBSCRIBE, "b");
		ck_assert(!v.allowed);
		ck_assert_int_eq(v.rule, -1);
		policy_verdict_text(p, &v, buf, sizeof(buf));
		ck_assert_str_eq(buf, "no rule of the policy allows it");
		ck_assert_uint_eq(policy_verdict_key(p, &v), policy_size(p));
		v = check(p, &ROOT, POLICY_PUBLISH, "x");
		policy_verdict_text(p, &v, buf, sizeof(buf));
		ck_assert_str_eq(buf, "allowed");
		policy_free(p);
	}
}
END_TEST

START_TEST(test_policy_subjects)
{
	struct policy *p = parse_ok(
		"{\"rules\":[{\"for\":\"gid:44\",\"allow\":{\"publish\":[\"video/#\"]}},"
		"{\"for\":\"gid:1001\",\"allow\":{\"publish\":[\"own/#\"]}},"
		"{\"for\":\"uid:0\",\"allow\":{\"monitor\":true,\"introspect\":true}},"
		"{\"for\":\"group:root\",\"deny\":{\"introspect\":true}}]}");

	/* a supplementary group counts, so does the primary one */
	expect(p, &AUDIO_USER, POLICY_PUBLISH, "video/x", true, 0);
	expect(p, &AUDIO_USER, POLICY_PUBLISH, "own/x", true, 0);
	expect(p, &USER, POLICY_PUBLISH, "video/x", false, -1);
	/* monitor and introspect are flags */
	expect(p, &ROOT, POLICY_MONITOR, NULL, true, 0);
	expect(p, &USER, POLICY_MONITOR, NULL, false, -1);
	expect(p, &ROOT, POLICY_INTROSPECT, NULL, false, 3);
	expect(p, &USER, POLICY_INTROSPECT, NULL, false, -1);
	policy_free(p);
}
END_TEST

START_TEST(test_policy_names)
{
	struct policy *p = parse_ok(
		"{\"rules\":[{\"for\":\"*\",\"allow\":{\"own\":[\"svc.*\",\"exact\"],"
		"\"send\":[\"*\"],\"call\":[\"db*\"]},\"deny\":{\"send\":[\"vault\"]}}]}");

	expect(p, &USER, POLICY_OWN, "svc.a", true, 0);
	/* the prefix itself, without anything after it, matches too */
	expect(p, &USER, POLICY_OWN, "svc.", true, 0);
	expect(p, &USER, POLICY_OWN, "svc", false, -1);
	expect(p, &USER, POLICY_OWN, "svcx", false, -1);
	expect(p, &USER, POLICY_OWN, "exact", true, 0);
	expect(p, &USER, POLICY_OWN, "exactly", false, -1);
	expect(p, &USER, POLICY_OWN, "exac", false, -1);
	expect(p, &USER, POLICY_SEND, "anyone", true, 0);
	expect(p, &USER, POLICY_SEND, "vault", false, 0);
	expect(p, &USER, POLICY_SEND, "vault2", true, 0);
	expect(p, &USER, POLICY_CALL, "db", true, 0);
	expect(p, &USER, POLICY_CALL, "db.main", true, 0);
	expect(p, &USER, POLICY_CALL, "d", false, -1);
	/* the lists are separate: own does not give send, send does not give call */
	expect(p, &USER, POLICY_CALL, "anyone", false, -1);
	policy_free(p);
}
END_TEST

START_TEST(test_policy_reservations)
{
	struct policy *p = parse_ok(
		"{\"reserve\":{\"net.\":\"uid:0\",\"audio\":\"gid:29\"},"
		"\"rules\":[{\"for\":\"*\",\"allow\":{\"own\":[\"*\"]}}]}");
	struct policy *none = parse_ok("{\"reserve\":{\"net.\":\"uid:0\"}}");
	struct policy_verdict v;
	char buf[200];

	v = check(p, &USER, POLICY_OWN, "net.config");
	ck_assert(!v.allowed && v.reserved);
	ck_assert_int_eq(v.rule, 0);
	ck_assert_uint_eq(policy_verdict_key(p, &v), 1);
	policy_verdict_text(p, &v, buf, sizeof(buf));
	ck_assert_str_eq(buf, "names starting with 'net.' are reserved for uid:0");
	expect(p, &ROOT, POLICY_OWN, "net.config", true, 0);
	expect(p, &USER, POLICY_OWN, "net", true, 0);
	expect(p, &USER, POLICY_OWN, "netx", true, 0);
	/* a group's reservation: members (by a supplementary group too) may */
	v = check(p, &USER, POLICY_OWN, "audio.mixer");
	ck_assert(!v.allowed && v.reserved);
	ck_assert_int_eq(v.rule, 1);
	ck_assert_uint_eq(policy_verdict_key(p, &v), 2);
	expect(p, &AUDIO_USER, POLICY_OWN, "audio.mixer", true, 0);
	/* a reservation only keeps others out; the rules still have to allow it */
	expect(none, &ROOT, POLICY_OWN, "net.config", false, -1);
	/* reservations are about names to take, not to send to */
	expect(p, &USER, POLICY_SEND, "net.config", false, -1);
	policy_free(p);
	policy_free(none);
}
END_TEST

START_TEST(test_policy_topics)
{
	struct policy *p = parse_ok(
		"{\"rules\":[{\"for\":\"*\",\"allow\":{\"publish\":[\"a/+\"],"
		"\"subscribe\":[\"a/#\",\"b/+/c\",\"#\"]}},"
		"{\"for\":\"uid:1000\",\"deny\":{\"subscribe\":[\"a/secret/#\"]},"
		"\"allow\":{\"subscribe\":[]}}]}");
	struct policy *cover = parse_ok(
		"{\"rules\":[{\"for\":\"*\",\"allow\":{\"subscribe\":[\"a/#\",\"b/+/c\"]}}]}");

	/* publish: the topic must match an allow pattern */
	expect(p, &USER, POLICY_PUBLISH, "a/b", true, 0);
	expect(p, &USER, POLICY_PUBLISH, "a/b/c", false, -1);
	expect(p, &USER, POLICY_PUBLISH, "a", false, -1);
	/* subscribe: a deny pattern refuses any overlapping pattern */
	expect(p, &USER, POLICY_SUBSCRIBE, "#", false, 1);
	expect(p, &USER, POLICY_SUBSCRIBE, "a/+/x", false, 1);
	expect(p, &USER, POLICY_SUBSCRIBE, "+/secret", false, 1);
	expect(p, &USER, POLICY_SUBSCRIBE, "a/public/#", true, 0);
	expect(p, &USER, POLICY_SUBSCRIBE, "b/#", true, 0);
	expect(p, &ROOT, POLICY_SUBSCRIBE, "#", true, 0);
	/* an allow pattern must cover the whole subscription */
	expect(cover, &USER, POLICY_SUBSCRIBE, "a/+", true, 0);
	expect(cover, &USER, POLICY_SUBSCRIBE, "a/x/#", true, 0);
	expect(cover, &USER, POLICY_SUBSCRIBE, "b/x/c", true, 0);
	expect(cover, &USER, POLICY_SUBSCRIBE, "b/+/c", true, 0);
	expect(cover, &USER, POLICY_SUBSCRIBE, "b/#", false, -1);
	expect(cover, &USER, POLICY_SUBSCRIBE, "+/x", false, -1);
	expect(cover, &USER, POLICY_SUBSCRIBE, "#", false, -1);
	policy_free(p);
	policy_free(cover);
}
END_TEST

Suite *jt_suite(void)
{
	Suite *s = suite_create("policy");
	const struct jt_case cases[] = {
		{ "parse_errors", test_policy_parse_errors, (int)ARRAY_SIZE(err_cases) },
		{ "parse_valid", test_policy_parse_valid },
		{ "load", test_policy_load },
		{ "deny_wins", test_policy_deny_wins },
		{ "subjects", test_policy_subjects },
		{ "names", test_policy_names },
		{ "reservations", test_policy_reservations },
		{ "topics", test_policy_topics },
	};

	jt_add_cases(s, cases, ARRAY_SIZE(cases), NULL, NULL, 0);
	return s;
}
