/* max_pool2d: the max of each window; backward routes the gradient to
 * the arg-max (the first on ties), whose indices the forward keeps in the
 * layer's scratch. */
#include <stdint.h>

#include "../conv.h"
#include "../layer.h"
#include "window.h"

struct max_pool2d {
	struct bp_window g;
};

static const char *const max_pool2d_keys[] = { "pool_size", "strides", "padding", NULL };

static int max_pool2d_configure(struct bp_layer *l, struct bp_node *spec, struct bp_err *err)
{
	struct max_pool2d *d = l->priv;
	return bp_window_pool(l, spec, &d->g, err);
}

/* The arg-max of every output (an int32 in each float slot). */
static size_t max_pool2d_work(const struct bp_layer *l, int n)
{
	_Static_assert(sizeof(int32_t) == sizeof(float), "an index per float slot");
	return bp_shape_size(l->out) * (size_t)n;
}

static void max_pool2d_forward(struct bp_layer *l, const float *x, float *y, int n, bool train, struct bp_rng *rng)
{
	(void)train;
	(void)rng;
	const struct max_pool2d *d = l->priv;
	bp_maxpool_forward(y, (int32_t *)(void *)l->work, x, &d->g, n);
}

static void max_pool2d_backward(struct bp_layer *l, const float *x, const float *y, float *dy, float *dx, int n)
{
	(void)x;
	(void)y;
	const struct max_pool2d *d = l->priv;
	if (dx)
		bp_maxpool_backward(dx, dy, (const int32_t *)(void *)l->work, &d->g, n);
}

const struct bp_layer_ops bp_layer_max_pool2d = {
	.type = "max_pool2d",
	.priv_size = sizeof(struct max_pool2d),
	.keys = max_pool2d_keys,
	.configure = max_pool2d_configure,
	.nparam = bp_layer_no_params,
	.tensors = bp_layer_no_tensors,
	.init_params = bp_layer_no_init,
	.work_size = max_pool2d_work,
	.forward = max_pool2d_forward,
	.backward = max_pool2d_backward,
};
