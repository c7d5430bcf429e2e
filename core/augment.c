#include "augment.h"

#include <string.h>

__extension__ typedef unsigned __int128 u128;

/* splitmix64's finaliser: the draws are its stream from a per-step key. */
static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* h scaled to [0, n): bias below n / 2^64. */
static int below(uint64_t h, uint64_t n)
{
	return (int)(((u128)h * n) >> 64);
}

void bp_augment_draw(struct bp_aug_draw *d, const struct bp_augment_cfg *a, uint64_t base, uint64_t pos)
{
	const uint64_t golden = 0x9e3779b97f4a7c15ULL;
	/* Its own key, so the draws share nothing with the dropout streams
	 * that the same base seeds. */
	uint64_t key = mix(base ^ 0x6175676d656e7421ULL);   /* "augment!" */
	uint64_t at = key + 3 * pos * golden;
	uint64_t n = 2 * (uint64_t)a->shift + 1;
	d->dy = below(mix(at + golden), n) - a->shift;
	d->dx = below(mix(at + 2 * golden), n) - a->shift;
	d->flip = a->flip && (mix(at + 3 * golden) >> 63);
}

void bp_augment_sample(float *restrict y, const float *restrict x, struct bp_shape s, const struct bp_aug_draw *d)
{
	const int h = s.h, w = s.w, dx = d->dx;
	/* The columns of y with a source column j − dx inside the image. */
	const int j0 = dx > 0 ? dx : 0, j1 = dx < 0 ? w + dx : w;
	for (int c = 0; c < s.c; c++) {
		for (int i = 0; i < h; i++) {
			float *yr = y + ((size_t)c * h + i) * w;
			int si = i - d->dy;
			if (si < 0 || si >= h || j1 <= j0) {
				memset(yr, 0, (size_t)w * sizeof *yr);
				continue;
			}
			const float *xr = x + ((size_t)c * h + si) * w;
			memset(yr, 0, (size_t)j0 * sizeof *yr);
			memset(yr + j1, 0, (size_t)(w - j1) * sizeof *yr);
			if (d->flip) {
				/* x'[j'] = x[w − 1 − j'] with j' = j − dx */
				for (int j = j0; j < j1; j++)
					yr[j] = xr[w - 1 - (j - dx)];
			} else {
				memcpy(yr + j0, xr + (j0 - dx), (size_t)(j1 - j0) * sizeof *yr);
			}
		}
	}
}

void bp_augment_batch(float *x, float *tmp, struct bp_shape s, const struct bp_augment_cfg *a, uint64_t base,
                      size_t first, int n)
{
	size_t d = bp_shape_size(s);
	for (int i = 0; i < n; i++) {
		struct bp_aug_draw dr;
		bp_augment_draw(&dr, a, base, first + (size_t)i);
		if (dr.dy == 0 && dr.dx == 0 && !dr.flip)
			continue;
		float *xi = x + (size_t)i * d;
		memcpy(tmp, xi, d * sizeof *tmp);
		bp_augment_sample(xi, tmp, s, &dr);
	}
}

int bp_augment_check(const struct bp_augment_cfg *a, struct bp_shape s, const char *aug_where,
                     const char *shift_where, struct bp_err *err)
{
	if (!bp_augment_on(a))
		return 0;
	if (s.h < 2 || s.w < 2)
		return bp_fail(err, BP_ERR_CONFIG, aug_where,
		               "'data.augment' needs image samples, with height and width above 1, but the samples are "
		               "[%d, %d, %d] (C, H, W); give them a shape with 'data.shape'", s.c, s.h, s.w);
	if (a->shift >= s.h || a->shift >= s.w)
		return bp_fail(err, BP_ERR_CONFIG, shift_where,
		               "'data.augment.shift' must be smaller than the image height and width (%d, %d), got %d",
		               s.h, s.w, a->shift);
	return 0;
}
