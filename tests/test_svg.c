#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curves.h"
#include "metrics.h"
#include "svg.h"
#include "tmpdir.h"

/* What f wrote since it was opened, as a string the caller frees. */
struct out {
	char *text;
	size_t len;
	FILE *f;
};

static void out_open(struct out *o)
{
	o->text = NULL;
	o->len = 0;
	o->f = open_memstream(&o->text, &o->len);
	assert_non_null(o->f);
}

static char *out_close(struct out *o)
{
	assert_int_equal(fclose(o->f), 0);
	return o->text;
}

static int count(const char *s, const char *what)
{
	int n = 0;
	for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

static void test_escape(void **state)
{
	(void)state;
	struct out o;
	out_open(&o);
	bp_svg_escape(o.f, "a<b>&\"c'\x01\x1f" "d\ttab");
	char *s = out_close(&o);
	assert_string_equal(s, "a&lt;b&gt;&amp;&quot;c&#39;d\ttab");
	free(s);

	/* A run name with markup in it stays text in the title and the desc. */
	struct bp_curves c = { .name = "<script>alert(1)</script> & co", .epochs = 3 };
	out_open(&o);
	assert_int_equal(bp_curves_svg(o.f, &c, true), 0);
	s = out_close(&o);
	assert_null(strstr(s, "<script>"));
	assert_non_null(strstr(s, "<title>&lt;script&gt;alert(1)&lt;/script&gt; &amp; co: learning curves</title>"));
	free(s);
}

static void test_nice_steps(void **state)
{
	(void)state;
	assert_true(bp_svg_nice_step(1) == 1);
	assert_true(bp_svg_nice_step(0.13) == 0.2);
	assert_true(bp_svg_nice_step(0.3) == 0.5);
	assert_true(fabs(bp_svg_nice_step(7) - 10) < 1e-12);
	assert_true(fabs(bp_svg_nice_step(0.0011) - 0.002) < 1e-15);
	assert_true(fabs(bp_svg_nice_step(4.9e5) - 5e5) < 1e-6);
	assert_true(bp_svg_nice_step(0) == 1);      /* nonsense in, a usable step out */
	assert_true(bp_svg_nice_step(NAN) == 1);

	double lo = 0.03, hi = 0.97;
	double step = bp_svg_nice_range(&lo, &hi, 5);
	assert_true(fabs(step - 0.2) < 1e-12);
	assert_true(lo == 0 && fabs(hi - 1) < 1e-12);
	double t[16];
	int n = bp_svg_ticks(lo, hi, step, t, 16);
	assert_int_equal(n, 6);
	char buf[32];
	static const char *const want[] = { "0.0", "0.2", "0.4", "0.6", "0.8", "1.0" };
	for (int i = 0; i < n; i++) {
		bp_svg_tick_label(buf, sizeof buf, t[i], step);
		assert_string_equal(buf, want[i]);
	}

	/* A loss between 0.312 and 0.348: steps of 0.01, labels with two decimals. */
	lo = 0.312;
	hi = 0.348;
	step = bp_svg_nice_range(&lo, &hi, 5);
	assert_true(fabs(step - 0.01) < 1e-12);
	assert_true(fabs(lo - 0.31) < 1e-12 && fabs(hi - 0.35) < 1e-12);
	bp_svg_tick_label(buf, sizeof buf, 0.33, step);
	assert_string_equal(buf, "0.33");
	bp_svg_tick_label(buf, sizeof buf, 40, 20);
	assert_string_equal(buf, "40");

	/* One value, and nothing at all. */
	lo = hi = 2.5;
	bp_svg_nice_range(&lo, &hi, 5);
	assert_true(lo < 2.5 && hi > 2.5);
	lo = hi = NAN;
	bp_svg_nice_range(&lo, &hi, 5);
	assert_true(lo == 0 && hi == 1);
	lo = hi = 0;
	bp_svg_nice_range(&lo, &hi, 5);
	assert_true(lo < 0 && hi > 0);

	/* Log axes: whole decades, labels as powers of ten. */
	lo = 3e-5;
	hi = 0.02;
	bp_svg_log_range(&lo, &hi);
	assert_true(fabs(lo - 1e-5) < 1e-20 && fabs(hi - 0.1) < 1e-15);
	bp_svg_tick_label(buf, sizeof buf, 1e-5, NAN);
	assert_string_equal(buf, "1e-5");
	bp_svg_tick_label(buf, sizeof buf, 0.01, NAN);
	assert_string_equal(buf, "0.01");
	lo = hi = 1e-3;
	bp_svg_log_range(&lo, &hi);
	assert_true(hi > lo);
}

static struct bp_svg_plot plot(bool log)
{
	struct bp_svg_plot p = { .x = 10, .y = 10, .w = 100, .h = 50, .xstep = 1, .ystep = 1 };
	p.xa.lo = 0;
	p.xa.hi = 10;
	p.ya.lo = log ? 1e-4 : 0;
	p.ya.hi = log ? 1 : 10;
	p.ya.log = log;
	p.ystep = log ? NAN : 2;
	bp_svg_plot_place(&p);
	return p;
}

static void test_series_gaps(void **state)
{
	(void)state;
	struct bp_svg_plot p = plot(false);
	/* The ends map to the plot's corners: up is larger. */
	assert_true(bp_svg_map(&p.xa, 0) == 10 && bp_svg_map(&p.xa, 10) == 110);
	assert_true(bp_svg_map(&p.ya, 0) == 60 && bp_svg_map(&p.ya, 10) == 10);
	assert_true(isnan(bp_svg_map(&p.ya, NAN)) && isnan(bp_svg_map(&p.ya, INFINITY)));

	struct out o;
	double xs[] = { 1, 2, 3, 4, 5, 6, 7 };
	double ys[] = { 1, NAN, 3, 4, INFINITY, 6, 7 };
	out_open(&o);
	int runs = bp_svg_series(o.f, &p, xs, ys, 7, "val_loss", "#D55E00", "7 4", NULL);
	char *s = out_close(&o);
	/* 1 | gap | 3 4 | gap | 6 7: a dot and two lines, never a NaN in a path. */
	assert_int_equal(runs, 3);
	assert_int_equal(count(s, "<polyline"), 2);
	assert_int_equal(count(s, "<circle"), 1);
	assert_int_equal(count(s, "data-series=\"val_loss\""), 3);
	assert_int_equal(count(s, "stroke-dasharray=\"7 4\""), 2);
	assert_null(strstr(s, "nan"));
	assert_null(strstr(s, "inf"));
	assert_non_null(strstr(s, "points=\"40.00,45.00 50.00,40.00\""));
	free(s);

	/* Empty, and nothing that can be placed: nothing drawn. */
	double none[] = { NAN, NAN };
	out_open(&o);
	assert_int_equal(bp_svg_series(o.f, &p, xs, none, 2, "x", "#000", "", NULL), 0);
	assert_int_equal(bp_svg_series(o.f, &p, xs, ys, 0, "x", "#000", "", NULL), 0);
	s = out_close(&o);
	assert_string_equal(s, "");
	free(s);

	/* Log axis: 0 and negatives cannot be placed either. */
	struct bp_svg_plot lp = plot(true);
	double ratios[] = { 1e-3, 0, 1e-2, -1 };
	out_open(&o);
	runs = bp_svg_series(o.f, &lp, xs, ratios, 4, "update_ratio", "#000", "", "epoch");
	s = out_close(&o);
	assert_int_equal(runs, 2);
	assert_int_equal(count(s, "class=\"tip\""), 2);   /* hover titles for the placed points */
	assert_non_null(strstr(s, "<title>epoch 1: update_ratio 0.001</title>"));
	free(s);

	/* The frame carries the axes, so readers can map pixels back. */
	out_open(&o);
	bp_svg_plot_begin(o.f, &lp, "update ratio", "epoch", NULL);
	bp_svg_band(o.f, &lp, 3e-4, 3e-3, "~1e-3");
	bp_svg_plot_end(o.f);
	s = out_close(&o);
	assert_non_null(strstr(s, "data-x=\"0 10 10 110\""));
	assert_non_null(strstr(s, "data-y=\"0.0001 1 60 10 log\""));
	assert_non_null(strstr(s, ">1e-4</text>"));
	assert_int_equal(count(s, "class=\"band\""), 1);
	free(s);
}

static void test_curves(void **state)
{
	(void)state;
	struct out o;
	/* No epoch yet: the frame, a note, no lines. */
	struct bp_curves c = { .name = "r", .epochs = 20, .best_metric = BP_METRIC_VAL_ACCURACY, .classification = true };
	out_open(&o);
	assert_int_equal(bp_curves_svg(o.f, &c, true), 0);
	char *s = out_close(&o);
	assert_int_equal(count(s, "<polyline"), 0);
	assert_int_equal(count(s, "class=\"plot\""), 2);   /* loss and accuracy */
	assert_non_null(strstr(s, "no epoch has finished yet"));
	assert_non_null(strstr(s, "viewBox=\"0 0 720 "));
	assert_non_null(strstr(s, "<desc>"));
	free(s);

	/* One epoch: dots, not lines, on an axis that still ends at 20. */
	struct bp_curve_row one = { 1, 0.9, 0.6, 1.0, 0.55, 0.001 };
	c.rows = &one;
	c.n = 1;
	out_open(&o);
	assert_int_equal(bp_curves_svg(o.f, &c, true), 0);
	s = out_close(&o);
	assert_int_equal(count(s, "<polyline"), 0);
	assert_int_equal(count(s, "<circle class=\"series\""), 4);
	assert_non_null(strstr(s, "data-x=\"0 20 "));
	assert_non_null(strstr(s, "best val_accuracy 0.55 at epoch 1 of 20"));
	free(s);

	/* The best epoch is the first of equal accuracies; an lr that changes
	 * gets its panel; a NaN validation loss leaves a gap. */
	struct bp_curve_row rows[] = {
		{ 1, 0.9, 0.6, 0.8, 0.70, 0.01 }, { 2, 0.7, 0.7, NAN, 0.80, 0.01 },
		{ 3, 0.6, 0.8, 0.6, 0.80, 0.001 }, { 4, 0.5, 0.9, 0.7, 0.75, 0.001 },
	};
	c.rows = rows;
	c.n = 4;
	double v;
	const char *what;
	assert_int_equal(bp_curves_best(&c, &v, &what), 1);
	assert_string_equal(what, "val_accuracy");
	c.best_metric = BP_METRIC_VAL_LOSS;
	assert_int_equal(bp_curves_best(&c, &v, &what), 2);
	assert_true(v == 0.6);
	c.best_metric = BP_METRIC_VAL_ACCURACY;
	out_open(&o);
	assert_int_equal(bp_curves_svg(o.f, &c, true), 0);
	s = out_close(&o);
	assert_int_equal(count(s, "class=\"plot\""), 3);
	assert_non_null(strstr(s, "data-name=\"lr\""));
	/* val_loss: epoch 1 alone, then 3-4. */
	assert_int_equal(count(s, "<circle class=\"series\" data-series=\"val_loss\""), 1);
	assert_int_equal(count(s, "<polyline class=\"series\" data-series=\"val_loss\""), 1);
	assert_non_null(strstr(s, "best val_accuracy 0.8 at epoch 2 of 20"));
	free(s);

	/* mse, without validation: one panel, the best by the training loss. */
	struct bp_curve_row reg[] = { { 1, 2.0, NAN, NAN, NAN, 0.1 }, { 2, 1.0, NAN, NAN, NAN, 0.1 } };
	struct bp_curves r = { .name = "wave", .rows = reg, .n = 2, .epochs = 2, .best_metric = BP_METRIC_VAL_LOSS };
	assert_int_equal(bp_curves_best(&r, &v, &what), 1);
	assert_string_equal(what, "train_loss");
	out_open(&o);
	assert_int_equal(bp_curves_svg(o.f, &r, true), 0);
	s = out_close(&o);
	assert_int_equal(count(s, "class=\"plot\""), 1);
	assert_int_equal(count(s, "data-series=\"val_loss\""), 0);
	free(s);
}

static void test_metrics_read(void **state)
{
	(void)state;
	char path[128];
	snprintf(path, sizeof path, "%s/metrics.csv", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds\n"
	      "1,0.5,0.8,,,0.001,1.250\n"
	      "2,0.25,0.9,0.3,0.85,0.0005,1.1\n", f);
	fclose(f);
	struct bp_curve_row *rows;
	int n;
	struct bp_err err = { 0 };
	assert_int_equal(bp_metrics_read(path, &rows, &n, BP_ERR_DATA, &err), 0);
	assert_int_equal(n, 2);
	assert_true(rows[0].epoch == 1 && rows[0].train_loss == 0.5 && isnan(rows[0].val_loss) && isnan(rows[0].val_acc));
	assert_true(rows[1].val_acc == 0.85 && rows[1].lr == 0.0005);
	free(rows);

	f = fopen(path, "w");
	fputs("epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds\n1,0.5,x,,,0.001,1\n", f);
	fclose(f);
	assert_int_equal(bp_metrics_read(path, &rows, &n, BP_ERR_DATA, &err), -1);
	assert_int_equal(err.kind, BP_ERR_DATA);
	assert_non_null(strstr(err.where, "metrics.csv:2"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_nice_steps),
		cmocka_unit_test(test_series_gaps),
		cmocka_unit_test(test_curves),
		cmocka_unit_test(test_metrics_read),
	};
	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
