#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "team.h"
#include "testutil.h"

static bool close_to(double a, double b, double tol) { return fabs(a - b) <= tol * (1.0 + fabs(b)); }

/* Per-channel mean and biased variance of x (n, c, hw), in double. */
static void channel_stats(const float *x, int n, int c, int hw, double *mean, double *var)
{
	for (int j = 0; j < c; j++) {
		double s = 0, q = 0;
		for (int i = 0; i < n; i++)
			for (int k = 0; k < hw; k++)
				s += x[((size_t)i * c + j) * hw + k];
		s /= (double)n * hw;
		for (int i = 0; i < n; i++)
			for (int k = 0; k < hw; k++) {
				double d = x[((size_t)i * c + j) * hw + k] - s;
				q += d * d;
			}
		mean[j] = s;
		var[j] = q / ((double)n * hw);
	}
}

/* Training forwards normalise with the batch's statistics per channel
 * and move the running ones by the momentum; an evaluation forward uses
 * the running ones. On (2,2,3) images and on flat (4,1,1) features. */
static void test_running_statistics_and_eval(void **state)
{
	(void)state;
	struct bp_shape shapes[] = { { 2, 2, 3 }, { 4, 1, 1 } };
	for (int s = 0; s < 2; s++) {
		struct bp_shape in = shapes[s];
		int c = in.c, hw = in.h * in.w, width = (int)bp_shape_size(in);
		enum { N = 3 };
		struct bp_node *layers = tu_layers("batch_norm linear 0.9", NULL);
		struct bp_err err = { 0 };
		struct bp_net *net = bp_net_new(layers, in, BP_LOSS_MSE, N, &err);
		assert_non_null(net);
		assert_int_equal(net->nparam, 2 * c);
		assert_int_equal(net->nstate, 2 * c);
		struct bp_rng r;
		bp_rng_seed(&r, 3);
		net->rng = &r;
		bp_net_init(net, BP_INIT_AUTO, &r);
		for (int j = 0; j < c; j++) {
			assert_true(net->param[j] == 1.0f && net->param[c + j] == 0.0f);
			assert_true(net->state[j] == 0.0f && net->state[c + j] == 1.0f);
		}
		double rm[4] = { 0, 0, 0, 0 }, rv[4] = { 1, 1, 1, 1 };
		float x[N * 12];
		for (int step = 0; step < 2; step++) {
			/* A large offset: the two-pass variance keeps it exact. */
			for (int i = 0; i < N * width; i++)
				x[i] = (float)(100.0 + (i % c) + bp_rng_normal(&r) * (1 + i % 3));
			double mean[4], var[4];
			channel_stats(x, N, c, hw, mean, var);
			bp_net_forward(net, x, N, true);
			const float *y = bp_net_output(net);
			for (int i = 0; i < N; i++)
				for (int j = 0; j < c; j++)
					for (int k = 0; k < hw; k++) {
						size_t at = ((size_t)i * c + j) * hw + k;
						assert_true(close_to(y[at], (x[at] - mean[j]) / sqrt(var[j] + 1e-3), 1e-4));
					}
			for (int j = 0; j < c; j++) {
				rm[j] = 0.9 * rm[j] + 0.1 * mean[j];
				rv[j] = 0.9 * rv[j] + 0.1 * var[j];
				assert_true(close_to(net->state[j], rm[j], 1e-6));
				assert_true(close_to(net->state[c + j], rv[j], 1e-5));
			}
		}
		/* Evaluation: the running statistics, gamma and beta; the state stays. */
		for (int j = 0; j < c; j++) {
			net->param[j] = 0.5f + (float)j;
			net->param[c + j] = -0.25f * (float)j;
		}
		float saved[8];
		memcpy(saved, net->state, net->nstate * sizeof(float));
		bp_net_forward(net, x, N, false);
		const float *y = bp_net_output(net);
		for (int i = 0; i < N; i++)
			for (int j = 0; j < c; j++)
				for (int k = 0; k < hw; k++) {
					size_t at = ((size_t)i * c + j) * hw + k;
					double want = net->param[j] * (x[at] - net->state[j]) / sqrt(net->state[c + j] + 1e-3)
					              + net->param[c + j];
					assert_true(close_to(y[at], want, 1e-5));
				}
		assert_memory_equal(saved, net->state, net->nstate * sizeof(float));
		bp_net_free(net);
		tu_free_layers(layers);
	}
}

/* A replica (writes_state false) normalises with the batch but leaves
 * the shared running statistics to the master. */
static void test_replica_leaves_state(void **state)
{
	(void)state;
	struct bp_node *layers = tu_layers("dense 3 tanh", "batch_norm relu", "dense 2 softmax", NULL);
	struct bp_err err = { 0 };
	struct bp_net *master = bp_net_new(layers, (struct bp_shape){ 4, 1, 1 }, BP_LOSS_CROSS_ENTROPY, 4, &err);
	struct bp_net *replica = bp_net_new(layers, (struct bp_shape){ 4, 1, 1 }, BP_LOSS_CROSS_ENTROPY, 4, &err);
	assert_non_null(master);
	assert_non_null(replica);
	struct bp_rng r;
	bp_rng_seed(&r, 8);
	master->rng = replica->rng = &r;
	bp_net_init(master, BP_INIT_AUTO, &r);
	bp_net_share_params(replica, master);
	float x[16];
	for (int i = 0; i < 16; i++)
		x[i] = (float)bp_rng_normal(&r);
	float before[6];
	memcpy(before, master->state, sizeof before);
	bp_net_forward(replica, x, 4, true);
	assert_memory_equal(before, master->state, sizeof before);
	bp_net_forward(master, x, 4, true);
	assert_memory_not_equal(before, master->state, sizeof before);
	assert_memory_equal(bp_net_output(master), bp_net_output(replica), 8 * sizeof(float));
	assert_int_equal(bp_net_nstate_tensors(master), 2);
	struct bp_tensor_desc d;
	char name[64];
	bp_net_state_tensor(master, 1, &d, name, sizeof name);
	assert_string_equal(name, "layers.1.running_var");
	assert_true(d.state && d.offset == 3 && d.size == 3);
	bp_net_free(replica);
	bp_net_free(master);
	tu_free_layers(layers);
}

/* A team of two takes the same step as one thread, batch_norm's whole-
 * batch statistics and gradient included: an even split, an uneven one
 * (5 over 2) and a batch smaller than the team (1 over 2: member 0, the
 * one that writes the running statistics, has no samples). */
static const char team_config[] =
	"data: {train: {path: /nonexistent.csv}}\n"
	"model:\n"
	"  layers:\n"
	"    - {type: batch_norm, activation: relu, momentum: 0.8}\n"
	"    - {type: dense, units: 6, activation: tanh}\n"
	"    - {type: batch_norm}\n"
	"    - {type: dense, units: 3, activation: softmax}\n"
	"optimizer: {type: sgd, lr: 0.1}\n"
	"train: {batch_size: 5}\n";

static void test_team_matches_single_thread(void **state)
{
	(void)state;
	struct bp_err err = { 0 };
	struct bp_config *cfg = bp_config_load_text(team_config, sizeof team_config - 1, "t.yaml", "/", NULL, 0, &err);
	assert_non_null(cfg);
	enum { ROWS = 11, D = 12 };
	struct bp_shape in = { 3, 2, 2 };
	float x[ROWS * D];
	int32_t cls[ROWS];
	uint32_t order[ROWS];
	for (int i = 0; i < ROWS * D; i++)
		x[i] = (float)(sin(0.37 * i) + 0.5 * cos(1.3 * i) + (i % 3));
	for (int i = 0; i < ROWS; i++) {
		cls[i] = i % 3;
		order[i] = (uint32_t)((7 * i) % ROWS);
	}
	struct bp_dataset ds = { .n = ROWS, .d = D, .shape = in, .type = BP_DT_F32, .x = x, .k = 1,
	                         .cls = cls, .max_class = 2 };
	/* (first, n) of each step: 5 split 2+3, 5 split 2+3, 1 split 0+1. */
	size_t firsts[] = { 0, 5, 10 };
	int sizes[] = { 5, 5, 1 };
	enum { STEPS = 3 };
	struct bp_team t[2];
	struct bp_optim o[2];
	struct bp_rng rng[2];
	for (int r = 0; r < 2; r++) {
		assert_int_equal(bp_team_init(&t[r], cfg, in, D, 1, r + 1, &err), 0);
		assert_int_equal(t[r].n, r + 1);
		struct bp_net *net = bp_team_net(&t[r]);
		struct bp_rng init;
		bp_rng_seed(&init, 5);
		bp_rng_seed(&rng[r], 6);
		bp_net_init(net, BP_INIT_AUTO, &init);
		assert_int_equal(bp_optim_init(&o[r], &cfg->optimizer, net->nparam, &err), 0);
	}
	struct bp_net *one = bp_team_net(&t[0]), *two = bp_team_net(&t[1]);
	assert_int_equal(one->nstate, 2 * 3 + 2 * 6);
	for (int step = 0; step < STEPS; step++) {
		double loss[2], correct[2] = { 0, 0 };
		float before[18];
		memcpy(before, one->state, sizeof before);
		for (int r = 0; r < 2; r++)
			loss[r] = bp_team_step(&t[r], &o[r], &ds, NULL, order, ROWS, firsts[step], sizes[step], 0.1,
			                       &rng[r], &correct[r]);
		assert_true(isfinite(loss[0]));
		assert_true(close_to(loss[1], loss[0], 1e-5));
		assert_true(correct[0] == correct[1]);
		for (size_t i = 0; i < one->nparam; i++) {
			if (!close_to(two->grad[i], one->grad[i], 1e-5))
				fail_msg("step %d: gradient %zu: %g over 2 threads, %g alone", step, i, two->grad[i],
				         one->grad[i]);
			assert_true(close_to(two->param[i], one->param[i], 1e-5));
		}
		for (size_t i = 0; i < one->nstate; i++)
			if (!close_to(two->state[i], one->state[i], 1e-5))
				fail_msg("step %d: state %zu: %g over 2 threads, %g alone", step, i, two->state[i],
				         one->state[i]);
		assert_memory_not_equal(before, two->state, sizeof before);   /* moved, the last step too */
	}
	for (int r = 0; r < 2; r++) {
		bp_optim_release(&o[r]);
		bp_team_release(&t[r]);
	}
	bp_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_running_statistics_and_eval),
		cmocka_unit_test(test_replica_leaves_state),
		cmocka_unit_test(test_team_matches_single_thread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
