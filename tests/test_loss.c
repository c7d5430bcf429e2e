#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "loss.h"
#include "rng.h"

#define NEAR(x, y, tol) assert_true(fabs((double)(x) - (double)(y)) < (tol))

static void test_softmax_xent_values(void **state)
{
	(void)state;
	const float z[] = { 1, 2, 3, 0, 0, 0 };
	const int32_t cls[] = { 2, 0 };
	float dz[6];
	/* row 0: log(e+e²+e³) − 3 = 0.4076059644; row 1: log 3 */
	double l = bp_softmax_xent(dz, z, cls, 2, 3);
	NEAR(l, (0.4076059644 + log(3.0)) / 2, 1e-7);
	NEAR(dz[0], 0.0900305732 / 2, 1e-7);
	NEAR(dz[1], 0.2447284711 / 2, 1e-7);
	NEAR(dz[2], (0.6652409558 - 1) / 2, 1e-7);
	NEAR(dz[3], (1.0 / 3 - 1) / 2, 1e-7);
	NEAR(dz[4], 1.0 / 6, 1e-7);
}

static void test_softmax_xent_extreme_logits(void **state)
{
	(void)state;
	const float z[] = { 1e4f, -1e4f, -1e4f, 1e4f };
	const int32_t cls[] = { 1, 1 };
	float dz[4];
	double l = bp_softmax_xent(dz, z, cls, 2, 2);
	assert_true(isfinite(l));
	NEAR(l, 1e4, 1e-3);   /* (2e4 + 0) / 2 */
	NEAR(dz[0], 0.5, 1e-7);
	NEAR(dz[1], -0.5, 1e-7);
	NEAR(dz[2], 0, 1e-7);
	NEAR(dz[3], 0, 1e-7);
}

static void test_sigmoid_bce_values(void **state)
{
	(void)state;
	const float z[] = { 0, 1e4f, -1e4f, 2 };
	const float t[] = { 1, 0, 0, 1 };
	float dz[4];
	double l = bp_sigmoid_bce(dz, z, t, 2, 2);
	/* log 2, 1e4, 0, log(1 + e^−2) */
	assert_true(isfinite(l));
	NEAR(l, (log(2.0) + 1e4 + 0 + log1p(exp(-2.0))) / 4, 1e-4);
	NEAR(dz[0], -0.5 / 4, 1e-7);
	NEAR(dz[1], 1.0 / 4, 1e-7);
	NEAR(dz[2], 0, 1e-7);
	NEAR(dz[3], (0.8807970780 - 1) / 4, 1e-7);
}

static void test_mse_values(void **state)
{
	(void)state;
	const float y[] = { 1, 2 }, t[] = { 0, 4 };
	float dy[2];
	NEAR(bp_mse(dy, y, t, 1, 2), 2.5, 1e-12);
	NEAR(dy[0], 1, 1e-7);
	NEAR(dy[1], -2, 1e-7);
	NEAR(bp_mse(NULL, y, t, 2, 1), 2.5, 1e-12);
}

/* Each loss's gradient against central differences of the loss itself. */
static void test_loss_gradients_numerically(void **state)
{
	(void)state;
	struct bp_rng r;
	bp_rng_seed(&r, 11);
	enum { N = 3, K = 4 };
	float out[N * K], tgt[N * K], d[N * K];
	int32_t cls[N] = { 3, 0, 2 };
	for (int i = 0; i < N * K; i++) {
		out[i] = (float)(4 * bp_rng_uniform(&r) - 2);
		tgt[i] = (float)(bp_rng_uniform(&r) < 0.5);
	}
	struct bp_targets t = { cls, tgt };
	for (int loss = 0; loss < BP_LOSS_COUNT; loss++) {
		bp_loss_eval(loss, d, out, &t, N, K);
		for (int i = 0; i < N * K; i++) {
			float save = out[i];
			const float h = 1e-2f;
			out[i] = save + h;
			double hi = bp_loss_eval(loss, NULL, out, &t, N, K);
			out[i] = save - h;
			double lo = bp_loss_eval(loss, NULL, out, &t, N, K);
			out[i] = save;
			double num = (hi - lo) / (2 * (double)h);
			NEAR(d[i], num, 1e-4 + 1e-3 * fabs(num));
		}
	}
}

static void test_fused_acts(void **state)
{
	(void)state;
	assert_int_equal(bp_loss_fused_act(BP_LOSS_CROSS_ENTROPY), BP_ACT_SOFTMAX);
	assert_int_equal(bp_loss_fused_act(BP_LOSS_BINARY_CROSS_ENTROPY), BP_ACT_SIGMOID);
	assert_int_equal(bp_loss_fused_act(BP_LOSS_MSE), BP_ACT_LINEAR);
	assert_string_equal(bp_loss_names[BP_LOSS_BINARY_CROSS_ENTROPY], "binary_cross_entropy");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_softmax_xent_values),
		cmocka_unit_test(test_softmax_xent_extreme_logits),
		cmocka_unit_test(test_sigmoid_bce_values),
		cmocka_unit_test(test_mse_values),
		cmocka_unit_test(test_loss_gradients_numerically),
		cmocka_unit_test(test_fused_acts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
