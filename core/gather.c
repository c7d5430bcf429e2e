/* Normalisation statistics and the batch gather (declared in dataset.h). */
#include "dataset.h"
#include "simd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int norm_alloc(struct bp_norm *norm, enum bp_normalize kind, size_t d, struct bp_err *err)
{
	memset(norm, 0, sizeof *norm);
	norm->kind = kind;
	norm->d = d;
	if (kind != BP_NORM_STANDARDIZE)
		return 0;
	norm->mean = malloc(d * sizeof(float));
	norm->std = malloc(d * sizeof(float));
	norm->inv = malloc(d * sizeof(float));
	if (!norm->mean || !norm->std || !norm->inv) {
		bp_norm_release(norm);
		return bp_fail_oom(err, "normalisation statistics", 3 * d * sizeof(float));
	}
	return 0;
}

/* A constant (or degenerate) feature gets std 1. */
static void norm_finish(struct bp_norm *norm)
{
	for (size_t j = 0; j < norm->d; j++) {
		float inv = 1.0f / norm->std[j];
		if (!(norm->std[j] > 0) || !isfinite(inv)) {
			norm->std[j] = 1.0f;
			inv = 1.0f;
		}
		norm->inv[j] = inv;
	}
}

#define CONVERT(T)                                      \
	do {                                                \
		const T *s = (const T *)ds->x + row * d;        \
		for (size_t j = 0; j < d; j++)                  \
			out[j] = s[j];                              \
	} while (0)

/* One row of ds as doubles. */
static void row_double(double *restrict out, const struct bp_dataset *ds, size_t row)
{
	const size_t d = ds->d;
	switch (ds->type) {
	case BP_DT_U8: CONVERT(uint8_t); break;
	case BP_DT_I8: CONVERT(int8_t); break;
	case BP_DT_I16: CONVERT(int16_t); break;
	case BP_DT_I32: CONVERT(int32_t); break;
	case BP_DT_F32: CONVERT(float); break;
	case BP_DT_F64: CONVERT(double); break;
	}
}

int bp_norm_fit(struct bp_norm *norm, enum bp_normalize kind, const struct bp_dataset *ds,
                const uint32_t *idx, size_t n, struct bp_err *err)
{
	size_t d = ds->d;
	if (!idx)
		n = ds->n;
	if (kind == BP_NORM_AUTO)   /* SPEC: scale for uint8 data, none otherwise */
		kind = ds->type == BP_DT_U8 ? BP_NORM_SCALE : BP_NORM_NONE;
	if (norm_alloc(norm, kind, d, err))
		return -1;
	if (kind != BP_NORM_STANDARDIZE)
		return 0;
	/* Two passes in double, rows in order: sums, then squared deviations.
	 * min == max marks a constant feature exactly. */
	double *acc = calloc(5 * d, sizeof *acc);
	if (!acc) {
		bp_norm_release(norm);
		return bp_fail_oom(err, "normalisation statistics", 5 * d * sizeof *acc);
	}
	double *sum = acc, *sq = acc + d, *lo = acc + 2 * d, *hi = acc + 3 * d, *v = acc + 4 * d;
	for (size_t i = 0; i < n; i++) {
		row_double(v, ds, idx ? idx[i] : i);
		for (size_t j = 0; j < d; j++) {
			sum[j] += v[j];
			lo[j] = i == 0 || v[j] < lo[j] ? v[j] : lo[j];
			hi[j] = i == 0 || v[j] > hi[j] ? v[j] : hi[j];
		}
	}
	for (size_t j = 0; j < d; j++)
		sum[j] = n ? sum[j] / (double)n : 0;
	for (size_t i = 0; i < n; i++) {
		row_double(v, ds, idx ? idx[i] : i);
		for (size_t j = 0; j < d; j++)
			sq[j] += (v[j] - sum[j]) * (v[j] - sum[j]);
	}
	for (size_t j = 0; j < d; j++) {
		norm->mean[j] = (float)sum[j];
		norm->std[j] = n && lo[j] != hi[j] ? (float)sqrt(sq[j] / (double)n) : 1.0f;
	}
	free(acc);
	norm_finish(norm);
	return 0;
}

int bp_norm_set(struct bp_norm *norm, enum bp_normalize kind, size_t d, const float *mean,
                const float *std, struct bp_err *err)
{
	if (norm_alloc(norm, kind, d, err))
		return -1;
	if (kind == BP_NORM_STANDARDIZE) {
		memcpy(norm->mean, mean, d * sizeof(float));
		memcpy(norm->std, std, d * sizeof(float));
		norm_finish(norm);
	}
	return 0;
}

void bp_norm_release(struct bp_norm *norm)
{
	if (!norm)
		return;
	free(norm->mean);
	free(norm->std);
	free(norm->inv);
	memset(norm, 0, sizeof *norm);
}

/* One row of each element type: none, scale, standardize. */
#define ROW_FN(NAME, T)                                                                        \
	static void NAME(float *restrict o, const T *restrict s, size_t d, const struct bp_norm *nm) \
	{                                                                                      \
		if (!nm || nm->kind == BP_NORM_NONE) {                                             \
			for (size_t j = 0; j < d; j++)                                                 \
				o[j] = (float)s[j];                                                        \
		} else if (nm->kind == BP_NORM_SCALE) {                                            \
			for (size_t j = 0; j < d; j++)                                                 \
				o[j] = (float)s[j] / 255.0f;                                               \
		} else {                                                                           \
			const float *restrict mean = nm->mean, *restrict inv = nm->inv;               \
			for (size_t j = 0; j < d; j++)                                                 \
				o[j] = ((float)s[j] - mean[j]) * inv[j];                                   \
		}                                                                                  \
	}
ROW_FN(row_i8, int8_t)
ROW_FN(row_i16, int16_t)
ROW_FN(row_i32, int32_t)
ROW_FN(row_f32, float)
ROW_FN(row_f64, double)

/* The hot path. For scale, v·(1/255) in double rounds to exactly the float
 * v/255 for every byte (checked by the tests), and unlike a division it
 * vectorises cheaply. */
BP_HOT static void row_u8(float *restrict o, const uint8_t *restrict s, size_t d, const struct bp_norm *nm)
{
	if (nm && nm->kind == BP_NORM_STANDARDIZE) {
		const float *restrict mean = nm->mean, *restrict inv = nm->inv;
		for (size_t j = 0; j < d; j++)
			o[j] = ((float)s[j] - mean[j]) * inv[j];
	} else if (nm && nm->kind == BP_NORM_SCALE) {
		for (size_t j = 0; j < d; j++)
			o[j] = (float)((double)s[j] * (1.0 / 255.0));
	} else {
		for (size_t j = 0; j < d; j++)
			o[j] = (float)s[j];
	}
}

void bp_gather(float *restrict dst, const struct bp_dataset *ds, const struct bp_norm *norm,
               const uint32_t *restrict idx, size_t first, size_t n)
{
	const size_t d = ds->d;
	BP_BUG(norm && norm->kind == BP_NORM_STANDARDIZE && norm->d != d);
	const size_t ahead = 4;
	for (size_t i = 0; i < n; i++) {
		size_t row = idx ? idx[first + i] : first + i;
		float *restrict o = dst + i * d;
		/* Shuffled rows miss the cache: ask for a row a few ahead now. */
		if (idx && i + ahead < n)
			bp_gather_prefetch(ds, idx, first + i + ahead, 1);
		size_t at = row * d;
		switch (ds->type) {
		case BP_DT_U8: row_u8(o, (const uint8_t *)ds->x + at, d, norm); break;
		case BP_DT_I8: row_i8(o, (const int8_t *)ds->x + at, d, norm); break;
		case BP_DT_I16: row_i16(o, (const int16_t *)ds->x + at, d, norm); break;
		case BP_DT_I32: row_i32(o, (const int32_t *)ds->x + at, d, norm); break;
		case BP_DT_F32: row_f32(o, (const float *)ds->x + at, d, norm); break;
		case BP_DT_F64: row_f64(o, (const double *)ds->x + at, d, norm); break;
		}
	}
}

void bp_gather_prefetch(const struct bp_dataset *ds, const uint32_t *idx, size_t first, size_t n)
{
	const size_t bytes = ds->d * bp_dtype_size(ds->type);
	for (size_t i = 0; i < n; i++) {
		const char *row = (const char *)ds->x + (size_t)idx[first + i] * bytes;
		for (size_t b = 0; b < bytes; b += 64)
			__builtin_prefetch(row + b);
		__builtin_prefetch(row + bytes - 1);
	}
}

void bp_gather_labels(int32_t *restrict cls, float *restrict y, const struct bp_dataset *ds,
                      const uint32_t *restrict idx, size_t first, size_t n)
{
	const size_t k = (size_t)ds->k;
	for (size_t i = 0; i < n; i++) {
		size_t row = idx ? idx[first + i] : first + i;
		if (ds->cls)
			cls[i] = ds->cls[row];
		else if (ds->y)
			memcpy(y + i * k, ds->y + row * k, k * sizeof *y);
	}
}
