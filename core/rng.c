#include "rng.h"

#include <math.h>

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void bp_rng_seed(struct bp_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

uint64_t bp_rng_next(struct bp_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double bp_rng_uniform(struct bp_rng *r)
{
	return (double)(bp_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t bp_rng_below(struct bp_rng *r, uint64_t n)
{
	/* Lemire's nearly divisionless method with 128-bit products. */
	__extension__ typedef unsigned __int128 u128;
	u128 m = (u128)bp_rng_next(r) * n;
	uint64_t lo = (uint64_t)m;
	if (lo < n) {
		uint64_t t = (0 - n) % n;
		while (lo < t) {
			m = (u128)bp_rng_next(r) * n;
			lo = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

double bp_rng_normal(struct bp_rng *r)
{
	double u1 = 1.0 - bp_rng_uniform(r);  /* (0, 1]: log is finite */
	double u2 = bp_rng_uniform(r);
	return sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}

void bp_rng_shuffle(struct bp_rng *r, uint32_t *idx, uint32_t n)
{
	for (uint32_t i = n; i > 1; i--) {
		uint32_t j = (uint32_t)bp_rng_below(r, i);
		uint32_t t = idx[i - 1];
		idx[i - 1] = idx[j];
		idx[j] = t;
	}
}
