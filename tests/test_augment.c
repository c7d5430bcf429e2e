#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "augment.h"

/* The transform written directly from its definition, one pixel at a time:
 * mirror x, then y[c][i][j] = x'[c][i − dy][j − dx], zero outside. */
static void reference(float *y, const float *x, struct bp_shape s, const struct bp_aug_draw *d)
{
	for (int c = 0; c < s.c; c++)
		for (int i = 0; i < s.h; i++)
			for (int j = 0; j < s.w; j++) {
				int si = i - d->dy, sj = j - d->dx;
				float v = 0;
				if (si >= 0 && si < s.h && sj >= 0 && sj < s.w)
					v = x[((size_t)c * s.h + si) * s.w + (d->flip ? s.w - 1 - sj : sj)];
				y[((size_t)c * s.h + i) * s.w + j] = v;
			}
}

static float *numbered(size_t n)
{
	float *x = malloc(n * sizeof *x);
	assert_non_null(x);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(i + 1);   /* no zeros: a zero in y is fill */
	return x;
}

/* Worked by hand on a 2×3 image. */
static void test_by_hand(void **state)
{
	(void)state;
	const float x[6] = { 1, 2, 3, 4, 5, 6 };
	struct bp_shape s = { 1, 2, 3 };
	float y[6];
	bp_augment_sample(y, x, s, &(struct bp_aug_draw){ 1, -1, false });
	const float down_left[6] = { 0, 0, 0, 2, 3, 0 };
	assert_memory_equal(y, down_left, sizeof y);
	bp_augment_sample(y, x, s, &(struct bp_aug_draw){ 0, 1, true });
	const float mirrored_right[6] = { 0, 3, 2, 0, 6, 5 };
	assert_memory_equal(y, mirrored_right, sizeof y);
	bp_augment_sample(y, x, s, &(struct bp_aug_draw){ 0, 0, true });
	const float mirrored[6] = { 3, 2, 1, 6, 5, 4 };
	assert_memory_equal(y, mirrored, sizeof y);
	bp_augment_sample(y, x, s, &(struct bp_aug_draw){ -1, 0, false });
	const float up[6] = { 4, 5, 6, 0, 0, 0 };
	assert_memory_equal(y, up, sizeof y);
}

/* Every shift (past the edges too), with and without the mirror, on odd
 * and even sizes and several channels, against the reference. */
static void test_against_reference(void **state)
{
	(void)state;
	const struct bp_shape shapes[] = { { 1, 5, 7 }, { 3, 7, 5 }, { 4, 6, 6 }, { 2, 2, 3 }, { 1, 9, 1 } };
	for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
		struct bp_shape s = shapes[k];
		size_t n = bp_shape_size(s);
		float *x = numbered(n), *y = malloc(n * sizeof *y), *want = malloc(n * sizeof *want);
		assert_true(y && want);
		for (int flip = 0; flip < 2; flip++)
			for (int dy = -s.h - 1; dy <= s.h + 1; dy++)
				for (int dx = -s.w - 1; dx <= s.w + 1; dx++) {
					struct bp_aug_draw d = { dy, dx, flip };
					memset(y, 0xff, n * sizeof *y);   /* NaNs: every pixel must be written */
					bp_augment_sample(y, x, s, &d);
					reference(want, x, s, &d);
					assert_memory_equal(y, want, n * sizeof *y);
				}
		free(x);
		free(y);
		free(want);
	}
}

static void test_draws(void **state)
{
	(void)state;
	const struct bp_augment_cfg a = { 2, true };
	int dys[5] = { 0 }, dxs[5] = { 0 }, flips = 0, same = 0;
	const int n = 20000;
	struct bp_aug_draw prev = { 0, 0, false };
	for (int i = 0; i < n; i++) {
		struct bp_aug_draw d;
		bp_augment_draw(&d, &a, 12345, (uint64_t)i);
		assert_in_range(d.dy + 2, 0, 4);
		assert_in_range(d.dx + 2, 0, 4);
		dys[d.dy + 2]++;
		dxs[d.dx + 2]++;
		flips += d.flip;
		same += d.dy == prev.dy && d.dx == prev.dx && d.flip == prev.flip;
		prev = d;
	}
	for (int v = 0; v < 5; v++) {
		assert_in_range(dys[v], n / 5 - 400, n / 5 + 400);
		assert_in_range(dxs[v], n / 5 - 400, n / 5 + 400);
	}
	assert_in_range(flips, n / 2 - 500, n / 2 + 500);
	assert_true(same < n / 40);   /* 1 in 50 by chance */
	/* The same base and position always give the same draw; another base
	 * other draws; flip off never mirrors; shift 0 never moves. */
	struct bp_aug_draw d1, d2;
	int differ = 0;
	for (uint64_t i = 0; i < 64; i++) {
		bp_augment_draw(&d1, &a, 777, i);
		bp_augment_draw(&d2, &a, 777, i);
		assert_true(d1.dy == d2.dy && d1.dx == d2.dx && d1.flip == d2.flip);
		bp_augment_draw(&d2, &a, 778, i);
		differ += d1.dy != d2.dy || d1.dx != d2.dx || d1.flip != d2.flip;
		bp_augment_draw(&d2, &(struct bp_augment_cfg){ 3, false }, 777, i);
		assert_false(d2.flip);
		bp_augment_draw(&d2, &(struct bp_augment_cfg){ 0, true }, 777, i);
		assert_true(d2.dy == 0 && d2.dx == 0);
	}
	assert_true(differ > 32);
}

/* A batch augmented whole or in any split (first = the part's offset in
 * the batch, as each team member does) gives the same bits, and each
 * sample is the reference transform under its position's draw. */
static void test_batch_split(void **state)
{
	(void)state;
	const struct bp_shape s = { 3, 7, 5 };
	const struct bp_augment_cfg a = { 3, true };
	const int n = 23;
	const uint64_t base = 0x0123456789abcdefULL;
	size_t d = bp_shape_size(s);
	float *x = numbered((size_t)n * d), *whole = malloc((size_t)n * d * sizeof *whole);
	float *part = malloc((size_t)n * d * sizeof *part), *tmp = malloc(d * sizeof *tmp);
	float *want = malloc(d * sizeof *want);
	assert_true(whole && part && tmp && want);
	memcpy(whole, x, (size_t)n * d * sizeof *x);
	bp_augment_batch(whole, tmp, s, &a, base, 0, n);
	int moved = 0;
	for (int i = 0; i < n; i++) {
		struct bp_aug_draw dr;
		bp_augment_draw(&dr, &a, base, (uint64_t)i);
		reference(want, x + (size_t)i * d, s, &dr);
		assert_memory_equal(whole + (size_t)i * d, want, d * sizeof *want);
		moved += memcmp(whole + (size_t)i * d, x + (size_t)i * d, d * sizeof *x) != 0;
	}
	assert_true(moved > n / 2);
	for (int parts = 2; parts <= 5; parts++) {
		memcpy(part, x, (size_t)n * d * sizeof *x);
		for (int p = 0; p < parts; p++) {
			int lo = n * p / parts, hi = n * (p + 1) / parts;
			bp_augment_batch(part + (size_t)lo * d, tmp, s, &a, base, (size_t)lo, hi - lo);
		}
		assert_memory_equal(part, whole, (size_t)n * d * sizeof *part);
	}
	free(x);
	free(whole);
	free(part);
	free(tmp);
	free(want);
}

static void test_check(void **state)
{
	(void)state;
	struct bp_err err;
	const struct bp_augment_cfg off = { 0, false }, flip = { 0, true }, shift4 = { 4, false };
	assert_int_equal(bp_augment_check(&off, (struct bp_shape){ 10, 1, 1 }, "A", "S", &err), 0);
	assert_int_equal(bp_augment_check(&flip, (struct bp_shape){ 10, 1, 1 }, "A", "S", &err), -1);
	assert_int_equal(err.kind, BP_ERR_CONFIG);
	assert_string_equal(err.where, "A");
	assert_non_null(strstr(err.msg, "[10, 1, 1]"));
	assert_int_equal(bp_augment_check(&flip, (struct bp_shape){ 1, 2, 2 }, "A", "S", &err), 0);
	assert_int_equal(bp_augment_check(&shift4, (struct bp_shape){ 1, 5, 5 }, "A", "S", &err), 0);
	assert_int_equal(bp_augment_check(&shift4, (struct bp_shape){ 1, 5, 4 }, "A", "S", &err), -1);
	assert_string_equal(err.where, "S");
	assert_non_null(strstr(err.msg, "'data.augment.shift' must be smaller"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_by_hand),
		cmocka_unit_test(test_against_reference),
		cmocka_unit_test(test_draws),
		cmocka_unit_test(test_batch_split),
		cmocka_unit_test(test_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
