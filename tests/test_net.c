#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "testutil.h"

static struct bp_net *build(struct bp_node *layers, int in, enum bp_loss loss, int batch, struct bp_err *err)
{
	return bp_net_new(layers, (struct bp_shape){ in, 1, 1 }, loss, batch, err);
}

static void test_shapes_and_tensors(void **state)
{
	(void)state;
	struct bp_node *layers = tu_layers("dense 64 relu", "dropout 0.2", "dense 10 softmax", NULL);
	struct bp_err err = { 0 };
	struct bp_net *net = bp_net_new(layers, (struct bp_shape){ 1, 28, 28 }, BP_LOSS_CROSS_ENTROPY, 32, &err);
	assert_non_null(net);
	assert_int_equal(net->nlayers, 3);
	assert_int_equal(net->nparam, 784 * 64 + 64 + 64 * 10 + 10);
	assert_int_equal(bp_net_in_width(net), 784);
	assert_int_equal(bp_net_out_width(net), 10);
	assert_int_equal(bp_net_ntensors(net), 4);
	struct bp_tensor_desc d;
	char name[64];
	bp_net_tensor(net, 2, &d, name, sizeof name);
	assert_string_equal(name, "layers.2.W");
	assert_int_equal(d.offset, 784 * 64 + 64);
	assert_int_equal(d.dims[0], 64);
	assert_int_equal(d.dims[1], 10);
	assert_true(net->layers[2].act_fused);
	assert_false(net->layers[0].act_fused);
	/* The spec now shows the defaults that configure filled in. */
	struct bp_node *act = bp_node_get(bp_node_at(layers, 1), "rate");
	assert_string_equal(act->value, "0.2");
	bp_net_free(net);
	tu_free_layers(layers);
}

static void test_config_errors(void **state)
{
	(void)state;
	struct {
		const char *l1, *l2;
		enum bp_loss loss;
		const char *msg;
		const char *where;
	} cases[] = {
		{ "dense 4 relu", "dense 3 relu", BP_LOSS_CROSS_ENTROPY, "needs a dense output layer with activation 'softmax'", "test.yaml:5:5" },
		{ "dense 4 relu", "dense 3 softmax", BP_LOSS_MSE, "softmax activation, which does not fit loss 'mse'", "test.yaml:5:5" },
		{ "dense 4 relu", "dense 1 tanh", BP_LOSS_BINARY_CROSS_ENTROPY, "activation 'sigmoid'", "test.yaml:5:5" },
		{ "dense 4 relu", "dropout 0.5", BP_LOSS_MSE, NULL, NULL },
		{ "dense 4 rleu", "dense 3 softmax", BP_LOSS_CROSS_ENTROPY, "did you mean 'relu'", "test.yaml:4:5" },
		{ "dense 0 relu", "dense 3 softmax", BP_LOSS_CROSS_ENTROPY, "'model.layers.0.units' must be between 1", "test.yaml:4:5" },
		{ "dense x relu", "dense 3 softmax", BP_LOSS_CROSS_ENTROPY, "must be an integer, got 'x'", "test.yaml:4:5" },
		{ "dropout 1.5", "dense 3 softmax", BP_LOSS_CROSS_ENTROPY, "'model.layers.0.rate' must be between 0 and 0.99", "test.yaml:4:5" },
		{ "dens 4", "dense 3 softmax", BP_LOSS_CROSS_ENTROPY, "did you mean 'dense'", "test.yaml:4:5" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct bp_node *layers = tu_layers(cases[i].l1, cases[i].l2, NULL);
		struct bp_err err = { 0 };
		struct bp_net *net = build(layers, 5, cases[i].loss, 4, &err);
		if (!cases[i].msg) {
			assert_non_null(net);
		} else {
			assert_null(net);
			assert_int_equal(err.kind, BP_ERR_CONFIG);
			if (!strstr(err.msg, cases[i].msg))
				fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].msg);
			assert_string_equal(err.where, cases[i].where);
		}
		bp_net_free(net);
		tu_free_layers(layers);
	}
	struct bp_node *layers = tu_layers("dense 4 relu", NULL);
	struct bp_node *bad = bp_node_new(BP_NODE_SCALAR, "test.yaml", 9, 3);
	bp_node_set_key(bad, "unitz");
	bp_node_set_value(bad, "3");
	bp_node_append(bp_node_at(layers, 0), bad);
	struct bp_err err = { 0 };
	assert_null(build(layers, 5, BP_LOSS_MSE, 4, &err));
	assert_non_null(strstr(err.msg, "unknown key 'model.layers.0.unitz' (did you mean 'units'?)"));
	assert_string_equal(err.where, "test.yaml:9:3");
	tu_free_layers(layers);
}

static void test_huge_layer_is_a_memory_error(void **state)
{
	(void)state;
	struct bp_node *layers = tu_layers("dense 2000000000 relu", "dense 3 softmax", NULL);
	struct bp_err err = { 0 };
	assert_null(build(layers, 784, BP_LOSS_CROSS_ENTROPY, 32, &err));
	assert_int_equal(err.kind, BP_ERR_RUNTIME);
	assert_non_null(strstr(err.msg, "out of memory"));
	tu_free_layers(layers);
}

static void test_dropout_train_and_eval(void **state)
{
	(void)state;
	enum { N = 50, W = 40 };
	struct bp_node *layers = tu_layers("dropout 0.25", "dense 2 linear", NULL);
	struct bp_err err = { 0 };
	struct bp_net *net = build(layers, W, BP_LOSS_MSE, N, &err);
	assert_non_null(net);
	struct bp_rng r;
	bp_rng_seed(&r, 9);
	net->rng = &r;
	float *x = malloc(sizeof(float) * N * W);
	for (int i = 0; i < N * W; i++)
		x[i] = 1.0f;
	bp_net_forward(net, x, N, false);
	for (int i = 0; i < N * W; i++)
		assert_true(net->act[1][i] == 1.0f);
	bp_net_forward(net, x, N, true);
	int zeros = 0;
	for (int i = 0; i < N * W; i++) {
		float v = net->act[1][i];
		assert_true(v == 0.0f || fabsf(v - 1.0f / 0.75f) < 1e-6f);
		zeros += v == 0.0f;
	}
	assert_in_range(zeros, 400, 600);   /* 25% of 2000 */
	free(x);
	bp_net_free(net);
	tu_free_layers(layers);
}

static void test_proba_rows_sum_to_one(void **state)
{
	(void)state;
	struct bp_node *layers = tu_layers("dense 8 tanh", "dense 5 softmax", NULL);
	struct bp_err err = { 0 };
	struct bp_net *net = build(layers, 3, BP_LOSS_CROSS_ENTROPY, 4, &err);
	struct bp_rng r;
	bp_rng_seed(&r, 2);
	bp_net_init(net, BP_INIT_AUTO, &r);
	const float x[12] = { 1, 2, 3, -1, 0, 1, 5, 5, 5, 0, 0, 0 };
	bp_net_forward(net, x, 4, false);
	const float *p = bp_net_proba(net, 4);
	for (int i = 0; i < 4; i++) {
		double s = 0;
		for (int j = 0; j < 5; j++) {
			assert_true(p[i * 5 + j] > 0);
			s += p[i * 5 + j];
		}
		assert_true(fabs(s - 1) < 1e-5);
	}
	bp_net_free(net);
	tu_free_layers(layers);
}

/* Plain SGD on the flat arrays learns a 2-D two-class problem (XOR). */
static void test_sgd_learns_xor(void **state)
{
	(void)state;
	struct bp_node *layers = tu_layers("dense 16 tanh", "dense 2 softmax", NULL);
	struct bp_err err = { 0 };
	struct bp_net *net = build(layers, 2, BP_LOSS_CROSS_ENTROPY, 4, &err);
	assert_non_null(net);
	struct bp_rng r;
	bp_rng_seed(&r, 4);
	net->rng = &r;
	bp_net_init(net, BP_INIT_AUTO, &r);
	const float x[8] = { 0, 0, 0, 1, 1, 0, 1, 1 };
	const int32_t cls[4] = { 0, 1, 1, 0 };
	struct bp_targets t = { cls, NULL };
	double first = 0, loss = 0;
	for (int step = 0; step < 2000; step++) {
		bp_net_zero_grad(net);
		bp_net_forward(net, x, 4, true);
		loss = bp_net_loss(net, &t, 4);
		if (step == 0)
			first = loss;
		bp_net_backward(net, 4);
		for (size_t i = 0; i < net->nparam; i++)
			net->param[i] -= 0.5f * net->grad[i];
	}
	assert_true(first > 0.5);
	assert_true(loss < 0.05);
	bp_net_forward(net, x, 4, false);
	const float *p = bp_net_proba(net, 4);
	for (int i = 0; i < 4; i++)
		assert_true(p[i * 2 + cls[i]] > 0.9f);
	bp_net_free(net);
	tu_free_layers(layers);
}

static void test_same_seed_same_bits(void **state)
{
	(void)state;
	float out[2][30];
	for (int run = 0; run < 2; run++) {
		struct bp_node *layers = tu_layers("dense 7 elu", "dropout 0.5", "dense 3 softmax", NULL);
		struct bp_err err = { 0 };
		struct bp_net *net = build(layers, 4, BP_LOSS_CROSS_ENTROPY, 10, &err);
		struct bp_rng r;
		bp_rng_seed(&r, 77);
		net->rng = &r;
		bp_net_init(net, BP_INIT_AUTO, &r);
		float x[40];
		for (int i = 0; i < 40; i++)
			x[i] = (float)bp_rng_normal(&r);
		bp_net_forward(net, x, 10, true);
		memcpy(out[run], bp_net_output(net), sizeof out[run]);
		bp_net_free(net);
		tu_free_layers(layers);
	}
	assert_memory_equal(out[0], out[1], sizeof out[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shapes_and_tensors),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_huge_layer_is_a_memory_error),
		cmocka_unit_test(test_dropout_train_and_eval),
		cmocka_unit_test(test_proba_rows_sum_to_one),
		cmocka_unit_test(test_sgd_learns_xor),
		cmocka_unit_test(test_same_seed_same_bits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
