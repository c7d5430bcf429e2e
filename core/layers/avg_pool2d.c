/* avg_pool2d: the mean of each window's in-bounds pixels (so a window
 * that overhangs a 'same'-padded border divides by fewer). */
#include "../conv.h"
#include "../layer.h"
#include "window.h"

struct avg_pool2d {
	struct bp_window g;
};

static const char *const avg_pool2d_keys[] = { "pool_size", "strides", "padding", NULL };

static int avg_pool2d_configure(struct bp_layer *l, struct bp_node *spec, struct bp_err *err)
{
	struct avg_pool2d *d = l->priv;
	return bp_window_pool(l, spec, &d->g, err);
}

static void avg_pool2d_forward(struct bp_layer *l, const float *x, float *y, int n, bool train, struct bp_rng *rng)
{
	(void)train;
	(void)rng;
	const struct avg_pool2d *d = l->priv;
	bp_avgpool_forward(y, x, &d->g, n);
}

static void avg_pool2d_backward(struct bp_layer *l, const float *x, const float *y, float *dy, float *dx, int n)
{
	(void)x;
	(void)y;
	const struct avg_pool2d *d = l->priv;
	if (dx)
		bp_avgpool_backward(dx, dy, &d->g, n);
}

const struct bp_layer_ops bp_layer_avg_pool2d = {
	.type = "avg_pool2d",
	.priv_size = sizeof(struct avg_pool2d),
	.keys = avg_pool2d_keys,
	.configure = avg_pool2d_configure,
	.nparam = bp_layer_no_params,
	.tensors = bp_layer_no_tensors,
	.init_params = bp_layer_no_init,
	.work_size = bp_layer_no_work,
	.forward = avg_pool2d_forward,
	.backward = avg_pool2d_backward,
};
