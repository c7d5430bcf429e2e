/* global_avg_pool2d: the mean of each channel's plane, (C, H, W) → (C, 1, 1). */
#include "../conv.h"
#include "../layer.h"
#include "window.h"

static int gap_configure(struct bp_layer *l, struct bp_node *spec, struct bp_err *err)
{
	if (bp_window_need_image(l, spec, err))
		return -1;
	l->out = bp_shape_known(l->in) ? (struct bp_shape){ l->in.c, 1, 1 } : BP_SHAPE_UNKNOWN;
	return 0;
}

static void gap_forward(struct bp_layer *l, const float *x, float *y, int n, bool train, struct bp_rng *rng)
{
	(void)train;
	(void)rng;
	bp_gap_forward(y, x, n, l->in.c, l->in.h * l->in.w);
}

static void gap_backward(struct bp_layer *l, const float *x, const float *y, float *dy, float *dx, int n)
{
	(void)x;
	(void)y;
	if (dx)
		bp_gap_backward(dx, dy, n, l->in.c, l->in.h * l->in.w);
}

const struct bp_layer_ops bp_layer_global_avg_pool2d = {
	.type = "global_avg_pool2d",
	.configure = gap_configure,
	.nparam = bp_layer_no_params,
	.tensors = bp_layer_no_tensors,
	.init_params = bp_layer_no_init,
	.work_size = bp_layer_no_work,
	.forward = gap_forward,
	.backward = gap_backward,
};
