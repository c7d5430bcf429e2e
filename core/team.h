/* The network replicated over a team of threads. Each member runs forward
 * and backward on its share of a batch with its own buffers and gradient;
 * the parameters are shared. Between backward and the optimiser step the
 * members' gradients are combined (a fixed-order sum, so the same thread
 * count always gives the same numbers). Each member then steps its slice of
 * the parameters. BLAS runs single-threaded inside each member.
 *
 * In a data-parallel run (core/world.h) each process has a team, and the
 * batch is split over the processes first, then over each one's members:
 * the team's combined gradient, its loss and correct count, and the layers'
 * whole-batch sums are then summed over the processes (member 0 of each
 * calls the world) at the same place, so every process takes the same
 * step. A member's dropout stream is numbered across the processes, so N
 * processes of T threads draw what one process of N·T threads would. */
#ifndef BP_TEAM_H
#define BP_TEAM_H

#include "config.h"
#include "diag.h"
#include "evaluate.h"
#include "optim.h"
#include "pool.h"

/* Member tid's whole-batch sums (core/sync.h), over the team's pool. */
struct bp_team_sync {
	struct bp_sync base;        /* first: layers see a struct bp_sync * */
	struct bp_team *team;
	int tid;
};
#define BP_TEAM_SYNC_CHUNK 1024  /* doubles exchanged per barrier pair */

/* Where a step's time goes outside the layers, as member 0 spends it (the
 * members run side by side, so member 0's times stand for the step's); the
 * layers' own time goes to the nets' prof. Seconds, added to by each step,
 * for `bptrain time`. */
struct bp_team_prof {
	double gather;              /* the member's share of the batch, and the next one's prefetch */
	double loss;                /* the loss, its output delta and the correct count */
	double wait;                /* the barrier after backward: waiting for the other members */
	double combine;             /* the members' gradients summed (and the clip norm) */
	double optim;               /* the optimiser step over the member's slice of the parameters */
	double step;                /* bp_team_step, call to return */
	long steps;
};

struct bp_team {
	int n;                      /* members */
	int rank, nranks;           /* this process in the world (core/world.h) */
	struct bp_pool pool;
	struct bp_net **nets;       /* nets[0] owns the parameters */
	struct bp_batch *batches;   /* each member's share of a batch */
	struct bp_rng *rngs;        /* each member's dropout stream, per step */
	double *loss, *correct, *sumsq;
	struct bp_team_sync *syncs; /* one per member; the nets use them when n > 1 */
	double *slots;              /* n × BP_TEAM_SYNC_CHUNK: the members' parts of a sum */
	double *wsum;               /* BP_TEAM_SYNC_CHUNK: the team's part, summed over the world */
	double step_sums[2];        /* the step's loss sum and correct count, over the world */
	struct bp_shape in;         /* a sample's shape */
	struct bp_augment_cfg aug;  /* data.augment, applied to training batches */
	float *aug_tmp;             /* n × a sample: each member's augmentation scratch */
	struct bp_team_prof *prof;  /* NULL (no clock read), or where the steps' parts add up */
	struct bp_diag *diag;       /* NULL, or layers.csv's sums over the steps (not owned) */
};

/* threads: 0 = all cores (in a data-parallel run: this machine's cores
 * over its processes); at most one member per sample of the process's
 * share of a batch. */
int bp_team_init(struct bp_team *t, struct bp_config *cfg, struct bp_shape in, size_t d, int k, int threads,
                 struct bp_err *err);
void bp_team_release(struct bp_team *t);
/* The parameters (shared by all members). */
static inline struct bp_net *bp_team_net(struct bp_team *t) { return t->nets[0]; }

/* One step on rows order[first..first+n) (this process's share of them,
 * in a data-parallel run): forward, loss and backward over
 * the members, then (if the loss is finite) the combined gradient and one
 * optimiser step at rate lr. rng seeds the members' dropout streams and
 * the batch's augmentation (cfg->data.augment), with one draw per step. order
 * holds total rows; the members prefetch the next batch's rows from it.
 * Returns the batch's mean loss and adds the batch's correct count to
 * *correct. A non-finite loss leaves the parameters untouched. */
double bp_team_step(struct bp_team *t, struct bp_optim *o, const struct bp_dataset *ds,
                    const struct bp_norm *norm, const uint32_t *order, size_t total, size_t first, int n,
                    double lr, struct bp_rng *rng, double *correct);

/* bp_evaluate over the members (and the processes): rows idx[0..n)
 * (0..n when idx is NULL). Every process gets the whole set's numbers. */
void bp_team_evaluate(struct bp_team *t, const struct bp_dataset *ds, const struct bp_norm *norm,
                      const uint32_t *idx, size_t n, struct bp_stats *out);

#endif
