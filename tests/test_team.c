#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "team.h"

struct pool_job {
	struct bp_pool *p;
	size_t total;
	long sums[4];
	int seen[4][4];
	int phase[4];
};

static void pool_member(void *ctx, int tid, int n)
{
	struct pool_job *j = ctx;
	size_t lo, hi;
	bp_pool_split(j->total, tid, n, &lo, &hi);
	long s = 0;
	for (size_t i = lo; i < hi; i++)
		s += (long)i;
	j->sums[tid] = s;
	j->phase[tid] = 1;
	bp_pool_barrier(j->p);
	for (int i = 0; i < n; i++)   /* after the barrier every member's phase 1 is visible */
		j->seen[tid][i] = j->phase[i];
	bp_pool_barrier(j->p);
}

static void test_pool_runs_every_member_and_barriers(void **state)
{
	(void)state;
	for (int n = 1; n <= 4; n++) {
		struct bp_pool p;
		struct bp_err err = { 0 };
		assert_int_equal(bp_pool_init(&p, n, &err), 0);
		for (int round = 0; round < 200; round++) {
			struct pool_job j = { .p = &p, .total = 1000 + (size_t)round };
			bp_pool_run(&p, pool_member, &j);
			long s = 0;
			for (int i = 0; i < n; i++) {
				s += j.sums[i];
				for (int k = 0; k < n; k++)
					assert_int_equal(j.seen[i][k], 1);
			}
			assert_true(s == (long)j.total * ((long)j.total - 1) / 2);
		}
		bp_pool_release(&p);
	}
}

/* Stepping slices after one begin equals one whole step, for every type. */
static void test_optim_slices_equal_whole_step(void **state)
{
	(void)state;
	enum { N = 103 };
	for (int type = BP_OPTIM_SGD; type <= BP_OPTIM_ADAGRAD; type++) {
		struct bp_optim_cfg c = { type, 0.01, 0.9, 0.9, 0.999, 1e-8, 0.01, 0 };
		struct bp_optim a, b;
		struct bp_err err = { 0 };
		assert_int_equal(bp_optim_init(&a, &c, N, &err), 0);
		assert_int_equal(bp_optim_init(&b, &c, N, &err), 0);
		float pa[N], pb[N], g[N];
		for (int i = 0; i < N; i++) {
			pa[i] = pb[i] = (float)sin(i);
			g[i] = (float)cos(3 * i);
		}
		for (int step = 0; step < 3; step++) {
			bp_optim_step(&a, pa, g, N, 0.01);
			bp_optim_begin(&b, 0.01, 0);
			bp_optim_apply(&b, pb, g, 0, 40);
			bp_optim_apply(&b, pb, g, 40, 41);
			bp_optim_apply(&b, pb, g, 41, N);
		}
		assert_memory_equal(pa, pb, sizeof pa);
		bp_optim_release(&a);
		bp_optim_release(&b);
	}
}

static const char config_text[] =
	"data: {train: {path: /nonexistent.csv}}\n"
	"model:\n"
	"  layers:\n"
	"    - {type: dense, units: 8, activation: tanh}\n"
	"    - {type: dense, units: 3, activation: softmax}\n"
	"optimizer: {type: sgd, lr: 0.1}\n"
	"train: {batch_size: 10}\n";

/* A team of 3 takes the same step as a team of 1 (up to float rounding of
 * the gradient sum), and the same team twice gives the same bits. */
static void test_team_step_matches_single(void **state)
{
	(void)state;
	struct bp_err err = { 0 };
	struct bp_config *cfg = bp_config_load_text(config_text, sizeof config_text - 1, "t.yaml", "/", NULL, 0, &err);
	assert_non_null(cfg);
	enum { ROWS = 10, D = 4 };
	float x[ROWS * D];
	int32_t cls[ROWS];
	uint32_t order[ROWS];
	for (int i = 0; i < ROWS * D; i++)
		x[i] = (float)sin(0.7 * i);
	for (int i = 0; i < ROWS; i++) {
		cls[i] = i % 3;
		order[i] = (uint32_t)(ROWS - 1 - i);
	}
	struct bp_dataset ds = { .n = ROWS, .d = D, .shape = { D, 1, 1 }, .type = BP_DT_F32, .x = x, .k = 1,
	                         .cls = cls, .max_class = 2 };
	float *params[3];
	int sizes[3] = { 1, 3, 3 };
	for (int r = 0; r < 3; r++) {
		struct bp_team t;
		assert_int_equal(bp_team_init(&t, cfg, ds.shape, D, 1, sizes[r], &err), 0);
		assert_int_equal(t.n, sizes[r]);
		struct bp_net *net = bp_team_net(&t);
		struct bp_rng init, rng;
		bp_rng_seed(&init, 5);
		bp_rng_seed(&rng, 6);
		bp_net_init(net, BP_INIT_AUTO, &init);
		struct bp_optim o;
		assert_int_equal(bp_optim_init(&o, &cfg->optimizer, net->nparam, &err), 0);
		double correct = 0;
		for (int step = 0; step < 4; step++) {
			double loss = bp_team_step(&t, &o, &ds, NULL, order, ROWS, 0, ROWS, 0.1, &rng, &correct);
			assert_true(isfinite(loss) && loss > 0);
		}
		params[r] = malloc(net->nparam * sizeof(float));
		memcpy(params[r], net->param, net->nparam * sizeof(float));
		struct bp_stats s;
		bp_team_evaluate(&t, &ds, NULL, NULL, ROWS, &s);
		assert_int_equal(s.n, ROWS);
		assert_true(s.accuracy >= 0 && s.accuracy <= 1);
		for (size_t i = 0; r == 2 && i < net->nparam; i++) {
			assert_true(fabsf(params[0][i] - params[1][i]) < 1e-5f);
			assert_true(params[1][i] == params[2][i]);
		}
		bp_optim_release(&o);
		bp_team_release(&t);
	}
	for (int r = 0; r < 3; r++)
		free(params[r]);
	bp_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_runs_every_member_and_barriers),
		cmocka_unit_test(test_optim_slices_equal_whole_step),
		cmocka_unit_test(test_team_step_matches_single),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
