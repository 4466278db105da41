/* Smoke test: the broker starts, greets and routes one message. */
#include "jt.h"

START_TEST(test_smoke_pubsub)
{
	struct jt_conn *a = jt_client("a"), *b = jt_client("b");
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

	tcase_add_test(jt_tcase(s, "pubsub", jt_setup, jt_teardown, 0), test_smoke_pubsub);
	return s;
}
