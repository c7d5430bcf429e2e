#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "blas.h"
#include "rng.h"

static void fill(float *v, size_t n, struct bp_rng *r)
{
	for (size_t i = 0; i < n; i++)
		v[i] = (float)(2 * bp_rng_uniform(r) - 1);
}

/* Every transpose combination, odd shapes, padded leading dimensions and a
 * non-zero beta: the BLAS wrapper equals the reference product. */
static void test_sgemm_matches_reference(void **state)
{
	(void)state;
	struct bp_rng r;
	bp_rng_seed(&r, 3);
	const int shapes[][3] = { { 1, 1, 1 }, { 7, 5, 3 }, { 33, 17, 65 }, { 64, 10, 784 }, { 3, 129, 2 } };
	for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
		for (int ta = 0; ta < 2; ta++)
			for (int tb = 0; tb < 2; tb++) {
				int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
				int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
				float *a = malloc(sizeof(float) * (size_t)lda * (ta ? k : m));
				float *b = malloc(sizeof(float) * (size_t)ldb * (tb ? n : k));
				float *c1 = malloc(sizeof(float) * (size_t)ldc * m);
				float *c2 = malloc(sizeof(float) * (size_t)ldc * m);
				fill(a, (size_t)lda * (ta ? k : m), &r);
				fill(b, (size_t)ldb * (tb ? n : k), &r);
				fill(c1, (size_t)ldc * m, &r);
				for (int i = 0; i < ldc * m; i++)
					c2[i] = c1[i];
				bp_sgemm(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, 2.0f, c1, ldc);
				bp_sgemm_ref(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, 2.0f, c2, ldc);
				for (int i = 0; i < m; i++)
					for (int j = 0; j < ldc; j++) {
						float x = c1[i * ldc + j], y = c2[i * ldc + j];
						assert_true(fabsf(x - y) <= 1e-4f * (1.0f + sqrtf((float)k)));
					}
				free(a);
				free(b);
				free(c1);
				free(c2);
			}
}

static void test_reference_by_hand(void **state)
{
	(void)state;
	/* [1 2; 3 4] · [5 6; 7 8] = [19 22; 43 50]; with A transposed: [26 30; 38 44] */
	const float a[] = { 1, 2, 3, 4 }, b[] = { 5, 6, 7, 8 };
	float c[4];
	bp_sgemm(false, false, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2);
	assert_true(c[0] == 19 && c[1] == 22 && c[2] == 43 && c[3] == 50);
	bp_sgemm(true, false, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2);
	assert_true(c[0] == 26 && c[1] == 30 && c[2] == 38 && c[3] == 44);
	bp_sgemm_ref(false, true, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2);
	assert_true(c[0] == 17 && c[1] == 23 && c[2] == 39 && c[3] == 53);
}

static void test_threads(void **state)
{
	(void)state;
	bp_blas_set_threads(1);
	assert_int_equal(bp_blas_threads(), 1);
	bp_blas_set_threads(0);
	assert_true(bp_blas_threads() >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sgemm_matches_reference),
		cmocka_unit_test(test_reference_by_hand),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
