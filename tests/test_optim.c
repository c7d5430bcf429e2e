#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "optim.h"
#include "rng.h"
#include "schedule.h"

/* |got − want| <= tol, reported with both values. */
#define assert_near(got, want, tol) assert_near_at((got), (want), (tol), #got, __LINE__)
static void assert_near_at(double got, double want, double tol, const char *what, int line)
{
	if (!(fabs(got - want) <= tol))
		fail_msg("line %d: %s = %.9g, want %.9g (tolerance %g)", line, what, got, want, tol);
}

/* ---- Reference steps: PyTorch 1.13.1 (Debian python3-torch) ----
 *
 * Every optimiser, with and without weight decay and clipping (and the
 * adaptive ones with a large eps = 0.1, where its placement shows), takes three
 * steps on f(p) = ½ Σ a_i (p_i − c_i)² from p0, at lr 0.1, 0.05, 0.02 (the
 * rate changes between steps, as a schedule would). Produced once by:
 *
 *   A = torch.tensor([1.0, 2.0, 0.5, 4.0]); C = torch.tensor([1.0, -1.0, 0.25, 0.0])
 *   p = torch.tensor([0.5, -2.0, 3.0, 0.75], requires_grad=True)
 *   opt = torch.optim.SGD([p], lr=0.1, weight_decay=wd)                   # sgd
 *         torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=wd)     # momentum
 *         torch.optim.SGD(..., momentum=0.9, nesterov=True, ...)          # nesterov
 *         torch.optim.Adam([p], lr=0.1, betas=(0.9, 0.999), eps=eps, weight_decay=wd)
 *         torch.optim.AdamW(same arguments)
 *         torch.optim.RMSprop([p], lr=0.1, alpha=0.99, eps=eps, weight_decay=wd)
 *         torch.optim.Adagrad([p], lr=0.1, eps=eps, weight_decay=wd)
 *   for lr in [0.1, 0.05, 0.02]:
 *       opt.param_groups[0]['lr'] = lr; opt.zero_grad()
 *       (0.5 * (A * (p - C) ** 2).sum()).backward()
 *       if clip > 0: torch.nn.utils.clip_grad_norm_([p], clip)
 *       opt.step(); print(p)
 */
static const float ref_a[4] = { 1.0f, 2.0f, 0.5f, 4.0f };
static const float ref_c[4] = { 1.0f, -1.0f, 0.25f, 0.0f };
static const float ref_p0[4] = { 0.5f, -2.0f, 3.0f, 0.75f };
static const double ref_lr[3] = { 0.1, 0.05, 0.02 };

static const struct ref_case {
	enum bp_optim_type type;
	double weight_decay, clip_norm, eps;
	float p[3][4];              /* after steps 1, 2, 3 */
} ref_cases[] = {
	{ BP_OPTIM_SGD, 0, 0, 1e-08, {
		{ 0.550000012f, -1.79999995f, 2.86249995f, 0.449999988f },
		{ 0.57249999f, -1.71999991f, 2.79718757f, 0.359999985f },
		{ 0.581049979f, -1.6911999f, 2.77171564f, 0.331199974f },
	} },
	{ BP_OPTIM_MOMENTUM, 0, 0, 1e-08, {
		{ 0.550000012f, -1.79999995f, 2.86249995f, 0.449999988f },
		{ 0.595000029f, -1.63f, 2.73531246f, 0.224999979f },
		{ 0.619300008f, -1.54359996f, 2.6646719f, 0.125999987f },
	} },
	{ BP_OPTIM_NESTEROV, 0, 0, 1e-08, {
		{ 0.595000029f, -1.62f, 2.73874998f, 0.180000007f },
		{ 0.653725028f, -1.42120004f, 2.56484675f, -0.00989998877f },
		{ 0.680734456f, -1.33994079f, 2.48065829f, -0.0637991875f },
	} },
	{ BP_OPTIM_ADAM, 0, 0, 1e-08, {
		{ 0.599999964f, -1.89999998f, 2.9000001f, 0.649999976f },
		{ 0.649406254f, -1.85020614f, 2.85005689f, 0.600312769f },
		{ 0.668942869f, -1.8303647f, 2.83010125f, 0.580553651f },
	} },
	{ BP_OPTIM_ADAMW, 0, 0, 1e-08, {
		{ 0.599999964f, -1.89999998f, 2.9000001f, 0.649999976f },
		{ 0.649406254f, -1.85020614f, 2.85005689f, 0.600312769f },
		{ 0.668942869f, -1.8303647f, 2.83010125f, 0.580553651f },
	} },
	{ BP_OPTIM_RMSPROP, 0, 0, 1e-08, {
		{ 1.49999976f, -1.0f, 2.0f, -0.250000119f },
		{ 1.14555931f, -1.0f, 1.73060179f, -0.0911698192f },
		{ 1.10494208f, -1.0f, 1.64729846f, -0.0680404976f },
	} },
	{ BP_OPTIM_ADAGRAD, 0, 0, 1e-08, {
		{ 0.600000024f, -1.89999998f, 2.9000001f, 0.649999976f },
		{ 0.631234765f, -1.86655176f, 2.86530542f, 0.617253423f },
		{ 0.641216099f, -1.85572183f, 2.8540051f, 0.606690884f },
	} },
	{ BP_OPTIM_SGD, 0.1, 0, 1e-08, {
		{ 0.545000017f, -1.77999997f, 2.83249998f, 0.442499995f },
		{ 0.565025032f, -1.69309998f, 2.75377488f, 0.351787508f },
		{ 0.572594464f, -1.66198981f, 2.72322965f, 0.322940946f },
	} },
	{ BP_OPTIM_MOMENTUM, 0.1, 0, 1e-08, {
		{ 0.545000017f, -1.77999997f, 2.83249998f, 0.442499995f },
		{ 0.585274994f, -1.5941f, 2.67840004f, 0.213412493f },
		{ 0.60689795f, -1.50022376f, 2.59328318f, 0.113441169f },
	} },
	{ BP_OPTIM_NESTEROV, 0.1, 0, 1e-08, {
		{ 0.585500002f, -1.58200002f, 2.68175006f, 0.165749967f },
		{ 0.637540281f, -1.36729097f, 2.47292781f, -0.0233471431f },
		{ 0.661218464f, -1.28068554f, 2.37283206f, -0.0755522624f },
	} },
	{ BP_OPTIM_ADAM, 0.1, 0, 1e-08, {
		{ 0.600000024f, -1.89999998f, 2.9000001f, 0.650000036f },
		{ 0.64916271f, -1.85019314f, 2.85005593f, 0.600312829f },
		{ 0.668499589f, -1.8303417f, 2.83009934f, 0.58055371f },
	} },
	{ BP_OPTIM_ADAMW, 0.1, 0, 1e-08, {
		{ 0.594999969f, -1.88f, 2.87000012f, 0.642499983f },
		{ 0.641479611f, -1.82086754f, 2.80572796f, 0.589636445f },
		{ 0.659774423f, -1.79743087f, 2.78017664f, 0.568725049f },
	} },
	{ BP_OPTIM_RMSPROP, 0.1, 0, 1e-08, {
		{ 1.49999976f, -1.0f, 2.0f, -0.25f },
		{ 1.08823609f, -0.977182031f, 1.7289772f, -0.0911697596f },
		{ 1.03955996f, -0.972405791f, 1.64504135f, -0.0680404529f },
	} },
	{ BP_OPTIM_ADAGRAD, 0.1, 0, 1e-08, {
		{ 0.600000024f, -1.89999998f, 2.9000001f, 0.649999976f },
		{ 0.630141675f, -1.86645877f, 2.86529541f, 0.617253423f },
		{ 0.639699638f, -1.85559344f, 2.85399127f, 0.606690884f },
	} },
	{ BP_OPTIM_SGD, 0, 0.5, 1e-08, {
		{ 0.506424904f, -1.97430027f, 2.98233151f, 0.711450458f },
		{ 0.509722054f, -1.96128321f, 2.97320533f, 0.692439973f },
		{ 0.511058271f, -1.95604324f, 2.96949434f, 0.684891045f },
	} },
	{ BP_OPTIM_MOMENTUM, 0, 0.5, 1e-08, {
		{ 0.506424904f, -1.97430027f, 2.98233151f, 0.711450458f },
		{ 0.512613297f, -1.94971836f, 2.96525455f, 0.675092697f },
		{ 0.516193867f, -1.93559682f, 2.95533872f, 0.654508829f },
	} },
	{ BP_OPTIM_NESTEROV, 0, 0.5, 1e-08, {
		{ 0.512207329f, -1.95117056f, 2.96642971f, 0.676755846f },
		{ 0.521228373f, -1.91572893f, 2.941401f, 0.625521123f },
		{ 0.525924325f, -1.89752018f, 2.92828774f, 0.599900842f },
	} },
	{ BP_OPTIM_ADAM, 0, 0.5, 1e-08, {
		{ 0.599999964f, -1.89999998f, 2.9000001f, 0.649999976f },
		{ 0.649798989f, -1.8499825f, 2.84993505f, 0.60003376f },
		{ 0.669630051f, -1.82996798f, 2.82987452f, 0.580062807f },
	} },
	{ BP_OPTIM_ADAMW, 0, 0.5, 1e-08, {
		{ 0.599999964f, -1.89999998f, 2.9000001f, 0.649999976f },
		{ 0.649798989f, -1.8499825f, 2.84993505f, 0.60003376f },
		{ 0.669630051f, -1.82996798f, 2.82987452f, 0.580062807f },
	} },
	{ BP_OPTIM_RMSPROP, 0, 0.5, 1e-08, {
		{ 1.49999845f, -1.00000036f, 2.00000048f, -0.249999702f },
		{ 1.03001165f, -0.999999881f, 1.5657028f, 0.0881653428f },
		{ 1.00858212f, -1.0f, 1.40965807f, 0.00524768233f },
	} },
	{ BP_OPTIM_ADAGRAD, 0, 0.5, 1e-08, {
		{ 0.599999964f, -1.89999998f, 2.9000001f, 0.649999976f },
		{ 0.63348484f, -1.86439097f, 2.86321473f, 0.615059495f },
		{ 0.644290805f, -1.85275078f, 2.8511219f, 0.603679776f },
	} },
	{ BP_OPTIM_SGD, 0.1, 0.5, 1e-08, {
		{ 0.501424909f, -1.95430028f, 2.95233154f, 0.703950465f },
		{ 0.502291977f, -1.9316119f, 2.92842555f, 0.681374192f },
		{ 0.502670944f, -1.92256927f, 2.91884589f, 0.672435105f },
	} },
	{ BP_OPTIM_MOMENTUM, 0.1, 0.5, 1e-08, {
		{ 0.501424909f, -1.95430028f, 2.95233154f, 0.703950465f },
		{ 0.502933204f, -1.9110471f, 2.90697479f, 0.660651922f },
		{ 0.503886759f, -1.88646173f, 2.88104677f, 0.636212885f },
	} },
	{ BP_OPTIM_NESTEROV, 0.1, 0.5, 1e-08, {
		{ 0.502707362f, -1.91317058f, 2.90942979f, 0.662505865f },
		{ 0.50522393f, -1.85182512f, 2.84452868f, 0.601777434f },
		{ 0.506726682f, -1.82088947f, 2.81143236f, 0.57156986f },
	} },
	{ BP_OPTIM_ADAM, 0.1, 0.5, 1e-08, {
		{ 0.599999905f, -1.89999998f, 2.9000001f, 0.649999976f },
		{ 0.627828896f, -1.85001922f, 2.84998655f, 0.600065529f },
		{ 0.631484926f, -1.83003438f, 2.82997417f, 0.580119491f },
	} },
	{ BP_OPTIM_ADAMW, 0.1, 0.5, 1e-08, {
		{ 0.594999969f, -1.88f, 2.87000012f, 0.642500043f },
		{ 0.641888261f, -1.82059228f, 2.80558443f, 0.589317322f },
		{ 0.660489023f, -1.79694498f, 2.77991152f, 0.568164408f },
	} },
	{ BP_OPTIM_RMSPROP, 0.1, 0.5, 1e-08, {
		{ 1.49999297f, -1.00000024f, 2.00000024f, -0.249999821f },
		{ 1.00046504f, -0.892605424f, 1.63447797f, 0.0677784383f },
		{ 0.941421628f, -0.913864315f, 1.50209749f, 0.00888379291f },
	} },
	{ BP_OPTIM_ADAGRAD, 0.1, 0.5, 1e-08, {
		{ 0.599999905f, -1.89999998f, 2.9000001f, 0.649999976f },
		{ 0.592842698f, -1.86488974f, 2.86445212f, 0.615392625f },
		{ 0.596003413f, -1.85344052f, 2.85282731f, 0.604145825f },
	} },
	{ BP_OPTIM_ADAM, 0, 0, 0.1, {
		{ 0.583333313f, -1.90476191f, 2.90677977f, 0.65322578f },
		{ 0.624045372f, -1.85743606f, 2.86027241f, 0.605229795f },
		{ 0.640023649f, -1.83860469f, 2.8417027f, 0.586167872f },
	} },
	{ BP_OPTIM_ADAMW, 0, 0, 0.1, {
		{ 0.583333313f, -1.90476191f, 2.90677977f, 0.65322578f },
		{ 0.624045372f, -1.85743606f, 2.86027241f, 0.605229795f },
		{ 0.640023649f, -1.83860469f, 2.8417027f, 0.586167872f },
	} },
	{ BP_OPTIM_RMSPROP, 0, 0, 0.1, {
		{ 0.833333313f, -1.33333337f, 2.42105269f, -5.96046448e-08f },
		{ 0.887989998f, -1.22576058f, 2.2234292f, -2.96898577e-08f },
		{ 0.902594388f, -1.19696844f, 2.15761089f, -2.3707015e-08f },
	} },
	{ BP_OPTIM_ADAGRAD, 0, 0, 0.1, {
		{ 0.583333313f, -1.90476191f, 2.90677977f, 0.65322578f },
		{ 0.611079514f, -1.87241554f, 2.87376595f, 0.621191919f },
		{ 0.620143116f, -1.86188006f, 2.86291814f, 0.610818326f },
	} },
};

static struct bp_optim_cfg cfg_of(enum bp_optim_type type, double lr)
{
	return (struct bp_optim_cfg){ .type = type, .lr = lr, .momentum = 0.9, .beta1 = 0.9,
	                              .beta2 = 0.999, .eps = 1e-8 };
}

/* grad = ∇ ½ Σ a_i (p_i − c_i)², in float like the reference. */
static void quad_grad(float *g, const float *p, const float *a, const float *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		g[i] = a[i] * (p[i] - c[i]);
}

static void test_matches_pytorch(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof ref_cases / sizeof ref_cases[0]; k++) {
		const struct ref_case *rc = &ref_cases[k];
		struct bp_optim_cfg cfg = cfg_of(rc->type, 0.1);
		cfg.weight_decay = rc->weight_decay;
		cfg.clip_norm = rc->clip_norm;
		cfg.eps = rc->eps;
		struct bp_optim o;
		struct bp_err err;
		assert_int_equal(bp_optim_init(&o, &cfg, 4, &err), 0);
		float p[4], g[4];
		memcpy(p, ref_p0, sizeof p);
		for (int s = 0; s < 3; s++) {
			quad_grad(g, p, ref_a, ref_c, 4);
			bp_optim_step(&o, p, g, 4, ref_lr[s]);
			for (int i = 0; i < 4; i++) {
				float want = rc->p[s][i];
				if (!(fabsf(p[i] - want) <= 2e-6f + 2e-6f * fabsf(want)))
					fail_msg("%s wd %g clip %g step %d p[%d] = %.9g, PyTorch %.9g",
					         bp_optim_names[rc->type], rc->weight_decay, rc->clip_norm,
					         s + 1, i, p[i], want);
			}
		}
		assert_int_equal(o.step, 3);
		bp_optim_release(&o);
	}
}

/* Every type minimises an ill-conditioned quadratic in 16 dimensions, with
 * an exponential decay of the rate (10 steps an "epoch"), to 1e-3. */
static void test_quadratic_converges(void **state)
{
	(void)state;
	static const struct { enum bp_optim_type type; double lr; } runs[] = {
		{ BP_OPTIM_SGD, 0.2 },     { BP_OPTIM_MOMENTUM, 0.05 }, { BP_OPTIM_NESTEROV, 0.05 },
		{ BP_OPTIM_ADAM, 0.1 },    { BP_OPTIM_ADAMW, 0.1 },     { BP_OPTIM_RMSPROP, 0.02 },
		{ BP_OPTIM_ADAGRAD, 0.5 },
	};
	enum { N = 16, EPOCHS = 100, STEPS = 10 };
	float a[N], c[N];
	for (int i = 0; i < N; i++) {
		a[i] = 0.25f + 0.25f * (float)i;
		c[i] = (float)sin(i + 1.0);
	}
	const struct bp_sched_cfg sched = { .type = BP_SCHED_EXPONENTIAL, .gamma = 0.95 };
	for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
		struct bp_optim_cfg cfg = cfg_of(runs[r].type, runs[r].lr);
		struct bp_optim o;
		assert_int_equal(bp_optim_init(&o, &cfg, N, NULL), 0);
		float p[N] = { 0 }, g[N];
		for (int e = 1; e <= EPOCHS; e++) {
			double lr = bp_sched_lr(&sched, cfg.lr, e, EPOCHS);
			for (int s = 0; s < STEPS; s++) {
				quad_grad(g, p, a, c, N);
				bp_optim_step(&o, p, g, N, lr);
			}
		}
		for (int i = 0; i < N; i++)
			if (!(fabsf(p[i] - c[i]) < 1e-3f))
				fail_msg("%s: p[%d] = %g, minimum at %g", bp_optim_names[runs[r].type], i, p[i], c[i]);
		bp_optim_release(&o);
	}
}

/* Every type fits a logistic regression on two separable Gaussian-ish
 * classes (full batch, mean loss) to 100% accuracy and a mean loss < 0.05. */
static void test_logistic_fits(void **state)
{
	(void)state;
	enum { N = 200 };
	static float x[N][2], y[N];
	struct bp_rng rng;
	bp_rng_seed(&rng, 3);
	for (int k = 0; k < N;) {
		double x0 = bp_rng_normal(&rng), x1 = bp_rng_normal(&rng);
		double margin = x0 + 2 * x1 - 0.3;
		if (fabs(margin) < 0.3)
			continue;
		x[k][0] = (float)x0;
		x[k][1] = (float)x1;
		y[k++] = margin > 0;
	}
	static const struct { enum bp_optim_type type; double lr; } runs[] = {
		{ BP_OPTIM_SGD, 1.0 },     { BP_OPTIM_MOMENTUM, 0.5 }, { BP_OPTIM_NESTEROV, 0.5 },
		{ BP_OPTIM_ADAM, 0.1 },    { BP_OPTIM_ADAMW, 0.1 },    { BP_OPTIM_RMSPROP, 0.05 },
		{ BP_OPTIM_ADAGRAD, 0.5 },
	};
	for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
		struct bp_optim_cfg cfg = cfg_of(runs[r].type, runs[r].lr);
		struct bp_optim o;
		assert_int_equal(bp_optim_init(&o, &cfg, 3, NULL), 0);
		float w[3] = { 0 }, g[3];
		double loss = 0;
		int correct = 0;
		for (int step = 0; step <= 500; step++) {
			double gd[3] = { 0 };
			loss = 0;
			correct = 0;
			for (int k = 0; k < N; k++) {
				double z = w[0] * x[k][0] + w[1] * x[k][1] + w[2];
				double q = 1 / (1 + exp(-z));
				loss -= y[k] ? log(q) : log1p(-q);
				correct += (z > 0) == (y[k] > 0);
				gd[0] += (q - y[k]) * x[k][0];
				gd[1] += (q - y[k]) * x[k][1];
				gd[2] += q - y[k];
			}
			loss /= N;
			if (step == 500)
				break;
			for (int i = 0; i < 3; i++)
				g[i] = (float)(gd[i] / N);
			bp_optim_step(&o, w, g, 3, cfg.lr);
		}
		if (correct != N || !(loss < 0.05))
			fail_msg("%s: accuracy %d/%d, loss %g", bp_optim_names[runs[r].type], correct, N, loss);
		bp_optim_release(&o);
	}
}

/* weight_decay with a zero gradient: sgd and adamw shrink p by exactly
 * (1 − lr·wd) per step; adam's L2 term goes through the moments, so its
 * first step moves each weight by lr towards zero (m/√v = ±1). */
static void test_weight_decay(void **state)
{
	(void)state;
	const float zero[3] = { 0 };
	const float p0[3] = { 1.0f, -2.0f, 0.5f };
	const double lr = 0.1, wd = 0.5;
	for (int t = 0; t < 2; t++) {
		struct bp_optim_cfg cfg = cfg_of(t ? BP_OPTIM_ADAMW : BP_OPTIM_SGD, lr);
		cfg.weight_decay = wd;
		struct bp_optim o;
		assert_int_equal(bp_optim_init(&o, &cfg, 3, NULL), 0);
		float p[3];
		memcpy(p, p0, sizeof p);
		for (int s = 0; s < 4; s++)
			bp_optim_step(&o, p, zero, 3, lr);
		for (int i = 0; i < 3; i++)
			assert_near(p[i], p0[i] * pow(1 - lr * wd, 4), 1e-6);
		bp_optim_release(&o);
	}
	struct bp_optim_cfg cfg = cfg_of(BP_OPTIM_ADAM, lr);
	cfg.weight_decay = wd;
	struct bp_optim o;
	assert_int_equal(bp_optim_init(&o, &cfg, 3, NULL), 0);
	float p[3];
	memcpy(p, p0, sizeof p);
	bp_optim_step(&o, p, zero, 3, lr);
	for (int i = 0; i < 3; i++)
		assert_near(p[i], p0[i] - copysign(lr, p0[i]), 1e-6);
	bp_optim_release(&o);

	/* Without weight decay a zero gradient moves nothing, for every type. */
	for (int t = 0; bp_optim_names[t]; t++) {
		struct bp_optim_cfg c0 = cfg_of((enum bp_optim_type)t, lr);
		assert_int_equal(bp_optim_init(&o, &c0, 3, NULL), 0);
		memcpy(p, p0, sizeof p);
		bp_optim_step(&o, p, zero, 3, lr);
		assert_memory_equal(p, p0, sizeof p);
		bp_optim_release(&o);
	}
}

static void test_clip_norm(void **state)
{
	(void)state;
	const float g[4] = { 3.0f, 0.0f, -4.0f, 0.0f };   /* norm 5 */
	assert_near(bp_optim_grad_norm(g, 4), 5.0, 0);
	assert_near(bp_optim_grad_norm(g, 0), 0.0, 0);
	float gcopy[4];
	memcpy(gcopy, g, sizeof g);

	/* Above the threshold: the step uses grad · clip / (norm + 1e-6), and
	 * the caller's grad is untouched. */
	struct bp_optim_cfg cfg = cfg_of(BP_OPTIM_SGD, 1.0);
	cfg.clip_norm = 1.0;
	struct bp_optim o;
	assert_int_equal(bp_optim_init(&o, &cfg, 4, NULL), 0);
	float p[4] = { 0 };
	bp_optim_step(&o, p, gcopy, 4, 1.0);
	assert_memory_equal(gcopy, g, sizeof g);
	for (int i = 0; i < 4; i++)
		assert_near(p[i], -g[i] / (5.0 + 1e-6), 1e-7);
	bp_optim_release(&o);

	/* At or below it: the same bits as no clipping. */
	for (int t = 0; bp_optim_names[t]; t++) {
		float pa[4] = { 1, 2, 3, 4 }, pb[4] = { 1, 2, 3, 4 };
		struct bp_optim a, b;
		struct bp_optim_cfg ca = cfg_of((enum bp_optim_type)t, 0.1), cb = ca;
		cb.clip_norm = 5.5;
		assert_int_equal(bp_optim_init(&a, &ca, 4, NULL), 0);
		assert_int_equal(bp_optim_init(&b, &cb, 4, NULL), 0);
		for (int s = 0; s < 3; s++) {
			bp_optim_step(&a, pa, g, 4, 0.1);
			bp_optim_step(&b, pb, g, 4, 0.1);
		}
		assert_memory_equal(pa, pb, sizeof pa);
		bp_optim_release(&a);
		bp_optim_release(&b);
	}
}

static void test_bad_config(void **state)
{
	(void)state;
	static const struct { struct bp_optim_cfg cfg; const char *word; } bad[] = {
		{ { .type = BP_OPTIM_SGD, .lr = NAN }, "lr" },
		{ { .type = BP_OPTIM_SGD, .lr = -0.1 }, "lr" },
		{ { .type = BP_OPTIM_SGD, .lr = 0.1, .weight_decay = -1 }, "weight_decay" },
		{ { .type = BP_OPTIM_SGD, .lr = 0.1, .clip_norm = -1 }, "clip_norm" },
		{ { .type = BP_OPTIM_MOMENTUM, .lr = 0.1, .momentum = 1.0 }, "momentum" },
		{ { .type = BP_OPTIM_NESTEROV, .lr = 0.1, .momentum = -0.5 }, "momentum" },
		{ { .type = BP_OPTIM_ADAM, .lr = 0.1, .beta1 = 1.0, .beta2 = 0.9, .eps = 1e-8 }, "beta1" },
		{ { .type = BP_OPTIM_ADAMW, .lr = 0.1, .beta1 = 0.9, .beta2 = 1.5, .eps = 1e-8 }, "beta2" },
		{ { .type = BP_OPTIM_RMSPROP, .lr = 0.1, .eps = 0 }, "eps" },
		{ { .type = BP_OPTIM_ADAGRAD, .lr = 0.1, .eps = -1 }, "eps" },
		{ { .type = (enum bp_optim_type)42, .lr = 0.1 }, "type" },
	};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		struct bp_optim o;
		struct bp_err err = { 0 };
		assert_int_equal(bp_optim_init(&o, &bad[k].cfg, 4, &err), -1);
		assert_int_equal(err.kind, BP_ERR_CONFIG);
		assert_non_null(strstr(err.msg, bad[k].word));
		assert_null(o.m);
		assert_null(o.v);
		bp_optim_release(&o);
	}
	/* lr 0 is allowed (as in PyTorch); settings a type does not use are not
	 * checked (sgd ignores momentum and the betas). */
	struct bp_optim_cfg ok = { .type = BP_OPTIM_SGD, .lr = 0, .momentum = 7, .beta1 = 2 };
	struct bp_optim o;
	assert_int_equal(bp_optim_init(&o, &ok, 4, NULL), 0);
	bp_optim_release(&o);
}

static void test_names_and_slots(void **state)
{
	(void)state;
	static const char *const yaml[] = { "sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad" };
	static const int nslots[] = { 0, 1, 1, 2, 2, 1, 1 };
	static const char *const first[] = { NULL, "momentum_buffer", "momentum_buffer", "exp_avg", "exp_avg",
	                                     "square_avg", "sum" };
	for (int t = 0; t < 7; t++) {
		assert_string_equal(bp_optim_names[t], yaml[t]);
		assert_int_equal(bp_optim_type_from_name(yaml[t]), t);
		struct bp_optim_cfg cfg = cfg_of((enum bp_optim_type)t, 0.1);
		struct bp_optim o;
		assert_int_equal(bp_optim_init(&o, &cfg, 5, NULL), 0);
		struct bp_optim_slot sl[BP_OPTIM_MAX_SLOTS];
		assert_int_equal(bp_optim_slots(&o, sl), nslots[t]);
		if (nslots[t])
			assert_string_equal(sl[0].name, first[t]);
		if (nslots[t] == 2)
			assert_string_equal(sl[1].name, "exp_avg_sq");
		for (int k = 0; k < nslots[t]; k++)
			for (int i = 0; i < 5; i++)
				assert_true(sl[k].data[i] == 0.0f);
		bp_optim_release(&o);
		bp_optim_release(&o);           /* twice is harmless */
	}
	assert_null(bp_optim_names[7]);
	assert_int_equal(bp_optim_type_from_name("Adam"), -1);
	assert_int_equal(bp_optim_type_from_name(""), -1);
	assert_int_equal(bp_optim_type_from_name(NULL), -1);

	/* No parameters is not an error. */
	struct bp_optim_cfg cfg = cfg_of(BP_OPTIM_ADAM, 0.1);
	struct bp_optim o;
	assert_int_equal(bp_optim_init(&o, &cfg, 0, NULL), 0);
	bp_optim_step(&o, NULL, NULL, 0, 0.1);
	assert_int_equal(o.step, 1);
	bp_optim_release(&o);
}

/* Saving the slots and step mid-run and restoring them into a fresh
 * optimiser continues bit for bit (what --resume relies on); two runs from
 * the same start agree bit for bit; reset gives a fresh start. */
static void test_restore_and_determinism(void **state)
{
	(void)state;
	enum { N = 37 };
	float a[N], c[N];
	for (int i = 0; i < N; i++) {
		a[i] = 0.5f + (float)(i % 7);
		c[i] = (float)cos(i);
	}
	for (int t = 0; bp_optim_names[t]; t++) {
		struct bp_optim_cfg cfg = cfg_of((enum bp_optim_type)t, 0.01);
		cfg.weight_decay = 0.01;
		cfg.clip_norm = 2.0;
		struct bp_optim x, y;
		assert_int_equal(bp_optim_init(&x, &cfg, N, NULL), 0);
		float px[N] = { 0 }, py[N], g[N];
		for (int s = 0; s < 5; s++) {
			quad_grad(g, px, a, c, N);
			bp_optim_step(&x, px, g, N, 0.01);
		}
		/* "checkpoint" */
		float saved[BP_OPTIM_MAX_SLOTS][N];
		struct bp_optim_slot sx[BP_OPTIM_MAX_SLOTS], sy[BP_OPTIM_MAX_SLOTS];
		int k = bp_optim_slots(&x, sx);
		for (int j = 0; j < k; j++)
			memcpy(saved[j], sx[j].data, sizeof saved[j]);
		int64_t step = x.step;
		memcpy(py, px, sizeof py);
		/* "resume" */
		assert_int_equal(bp_optim_init(&y, &cfg, N, NULL), 0);
		assert_int_equal(bp_optim_slots(&y, sy), k);
		for (int j = 0; j < k; j++)
			memcpy(sy[j].data, saved[j], sizeof saved[j]);
		y.step = step;
		for (int s = 0; s < 5; s++) {
			quad_grad(g, px, a, c, N);
			bp_optim_step(&x, px, g, N, 0.005);
			quad_grad(g, py, a, c, N);
			bp_optim_step(&y, py, g, N, 0.005);
		}
		assert_memory_equal(px, py, sizeof px);

		/* reset: same as a new optimiser from the same point */
		bp_optim_reset(&x);
		assert_int_equal(x.step, 0);
		bp_optim_release(&y);
		assert_int_equal(bp_optim_init(&y, &cfg, N, NULL), 0);
		memcpy(py, px, sizeof py);
		for (int s = 0; s < 3; s++) {
			quad_grad(g, px, a, c, N);
			bp_optim_step(&x, px, g, N, 0.01);
			quad_grad(g, py, a, c, N);
			bp_optim_step(&y, py, g, N, 0.01);
		}
		assert_memory_equal(px, py, sizeof px);
		bp_optim_release(&x);
		bp_optim_release(&y);
	}
}

/* The watched step (layers.csv's sums) is the plain step, bit for bit,
 * over slices of any length and alignment; its sums are Σgrad², Σ(Δp)²
 * and Σp² before the step. */
static void test_watched(void **state)
{
	(void)state;
	enum { N = 301 };
	float a[N], c[N];
	for (int i = 0; i < N; i++) {
		a[i] = 0.5f + (float)(i % 7);
		c[i] = (float)sin(i);
	}
	for (int t = 0; bp_optim_names[t]; t++) {
		struct bp_optim_cfg cfg = cfg_of((enum bp_optim_type)t, 0.01);
		cfg.weight_decay = 0.001;
		struct bp_optim x, y;
		assert_int_equal(bp_optim_init(&x, &cfg, N, NULL), 0);
		assert_int_equal(bp_optim_init(&y, &cfg, N, NULL), 0);
		float px[N] = { 0 }, py[N] = { 0 }, g[N], before[N];
		for (int s = 0; s < 6; s++) {
			quad_grad(g, px, a, c, N);
			bp_optim_begin(&x, 0.01, 0);
			bp_optim_apply(&x, px, g, 0, N);
			bp_optim_begin(&y, 0.01, 0);
			memcpy(before, py, sizeof before);
			/* Slices that start and end anywhere: 0..5, 5..40, 40..300, 300..301. */
			static const size_t cut[] = { 0, 5, 40, 300, N };
			double sums[3] = { 0, 0, 0 };
			for (int k = 0; k < 4; k++)
				bp_optim_apply_watched(&y, py, g, cut[k], cut[k + 1], sums);
			assert_memory_equal(px, py, sizeof px);
			double want[3] = { 0, 0, 0 };
			for (int i = 0; i < N; i++) {
				double d = (double)py[i] - before[i];
				want[0] += (double)g[i] * g[i];
				want[1] += d * d;
				want[2] += (double)before[i] * before[i];
			}
			for (int k = 0; k < 3; k++)
				assert_near(sums[k], want[k], 1e-5 * want[k] + 1e-30);
		}
		bp_optim_release(&x);
		bp_optim_release(&y);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_pytorch),
		cmocka_unit_test(test_quadratic_converges),
		cmocka_unit_test(test_logistic_fits),
		cmocka_unit_test(test_weight_decay),
		cmocka_unit_test(test_clip_norm),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_names_and_slots),
		cmocka_unit_test(test_restore_and_determinism),
		cmocka_unit_test(test_watched),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
