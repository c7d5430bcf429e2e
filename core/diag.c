#include "diag.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "simd.h"

const char bp_diag_header[] = "epoch,layer,type,weight_rms,grad_rms,update_ratio,dead_fraction\n";

int bp_diag_init(struct bp_diag *d, const struct bp_net *net, int members, struct bp_err *err)
{
	memset(d, 0, sizeof *d);
	int nl = net->nlayers;
	d->nlayers = nl;
	d->members = members;
	if (!(d->layers = calloc((size_t)nl, sizeof *d->layers)) || !(d->grad_rms = calloc((size_t)nl, sizeof(double)))
	    || !(d->ratio = calloc((size_t)nl, sizeof(double))) || !(d->nratio = calloc((size_t)nl, sizeof(long)))
	    || !(d->part = calloc((size_t)members * nl * 3, sizeof(double)))) {
		bp_diag_release(d);
		return bp_fail_oom(err, "the diagnostics", (size_t)nl * 64);
	}
	for (int i = 0; i < nl; i++) {
		const struct bp_layer *l = &net->layers[i];
		struct bp_diag_layer *dl = &d->layers[i];
		dl->type = l->ops->type;
		struct bp_tensor_desc t[BP_MAX_TENSORS];
		int nt = l->ops->tensors ? l->ops->tensors(l, t) : 0;
		for (int k = 0; k < nt; k++)
			if (!t[k].state && t[k].size > 0) {
				dl->off = net->offset[i] + t[k].offset;
				dl->size = t[k].size;
				break;
			}
		dl->relu = l->act == BP_ACT_RELU && !l->act_fused;
		if (dl->relu) {
			dl->units = (size_t)l->out.c;
			dl->unit_len = (size_t)l->out.h * (size_t)l->out.w;
			dl->alive_off = d->nalive;
			d->nalive += dl->units;
		}
	}
	if (!(d->alive = calloc((size_t)members * (d->nalive ? d->nalive : 1), 1))) {
		bp_diag_release(d);
		return bp_fail_oom(err, "the diagnostics", (size_t)members * d->nalive);
	}
	return 0;
}

void bp_diag_release(struct bp_diag *d)
{
	free(d->layers);
	free(d->alive);
	free(d->part);
	free(d->grad_rms);
	free(d->ratio);
	free(d->nratio);
	memset(d, 0, sizeof *d);
}

void bp_diag_epoch_begin(struct bp_diag *d)
{
	memset(d->alive, 0, (size_t)d->members * d->nalive);
	memset(d->grad_rms, 0, (size_t)d->nlayers * sizeof *d->grad_rms);
	memset(d->ratio, 0, (size_t)d->nlayers * sizeof *d->ratio);
	memset(d->nratio, 0, (size_t)d->nlayers * sizeof *d->nratio);
	d->steps = 0;
}

/* alive[u] |= (some y[u] > 0) over n rows of k floats. */
BP_HOT static void mark_flat(unsigned char *restrict alive, const float *restrict y, size_t n, size_t k)
{
	for (size_t s = 0; s < n; s++) {
		const float *restrict row = y + s * k;
		for (size_t u = 0; u < k; u++)
			alive[u] |= row[u] > 0.0f;
	}
}

void bp_diag_mark(struct bp_diag *d, int member, const struct bp_net *net, int n)
{
	unsigned char *mask = d->alive + (size_t)member * d->nalive;
	for (int i = 0; i < d->nlayers; i++) {
		const struct bp_diag_layer *dl = &d->layers[i];
		if (!dl->relu)
			continue;
		const float *y = net->act[i + 1];
		unsigned char *alive = mask + dl->alive_off;
		if (dl->unit_len == 1) {
			mark_flat(alive, y, (size_t)n, dl->units);
			continue;
		}
		/* Channels: a channel already seen alive is not read again. */
		for (int s = 0; s < n; s++)
			for (size_t u = 0; u < dl->units; u++) {
				if (alive[u])
					continue;
				const float *p = y + ((size_t)s * dl->units + u) * dl->unit_len;
				for (size_t q = 0; q < dl->unit_len; q++)
					if (p[q] > 0.0f) {
						alive[u] = 1;
						break;
					}
			}
	}
}

void bp_diag_apply(struct bp_diag *d, int member, struct bp_optim *o, float *param, const float *grad,
                   size_t begin, size_t end)
{
	double *part = d->part + (size_t)member * d->nlayers * 3;
	memset(part, 0, (size_t)d->nlayers * 3 * sizeof *part);
	size_t at = begin;
	for (int i = 0; i < d->nlayers; i++) {
		const struct bp_diag_layer *dl = &d->layers[i];
		size_t a = dl->off > begin ? dl->off : begin, b = dl->off + dl->size < end ? dl->off + dl->size : end;
		if (dl->size == 0 || a >= b)
			continue;
		if (at < a)
			bp_optim_apply(o, param, grad, at, a);
		bp_optim_apply_watched(o, param, grad, a, b, part + 3 * i);
		at = b;
	}
	if (at < end)
		bp_optim_apply(o, param, grad, at, end);
}

void bp_diag_step(struct bp_diag *d)
{
	for (int i = 0; i < d->nlayers; i++) {
		const struct bp_diag_layer *dl = &d->layers[i];
		if (dl->size == 0)
			continue;
		double s[3] = { 0, 0, 0 };
		for (int m = 0; m < d->members; m++)
			for (int k = 0; k < 3; k++)
				s[k] += d->part[((size_t)m * d->nlayers + i) * 3 + k];
		d->grad_rms[i] += sqrt(s[0] / (double)dl->size);
		if (s[2] > 0) {
			d->ratio[i] += sqrt(s[1] / s[2]);
			d->nratio[i]++;
		}
	}
	d->steps++;
}

void bp_diag_merge_members(struct bp_diag *d)
{
	for (int m = 1; m < d->members; m++)
		for (size_t u = 0; u < d->nalive; u++)
			d->alive[u] |= d->alive[(size_t)m * d->nalive + u];
}

static void cell(FILE *f, bool on, double v)
{
	fputc(',', f);
	if (on && isfinite(v))
		fprintf(f, "%.9g", v);
}

void bp_diag_rows(const struct bp_diag *d, const float *param, int epoch, FILE *f)
{
	for (int i = 0; i < d->nlayers; i++) {
		const struct bp_diag_layer *dl = &d->layers[i];
		fprintf(f, "%d,%d,%s", epoch, i, dl->type);
		double w2 = 0;
		for (size_t p = 0; p < dl->size; p++)
			w2 += (double)param[dl->off + p] * param[dl->off + p];
		bool has = dl->size > 0;
		cell(f, has, has ? sqrt(w2 / (double)dl->size) : NAN);
		cell(f, has && d->steps > 0, d->grad_rms[i] / (double)d->steps);
		cell(f, has && d->nratio[i] > 0, d->ratio[i] / (double)d->nratio[i]);
		size_t dead = 0;
		for (size_t u = 0; dl->relu && u < dl->units; u++) {
			bool alive = false;
			for (int m = 0; m < d->members && !alive; m++)
				alive = d->alive[(size_t)m * d->nalive + dl->alive_off + u];
			dead += !alive;
		}
		cell(f, dl->relu && dl->units > 0 && d->steps > 0, (double)dead / (double)dl->units);
		fputc('\n', f);
	}
}
