#include "evaluate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int bp_batch_init(struct bp_batch *b, int cap, size_t d, int k, struct bp_err *err)
{
	memset(b, 0, sizeof *b);
	b->cap = cap;
	size_t kk = k > 0 ? (size_t)k : 1;
	b->x = malloc((size_t)cap * d * sizeof *b->x);
	b->cls = malloc((size_t)cap * sizeof *b->cls);
	b->y = malloc((size_t)cap * kk * sizeof *b->y);
	if (!b->x || !b->cls || !b->y) {
		bp_batch_release(b);
		return bp_fail_oom(err, "a batch", (size_t)cap * (d + kk + 1) * 4);
	}
	b->t = (struct bp_targets){ b->cls, b->y };
	return 0;
}

void bp_batch_release(struct bp_batch *b)
{
	free(b->x);
	free(b->cls);
	free(b->y);
	memset(b, 0, sizeof *b);
}

void bp_batch_fill(struct bp_batch *b, const struct bp_dataset *ds, const struct bp_norm *norm,
                   const uint32_t *idx, size_t first, int n)
{
	bp_gather(b->x, ds, norm, idx, first, (size_t)n);
	if (ds->k > 0)
		bp_gather_labels(b->cls, b->y, ds, idx, first, (size_t)n);
}

int bp_argmax(const float *row, int k)
{
	int best = 0;
	for (int j = 1; j < k; j++)
		if (row[j] > row[best])
			best = j;
	return best;
}

double bp_batch_correct(enum bp_loss loss, const float *out, const struct bp_targets *t, int n, int k)
{
	double correct = 0;
	if (loss == BP_LOSS_CROSS_ENTROPY) {
		for (int i = 0; i < n; i++)
			correct += bp_argmax(out + (size_t)i * k, k) == t->cls[i];
	} else if (loss == BP_LOSS_BINARY_CROSS_ENTROPY) {
		/* out holds logits: sigmoid(z) > 0.5 ⇔ z > 0 */
		for (int i = 0; i < n; i++) {
			int right = 0;
			for (int j = 0; j < k; j++)
				right += (out[(size_t)i * k + j] > 0) == (t->y[(size_t)i * k + j] > 0.5f);
			correct += (double)right / k;
		}
	}
	return correct;
}

void bp_evaluate(struct bp_net *net, const struct bp_dataset *ds, const struct bp_norm *norm,
                 const uint32_t *idx, size_t first, size_t n, struct bp_batch *b, struct bp_stats *out,
                 uint64_t *confusion)
{
	int k = (int)bp_net_out_width(net);
	double loss = 0, correct = 0;
	for (size_t done = 0; done < n; done += (size_t)b->cap) {
		int m = (int)(n - done < (size_t)b->cap ? n - done : (size_t)b->cap);
		bp_batch_fill(b, ds, norm, idx, first + done, m);
		bp_net_forward(net, b->x, m, false);
		const float *o = bp_net_output(net);
		loss += bp_loss_eval(net->loss, NULL, o, &b->t, m, k) * m;
		correct += bp_batch_correct(net->loss, o, &b->t, m, k);
		if (confusion && net->loss == BP_LOSS_CROSS_ENTROPY)
			for (int i = 0; i < m; i++)
				confusion[(size_t)b->cls[i] * k + bp_argmax(o + (size_t)i * k, k)]++;
	}
	out->n = n;
	out->loss = n ? loss / (double)n : NAN;
	out->accuracy = net->loss == BP_LOSS_MSE || !n ? NAN : correct / (double)n;
}
