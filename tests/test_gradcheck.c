#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "net.h"
#include "testutil.h"
#include "yaml_load.h"

enum { N = 4, IN = 5, OUT = 3 };

struct batch {
	float *x;   /* N × the net's input width */
	float y[N * OUT];
	int32_t cls[N];
	struct bp_targets t;
};

static void make_batch(struct batch *b, size_t in, enum bp_loss loss, struct bp_rng *r)
{
	b->x = malloc((size_t)N * in * sizeof *b->x);
	assert_non_null(b->x);
	for (size_t i = 0; i < (size_t)N * in; i++)
		b->x[i] = (float)bp_rng_normal(r);
	for (int i = 0; i < N * OUT; i++)
		b->y[i] = loss == BP_LOSS_MSE ? (float)bp_rng_normal(r) : (float)(bp_rng_uniform(r) < 0.5);
	for (int i = 0; i < N; i++)
		b->cls[i] = (int32_t)bp_rng_below(r, OUT);
	b->t = (struct bp_targets){ b->cls, b->y };
}

/* The worst error over all tensors of a freshly initialised net; at most
 * 1/max_skip of the elements may sit next to a kink. */
static double check_kinks(struct bp_net *net, enum bp_loss loss, unsigned seed, int verbose, const char *label,
                          size_t max_skip)
{
	struct bp_rng r;
	bp_rng_seed(&r, seed);
	net->rng = &r;
	bp_net_init(net, BP_INIT_AUTO, &r);
	/* Zero biases put a relu unit whose inputs dropout removed exactly on
	 * its kink, where no derivative exists: check at a generic point. */
	for (size_t i = 0; i < net->nparam; i++)
		net->param[i] += (float)(0.1 * bp_rng_normal(&r));
	struct batch b;
	make_batch(&b, bp_net_in_width(net), loss, &r);
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
	free(b.x);
	if (skipped * max_skip > checked + skipped) {
		for (int j = 0; j < nt; j++)
			printf("%-40s %-14s skipped %zu of %zu\n", label, res[j].name, res[j].skipped,
			       res[j].skipped + res[j].checked);
		fail_msg("%s: %zu of %zu elements skipped", label, skipped, checked + skipped);
	}
	return worst;
}

/* Kinks within the step are rare at a generic point of a dense net. */
static double check(struct bp_net *net, enum bp_loss loss, unsigned seed, int verbose, const char *label)
{
	return check_kinks(net, loss, seed, verbose, label, 10);
}

/* A shared conv2d weight moves every position of its filter, so one of
 * them crossing a relu kink or a max-pool switch within the step is
 * common: up to a fifth of the elements may be skipped. */
/* A sigmoid conv net's weight gradients are small against its loss, and
 * max-pool switches within the step leave only the one-sided slopes,
 * whose float32 noise is about 1e-4: a correct net stays below 5e-3 over
 * many seeds, the wrong backward passes below land at 9e-2 and more. */
#define CNN_TOL 5e-3
static double check_cnn(struct bp_net *net, enum bp_loss loss, unsigned seed, int verbose, const char *label)
{
	return check_kinks(net, loss, seed, verbose, label, 5);
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

/* The model.layers list of a YAML text in which every "ACT" stands for
 * act; freed with tu_free_layers. */
static struct bp_node *yaml_layers(const char *text, const char *act)
{
	char buf[2048];
	size_t len = 0;
	for (const char *p = text; *p && len + 16 < sizeof buf;) {
		if (strncmp(p, "ACT", 3) == 0) {
			len += (size_t)snprintf(buf + len, sizeof buf - len, "%s", act);
			p += 3;
		} else {
			buf[len++] = *p++;
		}
	}
	buf[len] = '\0';
	struct bp_err err = { 0 };
	struct bp_node *root = bp_yaml_parse(buf, len, "net.yaml", &err);
	if (!root)
		fail_msg("%s: %s", err.where, err.msg);
	struct bp_node *layers = bp_node_get(bp_node_get(root, "model"), "layers");
	assert_non_null(layers);
	return layers;
}

/* Nets that mix every new layer kind with dense and dropout: a conv2d
 * first (no dx) and after another conv2d, each padding, stride 2, both
 * pools (overlapping windows and same padding too), the global pool,
 * flatten, and an mse net that ends in a conv2d. */
static const struct cnn_net {
	const char *name;
	struct bp_shape in;
	enum bp_loss loss;
	const char *yaml;
} cnn_nets[] = {
	{ "conv same, max pool, dense, dropout", { 2, 5, 4 }, BP_LOSS_CROSS_ENTROPY,
	  "model: {layers: [{type: conv2d, filters: 3, padding: same, activation: ACT},"
	  " {type: max_pool2d}, {type: dense, units: 4, activation: ACT}, {type: dropout, rate: 0.3},"
	  " {type: dense, units: 3, activation: softmax}]}" },
	{ "conv valid stride 2, avg pool same, flatten", { 2, 7, 5 }, BP_LOSS_CROSS_ENTROPY,
	  "model: {layers: [{type: conv2d, filters: 3, strides: 2, activation: ACT},"
	  " {type: avg_pool2d, padding: same}, {type: flatten}, {type: dense, units: 3, activation: softmax}]}" },
	{ "conv [2,3] same stride 2, conv valid no bias, global pool", { 2, 7, 5 }, BP_LOSS_BINARY_CROSS_ENTROPY,
	  "model: {layers: [{type: conv2d, filters: 4, kernel_size: [2, 3], strides: 2, padding: same,"
	  " activation: ACT}, {type: conv2d, filters: 3, use_bias: false, activation: ACT},"
	  " {type: global_avg_pool2d}, {type: dense, units: 3, activation: sigmoid}]}" },
	{ "conv, overlapping max pool same, conv 1x1, dropout", { 3, 5, 5 }, BP_LOSS_CROSS_ENTROPY,
	  "model: {layers: [{type: conv2d, filters: 3, kernel_size: 3, padding: same, activation: ACT},"
	  " {type: max_pool2d, pool_size: 3, strides: 2, padding: same},"
	  " {type: conv2d, filters: 3, kernel_size: 1, activation: ACT}, {type: flatten}, {type: dropout, rate: 0.25},"
	  " {type: dense, units: 3, activation: softmax}]}" },
	{ "dense image input, conv output (mse)", { 1, 5, 3 }, BP_LOSS_MSE,
	  "model: {layers: [{type: conv2d, filters: 2, kernel_size: [3, 1], strides: [2, 1], padding: same,"
	  " activation: ACT}, {type: avg_pool2d, pool_size: [1, 3], strides: 1},"
	  " {type: conv2d, filters: 3, kernel_size: [3, 1], padding: valid, activation: linear}]}" },
};

static void test_cnn_layers_pass(void **state)
{
	(void)state;
	static const char *const acts[] = { "relu", "tanh", "sigmoid", "elu", "leaky_relu", "linear" };
	double overall = 0;
	int combos = 0;
	for (size_t k = 0; k < sizeof cnn_nets / sizeof cnn_nets[0]; k++)
		for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
			const struct cnn_net *c = &cnn_nets[k];
			struct bp_node *layers = yaml_layers(c->yaml, acts[a]);
			struct bp_err err = { 0 };
			struct bp_net *net = bp_net_new(layers, c->in, c->loss, N, &err);
			if (!net)
				fail_msg("%s: %s: %s", c->name, err.where, err.msg);
			char label[160];
			snprintf(label, sizeof label, "%s/%s", c->name, acts[a]);
			double worst = check_cnn(net, c->loss, 200 + (unsigned)combos, 0, label);
			if (worst >= CNN_TOL)
				check_cnn(net, c->loss, 200 + (unsigned)combos, 1, label);
			assert_true(worst < CNN_TOL);
			overall = worst > overall ? worst : overall;
			combos++;
			bp_net_free(net);
			tu_free_layers(layers);
		}
	printf("gradcheck: %d cnn combinations, worst max_rel_err %.2e\n", combos, overall);
}

/* A wrong conv2d backward, wrapped around the real one. */
static struct bp_layer_ops wrong_conv_ops;

static void conv_dw_flipped(struct bp_layer *l, const float *x, const float *y, float *dy, float *dx, int n)
{
	/* As if the kernel gradient were a convolution, not a correlation:
	 * each filter's (kh, kw) plane rotated by 180 degrees. */
	bp_layer_conv2d.backward(l, x, y, dy, dx, n);
	struct bp_tensor_desc t[BP_MAX_TENSORS];
	l->ops->tensors(l, t);
	int planes = t[0].dims[0] * t[0].dims[1], kk = t[0].dims[2] * t[0].dims[3];
	for (int p = 0; p < planes; p++) {
		float *w = l->grad + (size_t)p * kk;
		for (int i = 0; i < kk / 2; i++) {
			float v = w[i];
			w[i] = w[kk - 1 - i];
			w[kk - 1 - i] = v;
		}
	}
}

static void conv_dx_scaled(struct bp_layer *l, const float *x, const float *y, float *dy, float *dx, int n)
{
	bp_layer_conv2d.backward(l, x, y, dy, dx, n);
	for (size_t i = 0; dx && i < bp_shape_size(l->in) * (size_t)n; i++)
		dx[i] *= 1.1f;
}

static void conv_forgets_activation(struct bp_layer *l, const float *x, const float *y, float *dy, float *dx,
                                    int n)
{
	bool fused = l->act_fused;
	l->act_fused = true;
	bp_layer_conv2d.backward(l, x, y, dy, dx, n);
	l->act_fused = fused;
}

static void test_wrong_conv_backward_is_caught(void **state)
{
	(void)state;
	void (*wrong[])(struct bp_layer *, const float *, const float *, float *, float *, int) = {
		conv_dw_flipped, conv_dx_scaled, conv_forgets_activation,
	};
	const struct cnn_net *c = &cnn_nets[2];   /* conv → conv: the second one's dx matters */
	for (size_t w = 0; w < sizeof wrong / sizeof wrong[0]; w++) {
		struct bp_node *layers = yaml_layers(c->yaml, "tanh");
		struct bp_err err = { 0 };
		struct bp_net *net = bp_net_new(layers, c->in, c->loss, N, &err);
		assert_non_null(net);
		assert_true(check_cnn(net, c->loss, 9, 0, "correct") < CNN_TOL);
		wrong_conv_ops = bp_layer_conv2d;
		wrong_conv_ops.backward = wrong[w];
		net->layers[1].ops = &wrong_conv_ops;
		double worst = check_cnn(net, c->loss, 9, 0, "wrong");
		printf("wrong conv backward %zu: worst max_rel_err %.2e\n", w, worst);
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
	make_batch(&b, IN, BP_LOSS_CROSS_ENTROPY, &r);
	struct bp_gradcheck_result res[4];
	bp_gradcheck(net, b.x, &b.t, N, 1e-3, 50, res);
	assert_string_equal(res[0].name, "layers.0.W");
	assert_string_equal(res[3].name, "layers.1.b");
	assert_true(res[0].checked <= 50 && res[0].checked >= 40);   /* 200 weights, every 4th */
	assert_int_equal(res[3].checked, 3);
	for (size_t i = 0; i < net->nparam; i++)
		assert_true(net->param[i] == before[i]);
	free(before);
	free(b.x);
	bp_net_free(net);
	tu_free_layers(layers);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_combination_passes),
		cmocka_unit_test(test_wrong_backward_is_caught),
		cmocka_unit_test(test_cnn_layers_pass),
		cmocka_unit_test(test_wrong_conv_backward_is_caught),
		cmocka_unit_test(test_sampled_elements_and_restore),
		cmocka_unit_test(test_batch_norm_passes),
		cmocka_unit_test(test_wrong_batch_norm_backward_is_caught),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
