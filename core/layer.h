/* The layer interface: a small const vtable per kind and a small header per
 * instance. The network owns all memory; layers get views into it and never
 * allocate in forward or backward. */
#ifndef BP_LAYER_H
#define BP_LAYER_H

#include <stdbool.h>
#include <stddef.h>

#include "act.h"
#include "err.h"
#include "node.h"
#include "rng.h"
#include "sync.h"

/* A per-sample shape: channels, height, width (a flat vector is c×1×1). */
struct bp_shape {
	int c, h, w;
};
static inline size_t bp_shape_size(struct bp_shape s) { return (size_t)s.c * s.h * s.w; }
/* A shape not known yet: configure runs once before the data is loaded
 * (to validate the keys and fill the defaults) with an unknown input; a
 * layer then skips its shape checks and gives an unknown output unless
 * its output does not depend on the input (dense). */
#define BP_SHAPE_UNKNOWN ((struct bp_shape){ 0, 0, 0 })
static inline bool bp_shape_known(struct bp_shape s) { return s.c > 0; }

enum bp_init { BP_INIT_AUTO, BP_INIT_HE, BP_INIT_GLOROT, BP_INIT_UNIFORM };

/* A named parameter tensor inside a layer's slice of the flat arrays. */
#define BP_MAX_TENSORS 4
struct bp_tensor_desc {
	const char *name;      /* "W", "b", "running_mean" */
	int rank;
	int dims[4];
	size_t offset;         /* into the layer's param/grad slice, or its state slice */
	size_t size;
	bool state;            /* state (running statistics), not trained: in l->state */
};

struct bp_layer;

struct bp_layer_ops {
	const char *type;      /* YAML spelling: "dense", "dropout" */
	size_t priv_size;      /* per-kind state, zeroed and owned by the net */
	/* Keys this kind accepts besides "type" (NULL-terminated). */
	const char *const *keys;
	/* Validates spec, fills its defaults into it, and sets l->out (and any
	 * priv) from l->in. */
	int (*configure)(struct bp_layer *l, struct bp_node *spec, struct bp_err *err);
	size_t (*nparam)(const struct bp_layer *l);
	/* Floats of state that is not trained but saved (batch_norm's running
	 * statistics); NULL = none. */
	size_t (*nstate)(const struct bp_layer *l);
	/* Describes the parameter tensors, trainable ones first, then state
	 * ones (desc.state); returns how many (≤ BP_MAX_TENSORS). */
	int (*tensors)(const struct bp_layer *l, struct bp_tensor_desc *out);
	/* Initialises the parameters and the state. */
	void (*init_params)(struct bp_layer *l, enum bp_init init, struct bp_rng *rng);
	/* Floats of per-layer scratch for a batch of n (e.g. a dropout mask). */
	size_t (*work_size)(const struct bp_layer *l, int n);
	/* Multiply-adds of one forward pass over n samples (for `bptrain
	 * time`); NULL = negligible. */
	double (*flops)(const struct bp_layer *l, int n);
	/* y (n, out) from x (n, in). rng is used only when train is true.
	 * n may be 0 in training (a member with no share of a short batch):
	 * the layer then computes nothing but makes its bp_sync_sum calls. */
	void (*forward)(struct bp_layer *l, const float *x, float *y, int n, bool train, struct bp_rng *rng);
	/* Stores the batch's parameter gradient into l->grad (overwriting it,
	 * so no zeroing pass is needed before), overwrites dx (skipped when
	 * NULL). dy is scratch: the layer may overwrite it. n may be 0, as
	 * in forward. */
	void (*backward)(struct bp_layer *l, const float *x, const float *y, float *dy, float *dx, int n);
};

struct bp_layer {
	const struct bp_layer_ops *ops;
	struct bp_shape in, out;
	enum bp_act act;        /* output activation (linear for kinds without one) */
	bool act_fused;         /* set by the net: forward stops at the
	                           pre-activation and backward receives dL/dz */
	float *param, *grad;    /* views into the net's flat arrays */
	float *state;           /* view into the net's state array (nstate floats) */
	bool writes_state;      /* false on a team's replicas: member 0 updates the state */
	struct bp_sync *sync;   /* whole-batch sums; NULL = this net alone */
	float *work;            /* view into the net's scratch */
	void *priv;
};

/* The ops of a kind without parameters or scratch (pooling, flatten,
 * dropout's parameters): nothing to count, describe or initialise. */
size_t bp_layer_no_params(const struct bp_layer *l);
int bp_layer_no_tensors(const struct bp_layer *l, struct bp_tensor_desc *t);
void bp_layer_no_init(struct bp_layer *l, enum bp_init init, struct bp_rng *rng);
size_t bp_layer_no_work(const struct bp_layer *l, int n);

/* The registry: NULL-terminated, in the order shown to users. */
extern const struct bp_layer_ops *const bp_layer_kinds[];
extern const struct bp_layer_ops bp_layer_dense, bp_layer_conv2d, bp_layer_max_pool2d, bp_layer_avg_pool2d,
	bp_layer_global_avg_pool2d, bp_layer_batch_norm, bp_layer_flatten, bp_layer_dropout;

/* Looks up spec's "type" ("did you mean" on a typo); fails with a config
 * error at spec. */
int bp_layer_find(const struct bp_node *spec, const struct bp_layer_ops **ops, struct bp_err *err);

/* Checks spec's keys against the kind's and runs ops->configure. */
int bp_layer_configure(struct bp_layer *l, struct bp_node *spec, struct bp_err *err);

/* For configure: spec's node for key, inserting value as its default when
 * absent (so the resolved config shows every default). NULL when out of memory. */
struct bp_node *bp_layer_default(struct bp_node *spec, const char *key, const char *value, struct bp_err *err);

/* Validates one layer spec of model.layers and fills in its defaults, for a
 * layer whose input shape is in (BP_SHAPE_UNKNOWN: not known yet). On success *out is the output shape and
 * *nparam (when nparam is not NULL) its parameter count. */
int bp_layer_spec_resolve(struct bp_node *spec, struct bp_shape in, struct bp_shape *out, size_t *nparam,
                          struct bp_err *err);
/* The same, also giving *nstate (when not NULL): its state floats. */
int bp_layer_spec_sizes(struct bp_node *spec, struct bp_shape in, struct bp_shape *out, size_t *nparam,
                        size_t *nstate, struct bp_err *err);

#endif
