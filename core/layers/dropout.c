/* dropout: inverted dropout. Training zeroes each value with probability
 * rate and scales the rest by 1/(1 − rate); evaluation is the identity. */
#include <string.h>

#include "../layer.h"

struct dropout {
	float rate;
};

static const char *const dropout_keys[] = { "rate", NULL };

static int dropout_configure(struct bp_layer *l, struct bp_node *spec, struct bp_err *err)
{
	struct dropout *d = l->priv;
	const struct bp_node *rate = bp_layer_default(spec, "rate", "0.5", err);
	double r;
	if (!rate || bp_node_num(rate, 0.0, 0.99, &r, err))
		return -1;
	d->rate = (float)r;
	l->out = l->in;
	return 0;
}

static size_t dropout_work(const struct bp_layer *l, int n)
{
	return bp_shape_size(l->in) * (size_t)n;   /* the mask of the last training forward */
}

static void dropout_forward(struct bp_layer *l, const float *x, float *y, int n, bool train, struct bp_rng *rng)
{
	const struct dropout *d = l->priv;
	size_t len = bp_shape_size(l->in) * (size_t)n;
	if (!train || d->rate == 0.0f) {
		memcpy(y, x, len * sizeof *y);
		for (size_t i = 0; train && i < len; i++)
			l->work[i] = 1.0f;
		return;
	}
	float keep_scale = 1.0f / (1.0f - d->rate);
	float *mask = l->work;
	for (size_t i = 0; i < len; i++) {
		mask[i] = bp_rng_uniform(rng) < d->rate ? 0.0f : keep_scale;
		y[i] = x[i] * mask[i];
	}
}

static void dropout_backward(struct bp_layer *l, const float *x, const float *y, float *dy, float *dx, int n)
{
	(void)x;
	(void)y;
	if (!dx)
		return;
	size_t len = bp_shape_size(l->in) * (size_t)n;
	const float *mask = l->work;
	for (size_t i = 0; i < len; i++)
		dx[i] = dy[i] * mask[i];
}

const struct bp_layer_ops bp_layer_dropout = {
	.type = "dropout",
	.priv_size = sizeof(struct dropout),
	.keys = dropout_keys,
	.configure = dropout_configure,
	.nparam = bp_layer_no_params,
	.tensors = bp_layer_no_tensors,
	.init_params = bp_layer_no_init,
	.work_size = dropout_work,
	.forward = dropout_forward,
	.backward = dropout_backward,
};
