/* Losses, averaged over the batch. cross_entropy is fused with a softmax
 * output and binary_cross_entropy with a sigmoid output: both read the
 * logits z and give dL/dz directly (stable for any finite logits). mse reads
 * the activated output y and gives dL/dy. */
#ifndef BP_LOSS_H
#define BP_LOSS_H

#include <stdint.h>

#include "act.h"

enum bp_loss { BP_LOSS_CROSS_ENTROPY, BP_LOSS_BINARY_CROSS_ENTROPY, BP_LOSS_MSE, BP_LOSS_COUNT };

/* NULL-terminated YAML spellings, indexed by enum bp_loss. */
extern const char *const bp_loss_names[];

/* A batch's targets: class indices for cross_entropy, else n×k floats. */
struct bp_targets {
	const int32_t *cls;
	const float *y;
};

/* The output activation a loss is fused with (BP_ACT_LINEAR for mse). */
enum bp_act bp_loss_fused_act(enum bp_loss loss);

/* L = −(1/n) Σ log softmax(z)[cls]; dz = (softmax(z) − onehot)/n. dz may be NULL. */
double bp_softmax_xent(float *dz, const float *z, const int32_t *cls, int n, int k);
/* L = (1/(n·k)) Σ BCE(sigmoid(z), t); dz = (sigmoid(z) − t)/(n·k). dz may be NULL. */
double bp_sigmoid_bce(float *dz, const float *z, const float *t, int n, int k);
/* L = (1/(n·k)) Σ (y − t)²; dy = 2(y − t)/(n·k). dy may be NULL. */
double bp_mse(float *dy, const float *y, const float *t, int n, int k);

/* Dispatches on loss; out is z for the fused losses and y for mse. */
double bp_loss_eval(enum bp_loss loss, float *d, const float *out, const struct bp_targets *t, int n, int k);

#endif
