#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "net.h"
#include "testutil.h"

static char *rows_of(const struct bp_diag *d, const float *param, int epoch)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	bp_diag_rows(d, param, epoch, f);
	assert_int_equal(fclose(f), 0);
	return text;
}

/* Which tensor each layer watches, and which layers count dead units. */
static void test_layout(void **state)
{
	(void)state;
	struct bp_node *layers = tu_layers("dense 5 relu", "dropout 0.5", "batch_norm relu", "dense 3 softmax", NULL);
	struct bp_err err = { 0 };
	struct bp_net *net = bp_net_new(layers, (struct bp_shape){ 4, 1, 1 }, BP_LOSS_CROSS_ENTROPY, 8, &err);
	assert_non_null(net);
	struct bp_diag d;
	assert_int_equal(bp_diag_init(&d, net, 2, &err), 0);
	assert_int_equal(d.nlayers, 4);
	assert_true(d.layers[0].off == 0 && d.layers[0].size == 20 && d.layers[0].relu && d.layers[0].units == 5);
	assert_true(d.layers[1].size == 0 && !d.layers[1].relu);                 /* dropout: nothing */
	assert_true(d.layers[2].off == net->offset[2] && d.layers[2].size == 5);  /* gamma, not beta */
	assert_true(d.layers[2].relu && d.layers[2].alive_off == 5);
	assert_true(d.layers[3].off == net->offset[3] && d.layers[3].size == 15 && !d.layers[3].relu);
	assert_string_equal(d.layers[2].type, "batch_norm");
	assert_int_equal((int)d.nalive, 10);
	bp_diag_release(&d);
	bp_net_free(net);
	tu_free_layers(layers);
}

/* Dead units: a unit (a channel of a (C,H,W) output) is alive when any
 * member saw it above zero for any sample of the epoch. */
static void test_dead_units(void **state)
{
	(void)state;
	/* batch_norm on (3, 2, 2): per channel. */
	struct bp_node *layers = tu_layers("batch_norm relu", NULL);
	struct bp_err err = { 0 };
	struct bp_net *net = bp_net_new(layers, (struct bp_shape){ 3, 2, 2 }, BP_LOSS_MSE, 4, &err);
	assert_non_null(net);
	struct bp_diag d;
	assert_int_equal(bp_diag_init(&d, net, 2, &err), 0);
	assert_true(d.layers[0].units == 3 && d.layers[0].unit_len == 4);
	for (int k = 0; k < 3; k++)   /* gamma */
		net->param[d.layers[0].off + (size_t)k] = 2.0f;
	bp_diag_epoch_begin(&d);
	float *y = net->act[1];
	/* Member 0: two samples; channel 0 is positive in one pixel of sample 1. */
	memset(y, 0, 2 * 12 * sizeof *y);
	y[12 + 3] = 0.5f;
	bp_diag_mark(&d, 0, net, 2);
	/* Member 1: one sample; channel 2 positive, channel 1 only negative. */
	memset(y, 0, 12 * sizeof *y);
	y[4] = -1.0f;
	y[8 + 2] = 2.0f;
	bp_diag_mark(&d, 1, net, 1);
	bp_diag_step(&d);
	char *rows = rows_of(&d, net->param, 7);
	/* weight_rms of gamma; no apply ran: zero gradient, no ratio. */
	assert_string_equal(rows, "7,0,batch_norm,2,0,,0.333333333\n");
	free(rows);

	/* A new epoch forgets the old one's units. */
	bp_diag_epoch_begin(&d);
	bp_diag_mark(&d, 0, net, 0);
	bp_diag_step(&d);
	rows = rows_of(&d, net->param, 8);
	assert_string_equal(rows, "8,0,batch_norm,2,0,,1\n");
	free(rows);
	bp_diag_release(&d);
	bp_net_free(net);
	tu_free_layers(layers);
}

/* The sums: members' slices cut tensors anywhere; the step's numbers are
 * those of the whole tensors; averages over steps; empty cells. */
static void test_step_sums(void **state)
{
	(void)state;
	struct bp_node *layers = tu_layers("dense 3 tanh", "dense 2 linear", NULL);
	struct bp_err err = { 0 };
	struct bp_net *net = bp_net_new(layers, (struct bp_shape){ 4, 1, 1 }, BP_LOSS_MSE, 4, &err);
	assert_non_null(net);
	size_t np = net->nparam;   /* 12 + 3 + 6 + 2 = 23 */
	assert_int_equal((int)np, 23);
	for (size_t i = 0; i < np; i++) {
		net->param[i] = (float)(i % 5) - 2.0f;
		net->grad[i] = 0.5f;
	}
	float w0[23];
	memcpy(w0, net->param, sizeof w0);
	struct bp_optim_cfg cfg = { .type = BP_OPTIM_SGD, .lr = 0.1 };
	struct bp_optim o, plain;
	assert_int_equal(bp_optim_init(&o, &cfg, np, &err), 0);
	assert_int_equal(bp_optim_init(&plain, &cfg, np, &err), 0);
	struct bp_diag d;
	assert_int_equal(bp_diag_init(&d, net, 3, &err), 0);
	bp_diag_epoch_begin(&d);
	float ref[23];
	memcpy(ref, net->param, sizeof ref);
	for (int s = 0; s < 2; s++) {
		bp_optim_begin(&o, 0.1, 0);
		static const size_t cut[] = { 0, 7, 14, 23 };   /* member slices across the tensors */
		for (int m = 0; m < 3; m++)
			bp_diag_apply(&d, m, &o, net->param, net->grad, cut[m], cut[m + 1]);
		bp_diag_step(&d);
		bp_optim_step(&plain, ref, net->grad, np, 0.1);
		assert_memory_equal(ref, net->param, sizeof ref);   /* the same step */
	}
	/* sgd: Δw = −0.1·0.5 per element, so ‖Δw‖/‖w‖ per step is 0.05/rms(w). */
	double w2a = 0, w2b = 0, w2c = 0;
	for (int i = 0; i < 12; i++) {
		w2a += (double)w0[i] * w0[i];
		double b = w0[i] - 0.05f;
		w2b += b * b;
		double c = ref[i];
		w2c += c * c;
	}
	double ratio = (0.05 / sqrt(w2a / 12) + 0.05 / sqrt(w2b / 12)) / 2;
	char *rows = rows_of(&d, net->param, 3);
	double wr, gr, ur;
	int n = 0;
	assert_int_equal(sscanf(rows, "3,0,dense,%lf,%lf,%lf,\n%n", &wr, &gr, &ur, &n), 3);
	assert_true(n > 0);   /* dead_fraction empty: tanh */
	assert_true(fabs(wr - sqrt(w2c / 12)) < 1e-7 * wr);
	assert_true(fabs(gr - 0.5) < 1e-7);
	assert_true(fabs(ur - ratio) < 1e-5 * ratio);
	/* The output layer's W, then nothing more: 2 rows. */
	assert_non_null(strstr(rows + n, "3,1,dense,"));
	assert_null(strstr(rows + n, "3,2,"));
	free(rows);
	bp_diag_release(&d);
	bp_optim_release(&o);
	bp_optim_release(&plain);
	bp_net_free(net);
	tu_free_layers(layers);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_dead_units),
		cmocka_unit_test(test_step_sums),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
