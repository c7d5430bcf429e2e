/* The `data:` section of a config, as the config code resolves it and the
 * dataset code consumes it. Paths are absolute once resolved. */
#ifndef BP_DATA_CFG_H
#define BP_DATA_CFG_H

#include <stdbool.h>

#include "layer.h"

enum bp_data_format { BP_FMT_IDX, BP_FMT_CSV };
/* BP_NORM_AUTO is what an IDX config without `normalize` resolves to: the
 * element type is unknown until the file is read, so the dataset decides
 * (SPEC: scale for uint8 IDX data, none otherwise). CSV resolves to none. */
enum bp_normalize { BP_NORM_NONE, BP_NORM_SCALE, BP_NORM_STANDARDIZE, BP_NORM_AUTO };

#define BP_MAX_TARGETS 64

/* One split's files: images + labels for IDX, path for CSV. */
struct bp_fileset {
	bool present;
	char *images, *labels;      /* idx */
	char *path;                 /* csv */
	char where[512];            /* config position of this file set, for errors */
};

/* data.augment: training batches only. */
struct bp_augment_cfg {
	int shift;                  /* a random translation of up to shift pixels each way; 0 = none */
	bool flip;                  /* a left-right mirror with probability 0.5 */
};
static inline bool bp_augment_on(const struct bp_augment_cfg *a) { return a->shift > 0 || a->flip; }

struct bp_data_cfg {
	enum bp_data_format format;
	struct bp_fileset train, test, val;
	double val_split;           /* in (0,1) when validation is {split: F}; 0 otherwise */
	enum bp_normalize normalize;
	/* data.shape [C, H, W]; c = 0 for `auto` (from the IDX header, or
	 * (D,1,1)), which the dataset settles when it reads the training file. */
	struct bp_shape shape;
	struct bp_augment_cfg augment;
	/* Config positions of data.shape, data.augment and its shift, for the
	 * errors only the data can reveal (a size that does not match it). */
	char shape_where[512], augment_where[512], shift_where[512];
	/* csv only */
	long label_column[BP_MAX_TARGETS];   /* negative counts from the end */
	int nlabel_columns;                  /* 1 unless a list was given (mse) */
	long skip_rows;
	bool header;
	char delimiter;
};

/* What the model expects of the labels, decided from the loss and the
 * output layer before any data is read. */
struct bp_label_spec {
	bool classes;               /* cross_entropy: integer class indices */
	bool binary;                /* binary_cross_entropy: targets must be 0 or 1 */
	int width;                  /* output units (classes) or targets; 0 = known once the net is built */
};

#endif
