/* conv2d: y = act(W ⊛ x + b), W (filters, C, kh, kw), b (filters); im2col
 * and GEMMs over blocks of the batch (core/conv.c). The scratch holds a
 * block's im2col matrix (the last forward's last block, which backward
 * reuses) and the GEMM's output. */
#include <math.h>

#include "../conv.h"
#include "../layer.h"
#include "window.h"

struct conv2d {
	int filters, k[2], s[2];
	bool same, use_bias;
	struct bp_window g;
};

static const char *const conv2d_keys[] = { "filters", "kernel_size", "strides", "padding", "activation",
	                                   "use_bias", NULL };

static int conv2d_configure(struct bp_layer *l, struct bp_node *spec, struct bp_err *err)
{
	struct conv2d *d = l->priv;
	const struct bp_node *filters = bp_node_get(spec, "filters");
	char path[256];
	if (!filters)
		return bp_node_fail(err, BP_ERR_CONFIG, spec, "conv2d layer '%s' needs 'filters'",
		                    bp_node_path(spec, path, sizeof path));
	long f;
	if (bp_node_int(filters, 1, 1 << 20, &f, err))
		return -1;
	d->filters = (int)f;
	if (bp_window_pair(spec, "kernel_size", NULL, "3", d->k, err)
	    || bp_window_pair(spec, "strides", NULL, "1", d->s, err) || bp_window_padding(spec, &d->same, err))
		return -1;
	const struct bp_node *act = bp_layer_default(spec, "activation", "linear", err);
	int a;
	if (!act || bp_node_choice(act, bp_act_names, &a, err))
		return -1;
	if (a == BP_ACT_SOFTMAX)
		return bp_node_fail(err, BP_ERR_CONFIG, act, "'%s' cannot be softmax on a conv2d layer "
		                    "(softmax belongs on a dense output layer)", bp_node_path(act, path, sizeof path));
	l->act = (enum bp_act)a;
	const struct bp_node *bias = bp_layer_default(spec, "use_bias", "true", err);
	if (!bias || bp_node_bool(bias, &d->use_bias, err))
		return -1;
	return bp_window_shape(l, spec, "kernel", d->k, d->s, d->same, d->filters, &d->g, err);
}

static size_t conv2d_fan_in(const struct bp_layer *l)
{
	const struct conv2d *d = l->priv;
	return (size_t)l->in.c * d->k[0] * d->k[1];
}

static size_t conv2d_nparam(const struct bp_layer *l)
{
	const struct conv2d *d = l->priv;
	return (size_t)d->filters * conv2d_fan_in(l) + (d->use_bias ? (size_t)d->filters : 0);
}

static int conv2d_tensors(const struct bp_layer *l, struct bp_tensor_desc *t)
{
	const struct conv2d *d = l->priv;
	size_t nw = (size_t)d->filters * conv2d_fan_in(l);
	t[0] = (struct bp_tensor_desc){ "W", 4, { d->filters, l->in.c, d->k[0], d->k[1] }, 0, nw, false };
	if (!d->use_bias)
		return 1;
	t[1] = (struct bp_tensor_desc){ "b", 1, { d->filters }, nw, (size_t)d->filters, false };
	return 2;
}

/* As dense: He (normal, sd √(2/fan_in)) for the relu family, Glorot
 * (uniform, √(6/(fan_in + fan_out))) otherwise, or uniform ±1/√fan_in
 * for weights and biases; fan_in = C·kh·kw, fan_out = filters·kh·kw. */
static void conv2d_init(struct bp_layer *l, enum bp_init init, struct bp_rng *rng)
{
	const struct conv2d *d = l->priv;
	size_t fan_in = conv2d_fan_in(l), fan_out = (size_t)d->filters * d->k[0] * d->k[1];
	size_t nw = (size_t)d->filters * fan_in;
	float *w = l->param, *b = l->param + nw;
	if (init == BP_INIT_AUTO)
		init = l->act == BP_ACT_RELU || l->act == BP_ACT_LEAKY_RELU || l->act == BP_ACT_ELU
		       ? BP_INIT_HE : BP_INIT_GLOROT;
	double bound = init == BP_INIT_GLOROT ? sqrt(6.0 / (double)(fan_in + fan_out)) : 1.0 / sqrt((double)fan_in);
	double sd = sqrt(2.0 / (double)fan_in);
	for (size_t i = 0; i < nw; i++)
		w[i] = init == BP_INIT_HE ? (float)(sd * bp_rng_normal(rng))
		                          : (float)(bound * (2.0 * bp_rng_uniform(rng) - 1.0));
	for (int j = 0; d->use_bias && j < d->filters; j++)
		b[j] = init == BP_INIT_UNIFORM ? (float)(bound * (2.0 * bp_rng_uniform(rng) - 1.0)) : 0.0f;
}

static size_t conv2d_work(const struct bp_layer *l, int n)
{
	const struct conv2d *d = l->priv;
	return bp_conv_work(&d->g, d->filters, n);
}

static double conv2d_flops(const struct bp_layer *l, int n)
{
	return (double)n * (double)bp_shape_size(l->out) * (double)conv2d_fan_in(l);
}

static void conv2d_forward(struct bp_layer *l, const float *x, float *y, int n, bool train, struct bp_rng *rng)
{
	(void)train;
	(void)rng;
	const struct conv2d *d = l->priv;
	size_t nw = (size_t)d->filters * conv2d_fan_in(l);
	bp_conv_forward(y, l->work, x, l->param, d->use_bias ? l->param + nw : NULL,
	                l->act_fused ? BP_ACT_LINEAR : l->act, &d->g, d->filters, n);
}

static void conv2d_backward(struct bp_layer *l, const float *x, const float *y, float *dy, float *dx, int n)
{
	const struct conv2d *d = l->priv;
	size_t nw = (size_t)d->filters * conv2d_fan_in(l);
	bp_conv_backward(dx, l->grad, d->use_bias ? l->grad + nw : NULL, l->work, dy, x, y, l->param,
	                 l->act_fused ? BP_ACT_LINEAR : l->act, &d->g, d->filters, n);
}

const struct bp_layer_ops bp_layer_conv2d = {
	.type = "conv2d",
	.priv_size = sizeof(struct conv2d),
	.keys = conv2d_keys,
	.configure = conv2d_configure,
	.nparam = conv2d_nparam,
	.tensors = conv2d_tensors,
	.init_params = conv2d_init,
	.work_size = conv2d_work,
	.flops = conv2d_flops,
	.forward = conv2d_forward,
	.backward = conv2d_backward,
};
