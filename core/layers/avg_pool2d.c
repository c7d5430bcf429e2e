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
	int k[2], s[2];
	bool same;
	if (bp_window_pair(spec, "pool_size", NULL, "2", k, err)
	    || bp_window_pair(spec, "strides", "pool_size", "2", s, err) || bp_window_padding(spec, &same, err))
		return -1;
	return bp_window_shape(l, spec, "window", k, s, same, l->in.c, &d->g, err);
}

static size_t avg_pool2d_nparam(const struct bp_layer *l)
{
	(void)l;
	return 0;
}

static int avg_pool2d_tensors(const struct bp_layer *l, struct bp_tensor_desc *t)
{
	(void)l;
	(void)t;
	return 0;
}

static void avg_pool2d_init(struct bp_layer *l, enum bp_init init, struct bp_rng *rng)
{
	(void)l;
	(void)init;
	(void)rng;
}

static size_t avg_pool2d_work(const struct bp_layer *l, int n)
{
	(void)l;
	(void)n;
	return 0;
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
	.nparam = avg_pool2d_nparam,
	.tensors = avg_pool2d_tensors,
	.init_params = avg_pool2d_init,
	.work_size = avg_pool2d_work,
	.forward = avg_pool2d_forward,
	.backward = avg_pool2d_backward,
};
