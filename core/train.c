#include "train.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ckpt.h"
#include "curves.h"
#include "diag.h"
#include "files.h"
#include "json.h"
#include "metrics.h"
#include "model.h"
#include "schedule.h"
#include "team.h"
#include "world.h"

const char *const bp_stop_names[] = { "completed", "early_stopping", "diverged", "interrupted", NULL };

/* Everything a run holds; released in one place.
 *
 * In a data-parallel run (core/world.h) every process holds a whole run and
 * takes the same steps; only rank 0, the writer, touches the run folder.
 * Where one process can fail alone (the folder, the data on its host, a
 * write), the processes agree on the outcome (bp_world_agree) before the
 * next step they take together, so a failure stops them all with the same
 * error instead of leaving the others waiting. */
struct run {
	struct bp_config *cfg;
	bool writer;                 /* rank 0: writes the folder, loads checkpoints */
	char dir[4096], last[4096], best[4096];
	struct bp_data data;
	struct bp_team team;         /* the net over train.threads threads */
	struct bp_net *net;          /* the team's parameters */
	struct bp_optim optim;
	struct bp_metrics metrics;
	struct bp_metrics layers;    /* layers.csv (output.diagnostics) */
	struct bp_diag diag;
	struct bp_curve_row *rows;   /* metrics.csv's rows so far, for curves.svg */
	int nrows, caprows;
	char curves[4096];
	struct bp_train_state st;
	uint32_t *order;
	char *config_text;
	size_t config_len;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void run_release(struct run *r)
{
	struct bp_err ignore;
	bp_metrics_close(&r->metrics, &ignore);
	bp_metrics_close(&r->layers, &ignore);
	bp_diag_release(&r->diag);
	bp_data_release(&r->data);
	bp_team_release(&r->team);
	bp_optim_release(&r->optim);
	free(r->order);
	free(r->config_text);
	free(r->rows);
}

/* The run folder: made if needed, refused if it holds a run, cleared of
 * temporaries a killed run left behind. */
static int prepare_dir(struct run *r, const struct bp_train_opts *opts, struct bp_err *err)
{
	snprintf(r->dir, sizeof r->dir, "%s", r->cfg->output.dir);
	char metrics[4096];
	if (bp_path_join(metrics, sizeof metrics, r->dir, "metrics.csv", err)
	    || bp_path_join(r->last, sizeof r->last, r->dir, "last.ckpt", err)
	    || bp_path_join(r->best, sizeof r->best, r->dir, "best.ckpt", err)
	    || bp_path_join(r->curves, sizeof r->curves, r->dir, "curves.svg", err))
		return -1;
	if (!r->writer)
		return 0;
	if (bp_mkdirs(r->dir, err))
		return -1;
	if (!opts->resume && !opts->force && access(metrics, F_OK) == 0)
		return bp_fail(err, BP_ERR_CONFIG, r->dir,
		               "the folder already holds a run (metrics.csv); use --resume to continue it, "
		               "--force to overwrite it, or choose another output.dir");
	/* --force: the old run's files go, so none of them outlives the new run. */
	static const char *const run_files[] = { "metrics.csv", "summary.json", "best.ckpt", "last.ckpt",
	                                         "config.yaml", "curves.svg", "layers.csv", "report.html", NULL };
	for (int i = 0; opts->force && !opts->resume && run_files[i]; i++) {
		char path[4096];
		if (bp_path_join(path, sizeof path, r->dir, run_files[i], err))
			return -1;
		if (unlink(path) != 0 && errno != ENOENT)
			return bp_fail(err, BP_ERR_RUNTIME, path, "cannot remove the old run's file: %s", strerror(errno));
	}
	if (access(r->dir, W_OK) != 0)
		return bp_fail(err, BP_ERR_RUNTIME, r->dir, "the output folder is not writable");
	DIR *d = opendir(r->dir);
	if (!d)
		return bp_fail(err, BP_ERR_RUNTIME, r->dir, "cannot read the output folder");
	for (struct dirent *e; (e = readdir(d));) {
		size_t n = strlen(e->d_name);
		char path[4096];
		if (n > 4 && strcmp(e->d_name + n - 4, ".tmp") == 0
		    && bp_path_join(path, sizeof path, r->dir, e->d_name, NULL) == 0)
			unlink(path);
	}
	closedir(d);
	return 0;
}

static int save(struct run *r, const char *path, struct bp_err *err)
{
	if (!r->writer)
		return 0;
	struct bp_ckpt_src src = {
		.config = r->config_text, .config_len = r->config_len, .norm = &r->data.norm,
		.net = r->net, .optim = &r->optim, .state = &r->st,
		.order = r->st.batch ? r->order : NULL, .norder = r->data.ntrain,
	};
	return bp_ckpt_save(path, &src, err);
}

/* One "key": value line of summary.json. */
static void json_field(FILE *f, const char *key, double v, bool last)
{
	fprintf(f, "  \"%s\": ", key);
	bp_json_num(f, v);
	fputs(last ? "\n" : ",\n", f);
}

static int write_summary(struct run *r, const struct bp_train_result *res, struct bp_err *err)
{
	if (!r->writer)
		return 0;
	char *text = NULL, path[4096];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return bp_fail_oom(err, "summary.json", 4096);
	fprintf(f, "{\n");
	fputs("  \"name\": ", f);
	bp_json_str(f, r->cfg->name);
	fputs(",\n", f);
	json_field(f, "epochs_run", res->epochs_run, false);
	json_field(f, "best_epoch", res->best_epoch > 0 ? res->best_epoch : NAN, false);
	json_field(f, "best_val_accuracy", res->best_val_acc, false);
	json_field(f, "best_val_loss", res->best_val_loss, false);
	json_field(f, "test_loss", res->test_loss, false);
	json_field(f, "test_accuracy", res->test_acc, false);
	json_field(f, "seconds", res->seconds, false);
	fprintf(f, "  \"stopped\": \"%s\"\n}\n", bp_stop_names[res->stopped]);
	if (fclose(f) != 0) {
		free(text);
		return bp_fail_oom(err, "summary.json", len);
	}
	int rc = bp_path_join(path, sizeof path, r->dir, "summary.json", err)
	         || bp_write_atomic(path, text, len, err);
	free(text);
	return rc ? -1 : 0;
}

/* curves.svg from the rows so far. */
static int draw_curves(struct run *r, struct bp_err *err)
{
	if (!r->writer)
		return 0;
	struct bp_curves c = {
		.name = r->cfg->name, .rows = r->rows, .n = r->nrows, .epochs = r->cfg->train.epochs,
		.best_metric = r->cfg->output.best_metric, .classification = r->cfg->loss != BP_LOSS_MSE,
	};
	return bp_curves_write(r->curves, &c, err);
}

static int add_row(struct run *r, const struct bp_epoch_line *e, struct bp_err *err)
{
	if (r->nrows == r->caprows) {
		int cap = r->caprows ? 2 * r->caprows : 64;
		struct bp_curve_row *rows = realloc(r->rows, (size_t)cap * sizeof *rows);
		if (!rows)
			return bp_fail_oom(err, "the epoch history", (size_t)cap * sizeof *rows);
		r->rows = rows;
		r->caprows = cap;
	}
	bp_metrics_row(e, &r->rows[r->nrows++]);
	return 0;
}

/* The epoch's rows of layers.csv. */
static int write_layers(struct run *r, int epoch, struct bp_err *err)
{
	if (!r->team.diag || !r->writer)
		return 0;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return bp_fail_oom(err, "layers.csv", 4096);
	bp_diag_rows(r->team.diag, r->net->param, epoch, f);
	int rc = fclose(f) != 0 ? bp_fail_oom(err, "layers.csv", len) : bp_metrics_write(&r->layers, text, err);
	free(text);
	return rc;
}

/* The history kept in metrics.csv (on resume), so that curves.svg goes on
 * from it: rows past the checkpoint's epoch were cut off already. */
static int load_history(struct run *r, const char *metrics, struct bp_err *err)
{
	if (bp_metrics_read(metrics, &r->rows, &r->nrows, BP_ERR_RUNTIME, err))
		return -1;
	r->caprows = r->nrows;
	return 0;
}

/* Data, net, optimiser, buffers: everything before the first epoch. */
static int setup(struct run *r, struct bp_err *err)
{
	struct bp_config *cfg = r->cfg;
	struct bp_label_spec spec;
	if (bp_model_label_spec(cfg, &spec, err) || bp_data_load(&r->data, &cfg->data, &spec, cfg->seed, err))
		return -1;
	if (r->data.ntrain == 0)
		return bp_fail(err, BP_ERR_DATA, r->data.train.path, "no training samples left after the validation split");
	int k = r->data.train.k;
	if (bp_team_init(&r->team, cfg, r->data.train.shape, r->data.train.d, k, cfg->train.threads, err))
		return -1;
	r->net = bp_team_net(&r->team);
	if (bp_model_check_labels(r->net, &r->data.train, err)
	    || (r->data.has_val && bp_model_check_labels(r->net, r->data.val_src, err))
	    || (r->data.has_test && bp_model_check_labels(r->net, &r->data.test, err)))
		return -1;
	if (bp_optim_init(&r->optim, &cfg->optimizer, r->net->nparam, err))
		return -1;
	if (cfg->output.diagnostics) {
		if (bp_diag_init(&r->diag, r->net, r->team.n, err))
			return -1;
		r->team.diag = &r->diag;
	}
	if (!(r->order = malloc(r->data.ntrain * sizeof *r->order)))
		return bp_fail_oom(err, "the sample order", r->data.ntrain * sizeof *r->order);
	if (!(r->config_text = bp_config_text(cfg, &r->config_len, err)))
		return -1;

	/* Two streams from the seed: one initialises, one drives the run. */
	struct bp_rng init;
	bp_rng_seed(&init, cfg->seed);
	bp_rng_seed(&r->st.rng, cfg->seed ^ 0x5851f42d4c957f2dULL);
	bp_net_init(r->net, cfg->model.init, &init);
	r->st.best = r->st.es_best = NAN;
	r->st.best_val_loss = r->st.best_val_acc = NAN;
	return 0;
}

/* Rank 0's weights and batch_norm statistics to every process. */
static void share_weights(struct run *r)
{
	bp_world_bcast(r->net->param, r->net->nparam * sizeof *r->net->param);
	bp_world_bcast(r->net->state, r->net->nstate * sizeof *r->net->state);
}

/* What rank 0 resumed (weights, optimiser, where the run stands, the
 * epoch's order) to every process. */
static void share_resumed(struct run *r)
{
	if (!bp_world_on())
		return;
	share_weights(r);
	struct bp_optim_slot slots[BP_OPTIM_MAX_SLOTS];
	int ns = bp_optim_slots(&r->optim, slots);
	for (int i = 0; i < ns; i++)
		bp_world_bcast(slots[i].data, r->optim.n * sizeof *slots[i].data);
	bp_world_bcast(&r->optim.step, sizeof r->optim.step);
	bp_world_bcast(&r->st, sizeof r->st);
	if (r->st.batch)
		bp_world_bcast(r->order, r->data.ntrain * sizeof *r->order);
}

/* Rank 0 reads the checkpoint (the other hosts need not have it). */
static int resume(struct run *r, const char *path, struct bp_err *err)
{
	if (!r->writer)
		return 0;
	struct bp_ckpt ck;
	if (bp_ckpt_load(&ck, path, err))
		return -1;
	int rc = bp_ckpt_restore_net(&ck, r->net, path, err);
	if (!rc)
		rc = bp_ckpt_restore_optim(&ck, &r->optim, path, err);
	if (!rc && ck.state.batch && ck.norder != r->data.ntrain)
		rc = bp_fail(err, BP_ERR_DATA, path, "the checkpoint's epoch order is for %zu samples, the data has %zu",
		             ck.norder, r->data.ntrain);
	if (!rc) {
		r->st = ck.state;
		if (ck.state.batch)
			memcpy(r->order, ck.order, ck.norder * sizeof *r->order);
	}
	bp_ckpt_release(&ck);
	return rc;
}

/* Higher is better for accuracy, lower for losses. */
static bool improved(double v, double best, bool higher, double min_delta)
{
	if (isnan(v))
		return false;
	if (isnan(best))
		return true;
	return higher ? v > best + min_delta : v < best - min_delta;
}

static double monitored(enum bp_metric m, const struct bp_epoch_line *e, bool *higher)
{
	if (!e->has_val) {   /* without validation: the training loss */
		*higher = false;
		return e->train.loss;
	}
	*higher = m == BP_METRIC_VAL_ACCURACY && !isnan(e->val.accuracy);
	return *higher ? e->val.accuracy : e->val.loss;
}

static bool weights_finite(const struct bp_net *net)
{
	for (size_t i = 0; i < net->nparam; i++)
		if (!isfinite(net->param[i]))
			return false;
	return true;
}

/* One epoch's batches, from the position st->batch. Returns 1 when a stop
 * was requested mid-epoch, 0 at the epoch's end, -1 on divergence. */
static int run_epoch(struct run *r, int epoch, double lr, const struct bp_train_opts *opts,
                     double start, struct bp_err *err)
{
	const struct bp_config *cfg = r->cfg;
	size_t ntrain = r->data.ntrain, bs = (size_t)cfg->train.batch_size;
	size_t nb = (ntrain + bs - 1) / bs;
	for (size_t bi = r->st.batch; bi < nb; bi++) {
		int n = (int)(bi + 1 < nb ? bs : ntrain - bi * bs);
		double loss = bp_team_step(&r->team, &r->optim, &r->data.train, &r->data.norm, r->order, ntrain,
		                           bi * bs, n, lr, &r->st.rng, &r->st.part_correct);
		if (!isfinite(loss))
			return bp_fail(err, BP_ERR_DIVERGED, NULL, "training diverged: the loss became %s in epoch %d, batch %zu "
			               "(try a lower optimizer.lr or optimizer.clip_norm)", isnan(loss) ? "nan" : "infinite",
			               epoch, bi + 1);
		r->st.part_loss += loss * n;
		r->st.part_seen += (uint64_t)n;
		r->st.batch = bi + 1;
		if (opts->on_progress) {
			struct bp_progress p = { epoch, cfg->train.epochs, bi + 1, nb, (size_t)r->st.part_seen,
			                         r->st.part_loss / (double)r->st.part_seen, now() - start };
			opts->on_progress(opts->ctx, &p);
		}
		/* Every process stops after the same batch: the one where any saw the signal. */
		if (bp_world_any(opts->stop && *opts->stop) && bi + 1 < nb)
			return 1;
	}
	return 0;
}

static int train_loop(struct run *r, const struct bp_train_opts *opts, struct bp_train_result *res,
                      struct bp_err *err)
{
	const struct bp_config *cfg = r->cfg;
	const struct bp_early_cfg *es = &cfg->train.early_stopping;
	res->stopped = BP_STOP_COMPLETED;
	for (int epoch = r->st.epoch + 1; epoch <= cfg->train.epochs; epoch++) {
		double start = now();
		if (r->team.diag)
			bp_diag_epoch_begin(r->team.diag);
		double lr = bp_sched_lr(&cfg->schedule, cfg->optimizer.lr, epoch, cfg->train.epochs);
		if (r->st.batch == 0) {
			memcpy(r->order, r->data.train_idx, r->data.ntrain * sizeof *r->order);
			if (cfg->train.shuffle)
				bp_rng_shuffle(&r->st.rng, r->order, (uint32_t)r->data.ntrain);
			r->st.part_loss = 0;
			r->st.part_correct = 0;
			r->st.part_seen = 0;
		}
		int rc = run_epoch(r, epoch, lr, opts, start, err);
		if (rc < 0) {
			res->stopped = BP_STOP_DIVERGED;
			return -1;
		}
		if (rc > 0) {
			res->stopped = BP_STOP_INTERRUPTED;
			return bp_world_agree(save(r, r->last, err), err);
		}

		struct bp_epoch_line e = { .epoch = epoch, .epochs = cfg->train.epochs, .lr = lr };
		e.train.n = r->st.part_seen;
		e.train.loss = r->st.part_loss / (double)r->st.part_seen;
		e.train.accuracy = cfg->loss == BP_LOSS_MSE ? NAN : r->st.part_correct / (double)r->st.part_seen;
		e.val.loss = e.val.accuracy = NAN;
		if (r->data.has_val && r->data.nval > 0) {
			e.has_val = true;
			bp_team_evaluate(&r->team, r->data.val_src, &r->data.norm, r->data.val_idx, r->data.nval, &e.val);
		}
		if (!weights_finite(r->net)) {
			res->stopped = BP_STOP_DIVERGED;
			return bp_fail(err, BP_ERR_DIVERGED, NULL, "training diverged: a weight became non-finite in epoch %d "
			               "(try a lower optimizer.lr or optimizer.clip_norm)", epoch);
		}
		r->st.epoch = epoch;
		r->st.batch = 0;
		e.seconds = now() - start;
		res->epochs_run = epoch;
		if (r->team.diag && bp_world_on()) {   /* a unit is dead when it was zero on every process's samples */
			bp_diag_merge_members(&r->diag);
			bp_world_or_u8(r->diag.alive, r->diag.nalive);
		}
		bool interrupted = bp_world_any(opts->stop && *opts->stop);
		int wrc = (r->writer && bp_metrics_append(&r->metrics, &e, err)) || write_layers(r, epoch, err)
		          || add_row(r, &e, err)
		          ? -1 : 0;

		bool higher;
		double v = monitored(cfg->output.best_metric, &e, &higher);
		if (improved(v, r->st.best, higher, 0)) {
			r->st.best = v;
			r->st.best_epoch = epoch;
			r->st.best_val_loss = e.val.loss;
			r->st.best_val_acc = e.val.accuracy;
			if (!wrc)
				wrc = save(r, r->best, err);
		}
		bool stop_early = false;
		if (es->patience > 0) {
			double m = monitored(es->metric, &e, &higher);
			if (improved(m, r->st.es_best, higher, es->min_delta)) {
				r->st.es_best = m;
				r->st.es_wait = 0;
			} else if (++r->st.es_wait >= es->patience) {
				stop_early = true;
			}
		}
		if (!wrc && (epoch % cfg->output.checkpoint_every == 0 || epoch == cfg->train.epochs || stop_early
		             || interrupted))
			wrc = save(r, r->last, err);
		if (!wrc)
			wrc = draw_curves(r, err);   /* after the checkpoints: its best mark is best.ckpt's */
		if (bp_world_agree(wrc, err))
			return -1;
		if (opts->on_epoch)
			opts->on_epoch(opts->ctx, &e);
		if (stop_early || interrupted) {
			res->stopped = stop_early ? BP_STOP_EARLY : BP_STOP_INTERRUPTED;
			break;
		}
	}
	return 0;
}

/* The test numbers are best.ckpt's (the current weights without one). */
static int test_eval(struct run *r, struct bp_train_result *res, struct bp_err *err)
{
	res->test_loss = res->test_acc = NAN;
	if (!r->data.has_test)
		return 0;
	if (r->st.best_epoch > 0) {   /* rank 0 reads it, and shares its weights */
		int rc = 0;
		if (r->writer) {
			struct bp_ckpt ck;
			rc = bp_ckpt_load(&ck, r->best, err);
			if (!rc) {
				rc = bp_ckpt_restore_net(&ck, r->net, r->best, err);
				bp_ckpt_release(&ck);
			}
		}
		if (bp_world_agree(rc, err))
			return -1;
		if (bp_world_on())
			share_weights(r);
	}
	struct bp_stats s;
	bp_team_evaluate(&r->team, &r->data.test, &r->data.norm, NULL, r->data.test.n, &s);
	res->test_loss = s.loss;
	res->test_acc = s.accuracy;
	return 0;
}

/* The files a run appends to: config.yaml, metrics.csv (cut back to the
 * checkpoint's epoch on resume) and its history, layers.csv. */
static int open_outputs(struct run *r, const struct bp_train_opts *opts, struct bp_err *err)
{
	char path[4096];
	int keep = opts->resume ? r->st.epoch : -1;
	if (bp_path_join(path, sizeof path, r->dir, "config.yaml", err)
	    || bp_write_atomic(path, r->config_text, r->config_len, err)
	    || bp_path_join(path, sizeof path, r->dir, "metrics.csv", err)
	    || bp_metrics_open(&r->metrics, path, keep, err) || load_history(r, path, err))
		return -1;
	if (r->team.diag
	    && (bp_path_join(path, sizeof path, r->dir, "layers.csv", err)
	        || bp_metrics_open_log(&r->layers, path, bp_diag_header, keep, err)))
		return -1;
	return 0;
}

int bp_train(struct bp_config *cfg, const struct bp_train_opts *opts, struct bp_train_result *res,
             struct bp_err *err)
{
	struct run r = { .cfg = cfg, .writer = bp_world_rank() == 0 };
	double t0 = now();
	memset(res, 0, sizeof *res);
	res->best_val_loss = res->best_val_acc = res->test_loss = res->test_acc = NAN;
	int rc = -1;
	if (bp_world_agree(prepare_dir(&r, opts, err) || setup(&r, err) ? -1 : 0, err))
		goto out;
	if (opts->resume) {
		if (bp_world_agree(resume(&r, opts->resume, err), err))
			goto out;
		share_resumed(&r);
	}
	if (bp_world_agree(r.writer ? open_outputs(&r, opts, err) : 0, err))
		goto out;
	rc = train_loop(&r, opts, res, err);
	struct bp_err later;
	res->epochs_run = r.st.epoch;
	res->best_epoch = r.st.best_epoch;
	res->best_val_loss = r.st.best_val_loss;
	res->best_val_acc = r.st.best_val_acc;
	if (rc == 0 || res->stopped == BP_STOP_DIVERGED) {
		struct bp_err *e2 = rc == 0 ? err : &later;
		if (test_eval(&r, res, e2) == 0) {
			res->seconds = now() - t0;
			if (write_summary(&r, res, e2) && rc == 0)
				rc = -1;
		} else if (rc == 0) {
			rc = -1;
		}
	}
	if (bp_metrics_close(&r.metrics, rc ? &later : err) && rc == 0)
		rc = -1;
	if (bp_metrics_close(&r.layers, rc ? &later : err) && rc == 0)
		rc = -1;
	rc = bp_world_agree(rc, err);   /* every process exits with the same status */
out:
	run_release(&r);
	return rc;
}
