/* batch_norm: y = act(gamma · (x − mean) / sqrt(var + epsilon) + beta), per
 * channel of a (C,H,W) input (over the batch and the H·W positions), per
 * feature of a flat one (H·W = 1: the same formula).
 *
 * Training normalises with the mean and the biased variance of the whole
 * batch, across a team's members (bp_sync_sum), and member 0 moves the
 * running statistics: running = momentum · running + (1 − momentum) · batch.
 * Evaluation normalises with the running statistics.
 *
 * Backward over the whole batch. Per channel, with M values x_s (all
 * members' samples × H·W), x̂ = (x − mean) · istd, istd = 1/sqrt(var + eps),
 * z = gamma · x̂ + beta and G_s = ∂L/∂z_s for the whole batch's mean loss L:
 *   ∂L/∂gamma = Σ G·x̂,  ∂L/∂beta = Σ G,
 *   ∂L/∂x_s = gamma · istd · (G_s − Σ G / M − x̂_s · Σ G·x̂ / M).
 * A member holds m_i of the N samples and its loss L_i is the mean over
 * them, so L = Σ_i w_i L_i with w_i = m_i / N = bp_sync_weight, and the
 * delta it receives is dy = ∂L_i/∂z = G / w_i on its own samples (this
 * holds at the loss, through every per-sample layer, and through this
 * layer's dx below). So:
 *   - the exchanged sums are Σ_i w_i · (Σ over member i of dy, of dy·x̂),
 *     which are Σ G and Σ G·x̂;
 *   - the member's dx must again be 1/w_i times its part of ∂L/∂x:
 *       dx_s = gamma · istd · (dy_s − (Σ G / M) / w_i − x̂_s · (Σ G·x̂ / M) / w_i);
 *   - its parameter gradient stays its own sums (of dy·x̂ and dy), which
 *     the team combines with weights w_i into ∂L/∂gamma, ∂L/∂beta.
 * Alone (no team) w = 1 and the sums are the member's own. */
#include <float.h>
#include <math.h>

#include "../layer.h"

struct batch_norm {
	float momentum, epsilon;
	int c, hw;              /* channels, positions per channel */
};

static const char *const batch_norm_keys[] = { "momentum", "epsilon", "activation", NULL };

static int batch_norm_configure(struct bp_layer *l, struct bp_node *spec, struct bp_err *err)
{
	struct batch_norm *bn = l->priv;
	char path[256];
	const struct bp_node *mom = bp_layer_default(spec, "momentum", "0.99", err);
	double m;
	if (!mom || bp_node_num(mom, -DBL_MAX, DBL_MAX, &m, err))
		return -1;
	if (!(m >= 0.0 && m < 1.0))
		return bp_node_fail(err, BP_ERR_CONFIG, mom, "'%s' must be at least 0 and below 1, got %s",
		                    bp_node_path(mom, path, sizeof path), mom->value);
	const struct bp_node *eps = bp_layer_default(spec, "epsilon", "0.001", err);
	double e;
	if (!eps || bp_node_num(eps, -DBL_MAX, DBL_MAX, &e, err))
		return -1;
	if (!(e > 0.0 && (float)e > 0.0f && e <= 1000.0))
		return bp_node_fail(err, BP_ERR_CONFIG, eps, "'%s' must be above 0 and at most 1000, got %s",
		                    bp_node_path(eps, path, sizeof path), eps->value);
	const struct bp_node *act = bp_layer_default(spec, "activation", "linear", err);
	int a;
	if (!act || bp_node_choice(act, bp_act_names, &a, err))
		return -1;
	bn->momentum = (float)m;
	bn->epsilon = (float)e;
	bn->c = l->in.c;
	bn->hw = l->in.h * l->in.w;
	l->act = (enum bp_act)a;
	l->out = l->in;
	return 0;
}

static size_t batch_norm_nparam(const struct bp_layer *l) { return 2 * (size_t)l->in.c; }
static size_t batch_norm_nstate(const struct bp_layer *l) { return 2 * (size_t)l->in.c; }

static int batch_norm_tensors(const struct bp_layer *l, struct bp_tensor_desc *t)
{
	int c = l->in.c;
	t[0] = (struct bp_tensor_desc){ "gamma", 1, { c }, 0, (size_t)c, false };
	t[1] = (struct bp_tensor_desc){ "beta", 1, { c }, (size_t)c, (size_t)c, false };
	t[2] = (struct bp_tensor_desc){ "running_mean", 1, { c }, 0, (size_t)c, true };
	t[3] = (struct bp_tensor_desc){ "running_var", 1, { c }, (size_t)c, (size_t)c, true };
	return 4;
}

static void batch_norm_init(struct bp_layer *l, enum bp_init init, struct bp_rng *rng)
{
	(void)init;
	(void)rng;
	int c = l->in.c;
	for (int j = 0; j < c; j++) {
		l->param[j] = 1.0f;        /* gamma */
		l->param[c + j] = 0.0f;    /* beta */
		l->state[j] = 0.0f;        /* running_mean */
		l->state[c + j] = 1.0f;    /* running_var */
	}
}

/* Scratch, as doubles: sums[2C] (exchanged), count[1] (the whole batch's
 * values per channel), mean[C] and istd[C] of the last training forward,
 * which backward reuses. The net's scratch is 64-byte aligned. */
static size_t batch_norm_work(const struct bp_layer *l, int n)
{
	(void)n;
	return 2 * (4 * (size_t)l->in.c + 1);
}

struct scratch {
	double *sums, *count, *mean, *istd;
};

static struct scratch scratch_of(const struct bp_layer *l)
{
	double *d = (double *)(void *)l->work;
	int c = l->in.c;
	return (struct scratch){ d, d + 2 * c, d + 2 * c + 1, d + 3 * c + 1 };
}

/* The whole batch's mean and istd per channel, in two passes (the mean,
 * then the centred sum of squares) so that a large mean costs no
 * precision; and the running statistics' update where this net owns them. */
static void batch_stats(struct bp_layer *l, const float *x, int n, struct scratch s)
{
	const struct batch_norm *bn = l->priv;
	int c = bn->c, hw = bn->hw;
	for (int j = 0; j < c; j++)
		s.sums[j] = 0;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < c; j++) {
			const float *p = x + ((size_t)i * c + j) * hw;
			double a = 0;
			for (int q = 0; q < hw; q++)
				a += p[q];
			s.sums[j] += a;
		}
	s.sums[c] = (double)n * hw;
	bp_sync_sum(l->sync, s.sums, c + 1);
	double m = s.sums[c];
	*s.count = m;
	for (int j = 0; j < c; j++)
		s.mean[j] = m > 0 ? s.sums[j] / m : 0.0;

	for (int j = 0; j < c; j++)
		s.sums[j] = 0;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < c; j++) {
			const float *p = x + ((size_t)i * c + j) * hw;
			double mu = s.mean[j], a = 0;
			for (int q = 0; q < hw; q++) {
				double d = p[q] - mu;
				a += d * d;
			}
			s.sums[j] += a;
		}
	bp_sync_sum(l->sync, s.sums, c);
	float *rmean = l->state, *rvar = l->state + c;
	for (int j = 0; j < c; j++) {
		double var = m > 0 ? s.sums[j] / m : 0.0;
		s.istd[j] = 1.0 / sqrt(var + bn->epsilon);
		if (l->writes_state && m > 0) {
			rmean[j] = (float)(bn->momentum * (double)rmean[j] + (1.0 - bn->momentum) * s.mean[j]);
			rvar[j] = (float)(bn->momentum * (double)rvar[j] + (1.0 - bn->momentum) * var);
		}
	}
}

static void batch_norm_forward(struct bp_layer *l, const float *x, float *y, int n, bool train,
                               struct bp_rng *rng)
{
	(void)rng;
	const struct batch_norm *bn = l->priv;
	int c = bn->c, hw = bn->hw;
	const float *gamma = l->param, *beta = l->param + c;
	struct scratch s = scratch_of(l);
	if (train)
		batch_stats(l, x, n, s);
	for (int j = 0; j < c; j++) {
		float mu, is;
		if (train) {
			mu = (float)s.mean[j];
			is = (float)s.istd[j];
		} else {
			mu = l->state[j];
			is = (float)(1.0 / sqrt((double)l->state[c + j] + bn->epsilon));
		}
		float g = gamma[j] * is, b = beta[j];
		for (int i = 0; i < n; i++) {
			size_t at = ((size_t)i * c + j) * hw;
			const float *restrict p = x + at;
			float *restrict q = y + at;
			for (int k = 0; k < hw; k++)
				q[k] = g * (p[k] - mu) + b;
		}
	}
	if (n > 0)
		bp_act_forward(l->act_fused ? BP_ACT_LINEAR : l->act, y, NULL, n, c * hw);
}

static void batch_norm_backward(struct bp_layer *l, const float *x, const float *y, float *dy, float *dx, int n)
{
	const struct batch_norm *bn = l->priv;
	int c = bn->c, hw = bn->hw;
	const float *gamma = l->param;
	float *dgamma = l->grad, *dbeta = l->grad + c;
	struct scratch s = scratch_of(l);
	if (!l->act_fused && n > 0)
		bp_act_backward(l->act, dy, y, n, c * hw);   /* dy now holds dL/dz */
	double *sdy = s.sums, *sdyx = s.sums + c;
	for (int j = 0; j < 2 * c; j++)
		s.sums[j] = 0;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < c; j++) {
			size_t at = ((size_t)i * c + j) * hw;
			const float *p = x + at, *d = dy + at;
			double mu = s.mean[j], a = 0, b = 0;
			for (int k = 0; k < hw; k++) {
				a += d[k];
				b += d[k] * (p[k] - mu);
			}
			sdy[j] += a;
			sdyx[j] += b * s.istd[j];
		}
	double w = bp_sync_weight(l->sync);
	for (int j = 0; j < c; j++) {
		dgamma[j] = (float)sdyx[j];
		dbeta[j] = (float)sdy[j];
		sdy[j] *= w;
		sdyx[j] *= w;
	}
	bp_sync_sum(l->sync, s.sums, 2 * c);
	if (!dx || n == 0)
		return;
	double mw = *s.count * w;
	for (int j = 0; j < c; j++) {
		float k1 = (float)(sdy[j] / mw), k2 = (float)(sdyx[j] / mw);
		float mu = (float)s.mean[j], is = (float)s.istd[j], g = gamma[j] * is;
		for (int i = 0; i < n; i++) {
			size_t at = ((size_t)i * c + j) * hw;
			const float *restrict p = x + at, *restrict d = dy + at;
			float *restrict q = dx + at;
			for (int k = 0; k < hw; k++)
				q[k] = g * (d[k] - k1 - (p[k] - mu) * is * k2);
		}
	}
}

const struct bp_layer_ops bp_layer_batch_norm = {
	.type = "batch_norm",
	.priv_size = sizeof(struct batch_norm),
	.keys = batch_norm_keys,
	.configure = batch_norm_configure,
	.nparam = batch_norm_nparam,
	.nstate = batch_norm_nstate,
	.tensors = batch_norm_tensors,
	.init_params = batch_norm_init,
	.work_size = batch_norm_work,
	.forward = batch_norm_forward,
	.backward = batch_norm_backward,
};
