#include "loss.h"

#include <math.h>
#include <stddef.h>

const char *const bp_loss_names[] = { "cross_entropy", "binary_cross_entropy", "mse", NULL };

enum bp_act bp_loss_fused_act(enum bp_loss loss)
{
	switch (loss) {
	case BP_LOSS_CROSS_ENTROPY:        return BP_ACT_SOFTMAX;
	case BP_LOSS_BINARY_CROSS_ENTROPY: return BP_ACT_SIGMOID;
	default:                           return BP_ACT_LINEAR;
	}
}

double bp_softmax_xent(float *restrict dz, const float *restrict z, const int32_t *restrict cls, int n, int k)
{
	double total = 0;
	float inv_n = 1.0f / (float)n;
	for (int i = 0; i < n; i++) {
		const float *zr = z + (size_t)i * k;
		float mx = zr[0];
		for (int j = 1; j < k; j++)
			mx = zr[j] > mx ? zr[j] : mx;
		double s = 0;
		for (int j = 0; j < k; j++)
			s += exp((double)zr[j] - mx);
		double lse = mx + log(s);
		total += lse - zr[cls[i]];
		if (dz) {
			float *dr = dz + (size_t)i * k;
			for (int j = 0; j < k; j++)
				dr[j] = (float)exp((double)zr[j] - lse) * inv_n;
			dr[cls[i]] -= inv_n;
		}
	}
	return total / n;
}

double bp_sigmoid_bce(float *restrict dz, const float *restrict z, const float *restrict t, int n, int k)
{
	/* BCE(sigmoid(z), t) = max(z,0) − z·t + log(1 + e^−|z|) */
	size_t len = (size_t)n * k;
	double total = 0;
	float scale = 1.0f / (float)len;
	for (size_t i = 0; i < len; i++) {
		double zi = z[i];
		total += (zi > 0 ? zi : 0) - zi * t[i] + log1p(exp(-fabs(zi)));
		if (dz) {
			double p = zi >= 0 ? 1.0 / (1.0 + exp(-zi)) : exp(zi) / (1.0 + exp(zi));
			dz[i] = (float)(p - t[i]) * scale;
		}
	}
	return total / (double)len;
}

double bp_mse(float *restrict dy, const float *restrict y, const float *restrict t, int n, int k)
{
	size_t len = (size_t)n * k;
	double total = 0;
	float scale = 2.0f / (float)len;
	for (size_t i = 0; i < len; i++) {
		float diff = y[i] - t[i];
		total += (double)diff * diff;
		if (dy)
			dy[i] = diff * scale;
	}
	return total / (double)len;
}

double bp_loss_eval(enum bp_loss loss, float *d, const float *out, const struct bp_targets *t, int n, int k)
{
	switch (loss) {
	case BP_LOSS_CROSS_ENTROPY:        return bp_softmax_xent(d, out, t->cls, n, k);
	case BP_LOSS_BINARY_CROSS_ENTROPY: return bp_sigmoid_bce(d, out, t->y, n, k);
	default:                           return bp_mse(d, out, t->y, n, k);
	}
}
