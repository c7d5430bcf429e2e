/* Learning-rate schedules, per epoch (SPEC "Schedules"). e counts from 1 and
 * E is train.epochs:
 *
 *   constant     lr
 *   step         lr·γ^⌊(e−1)/step_size⌋
 *   exponential  lr·γ^(e−1)
 *   cosine       min_lr + (lr − min_lr)·(1 + cos(π·(e−1)/E))/2
 *
 * and with warmup_epochs = W > 0, any of them is multiplied by e/(W + 1)
 * while e ≤ W. A pure function of its arguments: nothing to checkpoint. */
#ifndef BP_SCHEDULE_H
#define BP_SCHEDULE_H

#include "err.h"

enum bp_sched_type {
	BP_SCHED_CONSTANT,
	BP_SCHED_STEP,
	BP_SCHED_EXPONENTIAL,
	BP_SCHED_COSINE,
};

/* YAML spellings indexed by enum bp_sched_type, NULL-terminated. */
extern const char *const bp_sched_names[];

struct bp_sched_cfg {
	enum bp_sched_type type;
	int step_size;              /* step: epochs per decay, >= 1 */
	double gamma;               /* step, exponential: factor, > 0 */
	double min_lr;              /* cosine: the floor, >= 0 */
	int warmup_epochs;          /* any: >= 0, 0 = none */
};

/* The enum value for a YAML spelling, or -1. */
int bp_sched_type_from_name(const char *name);

/* Checks the fields the type uses (BP_ERR_CONFIG when out of range). */
int bp_sched_check(const struct bp_sched_cfg *s, struct bp_err *err);

/* The rate for epoch (1-based) of total_epochs, from base_lr. */
double bp_sched_lr(const struct bp_sched_cfg *s, double base_lr, int epoch, int total_epochs);

#endif
