/* Optimisers over one flat parameter array and one flat gradient array (the
 * network owns both), with PyTorch's update rules (torch.optim, 1.13/2.x,
 * single-tensor path, dampening 0, no amsgrad, no centred RMSprop):
 *
 *   g = s·grad + wd·p           s: clip_norm scale (below), wd: weight_decay
 *                               (wd is 0 here for adamw, which decays p itself)
 *   sgd       p -= lr·g
 *   momentum  b = μ·b + g;  p -= lr·b                       (b starts at 0, so
 *   nesterov  b = μ·b + g;  p -= lr·(g + μ·b)                b = g at step 1)
 *   adam      m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;
 *             p -= lr/(1−β1ᵗ) · m / (√v / √(1−β2ᵗ) + eps)
 *   adamw     p *= 1 − lr·weight_decay, then adam with wd = 0
 *   rmsprop   v = α·v + (1−α)·g²;  p -= lr·g / (√v + eps)    α = BP_RMSPROP_ALPHA
 *   adagrad   v += g²;  p -= lr·g / (√v + eps)               (v starts at 0)
 *
 * clip_norm > 0 clips like torch.nn.utils.clip_grad_norm_: with N the global
 * L2 norm of grad (summed in double, in index order),
 * s = clip_norm / (N + 1e-6) when that is below 1, else s = 1. The scale is
 * folded into the step: the caller's grad array is never modified.
 *
 * The optimiser owns its state: the step count t and up to two flat arrays of
 * n floats, allocated (zeroed) once by bp_optim_init. bp_optim_slots lists
 * them, named as in PyTorch's state_dict, so a checkpoint can save and
 * restore them; restoring the slots and `step` resumes exactly. */
#ifndef BP_OPTIM_H
#define BP_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum bp_optim_type {
	BP_OPTIM_SGD,
	BP_OPTIM_MOMENTUM,
	BP_OPTIM_NESTEROV,
	BP_OPTIM_ADAM,
	BP_OPTIM_ADAMW,
	BP_OPTIM_RMSPROP,
	BP_OPTIM_ADAGRAD,
};

/* YAML spellings indexed by enum bp_optim_type, NULL-terminated. */
extern const char *const bp_optim_names[];

/* RMSprop's smoothing constant: PyTorch's default alpha (the config has no
 * key for it; beta2 is Adam's and is not used by rmsprop). */
#define BP_RMSPROP_ALPHA 0.99

struct bp_optim_cfg {
	enum bp_optim_type type;
	double lr;                  /* base rate, >= 0; the schedule gives each epoch's */
	double momentum;            /* momentum, nesterov: in [0, 1) */
	double beta1, beta2;        /* adam, adamw: in [0, 1) */
	double eps;                 /* adam, adamw, rmsprop, adagrad: > 0 (0/0 otherwise) */
	double weight_decay;        /* >= 0; L2 in the gradient, decoupled for adamw */
	double clip_norm;           /* 0 = off; else > 0 */
};

#define BP_OPTIM_MAX_SLOTS 2

/* The scalars of one step, fixed by bp_optim_begin. */
struct bp_optim_scalars {
	float s;                    /* clip scale */
	float wd, lr, decay;        /* decay: adamw's 1 − lr·wd, else 1 */
	float step_size, eps_hat;   /* adam: lr·√(1 − β2ᵗ)/(1 − β1ᵗ), eps·√(1 − β2ᵗ) */
};

struct bp_optim {
	struct bp_optim_cfg cfg;
	struct bp_optim_scalars k;  /* of the step under way */
	size_t n;                   /* parameters */
	int64_t step;               /* steps taken (PyTorch's `step`) */
	float *m;                   /* momentum buffer / first moment, or NULL */
	float *v;                   /* second moment / accumulator, or NULL */
};

/* One piece of optimiser state: n floats, named as in PyTorch's state
 * ("momentum_buffer", "exp_avg", "exp_avg_sq", "square_avg", "sum"). */
struct bp_optim_slot {
	const char *name;
	float *data;
};

/* The enum value for a YAML spelling, or -1. */
int bp_optim_type_from_name(const char *name);

/* Checks cfg's ranges and allocates zeroed state for n parameters.
 * Errors: BP_ERR_CONFIG for an out-of-range setting, BP_ERR_RUNTIME for
 * out of memory. On failure o holds nothing to release. */
int bp_optim_init(struct bp_optim *o, const struct bp_optim_cfg *cfg, size_t n, struct bp_err *err);
/* Frees the state; safe on a zeroed or released struct. */
void bp_optim_release(struct bp_optim *o);
/* Zeroes the state and the step count (a fresh start). */
void bp_optim_reset(struct bp_optim *o);

/* Fills out[] with the state arrays this type uses (n floats each) and
 * returns how many (0 for sgd, 1 for momentum/nesterov/rmsprop/adagrad,
 * 2 for adam/adamw). The data pointers are writable for a restore. */
int bp_optim_slots(struct bp_optim *o, struct bp_optim_slot out[BP_OPTIM_MAX_SLOTS]);

/* The global L2 norm of grad[0..n), summed in double in index order. */
double bp_optim_grad_norm(const float *grad, size_t n);

/* One update of param[0..n) from grad[0..n) at learning rate lr; n must be
 * the n given to bp_optim_init. grad is read only. Deterministic: the same
 * inputs and state give the same bits. Allocates nothing. */
void bp_optim_step(struct bp_optim *o, float *param, const float *grad, size_t n, double lr);

/* The same step in pieces, so threads can each update a slice: begin once
 * (grad_norm: the global L2 norm of the gradient, used when clip_norm > 0),
 * then apply to slices [begin, end) that together cover [0, n). */
void bp_optim_begin(struct bp_optim *o, double lr, double grad_norm);
void bp_optim_apply(struct bp_optim *o, float *param, const float *grad, size_t begin, size_t end);
/* bp_optim_apply, the same bits, that also adds the slice's Σgrad²,
 * Σ(Δparam)² and Σparam² (before the step) to sums[0..2] (core/diag.h). */
void bp_optim_apply_watched(struct bp_optim *o, float *param, const float *grad, size_t begin, size_t end,
                            double *sums);

#endif
