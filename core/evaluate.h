/* Scoring a network on rows of a dataset: mean loss, accuracy, and an
 * optional confusion matrix. Batches go through a preallocated buffer. */
#ifndef BP_EVALUATE_H
#define BP_EVALUATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "net.h"

/* One batch's inputs and targets, sized once for cap samples. */
struct bp_batch {
	int cap;
	float *x;       /* cap × d */
	int32_t *cls;   /* cap */
	float *y;       /* cap × k */
	struct bp_targets t;
};

int bp_batch_init(struct bp_batch *b, int cap, size_t d, int k, struct bp_err *err);
void bp_batch_release(struct bp_batch *b);
/* Gathers rows idx[first..first+n) (rows first.. when idx is NULL). */
void bp_batch_fill(struct bp_batch *b, const struct bp_dataset *ds, const struct bp_norm *norm,
                   const uint32_t *idx, size_t first, int n);

struct bp_stats {
	double loss;        /* mean over samples */
	double accuracy;    /* NaN for mse */
	size_t n;
};

/* The index of the largest of row[0..k): the predicted class. */
int bp_argmax(const float *row, int k);

/* Σ over the batch of each sample's accuracy: argmax = class for
 * cross_entropy, the share of units on the right side of 0.5 for
 * binary_cross_entropy; 0 for mse. out is the net's raw output. */
double bp_batch_correct(enum bp_loss loss, const float *out, const struct bp_targets *t, int n, int k);

/* Evaluates rows idx[first..first+n) (rows first..first+n when idx is
 * NULL) in evaluation mode. confusion, when not NULL, is k×k (rows = true
 * class) and is added to (cross_entropy only). */
void bp_evaluate(struct bp_net *net, const struct bp_dataset *ds, const struct bp_norm *norm,
                 const uint32_t *idx, size_t first, size_t n, struct bp_batch *b, struct bp_stats *out,
                 uint64_t *confusion);

#endif
