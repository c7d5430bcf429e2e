#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "schedule.h"

/* The expected rates are worked out by hand from SPEC's formulas (cosines
 * of multiples of π/10 from their closed forms, e.g. cos(π/5) = (1+√5)/4). */

#define assert_lr(s, base, epoch, total, want) assert_lr_at((s), (base), (epoch), (total), (want), __LINE__)
static void assert_lr_at(const struct bp_sched_cfg *s, double base, int epoch, int total, double want,
                         int line)
{
	double got = bp_sched_lr(s, base, epoch, total);
	if (!(fabs(got - want) <= 1e-12 * fabs(want) + 1e-15))
		fail_msg("line %d: %s epoch %d/%d: lr %.17g, want %.17g", line, bp_sched_names[s->type],
		         epoch, total, got, want);
}

static void test_constant(void **state)
{
	(void)state;
	const struct bp_sched_cfg s = { .type = BP_SCHED_CONSTANT };
	for (int e = 1; e <= 30; e++)
		assert_true(bp_sched_lr(&s, 0.001, e, 20) == 0.001);   /* exactly the base rate */
}

static void test_step(void **state)
{
	(void)state;
	const struct bp_sched_cfg s = { .type = BP_SCHED_STEP, .step_size = 3, .gamma = 0.5 };
	static const double want[] = { 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125 };
	for (int e = 1; e <= 10; e++)
		assert_lr(&s, 0.1, e, 10, want[e - 1]);
	const struct bp_sched_cfg every = { .type = BP_SCHED_STEP, .step_size = 1, .gamma = 0.1 };
	assert_lr(&every, 1.0, 1, 5, 1.0);
	assert_lr(&every, 1.0, 2, 5, 0.1);
	assert_lr(&every, 1.0, 4, 5, 1e-3);
}

static void test_exponential(void **state)
{
	(void)state;
	const struct bp_sched_cfg s = { .type = BP_SCHED_EXPONENTIAL, .gamma = 0.9 };
	assert_lr(&s, 0.1, 1, 10, 0.1);
	assert_lr(&s, 0.1, 2, 10, 0.09);
	assert_lr(&s, 0.1, 3, 10, 0.081);
	assert_lr(&s, 0.1, 5, 10, 0.06561);
	assert_lr(&s, 0.1, 11, 10, 0.1 * 0.3486784401);      /* 0.9^10 */
}

static void test_cosine(void **state)
{
	(void)state;
	const struct bp_sched_cfg s = { .type = BP_SCHED_COSINE, .min_lr = 0.001 };
	const double c1 = (1 + sqrt(5)) / 4;                     /* cos(π/5) */
	assert_lr(&s, 0.1, 1, 10, 0.1);                          /* cos 0 = 1: the base rate */
	assert_lr(&s, 0.1, 3, 10, 0.001 + 0.099 * (1 + c1) / 2);
	assert_lr(&s, 0.1, 6, 10, 0.0505);                       /* halfway: the mean */
	assert_lr(&s, 0.1, 7, 10, 0.001 + 0.099 * (1 - (sqrt(5) - 1) / 4) / 2);   /* cos(3π/5) */
	assert_lr(&s, 0.1, 10, 10, 0.001 + 0.099 * (1 - sqrt((5 + sqrt(5)) / 8)) / 2);  /* cos(9π/10) */
	assert_lr(&s, 0.1, 11, 10, 0.001);                       /* e − 1 = E: the floor */
	/* decreasing over the run, never below min_lr */
	for (int e = 2; e <= 10; e++) {
		assert_true(bp_sched_lr(&s, 0.1, e, 10) < bp_sched_lr(&s, 0.1, e - 1, 10));
		assert_true(bp_sched_lr(&s, 0.1, e, 10) > 0.001);
	}
	const struct bp_sched_cfg zero = { .type = BP_SCHED_COSINE };
	assert_lr(&zero, 0.2, 2, 4, 0.1 * (1 + sqrt(0.5)));     /* cos(π/4) */
	assert_lr(&zero, 0.2, 3, 4, 0.1);
	assert_lr(&zero, 0.2, 1, 1, 0.2);                        /* a one-epoch run */
}

static void test_warmup(void **state)
{
	(void)state;
	/* constant, W = 3: e/4 for e = 1..3, then the base */
	const struct bp_sched_cfg c = { .type = BP_SCHED_CONSTANT, .warmup_epochs = 3 };
	assert_lr(&c, 0.1, 1, 10, 0.025);
	assert_lr(&c, 0.1, 2, 10, 0.05);
	assert_lr(&c, 0.1, 3, 10, 0.075);
	assert_lr(&c, 0.1, 4, 10, 0.1);
	assert_lr(&c, 0.1, 10, 10, 0.1);

	/* multiplies the schedule's own value at the same e */
	const struct bp_sched_cfg st = { .type = BP_SCHED_STEP, .step_size = 2, .gamma = 0.5, .warmup_epochs = 2 };
	assert_lr(&st, 0.3, 1, 10, 0.3 / 3);
	assert_lr(&st, 0.3, 2, 10, 0.3 * 2 / 3);
	assert_lr(&st, 0.3, 3, 10, 0.15);
	assert_lr(&st, 0.3, 4, 10, 0.15);
	assert_lr(&st, 0.3, 5, 10, 0.075);

	const struct bp_sched_cfg ex = { .type = BP_SCHED_EXPONENTIAL, .gamma = 0.5, .warmup_epochs = 1 };
	assert_lr(&ex, 0.1, 1, 10, 0.05);
	assert_lr(&ex, 0.1, 2, 10, 0.05);
	assert_lr(&ex, 0.1, 3, 10, 0.025);

	const struct bp_sched_cfg co = { .type = BP_SCHED_COSINE, .min_lr = 0.0, .warmup_epochs = 4 };
	assert_lr(&co, 0.2, 1, 4, 0.2 / 5);
	assert_lr(&co, 0.2, 2, 4, 0.1 * (1 + sqrt(0.5)) * 2 / 5);
	assert_lr(&co, 0.2, 3, 4, 0.1 * 3 / 5);
	assert_lr(&co, 0.2, 4, 4, 0.1 * (1 - sqrt(0.5)) * 4 / 5);
}

static void test_names_and_check(void **state)
{
	(void)state;
	static const char *const yaml[] = { "constant", "step", "exponential", "cosine" };
	for (int t = 0; t < 4; t++) {
		assert_string_equal(bp_sched_names[t], yaml[t]);
		assert_int_equal(bp_sched_type_from_name(yaml[t]), t);
	}
	assert_null(bp_sched_names[4]);
	assert_int_equal(bp_sched_type_from_name("linear"), -1);
	assert_int_equal(bp_sched_type_from_name(NULL), -1);

	static const struct { struct bp_sched_cfg s; const char *word; } bad[] = {
		{ { .type = BP_SCHED_STEP, .step_size = 0, .gamma = 0.5 }, "step_size" },
		{ { .type = BP_SCHED_STEP, .step_size = 2, .gamma = 0 }, "gamma" },
		{ { .type = BP_SCHED_EXPONENTIAL, .gamma = -0.5 }, "gamma" },
		{ { .type = BP_SCHED_COSINE, .min_lr = -1 }, "min_lr" },
		{ { .type = BP_SCHED_CONSTANT, .warmup_epochs = -1 }, "warmup_epochs" },
		{ { .type = (enum bp_sched_type)9 }, "type" },
	};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		struct bp_err err = { 0 };
		assert_int_equal(bp_sched_check(&bad[k].s, &err), -1);
		assert_int_equal(err.kind, BP_ERR_CONFIG);
		assert_non_null(strstr(err.msg, bad[k].word));
	}
	/* Fields a type does not use are not checked. */
	const struct bp_sched_cfg ok = { .type = BP_SCHED_CONSTANT, .gamma = -3, .step_size = 0 };
	assert_int_equal(bp_sched_check(&ok, NULL), 0);
	const struct bp_sched_cfg ok2 = { .type = BP_SCHED_COSINE, .min_lr = 0 };
	assert_int_equal(bp_sched_check(&ok2, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_constant),
		cmocka_unit_test(test_step),
		cmocka_unit_test(test_exponential),
		cmocka_unit_test(test_cosine),
		cmocka_unit_test(test_warmup),
		cmocka_unit_test(test_names_and_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
