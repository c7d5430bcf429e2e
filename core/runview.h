/* A run folder read back, for `bptrain report`: its resolved config
 * (config.yaml through the config loader), its history (metrics.csv), its
 * diagnostics (layers.csv), its summary (summary.json) and the confusion
 * matrix of best.ckpt on the test split of the checkpoint's own config.
 *
 * A folder without metrics.csv and config.yaml is not a run (a data error
 * naming it). Everything else may be missing (a run killed before its
 * summary, diagnostics off, test data moved since): the view says why in a
 * sentence the report shows, and loading goes on. */
#ifndef BP_RUNVIEW_H
#define BP_RUNVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "curves.h"
#include "err.h"

/* One row of layers.csv; NaN for an empty cell. */
struct bp_layer_row {
	int epoch, layer;
	char type[32];
	double weight_rms, grad_rms, update_ratio, dead_fraction;
};

/* summary.json; NaN for null or absent. */
struct bp_run_summary {
	double epochs_run, best_epoch, best_val_accuracy, best_val_loss, test_loss, test_accuracy, seconds;
	char stopped[32];
};

struct bp_runview {
	char dir[4096];
	char label[256];                /* the folder's last component */
	struct bp_config *cfg;          /* config.yaml */
	struct bp_curve_row *rows;      /* metrics.csv */
	int nrows;
	struct bp_layer_row *layers;    /* layers.csv, NULL when absent */
	int nlayers;
	char no_layers[256];            /* why there are none ("" when there are) */
	bool has_summary;
	struct bp_run_summary summary;
	char no_summary[256];
	uint64_t *confusion;            /* k × k, rows = true class; NULL when not computed */
	int k;
	uint64_t ntest;
	char no_confusion[1400];        /* why there is none */
};

/* Reads the folder dir. Errors: BP_ERR_DATA when dir is not a run folder
 * or one of its files is malformed (config.yaml included); runtime errors
 * (out of memory). */
int bp_runview_load(struct bp_runview *v, const char *dir, struct bp_err *err);
/* Evaluates best.ckpt on the test split of its own config into
 * v->confusion, or says in v->no_confusion why it cannot. */
void bp_runview_confusion(struct bp_runview *v);
void bp_runview_release(struct bp_runview *v);

/* The run's best value of its best metric, by training's rule (summary.json
 * when it is there): *higher tells whether larger is better; NaN if none. */
double bp_runview_best(const struct bp_runview *v, bool *higher, const char **what);

#endif
