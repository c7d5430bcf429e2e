#include "schedule.h"

#include <math.h>
#include <string.h>

const char *const bp_sched_names[] = {
	[BP_SCHED_CONSTANT] = "constant",
	[BP_SCHED_STEP] = "step",
	[BP_SCHED_EXPONENTIAL] = "exponential",
	[BP_SCHED_COSINE] = "cosine",
	NULL,
};

int bp_sched_type_from_name(const char *name)
{
	for (int i = 0; name && bp_sched_names[i]; i++)
		if (strcmp(name, bp_sched_names[i]) == 0)
			return i;
	return -1;
}

int bp_sched_check(const struct bp_sched_cfg *s, struct bp_err *err)
{
	if ((unsigned)s->type > BP_SCHED_COSINE)
		return bp_fail(err, BP_ERR_CONFIG, NULL, "unknown schedule type %d", (int)s->type);
	if (s->warmup_epochs < 0)
		return bp_fail(err, BP_ERR_CONFIG, NULL,
		               "'optimizer.schedule.warmup_epochs' must be at least 0, got %d", s->warmup_epochs);
	if (s->type == BP_SCHED_STEP && s->step_size < 1)
		return bp_fail(err, BP_ERR_CONFIG, NULL,
		               "'optimizer.schedule.step_size' must be at least 1, got %d", s->step_size);
	if ((s->type == BP_SCHED_STEP || s->type == BP_SCHED_EXPONENTIAL) && !(s->gamma > 0 && isfinite(s->gamma)))
		return bp_fail(err, BP_ERR_CONFIG, NULL,
		               "'optimizer.schedule.gamma' must be a positive number, got %g", s->gamma);
	if (s->type == BP_SCHED_COSINE && !(s->min_lr >= 0 && isfinite(s->min_lr)))
		return bp_fail(err, BP_ERR_CONFIG, NULL,
		               "'optimizer.schedule.min_lr' must be at least 0, got %g", s->min_lr);
	return 0;
}

double bp_sched_lr(const struct bp_sched_cfg *s, double base_lr, int epoch, int total_epochs)
{
	const double pi = 3.14159265358979323846;
	BP_BUG(epoch < 1);
	int e1 = epoch - 1;
	double lr = base_lr;
	switch (s->type) {
	case BP_SCHED_CONSTANT:
		break;
	case BP_SCHED_STEP:
		BP_BUG(s->step_size < 1);
		lr = base_lr * pow(s->gamma, e1 / s->step_size);
		break;
	case BP_SCHED_EXPONENTIAL:
		lr = base_lr * pow(s->gamma, e1);
		break;
	case BP_SCHED_COSINE:
		BP_BUG(total_epochs < 1);
		lr = s->min_lr + (base_lr - s->min_lr) * (1.0 + cos(pi * e1 / total_epochs)) / 2.0;
		break;
	}
	if (epoch <= s->warmup_epochs)
		lr *= (double)epoch / (s->warmup_epochs + 1);
	return lr;
}
