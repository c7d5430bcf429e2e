#include "dataset.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "csv.h"
#include "rng.h"

static int set_path(struct bp_dataset *ds, const char *path, struct bp_err *err)
{
	ds->path = strdup(path);
	return ds->path ? 0 : bp_fail_oom(err, "a file name", strlen(path) + 1);
}

static int shape_from_idx(struct bp_dataset *ds, const struct bp_idx *im, struct bp_err *err)
{
	for (int i = 1; i < im->rank; i++)
		if (im->dims[i] > INT_MAX)
			return bp_fail(err, BP_ERR_DATA, ds->path, "IDX dimension %d of %u is too large", i, im->dims[i]);
	if (im->item > INT_MAX)
		return bp_fail(err, BP_ERR_DATA, ds->path, "%zu features per item is too many", im->item);
	if (im->rank == 3)
		ds->shape = (struct bp_shape){ 1, (int)im->dims[1], (int)im->dims[2] };
	else if (im->rank == 4)
		ds->shape = (struct bp_shape){ (int)im->dims[1], (int)im->dims[2], (int)im->dims[3] };
	else
		ds->shape = (struct bp_shape){ (int)im->item, 1, 1 };
	return 0;
}

static double idx_value(const struct bp_idx *ix, size_t i)
{
	switch (ix->type) {
	case BP_DT_U8: return ((const uint8_t *)ix->data)[i];
	case BP_DT_I8: return ((const int8_t *)ix->data)[i];
	case BP_DT_I16: return ((const int16_t *)ix->data)[i];
	case BP_DT_I32: return ((const int32_t *)ix->data)[i];
	case BP_DT_F32: return ((const float *)ix->data)[i];
	case BP_DT_F64: return ((const double *)ix->data)[i];
	}
	return 0;
}

/* A non-finite float feature is a data error naming the item. */
static int check_finite(const struct bp_idx *im, const char *path, struct bp_err *err)
{
	if (im->type != BP_DT_F32 && im->type != BP_DT_F64)
		return 0;
	size_t total = im->count * im->item;
	for (size_t i = 0; i < total; i++) {
		double v = idx_value(im, i);
		if (!isfinite(v))
			return bp_fail(err, BP_ERR_DATA, path, "item %zu: feature %zu is %s", i / im->item,
			               i % im->item, isnan(v) ? "NaN" : "infinite");
	}
	return 0;
}

static int idx_labels(struct bp_dataset *ds, const struct bp_idx *lb, const char *path,
                      const struct bp_label_spec *spec, struct bp_err *err)
{
	if (spec->classes && lb->item != 1)
		return bp_fail(err, BP_ERR_DATA, path, "labels file has %zu values per item, class labels need one",
		               lb->item);
	if (lb->item > INT_MAX)
		return bp_fail(err, BP_ERR_DATA, path, "%zu targets per item is too many", lb->item);
	ds->k = (int)lb->item;
	size_t total = lb->count * lb->item;
	size_t bytes = total * (spec->classes ? sizeof(int32_t) : sizeof(float));
	void *out = malloc(bytes ? bytes : 1);
	if (!out)
		return bp_fail_oom(err, "labels", bytes);
	if (spec->classes)
		ds->cls = out;
	else
		ds->y = out;
	for (size_t i = 0; i < total; i++) {
		double v = idx_value(lb, i);
		size_t item = i / lb->item;
		if (isnan(v) || isinf(v))
			return bp_fail(err, BP_ERR_DATA, path, "item %zu: label is %s", item, isnan(v) ? "NaN" : "infinite");
		if (spec->classes) {
			if (v != floor(v))
				return bp_fail(err, BP_ERR_DATA, path, "item %zu: label %g is not a whole number", item, v);
			if (v < 0)
				return bp_fail(err, BP_ERR_DATA, path, "item %zu: label %g is negative", item, v);
			if (v > INT32_MAX)
				return bp_fail(err, BP_ERR_DATA, path, "item %zu: label %g is too large", item, v);
			ds->cls[i] = (int32_t)v;
			if (ds->cls[i] > ds->max_class) {
				ds->max_class = ds->cls[i];
				snprintf(ds->max_class_where, sizeof ds->max_class_where, "%s: item %zu", path, item);
			}
		} else {
			if (spec->binary && v != 0 && v != 1)
				return bp_fail(err, BP_ERR_DATA, path, "item %zu: binary target %g is not 0 or 1", item, v);
			if (fabs(v) > 3.4028234663852886e38)
				return bp_fail(err, BP_ERR_DATA, path, "item %zu: target %g is out of float32 range", item, v);
			ds->y[i] = (float)v;
		}
	}
	return 0;
}

static int load_idx(struct bp_dataset *ds, const struct bp_fileset *fs, const struct bp_label_spec *spec,
                    struct bp_err *err)
{
	if (!fs->images || !fs->labels)
		return bp_fail(err, BP_ERR_CONFIG, fs->where, "an IDX file set needs both 'images' and 'labels'");
	struct bp_idx im, lb;
	if (set_path(ds, fs->images, err) || bp_idx_read(&im, fs->images, err))
		return -1;
	ds->n = im.count;
	ds->d = im.item;
	ds->type = im.type;
	ds->x = im.data;  /* owned by ds from here */
	if (shape_from_idx(ds, &im, err) || check_finite(&im, fs->images, err))
		return -1;
	if (bp_idx_read(&lb, fs->labels, err))
		return -1;
	int rc = 0;
	if (lb.count != im.count)
		rc = bp_fail(err, BP_ERR_DATA, fs->labels, "%zu labels for %zu images in '%s'", lb.count, im.count,
		             fs->images);
	if (!rc)
		rc = idx_labels(ds, &lb, fs->labels, spec, err);
	bp_idx_release(&lb);
	return rc;
}

static int from_csv(struct bp_dataset *ds, const char *path, const struct bp_csv_opts *o, struct bp_err *err)
{
	struct bp_csv c;
	if (set_path(ds, path, err) || bp_csv_read(&c, path, o, err))
		return -1;
	if (c.nfeat > INT_MAX || c.rows > UINT32_MAX) {
		bp_csv_release(&c);
		return bp_fail(err, BP_ERR_DATA, path, "too many features or rows");
	}
	ds->n = c.rows;
	ds->d = c.nfeat;
	ds->shape = (struct bp_shape){ (int)c.nfeat, 1, 1 };
	ds->type = BP_DT_F32;
	ds->x = c.x;
	ds->k = (int)c.nlab;
	ds->cls = c.cls;
	ds->y = c.y;
	if (c.cls) {
		ds->max_class = c.max_class;
		snprintf(ds->max_class_where, sizeof ds->max_class_where, "%s:%ld", path, c.max_class_line);
	}
	return 0;
}

/* Rejects an empty result; on failure leaves nothing to release. */
static int finish(struct bp_dataset *ds, int rc, struct bp_err *err)
{
	if (!rc && ds->n == 0)
		rc = bp_fail(err, BP_ERR_DATA, ds->path, "no samples");
	if (!rc && ds->d == 0)
		rc = bp_fail(err, BP_ERR_DATA, ds->path, "samples have no features");
	if (rc)
		bp_dataset_release(ds);
	return rc ? -1 : 0;
}

int bp_dataset_load(struct bp_dataset *ds, const struct bp_fileset *fs, const struct bp_data_cfg *cfg,
                    const struct bp_label_spec *spec, struct bp_err *err)
{
	memset(ds, 0, sizeof *ds);
	ds->max_class = -1;
	int rc;
	if (cfg->format == BP_FMT_IDX) {
		rc = load_idx(ds, fs, spec, err);
	} else {
		if (!fs->path)
			return bp_fail(err, BP_ERR_CONFIG, fs->where, "a CSV file set needs 'path'");
		struct bp_csv_opts o = {
			.delimiter = cfg->delimiter, .skip_rows = cfg->skip_rows, .header = cfg->header,
			.nlabels = cfg->nlabel_columns,
			.kind = spec->classes ? BP_LABEL_CLASS : spec->binary ? BP_LABEL_BINARY : BP_LABEL_TARGET,
		};
		if (o.nlabels < 1 || o.nlabels > BP_CSV_MAX_LABELS)
			return bp_fail(err, BP_ERR_CONFIG, fs->where, "%d label columns (expected 1 to %d)", o.nlabels,
			               BP_CSV_MAX_LABELS);
		memcpy(o.label_columns, cfg->label_column, sizeof o.label_columns[0] * (size_t)o.nlabels);
		rc = from_csv(ds, fs->path, &o, err);
	}
	return finish(ds, rc, err);
}

int bp_dataset_load_inputs(struct bp_dataset *ds, const char *path, enum bp_data_format format,
                           char delimiter, long skip_rows, struct bp_err *err)
{
	memset(ds, 0, sizeof *ds);
	ds->max_class = -1;
	int rc;
	if (format == BP_FMT_IDX) {
		struct bp_idx im;
		rc = set_path(ds, path, err) || bp_idx_read(&im, path, err) ? -1 : 0;
		if (!rc) {
			ds->n = im.count;
			ds->d = im.item;
			ds->type = im.type;
			ds->x = im.data;
			rc = shape_from_idx(ds, &im, err) || check_finite(&im, path, err) ? -1 : 0;
		}
	} else {
		struct bp_csv_opts o = { .delimiter = delimiter, .skip_rows = skip_rows };
		rc = from_csv(ds, path, &o, err);
	}
	return finish(ds, rc, err);
}

void bp_dataset_release(struct bp_dataset *ds)
{
	if (!ds)
		return;
	free(ds->path);
	free(ds->x);
	free(ds->cls);
	free(ds->y);
	memset(ds, 0, sizeof *ds);
	ds->max_class = -1;
}

void bp_dataset_class_counts(const struct bp_dataset *ds, const uint32_t *idx, size_t n,
                             size_t *counts, size_t k)
{
	memset(counts, 0, k * sizeof *counts);
	if (!ds->cls)
		return;
	if (!idx)
		n = ds->n;
	for (size_t i = 0; i < n; i++) {
		int32_t c = ds->cls[idx ? idx[i] : i];
		if ((size_t)c < k)
			counts[c]++;
	}
}

/* A second split must look like train: same features and label width. */
static int check_like(const struct bp_dataset *ds, const struct bp_dataset *train, struct bp_err *err)
{
	if (ds->d != train->d)
		return bp_fail(err, BP_ERR_DATA, ds->path, "%zu features per sample, but the training set has %zu",
		               ds->d, train->d);
	if (ds->k != train->k)
		return bp_fail(err, BP_ERR_DATA, ds->path, "%d labels per sample, but the training set has %d",
		               ds->k, train->k);
	return 0;
}

static uint32_t *all_rows(size_t n, struct bp_err *err)
{
	uint32_t *idx = malloc((n ? n : 1) * sizeof *idx);
	if (!idx)
		return bp_fail_oom(err, "row indices", n * sizeof *idx), NULL;
	for (size_t i = 0; i < n; i++)
		idx[i] = (uint32_t)i;
	return idx;
}

/* Holds out floor(n × split) rows chosen by a seeded shuffle; both lists
 * come out ascending. */
static int split_rows(struct bp_data *data, double split, uint64_t seed, struct bp_err *err)
{
	size_t n = data->train.n;
	size_t nval = (size_t)floor((double)n * split);
	if (nval == 0)
		return bp_fail(err, BP_ERR_DATA, data->train.path,
		               "validation split %g of %zu samples holds out no sample", split, n);
	uint32_t *perm = all_rows(n, err);
	unsigned char *held = calloc(n, 1);
	data->val_idx = malloc(nval * sizeof *data->val_idx);
	data->train_idx = malloc((n - nval) * sizeof *data->train_idx);
	if (!perm || !held || !data->val_idx || !data->train_idx) {
		free(perm);
		free(held);
		return perm ? bp_fail_oom(err, "the validation split", n * 9) : -1;
	}
	struct bp_rng rng;
	bp_rng_seed(&rng, seed ^ 0x76616c73706c6974ULL);  /* "valsplit": its own stream */
	bp_rng_shuffle(&rng, perm, (uint32_t)n);
	for (size_t i = 0; i < nval; i++)
		held[perm[i]] = 1;
	for (size_t i = 0; i < n; i++) {
		if (held[i])
			data->val_idx[data->nval++] = (uint32_t)i;
		else
			data->train_idx[data->ntrain++] = (uint32_t)i;
	}
	free(perm);
	free(held);
	data->val_src = &data->train;
	return 0;
}

/* The training samples' shape: data.shape when given (its size must be the
 * features per sample), else the file's; augmentation must fit it. */
static int settle_shape(struct bp_dataset *ds, const struct bp_data_cfg *cfg, struct bp_err *err)
{
	struct bp_shape s = cfg->shape;
	if (s.c > 0) {
		if (bp_shape_size(s) != ds->d)
			return bp_fail(err, BP_ERR_CONFIG, cfg->shape_where,
			               "'data.shape' [%d, %d, %d] has %zu values per sample, but the data has %zu features "
			               "(%s)", s.c, s.h, s.w, bp_shape_size(s), ds->d, ds->path);
		ds->shape = s;
	}
	return bp_augment_check(&cfg->augment, ds->shape, cfg->augment_where, cfg->shift_where, err);
}

int bp_data_load(struct bp_data *data, const struct bp_data_cfg *cfg, const struct bp_label_spec *spec,
                 uint64_t seed, struct bp_err *err)
{
	memset(data, 0, sizeof *data);
	data->train.max_class = data->val.max_class = data->test.max_class = -1;
	if (bp_dataset_load(&data->train, &cfg->train, cfg, spec, err) || settle_shape(&data->train, cfg, err))
		goto fail;
	if (cfg->val.present) {
		if (bp_dataset_load(&data->val, &cfg->val, cfg, spec, err) || check_like(&data->val, &data->train, err))
			goto fail;
		data->val.shape = data->train.shape;
		data->has_val = true;
		data->val_src = &data->val;
		data->nval = data->val.n;
		if (!(data->val_idx = all_rows(data->nval, err)))
			goto fail;
	}
	if (cfg->test.present) {
		if (bp_dataset_load(&data->test, &cfg->test, cfg, spec, err) ||
		    check_like(&data->test, &data->train, err))
			goto fail;
		data->test.shape = data->train.shape;
		data->has_test = true;
	}
	if (!cfg->val.present && cfg->val_split > 0) {
		if (split_rows(data, cfg->val_split, seed, err))
			goto fail;
		data->has_val = true;
	} else {
		data->ntrain = data->train.n;
		if (!(data->train_idx = all_rows(data->ntrain, err)))
			goto fail;
	}
	if (bp_norm_fit(&data->norm, cfg->normalize, &data->train, data->train_idx, data->ntrain, err))
		goto fail;
	return 0;
fail:
	bp_data_release(data);
	return -1;
}

void bp_data_release(struct bp_data *data)
{
	if (!data)
		return;
	bp_dataset_release(&data->train);
	bp_dataset_release(&data->val);
	bp_dataset_release(&data->test);
	free(data->train_idx);
	free(data->val_idx);
	bp_norm_release(&data->norm);
	memset(data, 0, sizeof *data);
}
