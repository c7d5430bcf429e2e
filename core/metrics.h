/* metrics.csv: a row per epoch, written and flushed as each epoch ends.
 *   epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds
 * Cells that do not apply (accuracy for mse, val without validation) are
 * empty. Resuming keeps the rows up to the checkpoint's epoch. */
#ifndef BP_METRICS_H
#define BP_METRICS_H

#include <stdio.h>

#include "curves.h"
#include "err.h"
#include "train.h"

struct bp_metrics {
	FILE *f;
	char path[4096];
};

/* A new file with its header (keep < 0), or an existing one cut back to
 * its header and the rows of epochs ≤ keep, then opened for appending. */
int bp_metrics_open(struct bp_metrics *m, const char *path, int keep, struct bp_err *err);
int bp_metrics_append(struct bp_metrics *m, const struct bp_epoch_line *e, struct bp_err *err);
int bp_metrics_close(struct bp_metrics *m, struct bp_err *err);

/* The same for another per-epoch CSV log (layers.csv): header is its first
 * line ("a,b\n"), every row starts with its epoch; write appends text
 * (whole rows) whole or not at all, flushed. */
int bp_metrics_open_log(struct bp_metrics *m, const char *path, const char *header, int keep,
                        struct bp_err *err);
int bp_metrics_write(struct bp_metrics *m, const char *text, struct bp_err *err);

/* e as the row metrics.csv holds (values rounded as written). */
void bp_metrics_row(const struct bp_epoch_line *e, struct bp_curve_row *row);
/* The rows of the metrics.csv at path, in a malloc'd array (*rows NULL
 * when there are none); a data error at FILE:LINE for a malformed row,
 * kind for a file that cannot be read. */
int bp_metrics_read(const char *path, struct bp_curve_row **rows, int *n, enum bp_errkind kind,
                    struct bp_err *err);

#endif
