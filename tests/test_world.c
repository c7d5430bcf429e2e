/* core/world.c: run under `mpirun -np 3` (tests/meson.build) it checks the
 * sums across processes against the rank-order sum computed here, on the
 * short path (gathered whole) and the long one (alltoallv + allgatherv),
 * that every rank gets the same bits, and agree/any/bcast/or. Run alone it
 * checks that the world is this process and every call is the identity.
 * Plain asserts rather than cmocka: each rank is its own process, and any
 * failure must end the job (mpirun stops the others). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "world.h"

static int failures;

#define CHECK(cond)                                                                                    \
	do {                                                                                               \
		if (!(cond)) {                                                                                 \
			fprintf(stderr, "rank %d: %s:%d: check failed: %s\n", bp_world_rank(), __FILE__, __LINE__, #cond); \
			failures++;                                                                                \
		}                                                                                              \
	} while (0)

/* Rank r's element j: values whose float sum depends on the order. */
static float value(int r, size_t j)
{
	uint32_t h = (uint32_t)(j * 2654435761u) ^ (uint32_t)(r * 40503u + 1);
	h ^= h >> 13;
	h *= 0x5bd1e995u;
	h ^= h >> 15;
	float mag = (h & 3) == 0 ? 1e7f : 1.0f;   /* big and small terms: the order shows */
	return mag * ((float)(h >> 8) / 16777216.0f - 0.5f);
}

static void check_sum_f32(size_t n)
{
	int size = bp_world_size(), rank = bp_world_rank();
	float *v = malloc(n * sizeof *v), *back = malloc(n * sizeof *back);
	CHECK(v && back);
	for (size_t j = 0; j < n; j++)
		v[j] = value(rank, j);
	bp_world_sum_f32(v, n);
	size_t wrong = 0;
	for (size_t j = 0; j < n; j++) {
		float s = value(0, j);
		for (int r = 1; r < size; r++)
			s += value(r, j);
		wrong += memcmp(&s, &v[j], sizeof s) != 0;
	}
	CHECK(wrong == 0);
	/* Every rank holds the same bits: rank 0's copy, sent to all. */
	memcpy(back, v, n * sizeof *v);
	bp_world_bcast(back, n * sizeof *back);
	CHECK(memcmp(back, v, n * sizeof *v) == 0);
	free(v);
	free(back);
}

static void check_sum_f64(size_t n)
{
	int size = bp_world_size(), rank = bp_world_rank();
	double *v = malloc(n * sizeof *v);
	CHECK(v != NULL);
	for (size_t j = 0; j < n; j++)
		v[j] = (double)value(rank, j) * 1e9 + (double)value(rank + 7, j);
	bp_world_sum_f64(v, n);
	size_t wrong = 0;
	for (size_t j = 0; j < n; j++) {
		double s = (double)value(0, j) * 1e9 + (double)value(7, j);
		for (int r = 1; r < size; r++)
			s += (double)value(r, j) * 1e9 + (double)value(r + 7, j);
		wrong += memcmp(&s, &v[j], sizeof s) != 0;
	}
	CHECK(wrong == 0);
	free(v);
}

int main(int argc, char **argv)
{
	struct bp_err err = { 0 };
	if (bp_world_init(&argc, &argv, &err)) {
		fprintf(stderr, "bp_world_init: %s\n", err.msg);
		return 1;
	}
	int size = bp_world_size(), rank = bp_world_rank();
	const char *want = getenv("TEST_WORLD_SIZE");   /* set by meson for the mpirun run */
	if (want)
		CHECK(size == atoi(want));
	CHECK(rank >= 0 && rank < size);
	CHECK(bp_world_on() == (size > 1));

	/* Lengths below, at and above the gathered-whole limit, not multiples of
	 * the rank count, and shorter than it. */
	static const size_t lengths[] = { 1, 2, 5, 1000, 1365, 1366, 4097, 100003 };
	for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
		check_sum_f32(lengths[i]);
		check_sum_f64(lengths[i]);
	}

	/* any: true when one rank says so, false when none does. */
	CHECK(bp_world_any(rank == size - 1));
	CHECK(!bp_world_any(false));

	/* or: bit r set by rank r. */
	unsigned char bits[3] = { (unsigned char)(1u << (rank % 8)), 0, (unsigned char)(rank == 0 ? 0x80 : 0) };
	bp_world_or_u8(bits, sizeof bits);
	unsigned char all = 0;
	for (int r = 0; r < size; r++)
		all |= (unsigned char)(1u << (r % 8));
	CHECK(bits[0] == all && bits[1] == 0 && bits[2] == 0x80);

	/* agree: no failure → 0; failures on ranks ≥ 1 → everyone gets the
	 * lowest one's error, naming it. */
	CHECK(bp_world_agree(0, &err) == 0);
	struct bp_err e = { 0 };
	int rc = 0;
	if (rank >= 1) {
		rc = bp_fail(&e, BP_ERR_DATA, "data.csv", "failure on rank %d", rank);
	}
	rc = bp_world_agree(rc, &e);
	if (size > 1) {
		CHECK(rc == -1);
		CHECK(e.kind == BP_ERR_DATA);
		CHECK(strcmp(e.where, "data.csv") == 0);
		CHECK(strncmp(e.msg, "failure on rank 1", 17) == 0);
		if (rank != 1)
			CHECK(strstr(e.msg, "(on rank 1 of ") != NULL);
		else
			CHECK(strcmp(e.msg, "failure on rank 1") == 0);
	} else {
		CHECK(rc == 0);
	}

	int bad = (int)bp_world_any(failures > 0);
	if (rank == 0)
		printf("test_world: %d processes, %s\n", size, bad ? "FAILED" : "all checks passed");
	return bp_world_end(bad ? 1 : 0);
}
