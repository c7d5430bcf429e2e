/* dense: y = act(x · W + b), W stored (in, out) row-major. */
#include <limits.h>
#include <math.h>

#include "../blas.h"
#include "../layer.h"

struct dense {
	int units;
};

static const char *const dense_keys[] = { "units", "activation", NULL };

static int dense_configure(struct bp_layer *l, struct bp_node *spec, struct bp_err *err)
{
	struct dense *d = l->priv;
	const struct bp_node *units = bp_node_get(spec, "units");
	char path[256];
	if (!units)
		return bp_node_fail(err, BP_ERR_CONFIG, spec, "dense layer '%s' needs 'units'",
		                    bp_node_path(spec, path, sizeof path));
	long u;
	if (bp_node_int(units, 1, INT_MAX, &u, err))
		return -1;
	const struct bp_node *act = bp_layer_default(spec, "activation", "linear", err);
	int a;
	if (!act || bp_node_choice(act, bp_act_names, &a, err))
		return -1;
	d->units = (int)u;
	l->act = (enum bp_act)a;
	l->out = (struct bp_shape){ d->units, 1, 1 };
	return 0;
}

static size_t dense_nparam(const struct bp_layer *l)
{
	size_t out = bp_shape_size(l->out);
	return bp_shape_size(l->in) * out + out;
}

static int dense_tensors(const struct bp_layer *l, struct bp_tensor_desc *t)
{
	int in = (int)bp_shape_size(l->in), out = (int)bp_shape_size(l->out);
	t[0] = (struct bp_tensor_desc){ "W", 2, { in, out }, 0, (size_t)in * out, false };
	t[1] = (struct bp_tensor_desc){ "b", 1, { out }, (size_t)in * out, (size_t)out, false };
	return 2;
}

static void dense_init(struct bp_layer *l, enum bp_init init, struct bp_rng *rng)
{
	size_t in = bp_shape_size(l->in), out = bp_shape_size(l->out);
	float *w = l->param, *b = l->param + in * out;
	if (init == BP_INIT_AUTO)
		init = l->act == BP_ACT_RELU || l->act == BP_ACT_LEAKY_RELU || l->act == BP_ACT_ELU
		       ? BP_INIT_HE : BP_INIT_GLOROT;
	double bound = init == BP_INIT_GLOROT ? sqrt(6.0 / (double)(in + out)) : 1.0 / sqrt((double)in);
	double sd = sqrt(2.0 / (double)in);
	for (size_t i = 0; i < in * out; i++)
		w[i] = init == BP_INIT_HE ? (float)(sd * bp_rng_normal(rng))
		                          : (float)(bound * (2.0 * bp_rng_uniform(rng) - 1.0));
	for (size_t j = 0; j < out; j++)
		b[j] = init == BP_INIT_UNIFORM ? (float)(bound * (2.0 * bp_rng_uniform(rng) - 1.0)) : 0.0f;
}

static size_t dense_work(const struct bp_layer *l, int n)
{
	(void)l;
	(void)n;
	return 0;
}

static double dense_flops(const struct bp_layer *l, int n)
{
	return (double)n * (double)bp_shape_size(l->in) * (double)bp_shape_size(l->out);
}

static void dense_forward(struct bp_layer *l, const float *x, float *y, int n, bool train, struct bp_rng *rng)
{
	(void)train;
	(void)rng;
	int in = (int)bp_shape_size(l->in), out = (int)bp_shape_size(l->out);
	const float *w = l->param, *b = l->param + (size_t)in * out;
	bp_sgemm(false, false, n, out, in, 1.0f, x, in, w, out, 0.0f, y, out);
	bp_act_forward(l->act_fused ? BP_ACT_LINEAR : l->act, y, b, n, out);
}

static void dense_backward(struct bp_layer *l, const float *x, const float *y, float *dy, float *dx, int n)
{
	int in = (int)bp_shape_size(l->in), out = (int)bp_shape_size(l->out);
	const float *w = l->param;
	float *dw = l->grad, *restrict db = l->grad + (size_t)in * out;
	if (!l->act_fused)
		bp_act_backward(l->act, dy, y, n, out);   /* dy now holds dL/dz */
	bp_sgemm(true, false, in, out, n, 1.0f, x, in, dy, out, 0.0f, dw, out);
	for (int j = 0; j < out; j++)
		db[j] = n > 0 ? dy[j] : 0.0f;
	for (int i = 1; i < n; i++) {
		const float *restrict row = dy + (size_t)i * out;
		for (int j = 0; j < out; j++)
			db[j] += row[j];
	}
	if (dx)
		bp_sgemm(false, true, n, in, out, 1.0f, dy, out, w, out, 0.0f, dx, in);
}

const struct bp_layer_ops bp_layer_dense = {
	.type = "dense",
	.priv_size = sizeof(struct dense),
	.keys = dense_keys,
	.configure = dense_configure,
	.nparam = dense_nparam,
	.tensors = dense_tensors,
	.init_params = dense_init,
	.work_size = dense_work,
	.flops = dense_flops,
	.forward = dense_forward,
	.backward = dense_backward,
};
