#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "gradcheck.h"
#include "net.h"
#include "testutil.h"

enum { N = 4, IN = 5, OUT = 3, MAX_IN = 64 };

struct batch {
	float x[N * MAX_IN];
	float y[N * OUT];
	int32_t cls[N];
	struct bp_targets t;
};

static void make_batch(struct batch *b, enum bp_loss loss, struct bp_rng *r, int in)
{
	for (int i = 0; i < N * in; i++)
		b->x[i] = (float)bp_rng_normal(r);
	for (int i = 0; i < N * OUT; i++)
		b->y[i] = loss == BP_LOSS_MSE ? (float)bp_rng_normal(r) : (float)(bp_rng_uniform(r) < 0.5);
	for (int i = 0; i < N; i++)
		b->cls[i] = (int32_t)bp_rng_below(r, OUT);
	b->t = (struct bp_targets){ b->cls, b->y };
}

/* The worst error over all tensors of a freshly initialised net. */
static double check(struct bp_net *net, enum bp_loss loss, unsigned seed, int verbose, const char *label)
{
	assert_true(bp_net_in_width(net) <= MAX_IN);
	struct bp_rng r;
	bp_rng_seed(&r, seed);
	net->rng = &r;
	bp_net_init(net, BP_INIT_AUTO, &r);
	/* Zero biases put a relu unit whose inputs dropout removed exactly on
	 * its kink, where no derivative exists: check at a generic point. */
	for (size_t i = 0; i < net->nparam; i++)
		net->param[i] += (float)(0.1 * bp_rng_normal(&r));
	struct batch b;
	make_batch(&b, loss, &r, (int)bp_net_in_width(net));
	int nt = bp_net_ntensors(net);
	struct bp_gradcheck_result res[16];
	assert_true(nt <= 16);
	bp_gradcheck(net, b.x, &b.t, N, 1e-2, 0, res);
	double worst = 0;
	size_t checked = 0, skipped = 0;
	for (int j = 0; j < nt; j++) {
		assert_true(res[j].checked > 0);
		checked += res[j].checked;
		skipped += res[j].skipped;
		if (res[j].max_rel_err > worst)
			worst = res[j].max_rel_err;
		if (verbose)
			printf("%-40s %-14s max_rel_err %.2e\n", label, res[j].name, res[j].max_rel_err);
	}
	/* Kinks within the step are rare at a generic point. */
	if (skipped * 10 > checked + skipped)
		fail_msg("%s: %zu of %zu elements skipped", label, skipped, checked + skipped);
	return worst;
}

/* Every hidden activation × every output activation/loss pairing that the
 * net accepts, with dropout between the dense layers. */
static void test_every_combination_passes(void **state)
{
	(void)state;
	struct { enum bp_loss loss; const char *out_act; } outs[] = {
		{ BP_LOSS_CROSS_ENTROPY, "softmax" },
		{ BP_LOSS_BINARY_CROSS_ENTROPY, "sigmoid" },
		{ BP_LOSS_MSE, "linear" }, { BP_LOSS_MSE, "relu" }, { BP_LOSS_MSE, "leaky_relu" },
		{ BP_LOSS_MSE, "elu" }, { BP_LOSS_MSE, "sigmoid" }, { BP_LOSS_MSE, "tanh" },
	};
	double overall = 0;
	int combos = 0;
	for (int a = 0; a < BP_ACT_COUNT; a++)
		for (size_t o = 0; o < sizeof outs / sizeof outs[0]; o++) {
			char l1[64], l3[64], out[64], label[128];
			snprintf(l1, sizeof l1, "dense 6 %s", bp_act_names[a]);
			snprintf(l3, sizeof l3, "dense 4 %s", bp_act_names[a]);
			snprintf(out, sizeof out, "dense %d %s", OUT, outs[o].out_act);
			snprintf(label, sizeof label, "%s/%s+%s", bp_act_names[a], outs[o].out_act,
			         bp_loss_names[outs[o].loss]);
			struct bp_node *layers = tu_layers(l1, "dropout 0.3", l3, out, NULL);
			struct bp_err err = { 0 };
			struct bp_net *net = bp_net_new(layers, (struct bp_shape){ IN, 1, 1 }, outs[o].loss, N, &err);
			assert_non_null(net);
			double worst = check(net, outs[o].loss, 100 + (unsigned)combos, 0, label);
			if (worst >= 1e-3)
				check(net, outs[o].loss, 100 + (unsigned)combos, 1, label);
			assert_true(worst < 1e-3);
			if (worst > overall)
				overall = worst;
			combos++;
			bp_net_free(net);
			tu_free_layers(layers);
		}
	printf("gradcheck: %d combinations, worst max_rel_err %.2e\n", combos, overall);
	assert_int_equal(combos, BP_ACT_COUNT * 8);
}

/* Layers with a deliberately wrong backward, swapped in after building. */
static struct bp_layer_ops wrong_ops;

static void backward_forgets_activation(struct bp_layer *l, const float *x, const float *y, float *dy,
                                        float *dx, int n)
{
	bool fused = l->act_fused;
	l->act_fused = true;   /* skips the activation's derivative */
	bp_layer_dense.backward(l, x, y, dy, dx, n);
	l->act_fused = fused;
}

static void backward_bias_twice(struct bp_layer *l, const float *x, const float *y, float *dy,
                                float *dx, int n)
{
	bp_layer_dense.backward(l, x, y, dy, dx, n);
	int in = (int)bp_shape_size(l->in), out = (int)bp_shape_size(l->out);
	float *db = l->grad + (size_t)in * out;
	for (int j = 0; j < out; j++)
		db[j] *= 2;
}

static void backward_dx_scaled(struct bp_layer *l, const float *x, const float *y, float *dy,
                               float *dx, int n)
{
	bp_layer_dense.backward(l, x, y, dy, dx, n);
	for (size_t i = 0; dx && i < bp_shape_size(l->in) * (size_t)n; i++)
		dx[i] *= 0.9f;
}

static void test_wrong_backward_is_caught(void **state)
{
	(void)state;
	void (*wrong[])(struct bp_layer *, const float *, const float *, float *, float *, int) = {
		backward_forgets_activation, backward_bias_twice, backward_dx_scaled,
	};
	for (size_t w = 0; w < sizeof wrong / sizeof wrong[0]; w++) {
		struct bp_node *layers = tu_layers("dense 6 tanh", "dense 4 sigmoid", "dense 3 softmax", NULL);
		struct bp_err err = { 0 };
		struct bp_net *net = bp_net_new(layers, (struct bp_shape){ IN, 1, 1 }, BP_LOSS_CROSS_ENTROPY, N, &err);
		assert_non_null(net);
		assert_true(check(net, BP_LOSS_CROSS_ENTROPY, 7, 0, "correct") < 1e-3);
		wrong_ops = bp_layer_dense;
		wrong_ops.backward = wrong[w];
		net->layers[1].ops = &wrong_ops;
		double worst = check(net, BP_LOSS_CROSS_ENTROPY, 7, 0, "wrong");
		printf("wrong backward %zu: worst max_rel_err %.2e\n", w, worst);
		assert_true(worst > 1e-2);
		bp_net_free(net);
		tu_free_layers(layers);
	}
}

/* batch_norm in training mode, × every activation: on flat features
 * between dense layers and dropout, and per channel on a (3,4,5) input,
 * where a second batch_norm's dx reaches the first one's gamma and beta.
 * And the usual block, a linear layer then batch_norm, whose bias has
 * an exactly zero gradient (measured against the gradcheck's floor).
 * The bound is looser than for dense nets (1e-2, seen up to 5e-3 over
 * many seeds): a tensor whose effect a following batch_norm mostly
 * normalises away has gradients near the float noise of the loss, and a
 * per-channel beta moves all 80 of its channel's values at once, so the
 * step crosses relu kinks too slight for the kink test. The wrong
 * backwards below err by 9e-2 and more. */
static void test_batch_norm_passes(void **state)
{
	(void)state;
	double overall = 0;
	int combos = 0;
	for (int a = 0; a < BP_ACT_COUNT; a++)
		for (int kind = 0; kind < 3; kind++) {
			static const char *const kinds[] = { "flat", "(3,4,5)", "linear block" };
			char bn[64], label[128];
			snprintf(bn, sizeof bn, "batch_norm %s", bp_act_names[a]);
			snprintf(label, sizeof label, "batch_norm %s %s", bp_act_names[a], kinds[kind]);
			struct bp_node *layers =
				kind == 0 ? tu_layers("dense 6 tanh", bn, "dropout 0.3", "dense 4 sigmoid", bn, "dense 3 softmax", NULL)
				: kind == 1 ? tu_layers("batch_norm tanh", bn, "dropout 0.2", "dense 6 tanh", bn, "dense 3 softmax",
				                        NULL)
				: tu_layers("dense 6 linear", bn, "dense 3 softmax", NULL);
			struct bp_shape in = kind == 1 ? (struct bp_shape){ 3, 4, 5 } : (struct bp_shape){ IN, 1, 1 };
			struct bp_err err = { 0 };
			struct bp_net *net = bp_net_new(layers, in, BP_LOSS_CROSS_ENTROPY, N, &err);
			assert_non_null(net);
			assert_int_equal(bp_net_nstate_tensors(net), kind == 1 ? 6 : kind == 0 ? 4 : 2);
			double worst = check(net, BP_LOSS_CROSS_ENTROPY, 300 + (unsigned)combos, 0, label);
			if (worst >= 1e-2)
				check(net, BP_LOSS_CROSS_ENTROPY, 300 + (unsigned)combos, 1, label);
			assert_true(worst < 1e-2);
			if (worst > overall)
				overall = worst;
			combos++;
			bp_net_free(net);
			tu_free_layers(layers);
		}
	printf("gradcheck batch_norm: %d combinations, worst max_rel_err %.2e\n", combos, overall);
}

/* Wrong batch_norm backwards, swapped in after building. */
static void bn_backward_forgets_activation(struct bp_layer *l, const float *x, const float *y, float *dy,
                                           float *dx, int n)
{
	bool fused = l->act_fused;
	l->act_fused = true;
	bp_layer_batch_norm.backward(l, x, y, dy, dx, n);
	l->act_fused = fused;
}

static void bn_backward_gamma_scaled(struct bp_layer *l, const float *x, const float *y, float *dy,
                                     float *dx, int n)
{
	bp_layer_batch_norm.backward(l, x, y, dy, dx, n);
	for (int j = 0; j < l->in.c; j++)
		l->grad[j] *= 1.1f;
}

/* The per-sample gradient gamma·istd·dL/dz, as if mean and variance were
 * constants: the batch's terms forgotten (flat input). */
static void bn_backward_per_sample(struct bp_layer *l, const float *x, const float *y, float *dy,
                                   float *dx, int n)
{
	bp_layer_batch_norm.backward(l, x, y, dy, dx, n);   /* leaves dL/dz in dy */
	int c = l->in.c;
	for (int j = 0; dx && j < c; j++) {
		double m = 0, v = 0;
		for (int i = 0; i < n; i++)
			m += x[i * c + j];
		m /= n;
		for (int i = 0; i < n; i++)
			v += (x[i * c + j] - m) * (x[i * c + j] - m);
		double istd = 1.0 / sqrt(v / n + 1e-3);
		for (int i = 0; i < n; i++)
			dx[i * c + j] = (float)(l->param[j] * istd * dy[i * c + j]);
	}
}

static void test_wrong_batch_norm_backward_is_caught(void **state)
{
	(void)state;
	void (*wrong[])(struct bp_layer *, const float *, const float *, float *, float *, int) = {
		bn_backward_forgets_activation, bn_backward_gamma_scaled, bn_backward_per_sample,
	};
	for (size_t w = 0; w < sizeof wrong / sizeof wrong[0]; w++) {
		struct bp_node *layers = tu_layers("dense 6 tanh", "batch_norm tanh", "dense 3 softmax", NULL);
		struct bp_err err = { 0 };
		struct bp_net *net = bp_net_new(layers, (struct bp_shape){ IN, 1, 1 }, BP_LOSS_CROSS_ENTROPY, N, &err);
		assert_non_null(net);
		assert_true(check(net, BP_LOSS_CROSS_ENTROPY, 9, 0, "correct") < 1e-3);
		wrong_ops = bp_layer_batch_norm;
		wrong_ops.backward = wrong[w];
		net->layers[1].ops = &wrong_ops;
		double worst = check(net, BP_LOSS_CROSS_ENTROPY, 9, 0, "wrong");
		printf("wrong batch_norm backward %zu: worst max_rel_err %.2e\n", w, worst);
		assert_true(worst > 1e-2);
		bp_net_free(net);
		tu_free_layers(layers);
	}
}

static void test_sampled_elements_and_restore(void **state)
{
	(void)state;
	struct bp_node *layers = tu_layers("dense 40 relu", "dense 3 softmax", NULL);
	struct bp_err err = { 0 };
	struct bp_net *net = bp_net_new(layers, (struct bp_shape){ IN, 1, 1 }, BP_LOSS_CROSS_ENTROPY, N, &err);
	assert_non_null(net);
	struct bp_rng r;
	bp_rng_seed(&r, 5);
	net->rng = &r;
	bp_net_init(net, BP_INIT_AUTO, &r);
	float *before = malloc(net->nparam * sizeof(float));
	for (size_t i = 0; i < net->nparam; i++)
		before[i] = net->param[i];
	struct batch b;
	make_batch(&b, BP_LOSS_CROSS_ENTROPY, &r, IN);
	struct bp_gradcheck_result res[4];
	bp_gradcheck(net, b.x, &b.t, N, 1e-3, 50, res);
	assert_string_equal(res[0].name, "layers.0.W");
	assert_string_equal(res[3].name, "layers.1.b");
	assert_true(res[0].checked <= 50 && res[0].checked >= 40);   /* 200 weights, every 4th */
	assert_int_equal(res[3].checked, 3);
	for (size_t i = 0; i < net->nparam; i++)
		assert_true(net->param[i] == before[i]);
	free(before);
	bp_net_free(net);
	tu_free_layers(layers);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_combination_passes),
		cmocka_unit_test(test_wrong_backward_is_caught),
		cmocka_unit_test(test_sampled_elements_and_restore),
		cmocka_unit_test(test_batch_norm_passes),
		cmocka_unit_test(test_wrong_batch_norm_backward_is_caught),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
