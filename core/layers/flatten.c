/* flatten: (C, H, W) → (C·H·W, 1, 1) in C, H, W order; the batch's bytes
 * do not change. */
#include <string.h>

#include "../layer.h"

static int flatten_configure(struct bp_layer *l, struct bp_node *spec, struct bp_err *err)
{
	(void)spec;
	(void)err;
	l->out = bp_shape_known(l->in) ? (struct bp_shape){ (int)bp_shape_size(l->in), 1, 1 } : BP_SHAPE_UNKNOWN;
	return 0;
}

static void flatten_forward(struct bp_layer *l, const float *x, float *y, int n, bool train, struct bp_rng *rng)
{
	(void)train;
	(void)rng;
	memcpy(y, x, bp_shape_size(l->in) * (size_t)n * sizeof *y);
}

static void flatten_backward(struct bp_layer *l, const float *x, const float *y, float *dy, float *dx, int n)
{
	(void)x;
	(void)y;
	if (dx)
		memcpy(dx, dy, bp_shape_size(l->in) * (size_t)n * sizeof *dx);
}

const struct bp_layer_ops bp_layer_flatten = {
	.type = "flatten",
	.configure = flatten_configure,
	.nparam = bp_layer_no_params,
	.tensors = bp_layer_no_tensors,
	.init_params = bp_layer_no_init,
	.work_size = bp_layer_no_work,
	.forward = flatten_forward,
	.backward = flatten_backward,
};
