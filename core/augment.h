/* Training-time augmentation of image batches (data.augment): each sample
 * is mirrored left-right (when flip is on, with probability 0.5) and then
 * translated by (dy, dx) in [-shift, shift]², the pixels shifted in being
 * zeros. The draws are a counter-based hash of the step's one draw from the
 * run's stream and the sample's position in the whole batch, so every team
 * member computes its own samples' draws, the thread count does not change
 * them, and a resumed run (whose stream is checkpointed) repeats them. */
#ifndef BP_AUGMENT_H
#define BP_AUGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "data_cfg.h"
#include "err.h"
#include "layer.h"

/* One sample's transform. */
struct bp_aug_draw {
	int dy, dx;     /* content moves down by dy and right by dx */
	bool flip;      /* mirrored left-right before the shift */
};

/* The draw for position pos of the batch of the step that drew base. */
void bp_augment_draw(struct bp_aug_draw *d, const struct bp_augment_cfg *a, uint64_t base, uint64_t pos);

/* y (c,h,w) = x (c,h,w) mirrored when d->flip, then shifted by (dy, dx):
 * y[c][i][j] = x'[c][i − dy][j − dx], 0 outside x'. y and x do not overlap. */
void bp_augment_sample(float *restrict y, const float *restrict x, struct bp_shape s, const struct bp_aug_draw *d);

/* x (n, c,h,w) in place: sample i gets the draw for position first + i of
 * the batch. tmp holds c·h·w floats of scratch. Allocates nothing. */
void bp_augment_batch(float *x, float *tmp, struct bp_shape s, const struct bp_augment_cfg *a, uint64_t base,
                      size_t first, int n);

/* a must fit samples of shape s: height and width above 1, shift below
 * both. A config error at aug_where (the augment key) or shift_where. */
int bp_augment_check(const struct bp_augment_cfg *a, struct bp_shape s, const char *aug_where,
                     const char *shift_where, struct bp_err *err);

#endif
