#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "rng.h"

/* First outputs of xoshiro256** seeded by splitmix64(42), computed by an
 * independent implementation of both published algorithms. */
static void test_known_sequence(void **state)
{
	(void)state;
	static const uint64_t want[] = {
		0x15780b2e0c2ec716ULL, 0x6104d9866d113a7eULL, 0xae17533239e499a1ULL,
		0xecb8ad4703b360a1ULL, 0xfde6dc7fe2ec5e64ULL,
	};
	struct bp_rng r;
	bp_rng_seed(&r, 42);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		assert_true(bp_rng_next(&r) == want[i]);
}

static void test_uniform_and_below(void **state)
{
	(void)state;
	struct bp_rng r;
	bp_rng_seed(&r, 7);
	double sum = 0;
	int counts[10] = { 0 };
	for (int i = 0; i < 100000; i++) {
		double u = bp_rng_uniform(&r);
		assert_true(u >= 0.0 && u < 1.0);
		sum += u;
		uint64_t k = bp_rng_below(&r, 10);
		assert_true(k < 10);
		counts[k]++;
	}
	assert_true(fabs(sum / 100000 - 0.5) < 0.01);
	for (int k = 0; k < 10; k++)
		assert_in_range(counts[k], 9500, 10500);
}

static void test_normal_moments(void **state)
{
	(void)state;
	struct bp_rng r;
	bp_rng_seed(&r, 1);
	double s = 0, s2 = 0;
	const int n = 200000;
	for (int i = 0; i < n; i++) {
		double x = bp_rng_normal(&r);
		assert_true(isfinite(x));
		s += x;
		s2 += x * x;
	}
	assert_true(fabs(s / n) < 0.01);
	assert_true(fabs(s2 / n - 1.0) < 0.02);
}

static void test_shuffle_is_permutation_and_seeded(void **state)
{
	(void)state;
	uint32_t a[100], b[100];
	for (uint32_t i = 0; i < 100; i++)
		a[i] = b[i] = i;
	struct bp_rng r1, r2;
	bp_rng_seed(&r1, 5);
	bp_rng_seed(&r2, 5);
	bp_rng_shuffle(&r1, a, 100);
	bp_rng_shuffle(&r2, b, 100);
	assert_memory_equal(a, b, sizeof a);
	int seen[100] = { 0 }, moved = 0;
	for (uint32_t i = 0; i < 100; i++) {
		seen[a[i]]++;
		moved += a[i] != i;
	}
	for (int i = 0; i < 100; i++)
		assert_int_equal(seen[i], 1);
	assert_true(moved > 80);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_sequence),
		cmocka_unit_test(test_uniform_and_below),
		cmocka_unit_test(test_normal_moments),
		cmocka_unit_test(test_shuffle_is_permutation_and_seeded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
