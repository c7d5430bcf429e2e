/* A fixed team of threads for the training step. bp_pool_run runs one
 * function on every member at once (the caller is member 0) and returns
 * when all have finished; inside it, bp_pool_barrier lines them up.
 * Work is split by member index, so results never depend on timing.
 * Waiting members spin briefly, then sleep on a futex (Linux). */
#ifndef BP_POOL_H
#define BP_POOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "err.h"

struct bp_pool;
typedef void (*bp_pool_fn)(void *ctx, int tid, int nthreads);

struct bp_pool {
	int n;                          /* members, the caller included */
	pthread_t *threads;             /* n − 1 workers */
	atomic_uint gen;                /* bumped to start a run */
	atomic_int running;             /* workers still in the run */
	atomic_uint done;               /* bumped when the last worker finishes */
	atomic_uint bar_count, bar_gen; /* the barrier */
	atomic_int gen_sleepers, done_sleepers, bar_sleepers;
	bp_pool_fn fn;
	void *ctx;
	bool quit;
};

/* n ≥ 1 members; n = 1 starts no thread. */
int bp_pool_init(struct bp_pool *p, int n, struct bp_err *err);
void bp_pool_release(struct bp_pool *p);
void bp_pool_run(struct bp_pool *p, bp_pool_fn fn, void *ctx);
void bp_pool_barrier(struct bp_pool *p);

/* The share [*lo, *hi) of [0, total) that member tid of n works on. */
static inline void bp_pool_split(size_t total, int tid, int n, size_t *lo, size_t *hi)
{
	*lo = total * (size_t)tid / (size_t)n;
	*hi = total * (size_t)(tid + 1) / (size_t)n;
}

#endif
