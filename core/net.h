/* A feed-forward network built from model.layers. It owns one flat
 * parameter array, one flat gradient array, the activation and delta
 * buffers for the largest batch and every layer's scratch, all allocated
 * once by bp_net_new; forward, backward and zero_grad allocate nothing. */
#ifndef BP_NET_H
#define BP_NET_H

#include <stdbool.h>
#include <stddef.h>

#include "layer.h"
#include "loss.h"

struct bp_net {
	int nlayers;
	struct bp_layer *layers;
	enum bp_loss loss;
	int max_batch;
	size_t nparam, nstate;
	float *param, *grad;        /* flat, nparam each */
	float *state;               /* flat, nstate: batch_norm's running statistics */
	bool shares_param;          /* param and state belong to another net (bp_net_share_params) */
	float **act;                /* act[0] = input copy, act[i+1] = layer i output (max_batch × width) */
	float **delta;              /* delta[i] = dL/d act[i] (delta[0] unused) */
	float *work;                /* all layers' scratch */
	float *proba;               /* output probabilities when the output activation is fused */
	struct bp_node **specs;     /* each layer's spec, for errors; not owned */
	size_t *offset;             /* each layer's slice of param/grad */
	size_t *state_offset;       /* each layer's slice of state */
	double *prof;               /* when not NULL: seconds spent in each layer's
	                               forward (prof[2i]) and backward (prof[2i+1]), added to */
	const float *input;         /* the x of the last forward; not owned */
	struct bp_rng *rng;         /* dropout; not owned */
	void *mem;                  /* the single block behind act/delta/work/proba */
};

/* Builds the net for per-sample input shape in, from the list node layers
 * (specs are resolved: defaults filled in). NULL on failure (err filled). */
struct bp_net *bp_net_new(struct bp_node *layers, struct bp_shape in, enum bp_loss loss,
                          int max_batch, struct bp_err *err);
void bp_net_free(struct bp_net *net);
/* Makes replica (built from the same specs) compute with master's
 * parameters and state; its gradients and buffers stay its own, and it
 * leaves the state's updates to master. For threads that each take a
 * share of a batch. */
void bp_net_share_params(struct bp_net *replica, struct bp_net *master);
/* The whole-batch sums every layer uses (NULL: this net alone). */
void bp_net_set_sync(struct bp_net *net, struct bp_sync *sync);

struct bp_shape bp_net_out_shape(const struct bp_net *net);
size_t bp_net_in_width(const struct bp_net *net);
size_t bp_net_out_width(const struct bp_net *net);

void bp_net_init(struct bp_net *net, enum bp_init init, struct bp_rng *rng);
void bp_net_zero_grad(struct bp_net *net);
/* Runs the layers on x (n × in); n may be 0 in training (see layer.h). The output (logits when the output
 * activation is fused with the loss) is bp_net_output. */
void bp_net_forward(struct bp_net *net, const float *x, int n, bool train);
const float *bp_net_output(const struct bp_net *net);
/* The output after the output activation (probabilities for softmax). */
const float *bp_net_proba(struct bp_net *net, int n);
/* Mean loss over the batch of the last forward; also seeds the output delta.
 * Labels: classes (int32) for cross_entropy; targets (n × out floats) for
 * binary_cross_entropy and mse. */
double bp_net_loss(struct bp_net *net, const struct bp_targets *t, int n);
/* Overwrites grad with the gradient of the last loss (no zeroing needed). */
void bp_net_backward(struct bp_net *net, int n);

/* Trainable parameter tensors across the net, in layer order: "layers.I.NAME". */
int bp_net_ntensors(const struct bp_net *net);
/* Tensor j: its description (offset is into net->param) and name. */
void bp_net_tensor(const struct bp_net *net, int j, struct bp_tensor_desc *desc, char *name, size_t size);
/* State tensors (not trained: batch_norm's running_mean, running_var), in
 * layer order; the description's offset is into net->state. */
int bp_net_nstate_tensors(const struct bp_net *net);
void bp_net_state_tensor(const struct bp_net *net, int j, struct bp_tensor_desc *desc, char *name, size_t size);

#endif
