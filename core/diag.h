/* Backprop diagnostics (layers.csv, output.diagnostics): per layer and
 * epoch, the RMS of its main weight tensor (the first trainable one: W,
 * gamma for batch_norm) at the epoch's end, the RMS of that tensor's
 * combined gradient and the ratio ‖Δw‖/‖w‖ of its optimiser step, each
 * averaged over the epoch's steps, and for relu-activated layers the
 * fraction of units (channels of a (C,H,W) output) that were zero for every
 * training sample of the epoch.
 *
 * It watches the team's step without changing its arithmetic: each member
 * marks the units its samples reached after forward (an OR-mask of its
 * own), and steps its slice of the parameters through bp_diag_apply, which
 * runs the same optimiser kernels, watched (bp_optim_apply_watched: the
 * sums of g², (Δw)² and w² come with the step) over the parts of the slice
 * that belong to a main tensor. bp_diag_step then adds the
 * members' sums in member order, so the numbers do not depend on timing.
 * Everything is allocated by bp_diag_init. After a resume in the middle of
 * an epoch, that epoch's averages and dead units cover the steps after the
 * resume only (the checkpoint does not hold them). */
#ifndef BP_DIAG_H
#define BP_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "err.h"
#include "net.h"
#include "optim.h"

/* layers.csv's first line. */
extern const char bp_diag_header[];

struct bp_diag_layer {
	const char *type;           /* the kind's YAML name */
	size_t off, size;           /* the main tensor in the flat parameters; size 0: none */
	bool relu;                  /* dead units are counted */
	size_t units, unit_len;     /* units per sample (channels), floats per unit (H·W) */
	size_t alive_off;           /* the layer's units in a member's mask */
};

struct bp_diag {
	int nlayers, members;
	struct bp_diag_layer *layers;
	size_t nalive;              /* relu units over all layers */
	unsigned char *alive;       /* members × nalive: the unit was > 0 for a sample */
	double *part;               /* members × nlayers × 3: the step's Σg², Σ(Δw)², Σw² */
	double *grad_rms, *ratio;   /* per layer: sums over the epoch's steps */
	long *nratio;               /* steps whose ratio is defined (‖w‖ > 0) */
	long steps;
};

int bp_diag_init(struct bp_diag *d, const struct bp_net *net, int members, struct bp_err *err);
void bp_diag_release(struct bp_diag *d);
/* Clears the epoch's sums and masks. */
void bp_diag_epoch_begin(struct bp_diag *d);
/* After member's forward over n training samples: the units they reached. */
void bp_diag_mark(struct bp_diag *d, int member, const struct bp_net *net, int n);
/* bp_optim_apply over [begin, end) (after bp_optim_begin), the same bits,
 * and the member's sums for this step. */
void bp_diag_apply(struct bp_diag *d, int member, struct bp_optim *o, float *param, const float *grad,
                   size_t begin, size_t end);
/* After every member's apply: adds the step to the epoch. */
void bp_diag_step(struct bp_diag *d);
/* The members' masks ORed into member 0's (the first nalive bytes of
 * alive), so that a data-parallel run can OR them across processes. */
void bp_diag_merge_members(struct bp_diag *d);
/* The epoch's rows of layers.csv (param: the weights at the epoch's end). */
void bp_diag_rows(const struct bp_diag *d, const float *param, int epoch, FILE *f);

#endif
