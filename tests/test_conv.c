/* core/conv.c against naive direct loops: convolution forward and
 * backward, max and average pooling, global average pooling, for odd
 * sizes, strides 1 and 2, valid and same padding, several channels and a
 * batch of several samples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "rng.h"

enum { N = 3, C = 3, F = 4 };

/* The TF/Keras rule, written out independently of bp_window_init. */
static void tf_geometry(int h, int k, int s, bool same, int *out, int *pad_before)
{
	if (same) {
		*out = (h + s - 1) / s;
		int total = (*out - 1) * s + k - h;
		if (total < 0)
			total = 0;
		*pad_before = total / 2;
	} else {
		*out = (h - k) / s + 1;
		*pad_before = 0;
	}
}

static float *randoms(size_t n, struct bp_rng *r)
{
	float *v = malloc((n ? n : 1) * sizeof *v);
	assert_non_null(v);
	for (size_t i = 0; i < n; i++)
		v[i] = (float)bp_rng_normal(r);
	return v;
}

static double max_diff(const float *a, const float *b, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		m = fmax(m, fabs((double)a[i] - (double)b[i]));
	return m;
}

/* x at (s, c, iy, ix), 0 outside the image. */
static double pixel(const float *x, const struct bp_window *g, int s, int c, int iy, int ix)
{
	if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
		return 0.0;
	return x[(((size_t)s * g->c + c) * g->h + iy) * g->w + ix];
}

struct geom_case {
	int h, w, kh, kw, sh, sw;
	bool same;
	int c;   /* channels; 0 = C */
};

static const struct geom_case cases[] = {
	{ 7, 5, 3, 3, 1, 1, false, 0 }, { 7, 5, 3, 3, 1, 1, true, 0 }, { 7, 5, 3, 3, 2, 2, false, 0 },
	{ 7, 5, 3, 3, 2, 2, true, 0 },  { 5, 7, 2, 3, 2, 1, true, 0 }, { 5, 7, 3, 2, 1, 2, false, 0 },
	{ 6, 6, 3, 3, 2, 2, true, 0 },  { 6, 6, 1, 1, 1, 1, false, 0 }, { 9, 7, 5, 5, 3, 2, true, 0 },
	{ 4, 4, 4, 4, 1, 1, false, 0 }, { 5, 5, 2, 2, 2, 2, false, 0 }, { 5, 5, 2, 2, 2, 2, true, 0 },
	{ 7, 5, 4, 4, 1, 1, true, 0 },  { 5, 7, 3, 1, 1, 1, false, 0 }, { 5, 7, 1, 3, 1, 1, true, 0 },
	{ 24, 23, 3, 3, 1, 1, true, 0 }, { 27, 25, 3, 3, 1, 1, false, 0 },   /* ≥ BP_CONV_PER_SAMPLE pixels */
	/* im2col matrices of more than BP_CONV_BLOCK / 2 floats a sample (one
	 * sample per block, both GEMM layouts), and of 57024 (two, then one) */
	{ 16, 16, 3, 3, 1, 1, true, 64 }, { 24, 24, 3, 3, 1, 1, true, 32 }, { 17, 15, 3, 3, 2, 2, true, 160 },
	{ 11, 9, 3, 3, 1, 1, true, 64 },
};

static int channels(const struct geom_case *k) { return k->c ? k->c : C; }

static void make_window(struct bp_window *g, const struct geom_case *k)
{
	assert_true(bp_window_init(g, channels(k), k->h, k->w, k->kh, k->kw, k->sh, k->sw, k->same));
	int oh, ow, pt, pl;
	tf_geometry(k->h, k->kh, k->sh, k->same, &oh, &pt);
	tf_geometry(k->w, k->kw, k->sw, k->same, &ow, &pl);
	assert_int_equal(g->oh, oh);
	assert_int_equal(g->ow, ow);
	assert_int_equal(g->pt, pt);
	assert_int_equal(g->pl, pl);
}

static void test_window_geometry(void **state)
{
	(void)state;
	struct bp_window g;
	assert_true(bp_window_init(&g, 1, 7, 7, 3, 3, 2, 2, true));   /* pad 2: 1 top, 1 bottom */
	assert_int_equal(g.oh, 4);
	assert_int_equal(g.pt, 1);
	assert_true(bp_window_init(&g, 1, 6, 6, 3, 3, 2, 2, true));   /* pad 1: the extra one at the bottom */
	assert_int_equal(g.oh, 3);
	assert_int_equal(g.pt, 0);
	assert_true(bp_window_init(&g, 1, 28, 28, 3, 3, 1, 1, true));
	assert_int_equal(g.oh, 28);
	assert_int_equal(g.pt, 1);
	assert_true(bp_window_init(&g, 1, 28, 28, 2, 2, 2, 2, false));
	assert_int_equal(g.oh, 14);
	assert_false(bp_window_init(&g, 1, 3, 3, 5, 5, 1, 1, false));
	assert_true(bp_window_init(&g, 1, 3, 3, 5, 5, 1, 1, true));
	assert_int_equal(g.oh, 3);
	assert_int_equal(g.pt, 2);
}

static void conv_case(const struct geom_case *k, enum bp_act act, struct bp_rng *r)
{
	const int C = channels(k);
	struct bp_window g;
	make_window(&g, k);
	int kk = C * k->kh * k->kw;
	size_t ohw = bp_window_out(&g), xs = (size_t)N * C * k->h * k->w, ys = (size_t)N * F * ohw;
	float *x = randoms(xs, r), *w = randoms((size_t)F * kk, r), *b = randoms(F, r);
	float *work = malloc(bp_conv_work(&g, F, N) * sizeof *work);
	float *y = malloc(ys * sizeof *y), *want = malloc(ys * sizeof *want);
	assert_true(work && y && want);
	bp_conv_forward(y, work, x, w, b, act, &g, F, N);

	/* The direct sum, then the activation. */
	for (int s = 0; s < N; s++)
		for (int f = 0; f < F; f++)
			for (int oy = 0; oy < g.oh; oy++)
				for (int ox = 0; ox < g.ow; ox++) {
					double z = b[f];
					for (int c = 0; c < C; c++)
						for (int i = 0; i < k->kh; i++)
							for (int j = 0; j < k->kw; j++)
								z += w[((f * C + c) * k->kh + i) * k->kw + j]
								     * pixel(x, &g, s, c, oy * k->sh + i - g.pt, ox * k->sw + j - g.pl);
					want[(((size_t)s * F + f) * g.oh + oy) * g.ow + ox] = (float)z;
				}
	bp_act_forward(act, want, NULL, 1, (int)ys);
	/* Float rounding grows with the terms of each sum (C·kh·kw of them,
	 * |z| ~ √kk): 1e-4 up to 400 terms, in proportion beyond (the
	 * 160-channel case differs by 1.3e-4 with OpenBLAS's SkylakeX kernels
	 * on an AMD Zen 4, whose sgemm adds in another order than Haswell's). */
	const double tol = 1e-4 * (kk > 400 ? kk / 400.0 : 1.0);
	assert_true(max_diff(y, want, ys) < tol);

	/* Backward against the direct derivatives. */
	float *dy = randoms(ys, r), *dz = malloc(ys * sizeof *dz), *dy0 = malloc(ys * sizeof *dy0);
	float *dx = malloc(xs * sizeof *dx), *dw = malloc((size_t)F * kk * sizeof *dw), *db = malloc(F * sizeof *db);
	double *rdx = calloc(xs, sizeof *rdx), *rdw = calloc((size_t)F * kk, sizeof *rdw), rdb[F] = { 0 };
	assert_true(dz && dy0 && dx && dw && db && rdx && rdw);
	memcpy(dz, dy, ys * sizeof *dz);
	memcpy(dy0, dy, ys * sizeof *dy0);
	bp_act_backward(act, dz, y, 1, (int)ys);
	for (int s = 0; s < N; s++)
		for (int f = 0; f < F; f++)
			for (int oy = 0; oy < g.oh; oy++)
				for (int ox = 0; ox < g.ow; ox++) {
					double d = dz[(((size_t)s * F + f) * g.oh + oy) * g.ow + ox];
					rdb[f] += d;
					for (int c = 0; c < C; c++)
						for (int i = 0; i < k->kh; i++)
							for (int j = 0; j < k->kw; j++) {
								int iy = oy * k->sh + i - g.pt, ix = ox * k->sw + j - g.pl;
								size_t wi = ((size_t)(f * C + c) * k->kh + i) * k->kw + j;
								rdw[wi] += d * pixel(x, &g, s, c, iy, ix);
								if (iy >= 0 && iy < k->h && ix >= 0 && ix < k->w)
									rdx[(((size_t)s * C + c) * k->h + iy) * k->w + ix] += d * w[wi];
							}
				}
	bp_conv_backward(dx, dw, db, work, dy, x, y, w, act, &g, F, N);
	for (size_t i = 0; i < xs; i++)
		assert_true(fabs(dx[i] - rdx[i]) < 1e-4);
	for (size_t i = 0; i < (size_t)F * kk; i++)
		assert_true(fabs(dw[i] - rdw[i]) < 1e-3);
	for (int f = 0; f < F; f++)
		assert_true(fabs(db[f] - rdb[f]) < 1e-4);

	/* dx NULL (a first layer) still gives the same weight gradient, and
	 * the right one with the activation's derivative applied inside. */
	float *dw2 = malloc((size_t)F * kk * sizeof *dw2), db2[F];
	assert_non_null(dw2);
	bp_conv_forward(y, work, x, w, b, act, &g, F, N);
	memcpy(dy, dz, ys * sizeof *dy);
	bp_conv_backward(NULL, dw2, NULL, work, dy, x, y, w, BP_ACT_LINEAR, &g, F, N);
	assert_true(max_diff(dw, dw2, (size_t)F * kk) == 0.0);
	bp_conv_forward(y, work, x, w, b, act, &g, F, N);
	memcpy(dy, dy0, ys * sizeof *dy);
	bp_conv_backward(NULL, dw2, db2, work, dy, x, y, w, act, &g, F, N);
	for (size_t i = 0; i < (size_t)F * kk; i++)
		assert_true(fabs(dw2[i] - rdw[i]) < 1e-3);
	for (int f = 0; f < F; f++)
		assert_true(fabs(db2[f] - rdb[f]) < 1e-4);

	free(x); free(w); free(b); free(work); free(y); free(want);
	free(dy); free(dz); free(dx); free(dw); free(db); free(rdx); free(rdw); free(dw2); free(dy0);
}

static void test_conv_against_direct(void **state)
{
	(void)state;
	_Static_assert(BP_CONV_BLOCK / (64 * 9 * 11 * 9) == 2, "the 11x9 case: two samples per block");
	struct bp_rng r;
	bp_rng_seed(&r, 3);
	enum bp_act acts[] = { BP_ACT_LINEAR, BP_ACT_TANH, BP_ACT_RELU };
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		for (size_t a = 0; a < 3; a++)
			conv_case(&cases[i], acts[a], &r);
}

static void pool_case(const struct geom_case *k, bool max, struct bp_rng *r, bool ties)
{
	const int C = channels(k);
	struct bp_window g;
	make_window(&g, k);
	size_t ohw = bp_window_out(&g), xs = (size_t)N * C * k->h * k->w, ys = (size_t)N * C * ohw;
	float *x = randoms(xs, r), *y = malloc(ys * sizeof *y), *want = malloc(ys * sizeof *want);
	int32_t *arg = malloc(ys * sizeof *arg);
	float *dy = randoms(ys, r), *dx = malloc(xs * sizeof *dx);
	double *rdx = calloc(xs, sizeof *rdx);
	assert_true(y && want && arg && dx && rdx);
	if (ties)   /* few distinct values: many ties */
		for (size_t i = 0; i < xs; i++)
			x[i] = (float)(int)(x[i] > 0);
	if (max)
		bp_maxpool_forward(y, arg, x, &g, N);
	else
		bp_avgpool_forward(y, x, &g, N);
	for (int s = 0; s < N; s++)
		for (int c = 0; c < C; c++)
			for (int oy = 0; oy < g.oh; oy++)
				for (int ox = 0; ox < g.ow; ox++) {
					double best = -INFINITY, sum = 0;
					int count = 0, at = -1;
					for (int i = 0; i < k->kh; i++)
						for (int j = 0; j < k->kw; j++) {
							int iy = oy * k->sh + i - g.pt, ix = ox * k->sw + j - g.pl;
							if (iy < 0 || iy >= k->h || ix < 0 || ix >= k->w)
								continue;
							double v = pixel(x, &g, s, c, iy, ix);
							sum += v;
							count++;
							if (v > best) {
								best = v;
								at = iy * k->w + ix;
							}
						}
					assert_true(count > 0);
					size_t o = (((size_t)s * C + c) * g.oh + oy) * g.ow + ox;
					want[o] = (float)(max ? best : sum / count);
					if (max)
						assert_int_equal(arg[o], at);
					size_t plane = ((size_t)s * C + c) * k->h * k->w;
					for (int i = 0; i < k->kh; i++)
						for (int j = 0; j < k->kw; j++) {
							int iy = oy * k->sh + i - g.pt, ix = ox * k->sw + j - g.pl;
							if (iy < 0 || iy >= k->h || ix < 0 || ix >= k->w)
								continue;
							if (!max)
								rdx[plane + iy * k->w + ix] += dy[o] / count;
							else if (iy * k->w + ix == at)
								rdx[plane + iy * k->w + ix] += dy[o];
						}
				}
	assert_true(max_diff(y, want, ys) < 1e-5);
	if (max)
		bp_maxpool_backward(dx, dy, arg, &g, N);
	else
		bp_avgpool_backward(dx, dy, &g, N);
	for (size_t i = 0; i < xs; i++)
		assert_true(fabs(dx[i] - rdx[i]) < 1e-5);
	free(x); free(y); free(want); free(arg); free(dy); free(dx); free(rdx);
}

static void test_pools_against_direct(void **state)
{
	(void)state;
	struct bp_rng r;
	bp_rng_seed(&r, 4);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		pool_case(&cases[i], true, &r, false);
		pool_case(&cases[i], true, &r, true);
		pool_case(&cases[i], false, &r, false);
	}
	/* The 2×2, stride 2 fast path (AVX-512 when the CPU has it): rows of
	 * 14 and 7 windows (the benchmark's), of more than 16 (two vector
	 * passes and a tail), odd heights and widths. */
	static const struct geom_case pool2x2[] = {
		{ 28, 28, 2, 2, 2, 2, false, 3 }, { 14, 14, 2, 2, 2, 2, false, 0 }, { 5, 70, 2, 2, 2, 2, false, 2 },
		{ 7, 33, 2, 2, 2, 2, false, 0 },  { 3, 64, 2, 2, 2, 2, false, 0 }, { 2, 2, 2, 2, 2, 2, false, 0 },
	};
	for (size_t i = 0; i < sizeof pool2x2 / sizeof pool2x2[0]; i++) {
		pool_case(&pool2x2[i], true, &r, false);
		pool_case(&pool2x2[i], true, &r, true);
	}
}

static void test_global_average(void **state)
{
	(void)state;
	struct bp_rng r;
	bp_rng_seed(&r, 5);
	int hw = 35;
	float *x = randoms((size_t)N * C * hw, &r), y[N * C], dy[N * C], *dx = malloc((size_t)N * C * hw * sizeof *dx);
	assert_non_null(dx);
	bp_gap_forward(y, x, N, C, hw);
	for (int p = 0; p < N * C; p++) {
		double s = 0;
		for (int i = 0; i < hw; i++)
			s += x[p * hw + i];
		assert_true(fabs(y[p] - s / hw) < 1e-5);
		dy[p] = (float)p;
	}
	bp_gap_backward(dx, dy, N, C, hw);
	for (int p = 0; p < N * C; p++)
		for (int i = 0; i < hw; i++)
			assert_true(fabs(dx[p * hw + i] - (float)p / hw) < 1e-6);
	free(x);
	free(dx);
}

/* A member with no samples: nothing is read, the gradients are zero. */
static void test_empty_batch(void **state)
{
	(void)state;
	struct bp_window g;
	assert_true(bp_window_init(&g, C, 7, 5, 3, 3, 1, 1, true));
	float w[F * C * 9], b[F], dw[F * C * 9], db[F], one = 1.0f;
	for (int i = 0; i < F * C * 9; i++) {
		w[i] = 1.0f;
		dw[i] = NAN;
	}
	for (int f = 0; f < F; f++)
		db[f] = NAN;
	bp_conv_forward(&one, &one, &one, w, b, BP_ACT_RELU, &g, F, 0);
	bp_conv_backward(&one, dw, db, &one, &one, &one, &one, w, BP_ACT_RELU, &g, F, 0);
	struct bp_window big;   /* the per-sample path */
	assert_true(bp_window_init(&big, C, 28, 28, 3, 3, 1, 1, true) && bp_window_out(&big) >= BP_CONV_PER_SAMPLE);
	for (int i = 0; i < F * C * 9; i++)
		dw[i] = NAN;
	bp_conv_forward(&one, &one, &one, w, b, BP_ACT_RELU, &big, F, 0);
	bp_conv_backward(&one, dw, NULL, &one, &one, &one, &one, w, BP_ACT_RELU, &big, F, 0);
	for (int i = 0; i < F * C * 9; i++)
		assert_true(dw[i] == 0.0f);
	for (int i = 0; i < F * C * 9; i++)
		assert_true(dw[i] == 0.0f);
	for (int f = 0; f < F; f++)
		assert_true(db[f] == 0.0f);
	assert_true(one == 1.0f);
	int32_t arg = 7;
	bp_maxpool_forward(&one, &arg, &one, &g, 0);
	bp_maxpool_backward(&one, &one, &arg, &g, 0);
	bp_avgpool_forward(&one, &one, &g, 0);
	bp_avgpool_backward(&one, &one, &g, 0);
	assert_true(one == 1.0f && arg == 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window_geometry),
		cmocka_unit_test(test_conv_against_direct),
		cmocka_unit_test(test_pools_against_direct),
		cmocka_unit_test(test_global_average),
		cmocka_unit_test(test_empty_batch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
