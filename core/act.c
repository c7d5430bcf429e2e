#include "act.h"
#include "simd.h"

#include <math.h>
#include <stddef.h>

const char *const bp_act_names[] = {
	"linear", "relu", "leaky_relu", "elu", "sigmoid", "tanh", "softmax", NULL
};

static inline float sigmoidf(float z)
{
	if (z >= 0)
		return 1.0f / (1.0f + expf(-z));
	float e = expf(z);
	return e / (1.0f + e);
}

static void softmax_rows(float *restrict v, int n, int k)
{
	for (int i = 0; i < n; i++) {
		float *row = v + (size_t)i * k;
		float mx = row[0];
		for (int j = 1; j < k; j++)
			mx = row[j] > mx ? row[j] : mx;
		double s = 0;
		for (int j = 0; j < k; j++) {
			row[j] = expf(row[j] - mx);
			s += row[j];
		}
		float inv = (float)(1.0 / s);
		for (int j = 0; j < k; j++)
			row[j] *= inv;
	}
}

BP_HOT void bp_act_forward(enum bp_act act, float *restrict v, const float *restrict b, int n, int k)
{
	if (b)
		for (int i = 0; i < n; i++) {
			float *restrict row = v + (size_t)i * k;
			for (int j = 0; j < k; j++)
				row[j] += b[j];
		}
	size_t len = (size_t)n * k;
	switch (act) {
	case BP_ACT_LINEAR:
	case BP_ACT_COUNT:
		break;
	case BP_ACT_RELU:
		for (size_t i = 0; i < len; i++)
			v[i] = v[i] > 0 ? v[i] : 0.0f;
		break;
	case BP_ACT_LEAKY_RELU:
		for (size_t i = 0; i < len; i++)
			v[i] = v[i] > 0 ? v[i] : BP_ACT_LEAKY_SLOPE * v[i];
		break;
	case BP_ACT_ELU:
		for (size_t i = 0; i < len; i++)
			v[i] = v[i] > 0 ? v[i] : expm1f(v[i]);
		break;
	case BP_ACT_SIGMOID:
		for (size_t i = 0; i < len; i++)
			v[i] = sigmoidf(v[i]);
		break;
	case BP_ACT_TANH:
		for (size_t i = 0; i < len; i++)
			v[i] = tanhf(v[i]);
		break;
	case BP_ACT_SOFTMAX:
		softmax_rows(v, n, k);
		break;
	}
}

BP_HOT void bp_act_backward(enum bp_act act, float *restrict d, const float *restrict y, int n, int k)
{
	size_t len = (size_t)n * k;
	switch (act) {
	case BP_ACT_LINEAR:
	case BP_ACT_COUNT:
		break;
	case BP_ACT_RELU:
		for (size_t i = 0; i < len; i++)
			d[i] = y[i] > 0 ? d[i] : 0.0f;
		break;
	case BP_ACT_LEAKY_RELU:
		for (size_t i = 0; i < len; i++)
			d[i] = y[i] > 0 ? d[i] : BP_ACT_LEAKY_SLOPE * d[i];
		break;
	case BP_ACT_ELU:   /* for z ≤ 0, y = e^z − 1 so dy/dz = y + 1 */
		for (size_t i = 0; i < len; i++)
			d[i] = y[i] > 0 ? d[i] : d[i] * (y[i] + 1.0f);
		break;
	case BP_ACT_SIGMOID:
		for (size_t i = 0; i < len; i++)
			d[i] *= y[i] * (1.0f - y[i]);
		break;
	case BP_ACT_TANH:
		for (size_t i = 0; i < len; i++)
			d[i] *= 1.0f - y[i] * y[i];
		break;
	case BP_ACT_SOFTMAX:   /* dz = y ⊙ (dy − Σ dy·y), row by row */
		for (int i = 0; i < n; i++) {
			float *restrict dr = d + (size_t)i * k;
			const float *restrict yr = y + (size_t)i * k;
			double dot = 0;
			for (int j = 0; j < k; j++)
				dot += (double)dr[j] * yr[j];
			for (int j = 0; j < k; j++)
				dr[j] = yr[j] * (dr[j] - (float)dot);
		}
		break;
	}
}
