/* curves.svg: a run's learning curves drawn from its epoch history (the
 * rows of metrics.csv): a loss panel (train solid, validation dashed), an
 * accuracy panel for classification, and a small learning-rate panel when
 * the rate changes. x runs from 0 to the planned number of epochs, so the
 * picture shows how far the run has come; the best epoch (by
 * output.best_metric, as training picks best.ckpt) is marked with its
 * value. Non-finite values leave gaps. */
#ifndef BP_CURVES_H
#define BP_CURVES_H

#include <stdbool.h>
#include <stdio.h>

#include "config.h"

/* One epoch of metrics.csv; NaN for an empty cell. */
struct bp_curve_row {
	int epoch;
	double train_loss, train_acc, val_loss, val_acc, lr;
};

struct bp_curves {
	const char *name;               /* the run's name, in the title */
	const struct bp_curve_row *rows;
	int n;
	int epochs;                     /* planned: train.epochs (the x axis's end) */
	enum bp_metric best_metric;     /* output.best_metric */
	bool classification;            /* draw the accuracy panel */
};

/* The best epoch by best_metric with training's rule (the first strictly
 * better value; the training loss when a row has no validation numbers):
 * its row index, or -1 when no row qualifies. *value gets its value and
 * *what its column name ("val_accuracy", "val_loss" or "train_loss"). */
int bp_curves_best(const struct bp_curves *c, double *value, const char **what);

/* The picture. standalone: a file of its own (XML declaration, namespace,
 * and the CSS); otherwise for inlining into HTML that has bp_svg_css.
 * -1 when out of memory. */
int bp_curves_svg(FILE *f, const struct bp_curves *c, bool standalone);

/* curves.svg from c, written whole through bp_write_atomic. */
int bp_curves_write(const char *path, const struct bp_curves *c, struct bp_err *err);

#endif
