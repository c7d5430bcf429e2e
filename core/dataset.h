/* In-memory datasets: features in their stored element type (uint8 stays
 * uint8), labels as int32 classes or float targets, the seeded validation
 * split, normalisation statistics fitted on the training rows, and a batch
 * gather that converts and normalises straight into a float buffer. */
#ifndef BP_DATASET_H
#define BP_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "data_cfg.h"
#include "err.h"
#include "idx.h"
#include "layer.h"

struct bp_dataset {
	char *path;             /* the features file (IDX images or CSV) */
	size_t n;               /* samples */
	size_t d;               /* features per sample = bp_shape_size(shape) */
	struct bp_shape shape;  /* IDX n×h×w → (1,h,w); n×c×h×w → (c,h,w); else (d,1,1);
	                         * bp_data_load applies data.shape */
	enum bp_dtype type;     /* element type of x (CSV: float32) */
	void *x;                /* n × d elements */
	int k;                  /* labels per sample: 0 none, 1 for classes */
	int32_t *cls;           /* classes: n labels, each ≥ 0 */
	float *y;               /* targets (binary or mse): n × k */
	int32_t max_class;      /* classes: the largest label (-1 without labels) */
	char max_class_where[600];  /* "FILE:LINE" (CSV) or "FILE: item N" (IDX) */
};

/* Loads one file set (images + labels, or a CSV path) as cfg and spec say.
 * spec->classes: labels must be whole numbers ≥ 0 (the caller checks them
 * against the output width with max_class); spec->binary: 0 or 1; else
 * real targets. Data errors name FILE:LINE (CSV) or FILE and the item. */
int bp_dataset_load(struct bp_dataset *ds, const struct bp_fileset *fs, const struct bp_data_cfg *cfg,
                    const struct bp_label_spec *spec, struct bp_err *err);
/* Features only (predict): an IDX images file or a CSV whose every column is
 * a feature, with delimiter and skip_rows (no header). */
int bp_dataset_load_inputs(struct bp_dataset *ds, const char *path, enum bp_data_format format,
                           char delimiter, long skip_rows, struct bp_err *err);
void bp_dataset_release(struct bp_dataset *ds);

/* counts[c] = samples of class c among rows idx[0..n) (all rows when idx is
 * NULL; n is then ds->n), for c < k; larger labels are not counted. */
void bp_dataset_class_counts(const struct bp_dataset *ds, const uint32_t *idx, size_t n,
                             size_t *counts, size_t k);

/* Normalisation: none; scale (x/255); standardize ((x − mean) / std per
 * feature, population std over the training rows, a constant feature gets
 * std 1). mean and std are the statistics a checkpoint stores. */
struct bp_norm {
	enum bp_normalize kind;
	size_t d;
	float *mean, *std;      /* standardize: d each; NULL otherwise */
	float *inv;             /* 1 / std */
};

/* Fits kind on rows idx[0..n) of ds (all rows when idx is NULL). */
int bp_norm_fit(struct bp_norm *norm, enum bp_normalize kind, const struct bp_dataset *ds,
                const uint32_t *idx, size_t n, struct bp_err *err);
/* Restores saved statistics (mean, std: d each, only for standardize). */
int bp_norm_set(struct bp_norm *norm, enum bp_normalize kind, size_t d, const float *mean,
                const float *std, struct bp_err *err);
void bp_norm_release(struct bp_norm *norm);

/* dst (n × d) = normalised features of rows idx[first..first+n), or of rows
 * first..first+n when idx is NULL. norm NULL means none; norm->d must be
 * ds->d. Allocates nothing. */
void bp_gather(float *restrict dst, const struct bp_dataset *ds, const struct bp_norm *norm,
               const uint32_t *restrict idx, size_t first, size_t n);
/* Asks the cache for the feature rows idx[first..first+n) (a shuffled next
 * batch), so that the bp_gather after the current step finds them there. */
void bp_gather_prefetch(const struct bp_dataset *ds, const uint32_t *idx, size_t first, size_t n);
/* The labels of the same rows: cls (n) for classes, else y (n × k). */
void bp_gather_labels(int32_t *restrict cls, float *restrict y, const struct bp_dataset *ds,
                      const uint32_t *restrict idx, size_t first, size_t n);

/* Every split of a config's data section. */
struct bp_data {
	struct bp_dataset train, val, test;  /* val holds data only for a validation file set */
	bool has_val, has_test;
	const struct bp_dataset *val_src;    /* &val, or &train for {split: F}; NULL without validation */
	uint32_t *train_idx, *val_idx;       /* ascending rows of train and of *val_src */
	size_t ntrain, nval;
	struct bp_norm norm;                 /* fitted on the training rows */
};

/* Loads train (and validation and test when present), checks that their
 * feature widths and label counts agree, gives every split the training
 * samples' shape (cfg->shape when given: a config error at data.shape when
 * its size is not the features per sample; cfg->augment must fit it),
 * holds out floor(n × val_split) training rows chosen by a shuffle seeded
 * from seed alone (the same split on resume), and fits cfg->normalize on
 * the training rows. */
int bp_data_load(struct bp_data *data, const struct bp_data_cfg *cfg, const struct bp_label_spec *spec,
                 uint64_t seed, struct bp_err *err);
void bp_data_release(struct bp_data *data);

#endif
