/* The project's random numbers: xoshiro256** (Blackman & Vigna, 2018),
 * seeded through splitmix64. Same seed, same numbers on every platform.
 * All randomness (init, shuffling, dropout, validation split) comes from
 * here; the state is plain data so checkpoints can store it. */
#ifndef BP_RNG_H
#define BP_RNG_H

#include <stdint.h>

struct bp_rng {
	uint64_t s[4];
};

void bp_rng_seed(struct bp_rng *r, uint64_t seed);
uint64_t bp_rng_next(struct bp_rng *r);
/* Uniform in [0, 1), 53 random bits. */
double bp_rng_uniform(struct bp_rng *r);
/* Uniform integer in [0, n), unbiased (Lemire's method); n > 0. */
uint64_t bp_rng_below(struct bp_rng *r, uint64_t n);
/* Standard normal (Box-Muller, both values used in turn is avoided so the
 * state stays four words). */
double bp_rng_normal(struct bp_rng *r);
/* Fisher-Yates shuffle of idx[0..n). */
void bp_rng_shuffle(struct bp_rng *r, uint32_t *idx, uint32_t n);

#endif
