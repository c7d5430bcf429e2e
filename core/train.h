/* A training run: from a resolved config to a run folder (metrics.csv,
 * last.ckpt, best.ckpt, config.yaml, summary.json), per SPEC. */
#ifndef BP_TRAIN_H
#define BP_TRAIN_H

#include <signal.h>
#include <stdbool.h>

#include "config.h"
#include "evaluate.h"

/* Where the run stands inside an epoch, for a progress display. */
struct bp_progress {
	int epoch, epochs;
	size_t batch, batches;      /* batches done, of the epoch's */
	size_t samples;             /* samples done in this epoch */
	double loss;                /* running mean */
	double seconds;             /* since the epoch started */
};

/* One finished epoch. NaN where a value does not apply. */
struct bp_epoch_line {
	int epoch, epochs;
	struct bp_stats train, val;
	double lr, seconds;
	bool has_val;
};

struct bp_train_opts {
	const char *resume;                 /* a checkpoint, or NULL */
	bool force;                         /* train into a folder that holds a run */
	volatile sig_atomic_t *stop;        /* set by a signal handler; may be NULL */
	/* Callbacks; NULL = silent. No struct is passed by value. */
	void (*on_epoch)(void *ctx, const struct bp_epoch_line *e);
	void (*on_progress)(void *ctx, const struct bp_progress *p);
	void *ctx;
};

enum bp_stop { BP_STOP_COMPLETED, BP_STOP_EARLY, BP_STOP_DIVERGED, BP_STOP_INTERRUPTED };
extern const char *const bp_stop_names[];

struct bp_train_result {
	enum bp_stop stopped;
	int epochs_run, best_epoch;
	double best_val_loss, best_val_acc;     /* NaN: none */
	double test_loss, test_acc;             /* NaN: no test set */
	double seconds;
};

/* Runs the training that cfg describes into cfg->output.dir. Returns 0 when
 * it completed or stopped early, and also when interrupted (res->stopped
 * says so); -1 with err on failure (a diverged run is BP_ERR_DIVERGED, with
 * its rows, checkpoints and summary.json kept). */
int bp_train(struct bp_config *cfg, const struct bp_train_opts *opts, struct bp_train_result *res,
             struct bp_err *err);

#endif
