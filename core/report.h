/* `bptrain report`: one self-contained HTML page (inline SVG and CSS,
 * nothing fetched, no script needed: hover values are SVG titles) about one
 * run or several.
 *
 * One run: its summary, learning curves, layer diagnostics and the
 * confusion matrix of best.ckpt on its test split with per-class precision
 * and recall (or why any of them is missing). Several runs (a sweep): a
 * table sorted by the best metric, with the config keys whose values differ
 * between the runs as columns (output.dir aside), the validation curves
 * overlaid with a legend from those keys, then each run's section. */
#ifndef BP_REPORT_H
#define BP_REPORT_H

#include <stdio.h>

#include "err.h"
#include "runview.h"

/* The page for runs[0..n), best first in the table (see bp_report_order). */
int bp_report_html(FILE *f, struct bp_runview *runs, int n, const char *generator, struct bp_err *err);

/* order[0..n) = the runs' indices, best first: runs whose best metric is
 * an accuracy by it, descending, then the others by their loss, ascending,
 * then those without a number. */
void bp_report_order(const struct bp_runview *runs, int n, int *order);

/* Reads the run folders dirs[0..n) (a folder that is not a run is a data
 * error naming it, and nothing is written) and writes the page to out
 * whole, through bp_write_atomic. */
int bp_report_write(const char *out, char *const *dirs, int n, const char *generator, struct bp_err *err);

#endif
