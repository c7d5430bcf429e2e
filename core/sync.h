/* Sums across the members of one data-parallel step. A layer whose forward
 * or backward needs statistics of the whole batch (batch_norm) calls
 * bp_sync_sum; every member of the step makes the same calls in the same
 * order with the same n, so the team can line them up. The sum runs in a
 * fixed member order: the same member count always gives the same bits.
 * Without a team (eval, gradcheck, one thread) l->sync is NULL and the sum
 * is the member's own. This is also the one place where processes of an
 * MPI run would join in. */
#ifndef BP_SYNC_H
#define BP_SYNC_H

struct bp_sync {
	/* v[0..n) ← Σ over the members of their v[0..n). */
	void (*sum)(struct bp_sync *s, double *v, int n);
	/* This member's share of the batch, m_i / n_batch: a member's loss
	 * is the mean over its own m_i samples, so its gradient is 1/weight
	 * times its part of the whole batch's. */
	double weight;
};

static inline void bp_sync_sum(struct bp_sync *s, double *v, int n)
{
	if (s)
		s->sum(s, v, n);
}

static inline double bp_sync_weight(const struct bp_sync *s) { return s ? s->weight : 1.0; }

#endif
