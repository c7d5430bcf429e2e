#include "team.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "augment.h"
#include "blas.h"
#include "model.h"
#include "simd.h"
#include "world.h"

static double seconds_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A profiled member adds the seconds since *mark to *part and restarts *mark. */
static void lap(double *part, double *mark)
{
	double t = seconds_now();
	*part += t - *mark;
	*mark = t;
}

/* out[0..c) ← the members' slots added in member order. */
static void add_slots(const struct bp_team *t, double *out, int c)
{
	for (int j = 0; j < c; j++) {
		double sum = 0;
		for (int i = 0; i < t->n; i++)
			sum += t->slots[(size_t)i * BP_TEAM_SYNC_CHUNK + j];
		out[j] = sum;
	}
}

/* Every member puts its part in its slot; after the barrier each adds the
 * slots in member order (so all members get the same bits), and a second
 * barrier keeps the slots until everyone has read them. With more than one
 * process, member 0 adds the slots into wsum and sums that over the world
 * between the barriers, and every member reads wsum after the second (the
 * next chunk's first barrier keeps wsum until all have). */
static void team_sum(struct bp_sync *s, double *v, int n)
{
	struct bp_team_sync *ms = (struct bp_team_sync *)s;
	struct bp_team *t = ms->team;
	for (int off = 0; off < n; off += BP_TEAM_SYNC_CHUNK) {
		int c = n - off < BP_TEAM_SYNC_CHUNK ? n - off : BP_TEAM_SYNC_CHUNK;
		memcpy(t->slots + (size_t)ms->tid * BP_TEAM_SYNC_CHUNK, v + off, (size_t)c * sizeof *v);
		bp_pool_barrier(&t->pool);
		if (t->nranks > 1) {
			if (ms->tid == 0) {
				add_slots(t, t->wsum, c);
				bp_world_sum_f64(t->wsum, (size_t)c);
			}
			bp_pool_barrier(&t->pool);
			memcpy(v + off, t->wsum, (size_t)c * sizeof *v);
			continue;
		}
		add_slots(t, v + off, c);
		bp_pool_barrier(&t->pool);
	}
}

int bp_team_init(struct bp_team *t, struct bp_config *cfg, struct bp_shape in, size_t d, int k, int threads,
                 struct bp_err *err)
{
	memset(t, 0, sizeof *t);
	t->rank = bp_world_rank();
	t->nranks = bp_world_size();
	/* The largest share of a batch a process gets. */
	int bs = (cfg->train.batch_size + t->nranks - 1) / t->nranks;
	if (threads <= 0) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN) / bp_world_local_size();
		threads = cores > 0 ? (int)cores : 1;
	}
	int n = threads < bs ? threads : bs;
	int share = (bs + n - 1) / n;
	t->n = n;
	t->in = in;
	t->aug = cfg->data.augment;
	BP_BUG(bp_shape_size(in) != d);
	if (!(t->nets = calloc((size_t)n, sizeof *t->nets)) || !(t->batches = calloc((size_t)n, sizeof *t->batches))
	    || !(t->rngs = calloc((size_t)n, sizeof *t->rngs)) || !(t->loss = calloc((size_t)n, sizeof *t->loss))
	    || !(t->correct = calloc((size_t)n, sizeof *t->correct))
	    || !(t->sumsq = calloc((size_t)n, sizeof *t->sumsq))
	    || !(t->syncs = calloc((size_t)n, sizeof *t->syncs))
	    || !(t->slots = calloc((size_t)n * BP_TEAM_SYNC_CHUNK, sizeof *t->slots))
	    || (t->nranks > 1 && !(t->wsum = calloc(BP_TEAM_SYNC_CHUNK, sizeof *t->wsum)))
	    || (bp_augment_on(&t->aug) && !(t->aug_tmp = malloc((size_t)n * d * sizeof *t->aug_tmp)))) {
		bp_team_release(t);
		return bp_fail_oom(err, "the thread team", (size_t)n * 64);
	}
	for (int i = 0; i < n; i++) {
		if (!(t->nets[i] = bp_model_build(cfg, in, share, err))
		    || bp_batch_init(&t->batches[i], share, d, k, err)) {
			bp_team_release(t);
			return -1;
		}
		if (i > 0)
			bp_net_share_params(t->nets[i], t->nets[0]);
		t->nets[i]->rng = &t->rngs[i];
		t->syncs[i] = (struct bp_team_sync){ { team_sum, 1.0 }, t, i };
		if (n > 1 || t->nranks > 1)
			bp_net_set_sync(t->nets[i], &t->syncs[i].base);
	}
	/* The team is the parallelism: BLAS stays on the calling thread. */
	bp_blas_set_threads(1);
	if (bp_pool_init(&t->pool, n, err)) {
		bp_team_release(t);
		return -1;
	}
	return 0;
}

void bp_team_release(struct bp_team *t)
{
	if (t->pool.n)
		bp_pool_release(&t->pool);
	for (int i = 0; t->nets && i < t->n; i++)
		bp_net_free(t->nets[i]);
	for (int i = 0; t->batches && i < t->n; i++)
		bp_batch_release(&t->batches[i]);
	free(t->nets);
	free(t->batches);
	free(t->rngs);
	free(t->loss);
	free(t->correct);
	free(t->sumsq);
	free(t->syncs);
	free(t->slots);
	free(t->wsum);
	free(t->aug_tmp);
	memset(t, 0, sizeof *t);
}

struct step_job {
	struct bp_team *t;
	struct bp_optim *o;
	const struct bp_dataset *ds;
	const struct bp_norm *norm;
	const uint32_t *order;
	size_t total, first;
	int n;                  /* the batch, over all processes */
	size_t rlo, rn;         /* this process's share: rows first + rlo .. + rn */
	double lr;
	uint64_t base;          /* the step's draw */
};

/* g = a·g + b·h, one pass over a member's slice of the gradient. */
BP_HOT static void scale_add(float *restrict g, const float *restrict h, float a, float b, size_t n)
{
	for (size_t p = 0; p < n; p++)
		g[p] = a * g[p] + b * h[p];
}

/* Member i's share of the process's rows, as a fraction of the batch. */
static float share_weight(const struct step_job *j, int i, int nt)
{
	size_t lo, hi;
	bp_pool_split(j->rn, i, nt, &lo, &hi);
	return (float)(hi - lo) / (float)j->n;
}

/* The rows [lo, hi) a process takes of a batch of n. */
static void rank_rows(const struct bp_team *t, size_t n, size_t *lo, size_t *hi)
{
	bp_pool_split(n, t->rank, t->nranks, lo, hi);
}

static void step_member(void *ctx, int tid, int nt)
{
	struct step_job *j = ctx;
	struct bp_team *t = j->t;
	struct bp_net *net = t->nets[tid];
	struct bp_team_prof *pf = tid == 0 ? t->prof : NULL;   /* NULL: no clock is read */
	double mark = pf ? seconds_now() : 0;
	size_t lo, hi;
	bp_pool_split(j->rn, tid, nt, &lo, &hi);
	int m = (int)(hi - lo), k = (int)bp_net_out_width(net);
	struct bp_batch *b = &t->batches[tid];
	t->loss[tid] = t->correct[tid] = 0;
	t->syncs[tid].base.weight = (double)m / (double)j->n;
	if (m > 0) {
		bp_batch_fill(b, j->ds, j->norm, j->order, j->first + j->rlo + lo, m);
		if (t->aug_tmp)   /* sample rlo + lo + i of the whole batch: its draw whatever the split */
			bp_augment_batch(b->x, t->aug_tmp + (size_t)tid * bp_shape_size(t->in), t->in, &t->aug, j->base,
			                 j->rlo + lo, m);
		/* This member's share of the next batch (same split), fetched
		 * from memory while this one computes. */
		size_t next = j->first + (size_t)j->n;
		if (j->order && next < j->total) {
			size_t nn = j->total - next, rlo, rhi, nlo, nhi;
			rank_rows(t, nn < (size_t)j->n ? nn : (size_t)j->n, &rlo, &rhi);
			bp_pool_split(rhi - rlo, tid, nt, &nlo, &nhi);
			bp_gather_prefetch(j->ds, j->order, next + rlo + nlo, nhi - nlo);
		}
		if (pf)
			lap(&pf->gather, &mark);
		bp_net_forward(net, b->x, m, true);
		if (pf)
			mark = seconds_now();   /* the layers timed themselves */
		if (t->diag)   /* timed with the loss */
			bp_diag_mark(t->diag, tid, net, m);
		t->loss[tid] = bp_net_loss(net, &b->t, m) * m;
		t->correct[tid] = bp_batch_correct(net->loss, bp_net_output(net), &b->t, m, k);
		if (pf)
			lap(&pf->loss, &mark);
		bp_net_backward(net, m);   /* overwrites the member's gradient */
	} else {
		/* A share of nothing adds nothing, but the member still takes
		 * part in the layers' whole-batch sums. */
		bp_net_forward(net, b->x, 0, true);
		bp_net_backward(net, 0);
		bp_net_zero_grad(net);
	}
	if (pf)
		mark = seconds_now();
	bp_pool_barrier(&t->pool);
	if (pf)
		lap(&pf->wait, &mark);
	if (tid == 0) {   /* the step's loss and correct count: the team's, then the world's */
		t->step_sums[0] = t->step_sums[1] = 0;
		for (int i = 0; i < nt; i++) {
			t->step_sums[0] += t->loss[i];
			t->step_sums[1] += t->correct[i];
		}
		bp_world_sum_f64(t->step_sums, 2);
	}
	bp_pool_barrier(&t->pool);
	if (!isfinite(t->step_sums[0]))
		return;

	/* The combined gradient, member by member in a fixed order: each
	 * member's is the mean over its share, weighted by share/n; then the
	 * processes' sums, summed over the world. */
	size_t plo, phi, np = net->nparam;
	bp_pool_split(np, tid, nt, &plo, &phi);
	float *g = t->nets[0]->grad;
	if (nt > 1 || t->nranks > 1) {
		float w0 = share_weight(j, 0, nt);
		if (nt == 1)
			for (size_t p = plo; p < phi; p++)
				g[p] *= w0;
		for (int i = 1; i < nt; i++) {
			scale_add(g + plo, t->nets[i]->grad + plo, w0, share_weight(j, i, nt), phi - plo);
			w0 = 1.0f;
		}
	}
	if (t->nranks > 1) {
		bp_pool_barrier(&t->pool);
		if (tid == 0)
			bp_world_sum_f32(g, np);
		bp_pool_barrier(&t->pool);
	}
	if (j->o->cfg.clip_norm > 0) {
		double s = 0;
		for (size_t p = plo; p < phi; p++)
			s += (double)g[p] * g[p];
		t->sumsq[tid] = s;
		bp_pool_barrier(&t->pool);
		if (tid == 0) {
			double sq = 0;
			for (int i = 0; i < nt; i++)
				sq += t->sumsq[i];
			bp_optim_begin(j->o, j->lr, sqrt(sq));
		}
		bp_pool_barrier(&t->pool);
	}
	if (pf)
		lap(&pf->combine, &mark);
	if (t->diag)
		bp_diag_apply(t->diag, tid, j->o, t->nets[0]->param, g, plo, phi);
	else
		bp_optim_apply(j->o, t->nets[0]->param, g, plo, phi);
	if (pf)
		lap(&pf->optim, &mark);
}

double bp_team_step(struct bp_team *t, struct bp_optim *o, const struct bp_dataset *ds,
                    const struct bp_norm *norm, const uint32_t *order, size_t total, size_t first, int n,
                    double lr, struct bp_rng *rng, double *correct)
{
	BP_BUG(first + (size_t)n > total);
	double start = t->prof ? seconds_now() : 0;
	/* One draw per step whatever the thread count, so the data order,
	 * drawn from the same stream, does not depend on it (member 0's
	 * dropout stream is then the one a single thread would use). */
	uint64_t base = bp_rng_next(rng);
	for (int i = 0; i < t->n; i++)
		bp_rng_seed(&t->rngs[i], base + (uint64_t)(t->rank * t->n + i) * 0xD1B54A32D192ED03u);
	if (!(o->cfg.clip_norm > 0))
		bp_optim_begin(o, lr, 0.0);
	size_t rlo, rhi;
	rank_rows(t, (size_t)n, &rlo, &rhi);
	struct step_job j = { t, o, ds, norm, order, total, first, n, rlo, rhi - rlo, lr, base };
	bp_pool_run(&t->pool, step_member, &j);
	double loss = t->step_sums[0];
	*correct += t->step_sums[1];
	if (t->diag && isfinite(loss))
		bp_diag_step(t->diag);
	if (t->prof) {
		t->prof->step += seconds_now() - start;
		t->prof->steps++;
	}
	return loss / n;
}

struct eval_job {
	struct bp_team *t;
	const struct bp_dataset *ds;
	const struct bp_norm *norm;
	const uint32_t *idx;
	size_t off, n;          /* this process's rows: off .. off + n */
	struct bp_stats *st;
};

static void eval_member(void *ctx, int tid, int nt)
{
	struct eval_job *j = ctx;
	size_t lo, hi;
	bp_pool_split(j->n, tid, nt, &lo, &hi);
	bp_evaluate(j->t->nets[tid], j->ds, j->norm, j->idx, j->off + lo, hi - lo, &j->t->batches[tid], &j->st[tid],
	            NULL);
}

void bp_team_evaluate(struct bp_team *t, const struct bp_dataset *ds, const struct bp_norm *norm,
                      const uint32_t *idx, size_t n, struct bp_stats *out)
{
	size_t rlo, rhi;
	rank_rows(t, n, &rlo, &rhi);
	struct bp_stats st[64];
	struct bp_stats *s = t->n <= 64 ? st : calloc((size_t)t->n, sizeof *s);
	int parts = t->n;
	if (!s) {   /* cannot split without room for the parts: one member does it all */
		s = st;
		parts = 1;
		bp_evaluate(t->nets[0], ds, norm, idx, rlo, rhi - rlo, &t->batches[0], &s[0], NULL);
	} else {
		struct eval_job j = { t, ds, norm, idx, rlo, rhi - rlo, s };
		bp_pool_run(&t->pool, eval_member, &j);
	}
	double sums[2] = { 0, 0 };   /* loss and accuracy, times the rows */
	for (int i = 0; i < parts; i++)
		if (s[i].n) {
			sums[0] += s[i].loss * (double)s[i].n;
			sums[1] += s[i].accuracy * (double)s[i].n;
		}
	bp_world_sum_f64(sums, 2);
	out->n = n;
	out->loss = n ? sums[0] / (double)n : NAN;
	out->accuracy = n ? sums[1] / (double)n : NAN;
	if (s != st)
		free(s);
}
