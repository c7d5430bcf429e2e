#include "profile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "schedule.h"

/* What a profiling run holds; released in one place. */
struct prof_run {
	struct bp_data data;
	struct bp_team team;
	struct bp_optim optim;
	struct bp_diag diag;      /* output.diagnostics: timed as training runs it */
	uint32_t *order;
	double *layer_seconds;    /* member 0's net->prof: forward, backward per layer */
	struct bp_team_prof parts;
};

static void prof_run_release(struct prof_run *r)
{
	bp_team_release(&r->team);
	bp_diag_release(&r->diag);
	bp_optim_release(&r->optim);
	bp_data_release(&r->data);
	free(r->order);
	free(r->layer_seconds);
}

/* Data, team, optimiser and the initial weights, as `bptrain train` sets them up. */
static int setup(struct prof_run *r, struct bp_config *cfg, struct bp_rng *run_rng, struct bp_err *err)
{
	struct bp_label_spec spec;
	if (bp_model_label_spec(cfg, &spec, err) || bp_data_load(&r->data, &cfg->data, &spec, cfg->seed, err))
		return -1;
	if (r->data.ntrain == 0)
		return bp_fail(err, BP_ERR_DATA, r->data.train.path, "no training samples left after the validation split");
	if (bp_team_init(&r->team, cfg, r->data.train.shape, r->data.train.d, r->data.train.k, cfg->train.threads, err))
		return -1;
	struct bp_net *net = bp_team_net(&r->team);
	if (bp_model_check_labels(net, &r->data.train, err)
	    || (r->data.has_val && bp_model_check_labels(net, r->data.val_src, err))
	    || (r->data.has_test && bp_model_check_labels(net, &r->data.test, err))
	    || bp_optim_init(&r->optim, &cfg->optimizer, net->nparam, err))
		return -1;
	if (cfg->output.diagnostics) {
		if (bp_diag_init(&r->diag, net, r->team.n, err))
			return -1;
		r->team.diag = &r->diag;
	}
	if (!(r->order = malloc(r->data.ntrain * sizeof *r->order)))
		return bp_fail_oom(err, "the sample order", r->data.ntrain * sizeof *r->order);
	size_t nl = (size_t)net->nlayers;
	if (!(r->layer_seconds = calloc(2 * nl, sizeof *r->layer_seconds)))
		return bp_fail_oom(err, "the layer timings", 2 * nl * sizeof *r->layer_seconds);
	struct bp_rng init;
	bp_rng_seed(&init, cfg->seed);
	bp_rng_seed(run_rng, cfg->seed ^ 0x5851f42d4c957f2dULL);   /* the streams of core/train.c */
	bp_net_init(net, cfg->model.init, &init);
	return 0;
}

static void clear_timings(struct prof_run *r)
{
	memset(r->layer_seconds, 0, 2 * (size_t)bp_team_net(&r->team)->nlayers * sizeof *r->layer_seconds);
	memset(&r->parts, 0, sizeof r->parts);
}

static int fill(struct prof_run *r, const struct bp_config *cfg, int batch, struct bp_profile *p, struct bp_err *err)
{
	const struct bp_net *net = bp_team_net(&r->team);
	double steps = (double)r->parts.steps;
	if (!(p->layers = calloc((size_t)net->nlayers, sizeof *p->layers)))
		return bp_fail_oom(err, "the layer timings", (size_t)net->nlayers * sizeof *p->layers);
	p->nlayers = net->nlayers;
	for (int i = 0; i < net->nlayers; i++) {
		const struct bp_layer *l = &net->layers[i];
		struct bp_profile_layer *pl = &p->layers[i];
		pl->type = l->ops->type;
		pl->out = l->out;
		pl->forward = r->layer_seconds[2 * i] / steps;
		pl->backward = r->layer_seconds[2 * i + 1] / steps;
		pl->forward_flop = pl->backward_flop = NAN;
		if (l->ops->flops) {
			pl->forward_flop = 2.0 * l->ops->flops(l, batch);
			pl->backward_flop = (i == 0 ? 1.0 : 2.0) * pl->forward_flop;
		}
	}
	struct bp_team_prof *q = &p->parts;
	*q = r->parts;
	q->gather /= steps;
	q->loss /= steps;
	q->wait /= steps;
	q->combine /= steps;
	q->optim /= steps;
	q->step /= steps;
	p->members = r->team.n;
	p->batch = batch;
	p->ntrain = r->data.ntrain;
	size_t bs = (size_t)cfg->train.batch_size;
	p->batches_per_epoch = (r->data.ntrain + bs - 1) / bs;
	return 0;
}

int bp_profile_run(struct bp_config *cfg, int warmup, int steps, struct bp_profile *p, struct bp_err *err)
{
	memset(p, 0, sizeof *p);
	p->warmup = warmup;
	p->steps = steps;
	struct prof_run r;
	memset(&r, 0, sizeof r);
	struct bp_rng rng;
	int rc = -1;
	if (setup(&r, cfg, &rng, err))
		goto out;
	/* Full batches only, so every step times the same work; a training
	 * set smaller than a batch is one (short) batch. */
	size_t ntrain = r.data.ntrain, bs = (size_t)cfg->train.batch_size;
	size_t per_order = ntrain / bs ? ntrain / bs : 1;
	int batch = (int)(ntrain < bs ? ntrain : bs);
	double lr = bp_sched_lr(&cfg->schedule, cfg->optimizer.lr, 1, cfg->train.epochs);
	double correct = 0;
	struct bp_net *net = bp_team_net(&r.team);
	net->prof = r.layer_seconds;
	r.team.prof = &r.parts;
	for (int s = 0; s < warmup + steps; s++) {
		size_t pos = (size_t)s % per_order;
		if (pos == 0) {
			memcpy(r.order, r.data.train_idx, ntrain * sizeof *r.order);
			if (cfg->train.shuffle)
				bp_rng_shuffle(&rng, r.order, (uint32_t)ntrain);
		}
		if (s == warmup)
			clear_timings(&r);
		double loss = bp_team_step(&r.team, &r.optim, &r.data.train, &r.data.norm, r.order, ntrain, pos * bs,
		                           batch, lr, &rng, &correct);
		if (!isfinite(loss)) {
			bp_fail(err, BP_ERR_DIVERGED, NULL, "training diverged: the loss became %s in step %d "
			        "(try a lower optimizer.lr or optimizer.clip_norm)", isnan(loss) ? "nan" : "infinite", s + 1);
			goto out;
		}
	}
	rc = fill(&r, cfg, batch, p, err);
out:
	if (r.team.nets)
		bp_team_net(&r.team)->prof = NULL;
	prof_run_release(&r);
	if (rc)
		bp_profile_release(p);
	return rc;
}

void bp_profile_release(struct bp_profile *p)
{
	if (!p)
		return;
	free(p->layers);
	memset(p, 0, sizeof *p);
}
