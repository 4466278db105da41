/*
 * Unit tests of the event loop's timers (broker/loop.h): the heap fires
 * timers in deadline order, ties in arming order, re-arming and cancelling
 * anywhere in the heap keep it consistent, and a timer may re-arm or cancel
 * others from its own callback. Deadlines are set relative to loop_now(),
 * so the tests only wait for timers that are already due (0 ms).
 */
#include <stdlib.h>

#include "jt.h"
#include "loop.h"
#include "util.h"

#define NT 2000

struct tt {
	struct timer t;
	int id;
};

static struct loop *l;
static struct tt ts[NT];
static int fired[NT * 2];
static int nfired;

static void on_fire(struct timer *t)
{
	fired[nfired++] = container_of(t, struct tt, t)->id;
}

static void setup(void)
{
	ck_assert_int_eq(loop_new(&l), 0);
	nfired = 0;
	for (int i = 0; i < NT; i++) {
		timer_init(&ts[i].t, on_fire);
		ts[i].id = i;
	}
}

static void teardown(void)
{
	l = loop_free(l);
}

/* Runs iterations until every armed timer fired (all are due: 0 ms). */
static void run_due(void)
{
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(loop_run_once(l, 0), 0);
}

START_TEST(test_loop_ties_fire_in_arming_order)
{
	for (int i = 0; i < NT; i++)
		loop_timer_arm(l, &ts[i].t, 0);
	run_due();
	ck_assert_int_eq(nfired, NT);
	for (int i = 0; i < NT; i++)
		ck_assert_int_eq(fired[i], i);
	for (int i = 0; i < NT; i++)
		ck_assert(!timer_armed(&ts[i].t));
}
END_TEST

START_TEST(test_loop_deadline_order)
{
	/* arm with shuffled long deadlines, then re-arm all as due in a
	 * known order: the heap must give exactly that order back */
	unsigned seed = 7;
	for (int i = 0; i < NT; i++)
		loop_timer_arm(l, &ts[i].t, 1000000 + (rand_r(&seed) % 5000));
	ck_assert_int_eq(loop_run_once(l, 0), 0);
	ck_assert_int_eq(nfired, 0);
	for (int i = NT - 1; i >= 0; i--)
		loop_timer_arm(l, &ts[i].t, 0);
	run_due();
	ck_assert_int_eq(nfired, NT);
	for (int i = 0; i < NT; i++)
		ck_assert_int_eq(fired[i], NT - 1 - i);
}
END_TEST

START_TEST(test_loop_cancel_anywhere)
{
	unsigned seed = 11;
	int expect = 0;

	for (int i = 0; i < NT; i++)
		loop_timer_arm(l, &ts[i].t, rand_r(&seed) % 2 ? 0 : 1000000);
	/* cancel every third, whatever its place in the heap; twice is harmless */
	for (int i = 0; i < NT; i += 3) {
		loop_timer_cancel(&ts[i].t);
		loop_timer_cancel(&ts[i].t);
		ck_assert(!timer_armed(&ts[i].t));
	}
	for (int i = 0; i < NT; i++)
		if (i % 3 && ts[i].t.deadline <= loop_now(l))
			expect++;
	run_due();
	ck_assert_int_eq(nfired, expect);
	for (int i = 1; i < nfired; i++)
		ck_assert_int_lt(fired[i - 1], fired[i]); /* ties: arming order */
	for (int i = 0; i < nfired; i++)
		ck_assert_int_ne(fired[i] % 3, 0);
}
END_TEST

/* Re-arms itself once and cancels the next timer from inside its callback. */
static void on_fire_meddle(struct timer *t)
{
	struct tt *x = container_of(t, struct tt, t);

	on_fire(t);
	if (x->id + 1 < NT)
		loop_timer_cancel(&ts[x->id + 1].t);
	if (nfired < 3)
		loop_timer_arm(l, t, 0);
}

START_TEST(test_loop_callback_rearms_and_cancels)
{
	timer_init(&ts[0].t, on_fire_meddle);
	loop_timer_arm(l, &ts[0].t, 0);
	loop_timer_arm(l, &ts[1].t, 0);
	loop_timer_arm(l, &ts[2].t, 0);
	run_due();
	/* 0 fires, cancels 1 and re-arms behind 2; 2 fires; 0 fires again and stops */
	ck_assert_int_eq(nfired, 3);
	ck_assert_int_eq(fired[0], 0);
	ck_assert_int_eq(fired[1], 2);
	ck_assert_int_eq(fired[2], 0);
	ck_assert(!timer_armed(&ts[1].t));
}
END_TEST

START_TEST(test_loop_far_timer_bounds_nothing)
{
	/* a due timer fires even with a far one armed; the far one stays */
	loop_timer_arm(l, &ts[0].t, 86400000ULL * 365);
	loop_timer_arm(l, &ts[1].t, 0);
	run_due();
	ck_assert_int_eq(nfired, 1);
	ck_assert_int_eq(fired[0], 1);
	ck_assert(timer_armed(&ts[0].t));
}
END_TEST

Suite *jt_suite(void)
{
	Suite *s = suite_create("loop");
	const struct jt_case cases[] = {
		{ "ties_fire_in_arming_order", test_loop_ties_fire_in_arming_order },
		{ "deadline_order", test_loop_deadline_order },
		{ "cancel_anywhere", test_loop_cancel_anywhere },
		{ "callback_rearms_and_cancels", test_loop_callback_rearms_and_cancels },
		{ "far_timer_bounds_nothing", test_loop_far_timer_bounds_nothing },
	};

	jt_add_cases(s, cases, ARRAY_SIZE(cases), setup, teardown, 60);
	return s;
}
