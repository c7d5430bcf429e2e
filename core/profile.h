/* Where a training step's time goes (`bptrain time`, Caffe's `caffe time`):
 * the config's net and data set up as for training, a few warm-up steps,
 * then timed steps on the shuffled training order, per layer and per part
 * of the step. Writes nothing. */
#ifndef BP_PROFILE_H
#define BP_PROFILE_H

#include <stddef.h>

#include "config.h"
#include "layer.h"
#include "team.h"

struct bp_profile_layer {
	const char *type;
	struct bp_shape out;
	double forward, backward;            /* seconds per batch (member 0's, see team.h) */
	double forward_flop, backward_flop;  /* per batch: 2 × multiply-adds; NaN when the kind
	                                        counts none. Backward: dW and dX, dW alone for
	                                        layer 0 (it computes no dX) */
};

struct bp_profile {
	int nlayers;
	struct bp_profile_layer *layers;
	struct bp_team_prof parts;           /* seconds per batch; steps = the timed steps */
	int members;                         /* the team's threads */
	int batch;                           /* samples per timed step */
	int warmup, steps;
	size_t ntrain;                       /* training samples (after any validation split) */
	size_t batches_per_epoch;            /* ceil(ntrain / train.batch_size) */
};

/* Runs warmup untimed and then steps timed training steps of cfg (full
 * batches, reshuffled each time the order runs out, as an epoch would) and
 * fills p with the per-batch means. -1 with err: config or data errors as
 * for `bptrain train`, BP_ERR_DIVERGED when a loss becomes non-finite. */
int bp_profile_run(struct bp_config *cfg, int warmup, int steps, struct bp_profile *p, struct bp_err *err);
void bp_profile_release(struct bp_profile *p);

#endif
