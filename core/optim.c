#include "optim.h"
#include "simd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const bp_optim_names[] = {
	[BP_OPTIM_SGD] = "sgd",
	[BP_OPTIM_MOMENTUM] = "momentum",
	[BP_OPTIM_NESTEROV] = "nesterov",
	[BP_OPTIM_ADAM] = "adam",
	[BP_OPTIM_ADAMW] = "adamw",
	[BP_OPTIM_RMSPROP] = "rmsprop",
	[BP_OPTIM_ADAGRAD] = "adagrad",
	NULL,
};

/* Which state arrays each type keeps, and their PyTorch names. */
static const struct {
	const char *m, *v;
} slot_names[] = {
	[BP_OPTIM_SGD] = { NULL, NULL },
	[BP_OPTIM_MOMENTUM] = { "momentum_buffer", NULL },
	[BP_OPTIM_NESTEROV] = { "momentum_buffer", NULL },
	[BP_OPTIM_ADAM] = { "exp_avg", "exp_avg_sq" },
	[BP_OPTIM_ADAMW] = { "exp_avg", "exp_avg_sq" },
	[BP_OPTIM_RMSPROP] = { NULL, "square_avg" },
	[BP_OPTIM_ADAGRAD] = { NULL, "sum" },
};

int bp_optim_type_from_name(const char *name)
{
	for (int i = 0; name && bp_optim_names[i]; i++)
		if (strcmp(name, bp_optim_names[i]) == 0)
			return i;
	return -1;
}

static int check_cfg(const struct bp_optim_cfg *c, struct bp_err *err)
{
	if ((unsigned)c->type > BP_OPTIM_ADAGRAD)
		return bp_fail(err, BP_ERR_CONFIG, NULL, "unknown optimizer type %d", (int)c->type);
	const char *type = bp_optim_names[c->type];
	if (!(c->lr >= 0 && isfinite(c->lr)))
		return bp_fail(err, BP_ERR_CONFIG, NULL, "'optimizer.lr' must be at least 0, got %g", c->lr);
	if (!(c->weight_decay >= 0 && isfinite(c->weight_decay)))
		return bp_fail(err, BP_ERR_CONFIG, NULL, "'optimizer.weight_decay' must be at least 0, got %g",
		               c->weight_decay);
	if (!(c->clip_norm >= 0 && isfinite(c->clip_norm)))
		return bp_fail(err, BP_ERR_CONFIG, NULL, "'optimizer.clip_norm' must be at least 0 (0 = off), got %g",
		               c->clip_norm);
	switch (c->type) {
	case BP_OPTIM_MOMENTUM:
	case BP_OPTIM_NESTEROV:
		if (!(c->momentum >= 0 && c->momentum < 1))
			return bp_fail(err, BP_ERR_CONFIG, NULL, "'optimizer.momentum' must be in [0, 1) for %s, got %g",
			               type, c->momentum);
		break;
	case BP_OPTIM_ADAM:
	case BP_OPTIM_ADAMW:
		if (!(c->beta1 >= 0 && c->beta1 < 1))
			return bp_fail(err, BP_ERR_CONFIG, NULL, "'optimizer.beta1' must be in [0, 1) for %s, got %g",
			               type, c->beta1);
		if (!(c->beta2 >= 0 && c->beta2 < 1))
			return bp_fail(err, BP_ERR_CONFIG, NULL, "'optimizer.beta2' must be in [0, 1) for %s, got %g",
			               type, c->beta2);
		break;
	default:
		break;
	}
	if (slot_names[c->type].v && !(c->eps > 0 && isfinite(c->eps)))
		return bp_fail(err, BP_ERR_CONFIG, NULL, "'optimizer.eps' must be a positive number for %s, got %g",
		               type, c->eps);
	return 0;
}

int bp_optim_init(struct bp_optim *o, const struct bp_optim_cfg *cfg, size_t n, struct bp_err *err)
{
	memset(o, 0, sizeof *o);
	if (check_cfg(cfg, err))
		return -1;
	o->cfg = *cfg;
	o->n = n;
	size_t alloc = n ? n : 1;
	if (slot_names[cfg->type].m && !(o->m = calloc(alloc, sizeof *o->m)))
		return bp_fail_oom(err, "optimizer state", alloc * sizeof *o->m);
	if (slot_names[cfg->type].v && !(o->v = calloc(alloc, sizeof *o->v))) {
		bp_optim_release(o);
		return bp_fail_oom(err, "optimizer state", alloc * sizeof *o->v);
	}
	return 0;
}

void bp_optim_release(struct bp_optim *o)
{
	if (!o)
		return;
	free(o->m);
	free(o->v);
	o->m = o->v = NULL;
	o->n = 0;
	o->step = 0;
}

void bp_optim_reset(struct bp_optim *o)
{
	o->step = 0;
	if (o->m)
		memset(o->m, 0, o->n * sizeof *o->m);
	if (o->v)
		memset(o->v, 0, o->n * sizeof *o->v);
}

int bp_optim_slots(struct bp_optim *o, struct bp_optim_slot out[BP_OPTIM_MAX_SLOTS])
{
	int k = 0;
	if (o->m)
		out[k++] = (struct bp_optim_slot){ slot_names[o->cfg.type].m, o->m };
	if (o->v)
		out[k++] = (struct bp_optim_slot){ slot_names[o->cfg.type].v, o->v };
	return k;
}

double bp_optim_grad_norm(const float *grad, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += (double)grad[i] * grad[i];
	return sqrt(s);
}

/* The kernels. In each, g = s·grad + wd·p is the clipped, decayed gradient;
 * scalars are float, as PyTorch applies them to float32 tensors. Each rule
 * is an inline function of one element (its new p; the state updated
 * through pointers), so a kernel's plain and watched loops compute the same
 * bits. */

static inline float sgd_one(float p, float grad, float s, float wd, float lr)
{
	float g = s * grad + wd * p;
	return p - lr * g;
}

static inline float momentum_one(float p, float *b, float grad, float s, float wd, float lr, float mu)
{
	float g = s * grad + wd * p;
	*b = mu * *b + g;
	return p - lr * *b;
}

static inline float nesterov_one(float p, float *b, float grad, float s, float wd, float lr, float mu)
{
	float g = s * grad + wd * p;
	*b = mu * *b + g;
	return p - lr * (g + mu * *b);
}

/* step_size = lr·√(1 − β2ᵗ)/(1 − β1ᵗ), eps_hat = eps·√(1 − β2ᵗ); decay = 1 − lr·λ (adamw) or 1. */
static inline float adam_one(float p, float *m, float *v, float grad, float s, float wd, float decay, float b1,
                             float omb1, float b2, float omb2, float step_size, float eps_hat)
{
	float pi = p * decay;
	float g = s * grad + wd * pi;
	*m = b1 * *m + omb1 * g;
	*v = b2 * *v + omb2 * g * g;
	return pi - step_size * *m / (sqrtf(*v) + eps_hat);
}

static inline float rmsprop_one(float p, float *v, float grad, float s, float wd, float lr, float alpha, float oma,
                                float eps)
{
	float g = s * grad + wd * p;
	*v = alpha * *v + oma * g * g;
	return p - lr * g / (sqrtf(*v) + eps);
}

static inline float adagrad_one(float p, float *v, float grad, float s, float wd, float lr, float eps)
{
	float g = s * grad + wd * p;
	*v += g * g;
	return p - lr * g / (sqrtf(*v) + eps);
}

#define LANES 16

static void add_lanes(double *sums, const float *sg, const float *sd, const float *sw)
{
	for (int j = 0; j < LANES; j++) {
		sums[0] += sg[j];
		sums[1] += sd[j];
		sums[2] += sw[j];
	}
}

/* A kernel's loop over p[0..n): ONE(q) is the rule's new p[q]. With sums
 * (bp_optim_apply_watched) it also adds Σgrad², Σ(Δp)² and Σp² (p before
 * the step) to sums[0..2], in LANES float lanes, so that the sums vectorise
 * along with the step. */
#define KERNEL_LOOP(ONE)                                                 \
	do {                                                                 \
		if (!sums) {                                                     \
			for (size_t q = 0; q < n; q++)                               \
				p[q] = ONE(q);                                           \
			break;                                                       \
		}                                                                \
		float sg[LANES] = { 0 }, sd[LANES] = { 0 }, sw[LANES] = { 0 };   \
		size_t i0 = 0;                                                   \
		for (; i0 + LANES <= n; i0 += LANES)                             \
			for (size_t j = 0; j < LANES; j++) {                         \
				size_t q = i0 + j;                                       \
				float w = p[q];                                          \
				p[q] = ONE(q);                                           \
				float d = p[q] - w;                                      \
				sg[j] += grad[q] * grad[q];                              \
				sd[j] += d * d;                                          \
				sw[j] += w * w;                                          \
			}                                                            \
		for (size_t q = i0; q < n; q++) {                                \
			float w = p[q];                                              \
			p[q] = ONE(q);                                               \
			float d = p[q] - w;                                          \
			sg[0] += grad[q] * grad[q];                                  \
			sd[0] += d * d;                                              \
			sw[0] += w * w;                                              \
		}                                                                \
		add_lanes(sums, sg, sd, sw);                                     \
	} while (0)

BP_HOT static void step_sgd(float *restrict p, const float *restrict grad, size_t n, float s, float wd, float lr,
                            double *sums)
{
#define ONE(q) sgd_one(p[q], grad[q], s, wd, lr)
	KERNEL_LOOP(ONE);
#undef ONE
}

BP_HOT static void step_momentum(float *restrict p, float *restrict b, const float *restrict grad, size_t n,
                                 float s, float wd, float lr, float mu, double *sums)
{
#define ONE(q) momentum_one(p[q], &b[q], grad[q], s, wd, lr, mu)
	KERNEL_LOOP(ONE);
#undef ONE
}

BP_HOT static void step_nesterov(float *restrict p, float *restrict b, const float *restrict grad, size_t n,
                                 float s, float wd, float lr, float mu, double *sums)
{
#define ONE(q) nesterov_one(p[q], &b[q], grad[q], s, wd, lr, mu)
	KERNEL_LOOP(ONE);
#undef ONE
}

BP_HOT static void step_adam(float *restrict p, float *restrict m, float *restrict v, const float *restrict grad,
                             size_t n, float s, float wd, float decay, float b1, float omb1, float b2, float omb2,
                             float step_size, float eps_hat, double *sums)
{
#define ONE(q) adam_one(p[q], &m[q], &v[q], grad[q], s, wd, decay, b1, omb1, b2, omb2, step_size, eps_hat)
	KERNEL_LOOP(ONE);
#undef ONE
}

BP_HOT static void step_rmsprop(float *restrict p, float *restrict v, const float *restrict grad, size_t n,
                                float s, float wd, float lr, float alpha, float oma, float eps, double *sums)
{
#define ONE(q) rmsprop_one(p[q], &v[q], grad[q], s, wd, lr, alpha, oma, eps)
	KERNEL_LOOP(ONE);
#undef ONE
}

BP_HOT static void step_adagrad(float *restrict p, float *restrict v, const float *restrict grad, size_t n,
                                float s, float wd, float lr, float eps, double *sums)
{
#define ONE(q) adagrad_one(p[q], &v[q], grad[q], s, wd, lr, eps)
	KERNEL_LOOP(ONE);
#undef ONE
}

void bp_optim_begin(struct bp_optim *o, double lr, double grad_norm)
{
	const struct bp_optim_cfg *c = &o->cfg;
	struct bp_optim_scalars *k = &o->k;
	o->step++;
	k->s = 1.0f;
	if (c->clip_norm > 0) {
		double coef = c->clip_norm / (grad_norm + 1e-6);
		if (!(coef >= 1.0))
			k->s = (float)coef;
	}
	k->wd = (float)c->weight_decay;
	k->lr = (float)lr;
	k->decay = 1.0f;
	if (c->type == BP_OPTIM_ADAM || c->type == BP_OPTIM_ADAMW) {
		double t = (double)o->step;
		double bc1 = 1.0 - pow(c->beta1, t), bc2 = 1.0 - pow(c->beta2, t);
		if (c->type == BP_OPTIM_ADAMW) {
			k->decay = (float)(1.0 - lr * c->weight_decay);
			k->wd = 0.0f;
		}
		/* PyTorch's m̂/(√v̂ + eps), rearranged as in Kingma & Ba §2 so
		 * that each element costs one division, not two. */
		k->step_size = (float)(lr * sqrt(bc2) / bc1);
		k->eps_hat = (float)(c->eps * sqrt(bc2));
	}
}

void bp_optim_apply_watched(struct bp_optim *o, float *param, const float *grad, size_t begin, size_t end,
                            double *sums)
{
	BP_BUG(begin > end || end > o->n);
	const struct bp_optim_cfg *c = &o->cfg;
	const struct bp_optim_scalars *k = &o->k;
	size_t n = end - begin;
	float *p = param + begin, *m = o->m ? o->m + begin : NULL, *v = o->v ? o->v + begin : NULL;
	const float *g = grad + begin;
	switch (c->type) {
	case BP_OPTIM_SGD:
		step_sgd(p, g, n, k->s, k->wd, k->lr, sums);
		break;
	case BP_OPTIM_MOMENTUM:
		step_momentum(p, m, g, n, k->s, k->wd, k->lr, (float)c->momentum, sums);
		break;
	case BP_OPTIM_NESTEROV:
		step_nesterov(p, m, g, n, k->s, k->wd, k->lr, (float)c->momentum, sums);
		break;
	case BP_OPTIM_ADAM:
	case BP_OPTIM_ADAMW:
		step_adam(p, m, v, g, n, k->s, k->wd, k->decay, (float)c->beta1, (float)(1.0 - c->beta1),
		          (float)c->beta2, (float)(1.0 - c->beta2), k->step_size, k->eps_hat, sums);
		break;
	case BP_OPTIM_RMSPROP:
		step_rmsprop(p, v, g, n, k->s, k->wd, k->lr, (float)BP_RMSPROP_ALPHA,
		             (float)(1.0 - BP_RMSPROP_ALPHA), (float)c->eps, sums);
		break;
	case BP_OPTIM_ADAGRAD:
		step_adagrad(p, v, g, n, k->s, k->wd, k->lr, (float)c->eps, sums);
		break;
	}
}

void bp_optim_apply(struct bp_optim *o, float *param, const float *grad, size_t begin, size_t end)
{
	bp_optim_apply_watched(o, param, grad, begin, end, NULL);
}

void bp_optim_step(struct bp_optim *o, float *param, const float *grad, size_t n, double lr)
{
	BP_BUG(n != o->n);
	bp_optim_begin(o, lr, o->cfg.clip_norm > 0 ? bp_optim_grad_norm(grad, n) : 0.0);
	bp_optim_apply(o, param, grad, 0, n);
}
