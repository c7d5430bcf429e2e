#include "gradcheck.h"

#include <float.h>
#include <math.h>

static double loss_at(struct bp_net *net, const struct bp_rng *start, const float *x,
                      const struct bp_targets *t, int n)
{
	*net->rng = *start;   /* the same dropout masks every time */
	bp_net_forward(net, x, n, true);
	return bp_net_loss(net, t, n);
}

void bp_gradcheck(struct bp_net *net, const float *x, const struct bp_targets *t, int n,
                  double eps, size_t max_per_tensor, struct bp_gradcheck_result *res)
{
	struct bp_rng local, *saved_ptr = net->rng;
	if (!net->rng) {
		bp_rng_seed(&local, 1);
		net->rng = &local;
	}
	const struct bp_rng start = *net->rng;

	bp_net_zero_grad(net);
	double l0 = loss_at(net, &start, x, t, n);
	bp_net_backward(net, n);

	int nt = bp_net_ntensors(net);
	for (int j = 0; j < nt; j++) {
		struct bp_tensor_desc d;
		bp_net_tensor(net, j, &d, res[j].name, sizeof res[j].name);
		size_t stride = 1;
		if (max_per_tensor && d.size > max_per_tensor)
			stride = (d.size + max_per_tensor - 1) / max_per_tensor;

		double worst = 0, scale = 0;
		size_t count = 0;
		res[j].skipped = 0;
		for (size_t i = 0; i < d.size; i += stride) {
			/* Two steps: the larger one drowns float32 rounding, the
			 * smaller one stays clear of kinks (relu at 0, elu's
			 * curvature jump); an element passes if either agrees. */
			double num[2], fwdv[2], bwdv[2];
			for (int s = 0; s < 2; s++) {
				double h = s ? eps / 10 : eps;
				float *p = &net->param[d.offset + i];
				float p0 = *p;
				float hi = (float)(p0 + h), lo = (float)(p0 - h);
				*p = hi;
				double lhi = loss_at(net, &start, x, t, n);
				*p = lo;
				double llo = loss_at(net, &start, x, t, n);
				*p = p0;
				num[s] = (lhi - llo) / ((double)hi - (double)lo);
				fwdv[s] = (lhi - l0) / ((double)hi - (double)p0);
				bwdv[s] = (l0 - llo) / ((double)p0 - (double)lo);
			}
			/* A kink within the small step shows as a jump between the
			 * one-sided slopes on its two sides (or as central differences
			 * that disagree): there the loss has no derivative to compare.
			 * Curvature opens the same gap in proportion to the step, so
			 * the part the large step predicts is no kink (an mse loss
			 * is a parabola). */
			double fwd = fwdv[1], bwd = bwdv[1], bend = (fwdv[0] - bwdv[0]) / 10;
			double tol = 0.05 * fmax(fabs(fwd), fabs(bwd)) + 2e-4 * fmax(1.0, fabs(l0));
			if (fabs(fwd - bwd - bend) > tol) {
				res[j].skipped++;
				scale = fmax(scale, fabs(net->grad[d.offset + i]));
				continue;
			}
			/* Next to a kink too small to tell from curvature (two
			 * max-pool inputs that swap within the step), backprop gives
			 * the one-sided slope of the side the point is on: that
			 * agrees too. */
			double a = net->grad[d.offset + i];
			double e = fmin(fmin(fabs(a - num[0]), fabs(a - num[1])), fmin(fabs(a - fwd), fabs(a - bwd)));
			worst = fmax(worst, e);
			scale = fmax(scale, fmax(fabs(a), fabs(num[0])));
			count++;
		}
		/* The slopes a float32 loss resolves at step eps: below ~100·ε·|L|/eps
		 * a tensor's gradient is rounding (a bias before a batch_norm has
		 * an exact zero), so that is the least scale to measure against. */
		double floor = 100.0 * FLT_EPSILON * fmax(1.0, fabs(l0)) / eps;
		res[j].max_rel_err = worst / fmax(scale, floor);
		res[j].checked = count;
	}
	/* Leave the net as backprop left it for (x, t). */
	loss_at(net, &start, x, t, n);
	*net->rng = start;
	net->rng = saved_ptr;
}
