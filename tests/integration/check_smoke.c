/* Smoke test: the broker starts, greets and routes one message. */
#include "jt.h"

START_TEST(test_smoke_pubsub)
{
	struct jt_conn *a = jt_hello(jt_b.path, "a"), *b = jt_hello(jt_b.path, "b");
	json_object *o;

	jt_send(b, "{\"op\":\"sub\",\"topic\":\"t\",\"id\":1}");
	json_object_put(jt_expect(b, "ok"));
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"t\",\"data\":42,\"id\":2}");
	o = jt_expect(a, "ok");
	ck_assert_int_eq(jt_int(o, "delivered"), 1);
	json_object_put(o);
	o = jt_expect(b, "msg");
	ck_assert_str_eq(jt_str(o, "from"), "a");
	ck_assert_int_eq(jt_int(o, "data"), 42);
	json_object_put(o);
	jt_close(a);
	jt_close(b);
}
END_TEST

Suite *jt_suite(void)
{
	Suite *s = suite_create("smoke");
	TCase *tc = tcase_create("pubsub");

	tcase_add_checked_fixture(tc, jt_setup, jt_teardown);
	tcase_add_test(tc, test_smoke_pubsub);
	suite_add_tcase(s, tc);
	return s;
}
