/* Finite-difference gradient check: backprop's gradients against central
 * differences of the loss (sums in double), tensor by tensor. Used by the
 * unit tests and by `bptrain gradcheck`. */
#ifndef BP_GRADCHECK_H
#define BP_GRADCHECK_H

#include <stddef.h>

#include "net.h"

struct bp_gradcheck_result {
	char name[64];          /* "layers.0.W" */
	double max_rel_err;     /* see above */
	size_t checked;         /* elements compared */
	size_t skipped;         /* elements with a kink within the step */
};

/* A tensor's error is relative to the tensor's own gradient scale:
 *   max_rel_err = max_i |a_i − n_i| / max_i max(|a_i|, |n_i|)
 * (a = backprop, n = central difference). Measured per element, float32
 * rounding makes near-zero gradients look wrong; against the tensor's
 * scale only real mistakes stand out. The scale is at least
 * 100·FLT_EPSILON·max(1, |loss|)/eps, the least slope that central
 * differences of a float32 loss resolve: a tensor whose gradient is zero
 * (a layer's bias right before a batch_norm) is rounding against rounding. */

/* Checks every parameter tensor of net on the batch (x, t, n) in training
 * mode (dropout masks are held fixed by replaying net->rng), with central
 * differences at steps eps and eps/10 (eps = 1e-2 suits float32). An
 * element agrees when backprop matches either central difference or
 * either one-sided slope of the small step (next to a max-pool switch
 * backprop gives the slope of its own side); an element whose one-sided
 * slopes jump by more than curvature explains sits on a kink (relu at 0)
 * and is skipped, its gradient still counting towards the tensor's scale.
 * At most max_per_tensor elements per tensor (0 = all) are checked,
 * spread evenly. res has bp_net_ntensors(net) entries. Leaves the
 * parameters as they were and the gradients of (x, t). */
void bp_gradcheck(struct bp_net *net, const float *x, const struct bp_targets *t, int n,
                  double eps, size_t max_per_tensor, struct bp_gradcheck_result *res);

#endif
