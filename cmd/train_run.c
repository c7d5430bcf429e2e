/* The running side of `bptrain train`: signals, the epoch lines on stdout,
 * the progress bar on stderr, and `--check`. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "model.h"
#include "train.h"
#include "world.h"

static volatile sig_atomic_t stop_requested;

/* The first SIGINT/SIGTERM asks for a stop after the current batch; a
 * second one ends the process at once. */
static void on_signal(int sig)
{
	if (stop_requested) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	stop_requested = 1;
}

struct display {
	bool quiet, bar;
	double last_draw;
	bool drawn;
};

static void clear_bar(struct display *d)
{
	if (d->drawn) {
		fputs("\r\033[K", stderr);
		d->drawn = false;
	}
}

static void on_progress(void *ctx, const struct bp_progress *p)
{
	struct display *d = ctx;
	/* At most ten redraws a second (p->seconds restarts each epoch). */
	if (!d->bar || (p->seconds - d->last_draw < 0.1 && p->seconds >= d->last_draw && p->batch < p->batches))
		return;
	d->last_draw = p->seconds;
	double rate = p->seconds > 0 ? (double)p->samples / p->seconds : 0;
	double eta = p->batch ? p->seconds / (double)p->batch * (double)(p->batches - p->batch) : 0;
	int width = 24, fill = (int)((double)width * (double)p->batch / (double)p->batches);
	char bar[32];
	for (int i = 0; i < width; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[width] = '\0';
	fprintf(stderr, "\r\033[Kepoch %d/%d [%s] %zu/%zu %.0f samples/s loss %.4f ETA %.0fs", p->epoch,
	        p->epochs, bar, p->batch, p->batches, rate, p->loss, eta);
	fflush(stderr);
	d->drawn = true;
}

static void on_epoch(void *ctx, const struct bp_epoch_line *e)
{
	struct display *d = ctx;
	clear_bar(d);
	if (d->quiet)
		return;
	printf("epoch %d/%d loss %.4f", e->epoch, e->epochs, e->train.loss);
	if (!isnan(e->train.accuracy))
		printf(" acc %.4f", e->train.accuracy);
	if (e->has_val) {
		printf(" val_loss %.4f", e->val.loss);
		if (!isnan(e->val.accuracy))
			printf(" val_acc %.4f", e->val.accuracy);
	}
	printf(" lr %.6g %.1fs\n", e->lr, e->seconds);
	fflush(stdout);
}

int bp_train_run(struct bp_config *cfg, const char *resume, bool force, bool quiet, int progress)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (bp_world_rank() != 0)   /* a data-parallel run: rank 0 alone prints */
		quiet = true;
	struct display d = { .quiet = quiet };
	d.bar = !quiet && (progress == 1 || (progress < 0 && isatty(STDERR_FILENO)));
	struct bp_train_opts opts = {
		.resume = resume, .force = force, .stop = &stop_requested,
		.on_epoch = on_epoch, .on_progress = on_progress, .ctx = &d,
	};
	struct bp_train_result res;
	struct bp_err err = { 0 };
	int rc = bp_train(cfg, &opts, &res, &err);
	clear_bar(&d);
	if (rc)
		return bp_report(&err);
	if (res.stopped == BP_STOP_INTERRUPTED) {
		if (bp_world_rank() == 0)
			fprintf(stderr, "bptrain: interrupted; saved %s/last.ckpt (continue with --resume)\n", cfg->output.dir);
		return 130;
	}
	if (!quiet) {
		printf("%s after %d epoch%s in %.1fs", res.stopped == BP_STOP_EARLY ? "stopped early" : "done",
		       res.epochs_run, res.epochs_run == 1 ? "" : "s", res.seconds);
		if (res.best_epoch > 0)
			printf("; best epoch %d", res.best_epoch);
		if (!isnan(res.test_acc))
			printf("; test loss %.4f accuracy %.4f", res.test_loss, res.test_acc);
		else if (!isnan(res.test_loss))
			printf("; test loss %.4f", res.test_loss);
		printf("; run folder %s\n", cfg->output.dir);
	}
	return 0;
}

static void print_split(const char *what, const struct bp_dataset *ds, size_t n, int k)
{
	printf("%-10s %zu samples", what, n);
	if (ds && ds->cls && k > 0 && k <= 100) {
		size_t counts[100];
		bp_dataset_class_counts(ds, NULL, ds->n, counts, (size_t)k);
		(void)counts;
	}
	putchar('\n');
}

int bp_train_check(struct bp_config *cfg)
{
	struct bp_err err = { 0 };
	struct bp_label_spec spec;
	struct bp_data data = { 0 };
	struct bp_net *net = NULL;
	int status = 0;
	static const char *const types[] = { [BP_DT_U8] = "uint8", [BP_DT_I8] = "int8", [BP_DT_I16] = "int16",
	                                      [BP_DT_I32] = "int32", [BP_DT_F32] = "float32", [BP_DT_F64] = "float64" };
	int rc = bp_model_label_spec(cfg, &spec, &err) || bp_data_load(&data, &cfg->data, &spec, cfg->seed, &err)
	         || !(net = bp_model_build(cfg, data.train.shape, cfg->train.batch_size, &err))
	         || bp_model_check_labels(net, &data.train, &err)
	         || (data.has_val && bp_model_check_labels(net, data.val_src, &err))
	         || (data.has_test && bp_model_check_labels(net, &data.test, &err));
	/* Under mpirun every process checks its own host's data: rank 0 reports
	 * any rank's failure instead of printing its own success. */
	if (bp_world_agree(rc ? -1 : 0, &err))
		goto fail;
	const struct bp_dataset *tr = &data.train;
	printf("config    %s: ok\n", cfg->name);
	printf("train     %s: %zux%zu %s", tr->path, tr->n, tr->d, types[tr->type] ? types[tr->type] : "?");
	if (tr->shape.h > 1 || tr->shape.w > 1)
		printf(" (samples %dx%dx%d)", tr->shape.c, tr->shape.h, tr->shape.w);
	putchar('\n');
	int k = (int)bp_net_out_width(net);
	if (spec.classes) {
		size_t counts[4096];
		int shown = k < 4096 ? k : 4096;
		bp_dataset_class_counts(tr, NULL, tr->n, counts, (size_t)shown);
		printf("classes   %d:", k);
		for (int c = 0; c < shown; c++)
			printf(" %d:%zu", c, counts[c]);
		putchar('\n');
	} else {
		printf("targets   %d per sample\n", k);
	}
	print_split("split     train", NULL, data.ntrain, 0);
	if (data.has_val)
		print_split("          validation", NULL, data.nval, 0);
	if (data.has_test)
		printf("test      %s: %zu samples\n", data.test.path, data.test.n);
	printf("model     %zu parameters, input %zu, output %d\n", net->nparam, bp_net_in_width(net), k);
	goto out;
fail:
	status = bp_report(&err);
out:
	bp_net_free(net);
	bp_data_release(&data);
	return status;
}
