#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "act.h"

#define NEAR(x, y) assert_true(fabs((double)(x) - (double)(y)) < 1e-6)

static void forward1(enum bp_act a, float z, float want)
{
	float v = z;
	bp_act_forward(a, &v, NULL, 1, 1);
	NEAR(v, want);
}

/* dL/dz for dL/dy = 1 at z, against a hand-computed derivative. */
static void backward1(enum bp_act a, float z, float want)
{
	float y = z, d = 1.0f;
	bp_act_forward(a, &y, NULL, 1, 1);
	bp_act_backward(a, &d, &y, 1, 1);
	NEAR(d, want);
}

static void test_forward_values(void **state)
{
	(void)state;
	forward1(BP_ACT_LINEAR, -3.5f, -3.5f);
	forward1(BP_ACT_RELU, -1.0f, 0.0f);
	forward1(BP_ACT_RELU, 2.0f, 2.0f);
	forward1(BP_ACT_LEAKY_RELU, -2.0f, -0.02f);
	forward1(BP_ACT_LEAKY_RELU, 3.0f, 3.0f);
	forward1(BP_ACT_ELU, -1.0f, -0.6321205588f);
	forward1(BP_ACT_ELU, 1.5f, 1.5f);
	forward1(BP_ACT_SIGMOID, 0.0f, 0.5f);
	forward1(BP_ACT_SIGMOID, 2.0f, 0.8807970780f);
	forward1(BP_ACT_SIGMOID, -2.0f, 0.1192029220f);
	forward1(BP_ACT_TANH, 1.0f, 0.7615941560f);
}

static void test_backward_values(void **state)
{
	(void)state;
	backward1(BP_ACT_LINEAR, -3.5f, 1.0f);
	backward1(BP_ACT_RELU, -1.0f, 0.0f);
	backward1(BP_ACT_RELU, 2.0f, 1.0f);
	backward1(BP_ACT_LEAKY_RELU, -2.0f, 0.01f);
	backward1(BP_ACT_ELU, -1.0f, 0.3678794412f);
	backward1(BP_ACT_ELU, 0.5f, 1.0f);
	backward1(BP_ACT_SIGMOID, 2.0f, 0.1049935854f);
	backward1(BP_ACT_TANH, 1.0f, 0.4199743416f);
}

static void test_bias_is_added_per_column(void **state)
{
	(void)state;
	float v[] = { 1, 2, 3, 4, 5, 6 };
	const float b[] = { 10, 20, 30 };
	bp_act_forward(BP_ACT_LINEAR, v, b, 2, 3);
	NEAR(v[0], 11); NEAR(v[2], 33); NEAR(v[3], 14); NEAR(v[5], 36);
	float r[] = { -1, 1 };
	const float rb[] = { 0.5f, -2 };
	bp_act_forward(BP_ACT_RELU, r, rb, 1, 2);
	NEAR(r[0], 0); NEAR(r[1], 0);
}

static void test_softmax(void **state)
{
	(void)state;
	float v[] = { 1, 2, 3, 0, 0, 0 };
	bp_act_forward(BP_ACT_SOFTMAX, v, NULL, 2, 3);
	NEAR(v[0], 0.0900305732f); NEAR(v[1], 0.2447284711f); NEAR(v[2], 0.6652409558f);
	NEAR(v[3], 1.0f / 3); NEAR(v[4], 1.0f / 3); NEAR(v[5], 1.0f / 3);
	/* dz = y ⊙ (dy − Σ dy·y) for dy = (1, 0, 0) */
	float d[] = { 1, 0, 0 };
	bp_act_backward(BP_ACT_SOFTMAX, d, v, 1, 3);
	NEAR(d[0], 0.0819250694f); NEAR(d[1], -0.0220330430f); NEAR(d[2], -0.0598920264f);
}

static void test_extreme_inputs_stay_finite(void **state)
{
	(void)state;
	float s[] = { 1e4f, -1e4f, 0.0f };
	bp_act_forward(BP_ACT_SOFTMAX, s, NULL, 1, 3);
	NEAR(s[0], 1); NEAR(s[1], 0); NEAR(s[2], 0);
	float g[] = { 1e4f, -1e4f };
	bp_act_forward(BP_ACT_SIGMOID, g, NULL, 1, 2);
	NEAR(g[0], 1); NEAR(g[1], 0);
	float e[] = { -1e4f };
	bp_act_forward(BP_ACT_ELU, e, NULL, 1, 1);
	NEAR(e[0], -1);
	float t[] = { 1e4f, -1e4f };
	bp_act_forward(BP_ACT_TANH, t, NULL, 1, 2);
	NEAR(t[0], 1); NEAR(t[1], -1);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(bp_act_names[BP_ACT_LEAKY_RELU], "leaky_relu");
	assert_string_equal(bp_act_names[BP_ACT_SOFTMAX], "softmax");
	assert_null(bp_act_names[BP_ACT_COUNT]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forward_values),
		cmocka_unit_test(test_backward_values),
		cmocka_unit_test(test_bias_is_added_per_column),
		cmocka_unit_test(test_softmax),
		cmocka_unit_test(test_extreme_inputs_stay_finite),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
